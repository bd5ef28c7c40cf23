// What the shard tests share about their world: the small collection they
// write to (and a point of it), and the one way they run a body on the simulated world (as the
// supervisor of a fresh world with the given seed, which must complete).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>

#include "engine/model/types.h"
#include "sim/world.h"

namespace engine::testing {

inline const CollectionConfig kCollection{.dimension = 2, .distance = Distance::kDot};

// A point of kCollection whose vector and payload name its id.
inline Point PointNamedById(PointId id) {
  return {id, {static_cast<float>(id), 1}, Payload{{"v", static_cast<int64_t>(id)}}};
}

inline void InWorld(uint64_t seed, const std::function<void(sim::World&)>& body) {
  sim::World world(sim::WorldConfig{.seed = seed});
  const sim::RunResult result = world.RunSupervisor([&] { body(world); });
  ASSERT_EQ(result.outcome, sim::RunOutcome::kCompleted) << result.report;
}

}  // namespace engine::testing
