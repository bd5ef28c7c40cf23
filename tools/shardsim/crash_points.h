// Where crash-every crashes a scenario: the file-system calls of each
// epoch's engine process, found in the trace of a replay, and the candidate
// scenarios that crash before one of them.
//
// A crash line arms its crash when the epoch's engine process starts (after
// the epoch's restore over the live shard, if any), so a call's offset from
// that process's start event is the `after=` that crashes right before it.
// Restores the supervisor runs (over the live shard at an epoch start, and
// every snapshot's at the end of the run) draw their crash points from the
// tape: a scenario line cannot place a crash inside them, so they are not
// crash points here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "properties/scenario.h"
#include "sim/trace.h"

namespace shardsim {

struct CrashPointCall {
  uint64_t after_steps = 0;  // from the engine process's start
  std::string call;          // the file-system call and its path
};

// The engine processes of `epoch` in a recorded trace are those started as
// "shard<epoch>" (a load refused under injected faults starts another):
// their file-system calls, in order, as offsets from the first one's start.
std::vector<CrashPointCall> EngineProcessCalls(const std::vector<sim::TraceEvent>& events, size_t epoch);

// The scenario's epochs 0..epoch (earlier ones keep their crashes; epoch's
// own crash replaced by `crash`, or none), then an empty epoch so that the
// reload after the crash is checked; expecting every check to pass.
properties::Scenario CrashCandidate(const properties::Scenario& scenario, size_t epoch,
                                    std::optional<properties::CrashPoint> crash);

}  // namespace shardsim
