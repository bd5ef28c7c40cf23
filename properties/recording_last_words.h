// The assertion hook of a recording run (RecordShardRun, RecordClusterRun):
// hands `on_assertion` the scenario recorded so far, with its tape through
// the last draw, which replays to the same assertion.
#pragma once

#include <string_view>

#include "engine/common/assert.h"
#include "sim/decision.h"

namespace properties {

// REQUIRES: `recording`, `recorder` and `on_assertion` outlive the hook.
template <typename ScenarioT, typename Handler>
shardsim::AssertionHook RecordingLastWords(const ScenarioT& recording, const sim::TapeRecorder& recorder,
                                           const Handler& on_assertion) {
  return [&recording, &recorder, &on_assertion](std::string_view assertion) {
    ScenarioT so_far = recording;
    so_far.tape = recorder.tape();
    so_far.expected_invariant = "run-outcome";
    on_assertion(so_far, assertion);
  };
}

}  // namespace properties
