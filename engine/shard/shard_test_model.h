// A tiny model for shard tests that apply a known sequence of ops: the
// points a shard should hold (id -> point), and the shard's actual points in
// the same form. Covers the ops those tests use (upsert, delete by ids, set
// payload); index ops do not change it.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/common/file_util.h"
#include "engine/segment/segment.h"
#include "engine/shard/local_shard.h"
#include "engine/wal/wal.h"

namespace engine::testing {

using State = std::map<PointId, Point>;

inline State StateOf(LocalShard& shard) {
  State state;
  for (Point& point : shard.Scroll(nullptr, std::nullopt, SIZE_MAX)) state[point.id] = std::move(point);
  return state;
}

inline void ApplyToModel(State& model, const Operation& operation) {
  if (const auto* upsert = std::get_if<UpsertPoints>(&operation)) {
    for (const Point& point : upsert->points) model[point.id] = point;
  } else if (const auto* del = std::get_if<DeletePoints>(&operation)) {
    for (PointId id : del->ids) model.erase(id);
  } else if (const auto* set = std::get_if<SetPayload>(&operation)) {
    for (PointId id : set->ids) {
      if (!model.contains(id)) continue;
      for (const auto& [key, value] : set->payload.items()) model[id].payload[key] = value;
    }
  }
}

// Lays out `shard_dir` with one sealed segment (segments/1) holding
// `points`, each at its id as version, as an earlier optimization leaves it,
// and an empty WAL starting at `first_wal_index`.
// REQUIRES: every point id is below first_wal_index.
inline void WriteShardWithSealedSegment(FileSystem& fs, const std::string& shard_dir,
                                        const CollectionConfig& collection,
                                        const std::vector<Point>& points, uint64_t first_wal_index) {
  ASSERT_TRUE(EnsureDir(fs, shard_dir).ok());
  ASSERT_TRUE(EnsureDir(fs, shard_dir + "/segments").ok());
  auto sealed = Segment::Create(fs, shard_dir + "/segments/1", collection, true);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  for (const Point& point : points) {
    ASSERT_LT(point.id, first_wal_index);
    ASSERT_TRUE((*sealed)->Upsert(point.id, point).ok());
  }
  ASSERT_TRUE((*sealed)->Flush(false).ok());
  ASSERT_TRUE((*sealed)->Seal().ok());
  ASSERT_TRUE(Wal::CreateEmpty(fs, shard_dir + "/wal", first_wal_index).ok());
}

}  // namespace engine::testing
