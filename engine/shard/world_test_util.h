// The one way the shard tests run a body on the simulated world: as the
// supervisor of a fresh world with the given seed, which must complete.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>

#include "sim/world.h"

namespace engine::testing {

inline void InWorld(uint64_t seed, const std::function<void(sim::World&)>& body) {
  sim::World world(sim::WorldConfig{.seed = seed});
  const sim::RunResult result = world.RunSupervisor([&] { body(world); });
  ASSERT_EQ(result.outcome, sim::RunOutcome::kCompleted) << result.report;
}

}  // namespace engine::testing
