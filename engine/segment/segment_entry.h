// SegmentEntry: what the segment holder needs of a segment (Qdrant's
// SegmentEntry trait, within this project's scope). A plain Segment and a
// ProxySegment implement it.
//
// Versions: version() is the highest op applied; persisted_version() the
// version captured when the last completed flush began (nullopt = none yet).
// A point op is skipped (returns false) when the point's version is greater
// than op_num; an equal op_num is applied again, so every op is idempotent.
//
// Threading: not synchronised. The holder calls readers under the segment's
// read lock and mutators (and Flush) under its write lock.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/filter.h"
#include "engine/model/types.h"

namespace engine {

class SegmentEntry {
 public:
  virtual ~SegmentEntry() = default;

  virtual std::optional<SeqNumber> version() const = 0;
  virtual std::optional<SeqNumber> persisted_version() const = 0;
  virtual bool is_appendable() const = 0;
  virtual const std::string& directory() const = 0;

  // True if the segment holds a live (not deleted) copy of the point.
  virtual bool has_point(PointId id) const = 0;
  // The version of the point's live copy or tombstone.
  virtual std::optional<SeqNumber> point_version(PointId id) const = 0;
  // The highest point_version() of any point it holds (nullopt: none). It
  // can be above version(): a copy read back from an interrupted flush is
  // not applied again by WAL replay (the point is already at that op), so
  // the segment's version stays; the op itself was applied all the same.
  // O(points): for loads, not for the update path.
  virtual std::optional<SeqNumber> newest_point_version() const = 0;

  // REQUIRES: is_appendable(); the vector is stored as given (the shard
  // preprocesses it once, so a copy-on-write move copies it bit for bit).
  virtual absl::StatusOr<bool> Upsert(SeqNumber op_num, const Point& point) = 0;
  virtual absl::StatusOr<bool> DeletePoint(SeqNumber op_num, PointId id) = 0;
  // Deletes a copy a newer copy elsewhere supersedes, at the copy's own
  // version. It claims no op, so a segment's version need not move: after
  // a load the copy may come from an interrupted flush and be newer than
  // the segment-wide ops (index changes) the segment applied (seed 206858:
  // raising the version made WAL replay skip an index drop there).
  virtual absl::StatusOr<bool> DeleteSupersededCopy(PointId id, SeqNumber copy_version) {
    return DeletePoint(copy_version, id);
  }
  virtual absl::StatusOr<bool> SetPayload(SeqNumber op_num, PointId id, const Payload& payload) = 0;
  virtual absl::StatusOr<bool> OverwritePayload(SeqNumber op_num, PointId id,
                                                const Payload& payload) = 0;
  virtual absl::StatusOr<bool> DeletePayloadKeys(SeqNumber op_num, PointId id,
                                                 const std::vector<std::string>& keys) = 0;
  virtual absl::StatusOr<bool> ClearPayload(SeqNumber op_num, PointId id) = 0;
  // Skipped when the segment's version is greater than op_num.
  virtual absl::StatusOr<bool> CreateFieldIndex(SeqNumber op_num, const std::string& key,
                                                FieldType type) = 0;
  virtual absl::StatusOr<bool> DeleteFieldIndex(SeqNumber op_num, const std::string& key) = 0;

  virtual std::optional<Point> Retrieve(PointId id) const = 0;
  // Live ids, sorted.
  virtual std::vector<PointId> LiveIds() const = 0;
  // LiveIds().size(), in constant time where the segment keeps the count
  // (placement asks it of every appendable segment at every upsert).
  virtual size_t LiveCount() const { return LiveIds().size(); }
  // Live ids above `after_id` passing the filter (null = all), sorted, at
  // most `limit`.
  virtual std::vector<PointId> ReadFiltered(const Filter* filter, std::optional<PointId> after_id,
                                            size_t limit) const = 0;
  virtual size_t Count(const Filter* filter) const = 0;
  // Exact top-k by brute force, ordered by BetterHit.
  virtual std::vector<ScoredPoint> Search(const Vector& query, const Filter* filter,
                                          size_t k) const = 0;
  virtual std::map<std::string, FieldType> indexed_fields() const = 0;
  // Every payload index agrees with the payloads (for invariant checks).
  virtual bool IndexesAgreeWithPayloads() const = 0;

  // Makes the segment's state durable (components in the fixed order, then
  // segment.json) and returns the persisted version. `force` flushes even
  // without changes.
  virtual absl::StatusOr<std::optional<SeqNumber>> Flush(bool force) = 0;
  virtual bool has_unsaved_changes() const = 0;
};

// ReadFiltered's postcondition: at most `limit` ids, sorted, all above
// `after_id`. Aborts otherwise.
void AssertReadPage(const std::vector<PointId>& ids, std::optional<PointId> after_id, size_t limit);

}  // namespace engine
