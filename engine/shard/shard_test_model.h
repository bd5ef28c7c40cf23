// A tiny model for shard tests that apply a known sequence of ops: the
// points a shard should hold (id -> point), and the shard's actual points in
// the same form. Covers the ops those tests use (upsert, delete by ids, set
// payload); index ops do not change it.
#pragma once

#include <map>
#include <utility>

#include "engine/shard/local_shard.h"

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

}  // namespace engine::testing
