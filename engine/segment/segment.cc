// Segment: the version rule, mutations and reads (storage is in
// segment_storage.cc).
#include "engine/segment/segment.h"

#include <algorithm>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/model/distance.h"

namespace engine {

void AssertReadPage(const std::vector<PointId>& ids, std::optional<PointId> after_id, size_t limit) {
  SS_ASSERT(ids.size() <= limit, "a page of {} ids, limit {}", ids.size(), limit);
  SS_ASSERT(ids.empty() || !after_id || ids.front() > *after_id, "page starts at {}, not after {}", ids.front(),
            after_id.value_or(0));
  SS_ASSERT(std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<PointId>()) == ids.end(),
            "page ids not strictly increasing");
}

bool Segment::has_point(PointId id) const {
  const auto it = points_.find(id);
  return it != points_.end() && !it->second.deleted;
}

std::optional<SeqNumber> Segment::point_version(PointId id) const {
  const auto it = points_.find(id);
  if (it == points_.end()) return std::nullopt;
  return it->second.version;
}

std::optional<SeqNumber> Segment::newest_point_version() const {
  std::optional<SeqNumber> newest;
  for (const auto& [id, record] : points_) newest = std::max(newest.value_or(0), record.version);
  return newest;
}

size_t Segment::deleted_count() const {
  return static_cast<size_t>(std::count_if(points_.begin(), points_.end(),
                                           [](const auto& entry) { return entry.second.deleted; }));
}

Segment::PointRecord* Segment::Target(SeqNumber op_num, PointId id) {
  const auto it = points_.find(id);
  if (it == points_.end() || it->second.deleted) return nullptr;
  if (it->second.version > op_num) return nullptr;  // a newer op already wrote it
  // A live record is whole.
  SS_ASSERT(it->second.vector.size() == config_.dimension, "{}: point {} has a vector of dimension {}", dir_, id,
            it->second.vector.size());
  return &it->second;
}

void Segment::Touched(SeqNumber op_num, PointId id, PointRecord& record) {
  // The version rule: a point's version only grows.
  SS_ASSERT(record.version <= op_num, "{}: point {} at version {} changed by the older op {}", dir_, id,
            record.version, op_num);
  SS_ASSERT(&points_.at(id) == &record, "{}: the record touched is not point {}'s", dir_, id);
  record.version = op_num;
  version_ = std::max(version_.value_or(0), op_num);
  dirty_.insert(id);
}

absl::StatusOr<bool> Segment::Upsert(SeqNumber op_num, const Point& point) {
  if (!appendable_) {
    return absl::FailedPreconditionError(fmt::format("{}: upsert into a non-appendable segment", dir_));
  }
  if (point.vector.size() != config_.dimension) {
    return absl::InvalidArgumentError(fmt::format("point {}: vector of dimension {}, expected {}",
                                                  point.id, point.vector.size(), config_.dimension));
  }
  if (!point.payload.is_object()) {
    return absl::InvalidArgumentError(fmt::format("point {}: payload is not an object", point.id));
  }
  auto [it, inserted] = points_.try_emplace(point.id);
  PointRecord& record = it->second;
  if (!inserted && record.version > op_num) return false;
  SS_ASSERT(record.deleted ? record.vector.empty() : inserted || record.vector.size() == config_.dimension,
            "{}: point {} holds a vector of dimension {}", dir_, point.id, record.vector.size());
  if (!inserted && !record.deleted) index_.Remove(point.id, record.payload);
  if (inserted || record.deleted) ++live_count_;
  record.deleted = false;
  record.vector = point.vector;  // already preprocessed by the shard
  record.payload = point.payload;
  index_.Add(point.id, record.payload);
  Touched(op_num, point.id, record);
  return true;
}

void Segment::MakeTombstone(PointId id, PointRecord& record) {
  SS_ASSERT(!record.deleted, "{}: point {} deleted twice", dir_, id);
  SS_ASSERT(&points_.at(id) == &record, "{}: the record deleted is not point {}'s", dir_, id);
  index_.Remove(id, record.payload);
  SS_ASSERT(live_count_ > 0, "{}: a tombstone with no live point counted", dir_);
  --live_count_;
  record.deleted = true;
  record.vector.clear();
  record.payload = Payload::object();
}

