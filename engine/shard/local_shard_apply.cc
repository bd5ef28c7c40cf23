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
  // WAL order, replay included: each op's number is above every op applied
  // before it in this process.
  SS_ASSERT(!last_op_applied_here_ || op_num > *last_op_applied_here_, "op {} applied after op {}", op_num,
            *last_op_applied_here_);
  last_op_applied_here_ = op_num;
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
      auto created = segment.CreateFieldIndex(op_num, create->key, create->type);
      // The version rule: a segment that took a newer op skips it; one that
      // applies it holds the index and is at the op's version at least.
      SS_ASSERT(!created.ok() || *created || segment.version() > op_num, "{} skipped index op {}",
                segment.directory(), op_num);
      if (created.ok() && *created) {
        const std::map<std::string, FieldType> fields = segment.indexed_fields();
        const auto field = fields.find(create->key);
        SS_ASSERT(field != fields.end() && field->second == create->type, "{} lacks the index op {} created",
                  segment.directory(), op_num);
      }
      return created;
    });
  }
  if (const auto* drop = std::get_if<DeleteFieldIndex>(&operation)) {
    payload_schema_.erase(drop->key);
    return holder_.ApplyToAllSegments([&](SegmentEntry& segment) {
      auto dropped = segment.DeleteFieldIndex(op_num, drop->key);
      SS_ASSERT(!dropped.ok() || *dropped || segment.version() > op_num, "{} skipped index op {}",
                segment.directory(), op_num);
      SS_ASSERT(!dropped.ok() || !*dropped || !segment.indexed_fields().contains(drop->key),
                "{} keeps the index op {} dropped", segment.directory(), op_num);
      return dropped;
    });
  }
  return ApplyPayloadOperation(op_num, operation);
}

absl::Status LocalShard::ApplyUpsert(SeqNumber op_num, const UpsertPoints& upsert) {
  SS_ASSERT(segments_lock_->held(), "op {} applied without the segments lock", op_num);
  SS_ASSERT(updates_mutex_->held(), "op {} applied without the updates mutex", op_num);
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
  // In place only into an appendable segment; a point elsewhere is moved
  // (copy-on-write), replaced by this op's version of it.
  auto found = holder_.ApplyPointsWithConditionalMove(
      op_num, ids,
      [&](PointId id, SegmentEntry& segment) {
        SS_ASSERT(segment.is_appendable(), "upsert of {} in place in {}", id, segment.directory());
        return segment.Upsert(op_num, *by_id.at(id));
      },
      [&](Point& point) {
        SS_ASSERT(by_id.contains(point.id), "point {} moved by op {} that does not name it", point.id, op_num);
        point = *by_id.at(point.id);
      });
  if (!found.ok()) return found.status();
  for (PointId id : *found) SS_ASSERT(by_id.contains(id), "op {} found point {} it does not name", op_num, id);
  std::vector<PointId> new_ids;
  for (PointId id : ids) {
    if (!found->contains(id)) new_ids.push_back(id);
  }
  if (new_ids.empty()) return absl::OkStatus();
  const LockedSegment* target = holder_.Get(holder_.SmallestAppendable());
  SS_ASSERT(target != nullptr);
  SS_ASSERT(target->segment->is_appendable(), "new points of op {} go to sealed {}", op_num,
            target->segment->directory());
  WriteLock guard(*target->lock);
  for (PointId id : new_ids) {
    auto applied = target->segment->Upsert(op_num, *by_id.at(id));
    if (!applied.ok()) return applied.status();
    // A point found nowhere live is written at this op, unless the target
    // holds its tombstone from a newer op (WAL replay).
    SS_ASSERT(!*applied || target->segment->point_version(id) == op_num, "point {} not at op {}", id, op_num);
  }
  return absl::OkStatus();
}

absl::Status LocalShard::ApplyPayloadOperation(SeqNumber op_num, const Operation& operation) {
  SS_ASSERT(segments_lock_->held(), "op {} applied without the segments lock", op_num);
  SS_ASSERT(updates_mutex_->held(), "op {} applied without the updates mutex", op_num);
  SegmentHolder::PointOp point_op;
  SegmentHolder::CowOp cow_op;
  // The holder runs `point_op` in place only on an appendable segment; a
  // point in a sealed segment or a proxy is moved, `cow_op` changing the copy.
  if (const auto* set = std::get_if<SetPayload>(&operation)) {
    point_op = [op_num, set](PointId id, SegmentEntry& s) {
      SS_ASSERT(s.is_appendable(), "payload of {} set in place in {}", id, s.directory());
      return s.SetPayload(op_num, id, set->payload);
    };
    cow_op = [set](Point& point) {
      for (const auto& [key, value] : set->payload.items()) point.payload[key] = value;
    };
  } else if (const auto* overwrite = std::get_if<OverwritePayload>(&operation)) {
    point_op = [op_num, overwrite](PointId id, SegmentEntry& s) {
      SS_ASSERT(s.is_appendable(), "payload of {} overwritten in place in {}", id, s.directory());
      return s.OverwritePayload(op_num, id, overwrite->payload);
    };
    cow_op = [overwrite](Point& point) { point.payload = overwrite->payload; };
  } else if (const auto* remove = std::get_if<DeletePayloadKeys>(&operation)) {
    point_op = [op_num, remove](PointId id, SegmentEntry& s) {
      SS_ASSERT(s.is_appendable(), "payload keys of {} deleted in place in {}", id, s.directory());
      return s.DeletePayloadKeys(op_num, id, remove->keys);
    };
    cow_op = [remove](Point& point) {
      for (const std::string& key : remove->keys) point.payload.erase(key);
    };
  } else if (std::holds_alternative<ClearPayload>(operation)) {
    point_op = [op_num](PointId id, SegmentEntry& s) {
      SS_ASSERT(s.is_appendable(), "payload of {} cleared in place in {}", id, s.directory());
      return s.ClearPayload(op_num, id);
    };
    cow_op = [](Point& point) { point.payload = Payload::object(); };
  } else {
    SS_ASSERT(false, "unhandled operation {}", OperationName(operation));
  }
  auto found =
      holder_.ApplyPointsWithConditionalMove(op_num, OperationPointIds(operation), point_op, cow_op);
  return found.status();
}

}  // namespace engine
