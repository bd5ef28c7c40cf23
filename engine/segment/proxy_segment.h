// ProxySegment: wraps a segment that must not change (while a snapshot or an
// optimization reads it). Reads go to the wrapped segment minus the proxy's
// own deletes. The proxy is not appendable, so the holder moves points it
// must write (copy-on-write into an appendable segment, e.g. the snapshot's
// temporary segment) and deletes them here: the proxy records each delete
// with its op version, and each payload-index change, and Propagate applies
// them to the wrapped segment (each with its own version) before the wrapped
// segment is put back.
//
// Versions: version() covers the recorded changes; persisted_version() stays
// at the wrapped segment's while changes are unpropagated, so the WAL is
// never acked past data that is not durable.
//
// Threading: as every SegmentEntry, under the holder's locks. The wrapped
// segment is shared with whoever reads it (the snapshot), which only reads.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "engine/segment/segment_entry.h"

namespace engine {

class ProxySegment final : public SegmentEntry {
 public:
  explicit ProxySegment(std::shared_ptr<SegmentEntry> wrapped);

  const std::shared_ptr<SegmentEntry>& wrapped() const { return wrapped_; }
  bool has_unpropagated_changes() const { return !deleted_.empty() || !index_changes_.empty(); }
  // The changes recorded so far (an optimizer applies them to its result).
  const std::map<PointId, SeqNumber>& pending_deletes() const { return deleted_; }
  // Applies the recorded changes to another segment (an optimizer's result).
  absl::Status PropagateTo(SegmentEntry& target) const;
  // Applies the recorded deletes and index changes to the wrapped segment.
  // REQUIRES: the caller holds the updates mutex (no op runs meanwhile).
  absl::Status Propagate();

  std::optional<SeqNumber> version() const override;
  std::optional<SeqNumber> persisted_version() const override;
  bool is_appendable() const override { return false; }
  const std::string& directory() const override { return wrapped_->directory(); }
  bool has_point(PointId id) const override;
  std::optional<SeqNumber> point_version(PointId id) const override;

  absl::StatusOr<bool> Upsert(SeqNumber op_num, const Point& point) override;
  absl::StatusOr<bool> DeletePoint(SeqNumber op_num, PointId id) override;
  absl::StatusOr<bool> SetPayload(SeqNumber op_num, PointId id, const Payload& payload) override;
  absl::StatusOr<bool> OverwritePayload(SeqNumber op_num, PointId id, const Payload& payload) override;
  absl::StatusOr<bool> DeletePayloadKeys(SeqNumber op_num, PointId id,
                                         const std::vector<std::string>& keys) override;
  absl::StatusOr<bool> ClearPayload(SeqNumber op_num, PointId id) override;
  absl::StatusOr<bool> CreateFieldIndex(SeqNumber op_num, const std::string& key,
                                        FieldType type) override;
  absl::StatusOr<bool> DeleteFieldIndex(SeqNumber op_num, const std::string& key) override;

  std::optional<Point> Retrieve(PointId id) const override;
  std::vector<PointId> LiveIds() const override;
  std::vector<PointId> ReadFiltered(const Filter* filter, std::optional<PointId> after_id,
                                    size_t limit) const override;
  size_t Count(const Filter* filter) const override;
  std::vector<ScoredPoint> Search(const Vector& query, const Filter* filter, size_t k) const override;
  std::map<std::string, FieldType> indexed_fields() const override;
  bool IndexesAgreeWithPayloads() const override { return wrapped_->IndexesAgreeWithPayloads(); }

  absl::StatusOr<std::optional<SeqNumber>> Flush(bool force) override;
  bool has_unsaved_changes() const override;

 private:
  struct IndexChange {
    SeqNumber op_num;
    std::optional<FieldType> create;  // nullopt = delete
  };
  absl::Status NotAppendable(PointId id) const;

  std::shared_ptr<SegmentEntry> wrapped_;
  std::map<PointId, SeqNumber> deleted_;             // id -> the delete's op
  std::map<std::string, IndexChange> index_changes_;  // key -> latest change
  std::optional<SeqNumber> own_version_;
};

}  // namespace engine
