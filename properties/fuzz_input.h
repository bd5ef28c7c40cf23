// How a fuzzer's bytes become a simulated shard run: the first 8 bytes pick
// the swarm mix (ShardRunConfig::Draw, capped below so a run is short); the
// rest is the one byte tape every choice is drawn from (the workload's steps
// and the world's decisions alike). Shared by the
// fuzz_shard target and `shardsim from-fuzz`, so a crash input converts to
// the scenario that replays it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "properties/shard_run.h"

namespace properties {

// The caps on a drawn mix: at most 2 clients of at most 6 operations each
// and one crash (so at most two epochs: a restore over the live shard stays
// reachable in the second). From 4 x 12 ops and 2 crashes to these, a run's
// time halved (fuzz/README.md). The profile keeps its sizing for the
// uncapped mix (Draw sizes it), which only leaves more disk headroom.
inline constexpr int kFuzzMaxClients = 2;
inline constexpr int kFuzzMaxOpsPerClient = 6;
inline constexpr int kFuzzMaxCrashes = 1;

struct FuzzInput {
  ShardRunConfig config;
  std::vector<uint8_t> tape;
};

FuzzInput DecodeFuzzInput(std::span<const uint8_t> bytes);

}  // namespace properties
