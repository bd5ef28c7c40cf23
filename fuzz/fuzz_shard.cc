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

// ASan's defaults, tuned for this target (the environment's ASAN_OPTIONS
// still win, key by key): a run allocates and frees tens of MiB, and with
// the default 256 MiB quarantine most of a run's time went to page faults on
// fresh memory; 16 MiB still holds a freed block for several runs' worth of
// allocations. Allocation stacks of 8 frames instead of 30 halve the cost of
// every malloc and free; a report still names the allocating function.
// Measured in fuzz/README.md.
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=16:malloc_context_size=8"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const properties::FuzzInput input = properties::DecodeFuzzInput(std::span<const uint8_t>(data, size));
  const properties::ShardRunResult result = properties::RunFromTape(input.config, input.tape);
  fuzz::Note("{}: {} steps, {} ops", input.config.Describe(), result.steps, result.stats.ops_written);
  if (!result.passed) fuzz::Fail("{}: {}", result.invariant, result.failure);
  return 0;
}
