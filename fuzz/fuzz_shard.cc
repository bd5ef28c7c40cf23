// fuzz_shard: bytes -> a whole simulated shard run under the full checker.
// The first 8 bytes pick the swarm mix, the rest is the one tape every
// choice is drawn from: the clients' operations, the schedule, crash
// points, which unsynced data survives (properties/fuzz_input.h). A broken
// invariant traps with the checker's message; `shardsim from-fuzz CRASH`
// turns the input into a scenario file that replays it.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz/fuzz_common.h"
#include "properties/fuzz_input.h"
#include "properties/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const properties::FuzzInput input = properties::DecodeFuzzInput(std::span<const uint8_t>(data, size));
  const properties::ShardRunResult result = properties::RunFromTape(input.config, input.tape);
  fuzz::Note("{}: {} steps, {} ops", input.config.Describe(), result.steps, result.stats.ops_written);
  if (!result.passed) fuzz::Fail("{}: {}", result.invariant, result.failure);
  return 0;
}
