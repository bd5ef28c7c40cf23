// SegmentHolder: the shard's set of segments, each behind its own reader-writer
// lock (Qdrant's LockedSegment), and the point-level operations that span
// segments: copy-on-write moves out of non-appendable segments and proxies,
// deletes of every copy, de-duplication at load, and the ordered flush that
// yields the WAL waterline.
//
// Locking (callers, i.e. LocalShard, hold these): the holder's own map is
// guarded by the shard's segments RwLock — read for every call here, write to
// add, remove or swap segments. Point operations and FlushAll additionally
// REQUIRE the shard's updates mutex, so no operation is applied while a flush
// runs and no copy-on-write lands between two segments' flushes. Each segment
// is read under its read lock and changed under its write lock; when two are
// held, the source is locked before the appendable destination.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/env/env.h"
#include "engine/model/types.h"
#include "engine/segment/segment_entry.h"

namespace engine {

using SegmentId = uint64_t;

struct LockedSegment {
  std::shared_ptr<SegmentEntry> segment;
  std::shared_ptr<RwLock> lock;
};

class SegmentHolder {
 public:
  explicit SegmentHolder(Env& env) : env_(env) {}

  // The holder's states: each id names one segment object, held once; a
  // segment joins as a plain segment and becomes a proxy only by Replace
  // over it, and a proxy is never appendable (writes to its points move
  // them out).

  // Adds a segment under a new id (ids are never reused).
  SegmentId AddNew(std::shared_ptr<SegmentEntry> segment);
  // REQUIRES: the id is not in use; the segment is not a proxy and not in
  // the holder already.
  void AddExisting(SegmentId id, std::shared_ptr<SegmentEntry> segment);
  // Swaps the segment behind an id, keeping the id (and its lock). Returns
  // the previous segment. REQUIRES: the id is in use, and `segment` is a
  // proxy wrapping the current segment or the segment the current proxy
  // wraps.
  std::shared_ptr<SegmentEntry> Replace(SegmentId id, std::shared_ptr<SegmentEntry> segment);
  // REQUIRES: every id is in use, each named once.
  std::vector<std::shared_ptr<SegmentEntry>> Remove(const std::vector<SegmentId>& ids);

  const LockedSegment* Get(SegmentId id) const;
  size_t size() const { return segments_.size(); }
  // Appendable segments first, then the rest; each group sorted by id.
  std::vector<SegmentId> Ids() const;
  std::vector<SegmentId> AppendableIds() const;
  bool HasAppendable() const { return !AppendableIds().empty(); }
  // The appendable segment with the fewest live points (lowest id on ties).
  // REQUIRES: HasAppendable().
  SegmentId SmallestAppendable() const;

  // ---- Point operations. REQUIRE: segments read lock + updates mutex. ----

  using PointOp = std::function<absl::StatusOr<bool>(PointId, SegmentEntry&)>;
  // Rewrites a point for a copy-on-write move (e.g. merges a payload).
  using CowOp = std::function<void(Point&)>;

  // Applies `point_op` to the newest copy of each point where it lives; a
  // point in a non-appendable segment or a proxy is first moved (copied at
  // op_num into an appendable segment, with a flush dependency destination
  // before source, then deleted in the source). Older copies are deleted.
  // Returns the ids found somewhere (applied or already newer).
  absl::StatusOr<std::set<PointId>> ApplyPointsWithConditionalMove(
      SeqNumber op_num, const std::vector<PointId>& ids, const PointOp& point_op,
      const CowOp& cow_op);

  // Deletes every copy of each point: older copies at their own version,
  // the newest at op_num.
  absl::Status DeletePoints(SeqNumber op_num, const std::vector<PointId>& ids);

  // Keeps only the highest-version copy of every point (at load).
  // Returns what it resolved, one line per point with several copies.
  absl::StatusOr<std::vector<std::string>> DeduplicatePoints();

  // Applies a segment-level operation (field index) to every segment.
  absl::Status ApplyToAllSegments(const std::function<absl::StatusOr<bool>(SegmentEntry&)>& op);

  // ---- Flush. REQUIRES: segments read lock + updates mutex. ----

  // REQUIRES: two different segments in the holder.
  void AddFlushDependency(SegmentId flush_first, SegmentId flush_after, SeqNumber op_num);
  // The order FlushAll uses: every recorded dependency respected, then
  // appendable segments before the rest, then by id. Asserts there is no
  // cycle.
  std::vector<SegmentId> FlushOrder() const;
  // True if a segment of ids holds a copy whose source's delete waits for it
  // (a pending dependency flushes it first). Such a segment must not become
  // a copy-on-write source (a proxy) before FlushAll: a move out of it
  // would need it flushed after its new destination, a cycle.
  bool MustFlushBeforeOthers(const std::vector<SegmentId>& ids) const;
  // Flushes every segment in FlushOrder and returns the waterline: the lowest
  // persisted version among segments that still have unsaved changes, or the
  // highest persisted version when everything is saved.
  absl::StatusOr<SeqNumber> FlushAll(bool force);

  // A version every op up to which is reflected, even if no segment claims
  // it any more (a dropped empty temporary segment): FlushAll's waterline
  // never goes below it when everything is saved (Qdrant's
  // max_persisted_segment_version_overwrite).
  void BumpPersistedVersionOverwrite(SeqNumber version) {
    persisted_version_overwrite_ = std::max(persisted_version_overwrite_, version);
  }
  SeqNumber persisted_version_overwrite() const { return persisted_version_overwrite_; }

  // Every live copy of every point (id -> segments holding it), for
  // invariant checks.
  std::map<PointId, std::vector<SegmentId>> LiveCopies() const;

 private:
  struct Occurrence {
    SegmentId segment;
    SeqNumber version;
  };
  // For each id found anywhere, its copies sorted newest first.
  std::map<PointId, std::vector<Occurrence>> FindCopies(const std::vector<PointId>& ids) const;
  absl::StatusOr<bool> MovePoint(SeqNumber op_num, PointId id, SegmentId source,
                                 const CowOp& cow_op);
  absl::Status DeleteOlderCopies(PointId id, const std::vector<Occurrence>& copies);
  std::string DescribeDependencies() const;

  struct FlushDependency {
    SegmentId flush_first;
    SegmentId flush_after;
    SeqNumber op_num;
  };

  Env& env_;
  std::map<SegmentId, LockedSegment> segments_;
  SegmentId next_id_ = 1;
  std::vector<FlushDependency> flush_dependencies_;
  SeqNumber persisted_version_overwrite_ = 0;
};

}  // namespace engine
