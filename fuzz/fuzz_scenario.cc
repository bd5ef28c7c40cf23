// fuzz_scenario: bytes as a scenario file. The parser either gives a clear
// error or a scenario; a scenario that parses is written back and must
// parse to the same text (the round trip is exact), and is replayed with a
// bound on its size so that an input runs in milliseconds. A replay may
// fail an invariant (a hand-written scenario can ask for anything a client
// can do, and the engine must cope), but must never crash the process.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_common.h"
#include "scenarios/scenario_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto file = scenarios::ParseScenarioFile(text);
  if (!file.ok()) return 0;
  const properties::Scenario* scenario = &file->scenario;
  const std::string written = scenarios::WriteScenario(*scenario, {}, file->trace_hash);
  auto again = scenarios::ParseScenarioFile(written);
  if (!again.ok()) fuzz::Fail("a written scenario does not parse: {}", std::string(again.status().message()));
  if (scenarios::WriteScenario(again->scenario, {}, again->trace_hash) != written) {
    fuzz::Fail("the scenario round trip is not exact");
  }
  // Bounded replays only: a file may ask for 64 clients and 1000 epochs.
  constexpr size_t kMaxReplaySteps = 200;
  if (scenario->StepCount() > kMaxReplaySteps || scenario->epochs.size() > 8 || scenario->config.clients > 8 ||
      scenario->config.collection.dimension > 64) {
    return 0;
  }
  const properties::ShardRunResult result = properties::ReplayScenario(*scenario, {});
  fuzz::Note("replayed: {} ({})", result.passed ? "pass" : result.invariant, result.steps);
  return 0;
}
