#include "properties/reference_model.h"

#include <algorithm>

#include "engine/common/assert.h"

namespace properties {

using engine::Operation;
using engine::PointId;

void ReferenceModel::Apply(engine::SeqNumber op_num, const Operation& operation) {
  SS_ASSERT(!last_op_ || op_num > *last_op_, "op {} applied after op {}", op_num, *last_op_);
  last_op_ = op_num;
  if (const auto* upsert = std::get_if<engine::UpsertPoints>(&operation)) {
    for (const engine::Point& point : upsert->points) points_[point.id] = point;
    return;
  }
  if (const auto* create = std::get_if<engine::CreateFieldIndex>(&operation)) {
    indexes_[create->key] = create->type;
    return;
  }
  if (const auto* drop = std::get_if<engine::DeleteFieldIndex>(&operation)) {
    indexes_.erase(drop->key);
    return;
  }
  for (PointId id : engine::OperationPointIds(operation)) ApplyToPoint(id, operation);
}

void ReferenceModel::ApplyToPoint(PointId id, const Operation& operation) {
  const auto it = points_.find(id);
  if (it == points_.end()) return;  // payload ops and deletes of missing points do nothing
  engine::Payload& payload = it->second.payload;
  if (std::holds_alternative<engine::DeletePoints>(operation)) {
    points_.erase(it);
  } else if (const auto* set = std::get_if<engine::SetPayload>(&operation)) {
    for (const auto& [key, value] : set->payload.items()) payload[key] = value;
  } else if (const auto* overwrite = std::get_if<engine::OverwritePayload>(&operation)) {
    payload = overwrite->payload;
  } else if (const auto* remove = std::get_if<engine::DeletePayloadKeys>(&operation)) {
    for (const std::string& key : remove->keys) payload.erase(key);
  } else if (std::holds_alternative<engine::ClearPayload>(operation)) {
    payload = engine::Payload::object();
  } else {
    SS_ASSERT(false, "unhandled operation {}", engine::OperationName(operation));
  }
}

void OperationHistory::Append(engine::SeqNumber op_num, Operation operation) {
  SS_ASSERT(entries_.empty() || op_num > entries_.back().op_num, "op {} appended after op {}",
            op_num, entries_.back().op_num);
  entries_.push_back({op_num, std::move(operation)});
}

void OperationHistory::Truncate(size_t length) {
  entries_.Truncate(length);
  // checkpoints_[k] holds the first k * kCheckpointInterval entries.
  const size_t valid = length / kCheckpointInterval + 1;
  if (checkpoints_.size() > valid) checkpoints_.resize(valid);
}

ReferenceModel OperationHistory::StateAfterPrefix(size_t prefix_length) const {
  SS_ASSERT(prefix_length <= entries_.size());
  // The nearest checkpoint at or below the prefix, made first if missing
  // (each from the one before it): a query replays fewer than
  // kCheckpointInterval operations, not the whole history.
  const size_t wanted = prefix_length / kCheckpointInterval;
  if (checkpoints_.empty()) checkpoints_.push_back(std::make_shared<const ReferenceModel>());  // the empty prefix
  while (checkpoints_.size() <= wanted) {
    ReferenceModel next = *checkpoints_.back();
    const size_t from = (checkpoints_.size() - 1) * kCheckpointInterval;
    for (size_t i = from; i < from + kCheckpointInterval; ++i) next.Apply(entries_[i].op_num, entries_[i].operation);
    checkpoints_.push_back(std::make_shared<const ReferenceModel>(std::move(next)));
  }
  ReferenceModel model = *checkpoints_[wanted];
  for (size_t i = wanted * kCheckpointInterval; i < prefix_length; ++i) {
    model.Apply(entries_[i].op_num, entries_[i].operation);
  }
  SS_ASSERT(prefix_length == 0 || model.last_op() == entries_[prefix_length - 1].op_num,
            "the model after {} operations stops at another op", prefix_length);
  return model;
}

size_t OperationHistory::PrefixLengthThrough(engine::SeqNumber last_op_num) const {
  // The first entry past last_op_num (op_nums increase).
  size_t low = 0;
  size_t high = entries_.size();
  while (low < high) {
    const size_t middle = low + (high - low) / 2;
    if (entries_[middle].op_num <= last_op_num) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  SS_ASSERT(low == 0 || entries_[low - 1].op_num <= last_op_num);
  return low;
}

ReferenceModel OperationHistory::StateThrough(engine::SeqNumber last_op_num) const {
  return StateAfterPrefix(PrefixLengthThrough(last_op_num));
}

}  // namespace properties
