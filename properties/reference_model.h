// The reference model of a shard: the map id -> point after each prefix of
// the operation history, computed by the simplest possible code so that it
// can be trusted as the oracle. It mirrors the engine's operation semantics
// (Qdrant's): upsert replaces the point, payload operations on missing points
// do nothing, delete removes every trace of the point.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/operation.h"
#include "engine/model/types.h"
#include "properties/shared_chunks.h"

namespace properties {

class ReferenceModel {
 public:
  // REQUIRES: op_num greater than every op applied before.
  void Apply(engine::SeqNumber op_num, const engine::Operation& operation);

  const std::map<engine::PointId, engine::Point>& points() const { return points_; }
  const std::map<std::string, engine::FieldType>& indexes() const { return indexes_; }
  std::optional<engine::SeqNumber> last_op() const { return last_op_; }

  friend bool operator==(const ReferenceModel& a, const ReferenceModel& b) {
    return a.points_ == b.points_ && a.indexes_ == b.indexes_;
  }

 private:
  void ApplyToPoint(engine::PointId id, const engine::Operation& operation);

  std::map<engine::PointId, engine::Point> points_;
  std::map<std::string, engine::FieldType> indexes_;
  std::optional<engine::SeqNumber> last_op_;
};

// Every operation a shard accepted, in op_num order, with the model state
// after each prefix available on demand.
class OperationHistory {
 public:
  // REQUIRES: op_num strictly increasing across calls.
  void Append(engine::SeqNumber op_num, engine::Operation operation);

  size_t size() const { return entries_.size(); }
  engine::SeqNumber op_num(size_t index) const { return entries_[index].op_num; }
  const engine::Operation& operation(size_t index) const { return entries_[index].operation; }
  // Keeps the first `length` operations. REQUIRES: length <= size().
  void Truncate(size_t length);

  // The model after the first `prefix_length` operations.
  ReferenceModel StateAfterPrefix(size_t prefix_length) const;
  // The model after every operation with op_num <= last_op_num.
  ReferenceModel StateThrough(engine::SeqNumber last_op_num) const;
  // Number of operations with op_num <= last_op_num.
  size_t PrefixLengthThrough(engine::SeqNumber last_op_num) const;

 private:
  struct Entry {
    engine::SeqNumber op_num;
    engine::Operation operation;
  };
  // Every read check asks for a prefix's state; replaying from the start
  // each time made a run's checking quadratic in its length.
  static constexpr size_t kCheckpointInterval = 32;
  // Copies (a snapshot's saved history) share entries and checkpoints.
  SharedChunks<Entry> entries_;
  // checkpoints_[k]: the model after the first k * kCheckpointInterval
  // entries (entries are only appended, so a checkpoint never goes stale).
  // Filled on demand by the const queries.
  mutable std::vector<std::shared_ptr<const ReferenceModel>> checkpoints_;
};

}  // namespace properties
