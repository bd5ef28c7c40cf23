// Applying one operation to the segments (the update worker and WAL replay
// share this path).
#include <map>

#include "engine/common/assert.h"
#include "engine/model/distance.h"
#include "engine/shard/local_shard.h"

namespace engine {

absl::Status LocalShard::ApplyOperation(SeqNumber op_num, const Operation& operation) {
  ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  env_.YieldPoint("shard.apply");
  last_applied_ = std::max(last_applied_.value_or(0), op_num);
  if (const auto* upsert = std::get_if<UpsertPoints>(&operation)) {
    return ApplyUpsert(op_num, *upsert);
  }
  if (const auto* remove = std::get_if<DeletePoints>(&operation)) {
    return holder_.DeletePoints(op_num, remove->ids);
  }
  if (const auto* create = std::get_if<CreateFieldIndex>(&operation)) {
    payload_schema_[create->key] = create->type;
    return holder_.ApplyToAllSegments([&](SegmentEntry& segment) {
      return segment.CreateFieldIndex(op_num, create->key, create->type);
    });
  }
  if (const auto* drop = std::get_if<DeleteFieldIndex>(&operation)) {
    payload_schema_.erase(drop->key);
    return holder_.ApplyToAllSegments(
        [&](SegmentEntry& segment) { return segment.DeleteFieldIndex(op_num, drop->key); });
  }
  return ApplyPayloadOperation(op_num, operation);
}

absl::Status LocalShard::ApplyUpsert(SeqNumber op_num, const UpsertPoints& upsert) {
  // The last occurrence of an id in one batch wins. Vectors are
  // preprocessed (normalised for cosine) once, here.
  std::vector<Point> prepared = upsert.points;
  for (Point& point : prepared) {
    point.vector = PreprocessVector(options_.collection.distance, std::move(point.vector));
  }
  std::map<PointId, const Point*> by_id;
  for (const Point& point : prepared) by_id[point.id] = &point;
  std::vector<PointId> ids;
  for (const auto& [id, point] : by_id) ids.push_back(id);
  auto found = holder_.ApplyPointsWithConditionalMove(
      op_num, ids,
      [&](PointId id, SegmentEntry& segment) { return segment.Upsert(op_num, *by_id.at(id)); },
      [&](Point& point) { point = *by_id.at(point.id); });
  if (!found.ok()) return found.status();
  std::vector<PointId> new_ids;
  for (PointId id : ids) {
    if (!found->contains(id)) new_ids.push_back(id);
  }
  if (new_ids.empty()) return absl::OkStatus();
  const LockedSegment* target = holder_.Get(holder_.SmallestAppendable());
  SS_ASSERT(target != nullptr);
  WriteLock guard(*target->lock);
  for (PointId id : new_ids) {
    auto applied = target->segment->Upsert(op_num, *by_id.at(id));
    if (!applied.ok()) return applied.status();
  }
  return absl::OkStatus();
}

absl::Status LocalShard::ApplyPayloadOperation(SeqNumber op_num, const Operation& operation) {
  SegmentHolder::PointOp point_op;
  SegmentHolder::CowOp cow_op;
  if (const auto* set = std::get_if<SetPayload>(&operation)) {
    point_op = [op_num, set](PointId id, SegmentEntry& s) { return s.SetPayload(op_num, id, set->payload); };
    cow_op = [set](Point& point) {
      for (const auto& [key, value] : set->payload.items()) point.payload[key] = value;
    };
  } else if (const auto* overwrite = std::get_if<OverwritePayload>(&operation)) {
    point_op = [op_num, overwrite](PointId id, SegmentEntry& s) {
      return s.OverwritePayload(op_num, id, overwrite->payload);
    };
    cow_op = [overwrite](Point& point) { point.payload = overwrite->payload; };
  } else if (const auto* remove = std::get_if<DeletePayloadKeys>(&operation)) {
    point_op = [op_num, remove](PointId id, SegmentEntry& s) {
      return s.DeletePayloadKeys(op_num, id, remove->keys);
    };
    cow_op = [remove](Point& point) {
      for (const std::string& key : remove->keys) point.payload.erase(key);
    };
  } else if (std::holds_alternative<ClearPayload>(operation)) {
    point_op = [op_num](PointId id, SegmentEntry& s) { return s.ClearPayload(op_num, id); };
    cow_op = [](Point& point) { point.payload = Payload::object(); };
  } else {
    SS_ASSERT(false, "unhandled operation {}", OperationName(operation));
  }
  auto found =
      holder_.ApplyPointsWithConditionalMove(op_num, OperationPointIds(operation), point_op, cow_op);
  return found.status();
}

}  // namespace engine