absl::StatusOr<bool> Segment::DeletePoint(SeqNumber op_num, PointId id) {
  PointRecord* record = Target(op_num, id);
  if (record == nullptr) return false;
  MakeTombstone(id, *record);
  Touched(op_num, id, *record);
  SS_ASSERT(!Retrieve(id).has_value(), "{}: deleted point {} still reads", dir_, id);
  return true;
}

absl::StatusOr<bool> Segment::DeleteSupersededCopy(PointId id, SeqNumber copy_version) {
  PointRecord* record = Target(copy_version, id);
  if (record == nullptr) return false;
  // The version rule holds without Touched too.
  SS_ASSERT(record->version <= copy_version, "{}: point {} at version {} deleted as copy {}", dir_, id,
            record->version, copy_version);
  MakeTombstone(id, *record);
  record->version = copy_version;
  dirty_.insert(id);  // (not Touched: the segment's version stays)
  return true;
}

absl::StatusOr<bool> Segment::ChangePayload(SeqNumber op_num, PointId id,
                                            const std::function<void(Payload&)>& change) {
  SS_ASSERT(change != nullptr);
  PointRecord* record = Target(op_num, id);
  if (record == nullptr) return false;
  index_.Remove(id, record->payload);
  change(record->payload);
  // Every payload change keeps an object (flush and load require one).
  SS_ASSERT(record->payload.is_object(), "{}: point {} has a payload that is not an object", dir_, id);
  index_.Add(id, record->payload);
  Touched(op_num, id, *record);
  return true;
}

absl::StatusOr<bool> Segment::SetPayload(SeqNumber op_num, PointId id, const Payload& payload) {
  if (!payload.is_object()) return absl::InvalidArgumentError("payload is not an object");
  return ChangePayload(op_num, id, [&](Payload& current) {
    for (const auto& [key, value] : payload.items()) current[key] = value;
  });
}

absl::StatusOr<bool> Segment::OverwritePayload(SeqNumber op_num, PointId id, const Payload& payload) {
  if (!payload.is_object()) return absl::InvalidArgumentError("payload is not an object");
  return ChangePayload(op_num, id, [&](Payload& current) { current = payload; });
}

absl::StatusOr<bool> Segment::DeletePayloadKeys(SeqNumber op_num, PointId id,
                                                const std::vector<std::string>& keys) {
  return ChangePayload(op_num, id, [&](Payload& current) {
    for (const std::string& key : keys) current.erase(key);
  });
}

absl::StatusOr<bool> Segment::ClearPayload(SeqNumber op_num, PointId id) {
  return ChangePayload(op_num, id, [](Payload& current) { current = Payload::object(); });
}

absl::StatusOr<bool> Segment::CreateFieldIndex(SeqNumber op_num, const std::string& key,
                                               FieldType type) {
  // payload_index.json can name no other type.
  SS_ASSERT(type == FieldType::kKeyword || type == FieldType::kInteger, "index on {} of type {}", key,
            static_cast<int>(type));
  if (version_ && *version_ > op_num) return false;
  // An index of the same type is what a rebuild would make again (the
  // index agrees with the payloads, I5): rebuilt only when new or retyped.
  // Rebuilding it anyway was a third of a deep run's time.
  if (index_.TypeOf(key) != type) {
    if (index_.Has(key)) index_.Drop(key);
    const bool created = index_.Create(key, type);
    SS_ASSERT(created, "{}: index on {} still there after its drop", dir_, key);
    for (const auto& [id, record] : points_) {
      if (!record.deleted) index_.AddToField(key, id, record.payload);
    }
  }
  SS_ASSERT(index_.TypeOf(key) == type);
  version_ = std::max(version_.value_or(0), op_num);
  index_dirty_ = true;
  return true;
}

absl::StatusOr<bool> Segment::DeleteFieldIndex(SeqNumber op_num, const std::string& key) {
  if (version_ && *version_ > op_num) return false;
  index_.Drop(key);
  SS_ASSERT(!index_.Has(key), "{}: index '{}' still there after its delete", dir_, key);
  version_ = std::max(version_.value_or(0), op_num);
  index_dirty_ = true;
  return true;
}

