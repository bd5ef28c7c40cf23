#include "engine/common/coverage.h"
#include "engine/segment/proxy_segment.h"

#include <algorithm>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace engine {

ProxySegment::ProxySegment(std::shared_ptr<SegmentEntry> wrapped) : wrapped_(std::move(wrapped)) {
  SS_ASSERT(wrapped_ != nullptr);
}

absl::Status ProxySegment::NotAppendable(PointId id) const {
  return absl::FailedPreconditionError(
      fmt::format("point {}: a proxy of {} takes no writes; the holder moves the point", id,
                  wrapped_->directory()));
}

std::optional<SeqNumber> ProxySegment::version() const {
  const auto wrapped = wrapped_->version();
  if (!own_version_) return wrapped;
  // Every recorded change is at or below the proxy's own version.
  SS_ASSERT(oldest_recorded_op_.value_or(0) <= *own_version_, "proxy of {}: oldest change {} past version {}",
            wrapped_->directory(), oldest_recorded_op_.value_or(0), *own_version_);
  return std::max(wrapped.value_or(0), *own_version_);
}

std::optional<SeqNumber> ProxySegment::persisted_version() const {
  // Unpropagated changes live only in memory: nothing past the wrapped
  // segment's persisted version is durable here. Nor past the oldest
  // recorded change: a snapshot may have written the changes through into
  // the wrapped segment's files, but the optimizer's result, which replaces
  // that segment, gets them only in memory at the swap, so the WAL must
  // still hold them.
  SS_ASSERT(oldest_recorded_op_.has_value() == has_unpropagated_changes(),
            "proxy of {}: oldest change known without changes, or changes without it", wrapped_->directory());
  const auto wrapped = wrapped_->persisted_version();
  if (!oldest_recorded_op_ || (wrapped && *wrapped < *oldest_recorded_op_)) return wrapped;
  if (*oldest_recorded_op_ == 0) return std::nullopt;
  return *oldest_recorded_op_ - 1;
}

void ProxySegment::Record(SeqNumber op_num) {
  own_version_ = std::max(own_version_.value_or(0), op_num);
  oldest_recorded_op_ = std::min(oldest_recorded_op_.value_or(op_num), op_num);
}

bool ProxySegment::has_unsaved_changes() const {
  return has_unpropagated_changes() || wrapped_->has_unsaved_changes();
}

bool ProxySegment::has_point(PointId id) const {
  return !deleted_.contains(id) && wrapped_->has_point(id);
}

std::optional<SeqNumber> ProxySegment::point_version(PointId id) const {
  const auto it = deleted_.find(id);
  if (it == deleted_.end()) return wrapped_->point_version(id);
  // A delete is recorded only over an older copy, and the wrapped segment
  // takes no newer write meanwhile.
  SS_ASSERT(it->second >= wrapped_->point_version(id).value_or(0), "proxy of {}: point {} deleted at {} below {}",
            wrapped_->directory(), id, it->second, wrapped_->point_version(id).value_or(0));
  return it->second;
}

std::optional<SeqNumber> ProxySegment::newest_point_version() const {
  std::optional<SeqNumber> newest = wrapped_->newest_point_version();
  for (const auto& [id, version] : deleted_) newest = std::max(newest.value_or(0), version);
  return newest;
}

absl::StatusOr<bool> ProxySegment::Upsert(SeqNumber op_num, const Point& point) {
  return NotAppendable(point.id);
}
absl::StatusOr<bool> ProxySegment::SetPayload(SeqNumber, PointId id, const Payload&) {
  return NotAppendable(id);
}
absl::StatusOr<bool> ProxySegment::OverwritePayload(SeqNumber, PointId id, const Payload&) {
  return NotAppendable(id);
}
absl::StatusOr<bool> ProxySegment::DeletePayloadKeys(SeqNumber, PointId id,
                                                     const std::vector<std::string>&) {
  return NotAppendable(id);
}
absl::StatusOr<bool> ProxySegment::ClearPayload(SeqNumber, PointId id) { return NotAppendable(id); }

absl::StatusOr<bool> ProxySegment::DeletePoint(SeqNumber op_num, PointId id) {
  if (!has_point(id)) return false;
  const auto version = wrapped_->point_version(id);
  if (version && *version > op_num) return false;
  // The op's own version: a later flush of the wrapped segment must not
  // skip it, or the acked WAL could not bring the delete back.
  deleted_[id] = op_num;
  Record(op_num);
  SS_ASSERT(!Retrieve(id).has_value(), "proxy of {}: deleted point {} still reads", wrapped_->directory(), id);
  return true;
}

absl::StatusOr<bool> ProxySegment::CreateFieldIndex(SeqNumber op_num, const std::string& key,
                                                    FieldType type) {
  SS_ASSERT(type == FieldType::kKeyword || type == FieldType::kInteger, "index on {} of type {}", key,
            static_cast<int>(type));
  const auto current = version();
  if (current && *current > op_num) return false;
  AssertNoNewerIndexChange(key, op_num);
  index_changes_[key] = IndexChange{op_num, type};
  Record(op_num);
  return true;
}

absl::StatusOr<bool> ProxySegment::DeleteFieldIndex(SeqNumber op_num, const std::string& key) {
  const auto current = version();
  if (current && *current > op_num) return false;
  AssertNoNewerIndexChange(key, op_num);
  index_changes_[key] = IndexChange{op_num, std::nullopt};
  Record(op_num);
  return true;
}

