// Helpers shared by the snapshot tests (partial and collection snapshots):
// a simulated world per test body, a completed write, a shard's points.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "engine/shard/local_shard.h"
#include "sim/world.h"

namespace engine::testing {

inline const CollectionConfig kCollection{.dimension = 2, .distance = Distance::kDot};
inline const ShardOptions kOptions{.collection = kCollection};

// Runs `body` as the supervisor of a fresh world; it must complete.
inline void InWorld(uint64_t seed, const std::function<void(sim::World&)>& body) {
  sim::World world(sim::WorldConfig{.seed = seed});
  const sim::RunResult result = world.RunSupervisor([&] { body(world); });
  ASSERT_EQ(result.outcome, sim::RunOutcome::kCompleted) << result.report;
}

// A completed (wait=true) upsert of point `id` carrying `value`.
inline void Write(LocalShard& shard, PointId id, int64_t value) {
  auto result = shard.Update(
      {UpsertPoints{{{id, {1, float(value)}, Payload{{"value", value}}}}}, std::nullopt}, true);
  ASSERT_TRUE(result.ok()) << result.status();
}

inline std::vector<Point> PointsOf(LocalShard& shard) { return shard.Scroll(nullptr, std::nullopt, SIZE_MAX); }

}  // namespace engine::testing
