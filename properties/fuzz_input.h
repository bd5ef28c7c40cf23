// How a fuzzer's bytes become a simulated shard run: the first 8 bytes pick
// the swarm mix (ShardRunConfig::Draw, kept small so a run takes
// milliseconds); the rest is the one byte tape every choice is drawn from
// (the workload's steps and the world's decisions alike). Shared by the
// fuzz_shard target and `shardsim from-fuzz`, so a crash input converts to
// the scenario that replays it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "properties/shard_run.h"

namespace properties {

struct FuzzInput {
  ShardRunConfig config;
  std::vector<uint8_t> tape;
};

FuzzInput DecodeFuzzInput(std::span<const uint8_t> bytes);

}  // namespace properties
