// Helpers shared by the snapshot tests (partial and collection snapshots):
// a simulated world per test body, a completed write, a shard's points.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "engine/shard/local_shard.h"
#include "engine/shard/world_test_util.h"
#include "sim/world.h"

namespace engine::testing {

inline const ShardOptions kOptions{.collection = kCollection};

// A completed (wait=true) upsert of point `id` carrying `value`.
inline void Write(LocalShard& shard, PointId id, int64_t value) {
  auto result = shard.Update(
      {UpsertPoints{{{id, {1, float(value)}, Payload{{"value", value}}}}}, std::nullopt}, true);
  ASSERT_TRUE(result.ok()) << result.status();
}

inline std::vector<Point> PointsOf(LocalShard& shard) { return shard.Scroll(nullptr, std::nullopt, SIZE_MAX); }

}  // namespace engine::testing
