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
// at or below the wrapped segment's, and below the oldest unpropagated
// change, so the WAL is never acked past data that is not durable.
//
// Threading: as every SegmentEntry, under the holder's locks. The wrapped
// segment is shared with whoever reads it (the snapshot), which only reads.
//
// A proxy may wrap a proxy: a snapshot during an optimization proxies the
// optimizer's proxies. Unproxying the outer one propagates its changes into
// the inner one, which records them for the optimizer's result.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "engine/common/assert.h"
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
  // Applies the recorded deletes and index changes to the wrapped segment
  // and forgets them. REQUIRES: the caller holds the updates mutex (no op
  // runs meanwhile).
  absl::Status Propagate();
  // Applies the recorded changes to the wrapped segment but keeps them: a
  // snapshot that freezes an optimizer's proxy (a proxy of a proxy) needs
  // the wrapped segment's files to hold the proxy's view, while the
  // optimization still owes the same changes to its result. Applying them
  // again later is harmless (every change carries its own op version).
  // REQUIRES: updates mutex and the wrapped segment's write lock held.
  absl::Status ApplyToWrappedKeepingRecord();

  std::optional<SeqNumber> version() const override;
  std::optional<SeqNumber> persisted_version() const override;
  bool is_appendable() const override { return false; }
  const std::string& directory() const override { return wrapped_->directory(); }
  bool has_point(PointId id) const override;
  std::optional<SeqNumber> point_version(PointId id) const override;
  std::optional<SeqNumber> newest_point_version() const override;

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
  // The version rule for index changes: a recorded change never replaces a
  // newer one.
  void AssertNoNewerIndexChange(const std::string& key, SeqNumber op_num) const;
  // Index changes (in op order), then deletes, each at its own op version.
  absl::Status ApplyRecorded(SegmentEntry& target) const;

  std::shared_ptr<SegmentEntry> wrapped_;
  std::map<PointId, SeqNumber> deleted_;             // id -> the delete's op
  std::map<std::string, IndexChange> index_changes_;  // key -> latest change
  // Notes a recorded change at op_num.
  void Record(SeqNumber op_num);

  std::optional<SeqNumber> own_version_;
  // The lowest op among changes recorded since the last Propagate.
  std::optional<SeqNumber> oldest_recorded_op_;
};

// The segment whose files `segment` reads: itself, or below every proxy
// layer (an optimizer's proxy frozen by a snapshot reads its wrapped files).
inline const SegmentEntry& Innermost(const SegmentEntry& segment) {
  const SegmentEntry* inner = &segment;
  for (int depth = 0; const auto* proxy = dynamic_cast<const ProxySegment*>(inner); ++depth) {
    SS_ASSERT(depth < 8, "proxy chain deeper than 8 at {}", segment.directory());
    inner = proxy->wrapped().get();
  }
  return *inner;
}

}  // namespace engine