std::optional<Point> Segment::Retrieve(PointId id) const {
  const auto it = points_.find(id);
  if (it == points_.end() || it->second.deleted) return std::nullopt;
  SS_ASSERT(it->second.vector.size() == config_.dimension && it->second.payload.is_object(),
            "{}: live point {} is not whole", dir_, id);
  return Point{id, it->second.vector, it->second.payload};
}

std::vector<PointId> Segment::LiveIds() const {
  std::vector<PointId> ids;
  for (const auto& [id, record] : points_) {
    if (!record.deleted) ids.push_back(id);
  }
  SS_ASSERT(ids.size() == live_count_, "{}: {} live points, {} counted", dir_, ids.size(), live_count_);
  return ids;
}

bool Segment::Visible(PointId id, const PointRecord& record, const Filter* filter) const {
  return !record.deleted && (filter == nullptr || Matches(*filter, id, record.payload));
}

std::vector<PointId> Segment::ReadFiltered(const Filter* filter, std::optional<PointId> after_id,
                                           size_t limit) const {
  std::vector<PointId> ids;
  const auto candidates = filter ? index_.Candidates(*filter) : std::nullopt;
  if (candidates) {
    for (PointId id : *candidates) {
      if (ids.size() >= limit) break;
      if (after_id && id <= *after_id) continue;
      const auto it = points_.find(id);
      if (it != points_.end() && Visible(id, it->second, filter)) ids.push_back(id);
    }
    AssertReadPage(ids, after_id, limit);
    return ids;
  }
  auto it = after_id ? points_.upper_bound(*after_id) : points_.begin();
  for (; it != points_.end() && ids.size() < limit; ++it) {
    if (Visible(it->first, it->second, filter)) ids.push_back(it->first);
  }
  AssertReadPage(ids, after_id, limit);
  return ids;
}

size_t Segment::Count(const Filter* filter) const {
  return ReadFiltered(filter, std::nullopt, SIZE_MAX).size();
}

std::vector<ScoredPoint> Segment::Search(const Vector& query, const Filter* filter, size_t k) const {
  if (query.size() != config_.dimension) return {};
  const Vector prepared = PreprocessVector(config_.distance, query);
  std::vector<ScoredPoint> hits;
  for (const auto& [id, record] : points_) {
    if (!Visible(id, record, filter)) continue;
    SS_ASSERT(record.vector.size() == prepared.size(), "{}: point {} has a vector of dimension {}", dir_, id,
              record.vector.size());
    hits.push_back({id, Score(config_.distance, prepared, record.vector)});
  }
  const size_t keep = std::min(k, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + keep, hits.end(), BetterHit);
  hits.resize(keep);
  return hits;
}

bool Segment::has_unsaved_changes() const {
  // Persisting captures the version as the flush begins; it only grows.
  SS_ASSERT(!persisted_version_ || (version_ && *persisted_version_ <= *version_),
            "{}: persisted version {} past version {}", dir_, *persisted_version_, version_.value_or(0));
  return !dirty_.empty() || index_dirty_ || version_ != persisted_version_;
}

bool Segment::IndexAgreesWithPayloads(const std::string& key) const {
  if (!index_.Has(key)) return true;
  const FieldType type = index_.fields().at(key);
  std::set<PointId> expected;
  for (const auto& [id, record] : points_) {
    if (record.deleted) continue;
    // What PayloadIndex indexes: strings, or integers in int64's range (an
    // unsigned value past it is no number a filter can name).
    const bool indexable = AnyValueAtPath(record.payload, key, [&](const nlohmann::json& value) {
      return (type == FieldType::kKeyword && value.is_string()) ||
             (type == FieldType::kInteger && value.is_number_integer() &&
              !(value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(INT64_MAX)));
    });
    if (indexable) expected.insert(id);
  }
  return expected == index_.IdsIndexedUnder(key);
}

}  // namespace engine

namespace engine {

bool Segment::IndexesAgreeWithPayloads() const {
  for (const auto& [key, type] : index_.fields()) {
    if (!IndexAgreesWithPayloads(key)) return false;
  }
  return true;
}

}  // namespace engine