void ProxySegment::AssertNoNewerIndexChange(const std::string& key, SeqNumber op_num) const {
  const auto it = index_changes_.find(key);
  // version() covers every recorded change, and op_num passed it.
  SS_ASSERT(it == index_changes_.end() || it->second.op_num <= op_num,
            "proxy of {}: index change on {} at op {} replaces a newer one at {}", wrapped_->directory(), key,
            op_num, it->second.op_num);
}

absl::Status ProxySegment::ApplyRecorded(SegmentEntry& target) const {
  SS_ASSERT(&target != this, "proxy of {} applying its changes to itself", wrapped_->directory());
  // Index changes first, oldest op first: a segment skips an index change
  // older than its version, and every applied change (a delete too) raises
  // that version.
  std::vector<std::pair<SeqNumber, const std::string*>> changes;
  for (const auto& [key, change] : index_changes_) changes.emplace_back(change.op_num, &key);
  std::sort(changes.begin(), changes.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first < b.first : *a.second < *b.second; });
  for (const auto& [op_num, key] : changes) {
    // version() covers every recorded change.
    SS_ASSERT(op_num <= own_version_.value_or(0), "proxy of {}: index change at {} past version {}",
              wrapped_->directory(), op_num, own_version_.value_or(0));
    const IndexChange& change = index_changes_.at(*key);
    auto applied = change.create ? target.CreateFieldIndex(op_num, *key, *change.create)
                                 : target.DeleteFieldIndex(op_num, *key);
    if (!applied.ok()) return applied.status();
  }
  for (const auto& [id, op_num] : deleted_) {
    SS_ASSERT(op_num <= own_version_.value_or(0), "proxy of {}: delete at {} past version {}",
              wrapped_->directory(), op_num, own_version_.value_or(0));
    auto deleted = target.DeletePoint(op_num, id);
    if (!deleted.ok()) return deleted.status();
  }
  return absl::OkStatus();
}

absl::Status ProxySegment::PropagateTo(SegmentEntry& target) const { return ApplyRecorded(target); }

absl::Status ProxySegment::ApplyToWrappedKeepingRecord() { return ApplyRecorded(*wrapped_); }

absl::Status ProxySegment::Propagate() {
  if (!deleted_.empty()) SS_COVER(kProxyPropagatedDeletes);
  if (!index_changes_.empty()) SS_COVER(kProxyPropagatedIndexChange);
  if (has_unpropagated_changes() && dynamic_cast<const ProxySegment*>(wrapped_.get()) != nullptr) {
    SS_COVER(kDoubleProxyPropagated);
  }
  SS_ASSERT(oldest_recorded_op_.has_value() == has_unpropagated_changes());
  if (auto status = ApplyRecorded(*wrapped_); !status.ok()) return status;
  deleted_.clear();
  index_changes_.clear();
  oldest_recorded_op_.reset();
  return absl::OkStatus();
}

std::optional<Point> ProxySegment::Retrieve(PointId id) const {
  if (deleted_.contains(id)) return std::nullopt;
  return wrapped_->Retrieve(id);
}

std::vector<PointId> ProxySegment::LiveIds() const {
  std::vector<PointId> ids = wrapped_->LiveIds();
  std::erase_if(ids, [&](PointId id) { return deleted_.contains(id); });
  return ids;
}

std::vector<PointId> ProxySegment::ReadFiltered(const Filter* filter,
                                                std::optional<PointId> after_id,
                                                size_t limit) const {
  // Over-read by the deletes so that the page stays full.
  const size_t wanted = limit > SIZE_MAX - deleted_.size() ? SIZE_MAX : limit + deleted_.size();
  std::vector<PointId> ids = wrapped_->ReadFiltered(filter, after_id, wanted);
  std::erase_if(ids, [&](PointId id) { return deleted_.contains(id); });
  if (ids.size() > limit) ids.resize(limit);
  AssertReadPage(ids, after_id, limit);
  return ids;
}

size_t ProxySegment::Count(const Filter* filter) const {
  return ReadFiltered(filter, std::nullopt, SIZE_MAX).size();
}

std::vector<ScoredPoint> ProxySegment::Search(const Vector& query, const Filter* filter,
                                              size_t k) const {
  const size_t wanted = k > SIZE_MAX - deleted_.size() ? SIZE_MAX : k + deleted_.size();
  std::vector<ScoredPoint> hits = wrapped_->Search(query, filter, wanted);
  SS_ASSERT(hits.size() <= wanted, "proxy of {}: {} hits for top {}", wrapped_->directory(), hits.size(), wanted);
  std::erase_if(hits, [&](const ScoredPoint& hit) { return deleted_.contains(hit.id); });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

std::map<std::string, FieldType> ProxySegment::indexed_fields() const {
  std::map<std::string, FieldType> fields = wrapped_->indexed_fields();
  for (const auto& [key, change] : index_changes_) {
    if (change.create) {
      fields[key] = *change.create;
    } else {
      fields.erase(key);
    }
  }
  return fields;
}

absl::StatusOr<std::optional<SeqNumber>> ProxySegment::Flush(bool force) {
  // The wrapped segment may still hold changes from before it was proxied.
  auto flushed = wrapped_->Flush(force);
  if (!flushed.ok()) return flushed.status();
  const std::optional<SeqNumber> persisted = persisted_version();
  const std::optional<SeqNumber> current = version();
  SS_ASSERT(!persisted || (current && *persisted <= *current), "proxy of {}: persisted {} past version {}",
            wrapped_->directory(), persisted.value_or(0), current.value_or(0));
  return persisted;
}

}  // namespace engine
