// Reads: retrieve, scroll, count, search, and introspection. Each runs under
// the segments read lock and the updates mutex, so it sees every segment at
// the same op boundary (an op that touches several points, or moves a point
// between segments, is never seen half-applied), and under each segment's
// read lock.
#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/shard/local_shard.h"

namespace engine {

std::optional<Point> LocalShard::Retrieve(PointId id) {
  ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  for (SegmentId segment_id : holder_.Ids()) {
    const LockedSegment* locked = holder_.Get(segment_id);
    ReadLock guard(*locked->lock);
    if (locked->segment->has_point(id)) return locked->segment->Retrieve(id);
  }
  return std::nullopt;
}

std::vector<Point> LocalShard::Scroll(const Filter* filter, std::optional<PointId> after_id,
                                      size_t limit) {
  std::vector<Point> points;
  ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  for (SegmentId segment_id : holder_.Ids()) {
    const LockedSegment* locked = holder_.Get(segment_id);
    ReadLock guard(*locked->lock);
    for (PointId id : locked->segment->ReadFiltered(filter, after_id, limit)) {
      std::optional<Point> point = locked->segment->Retrieve(id);
      if (point) points.push_back(std::move(*point));
    }
  }
  std::sort(points.begin(), points.end(),
            [](const Point& a, const Point& b) { return a.id < b.id; });
  if (points.size() > limit) points.resize(limit);
  return points;
}

size_t LocalShard::Count(const Filter* filter) {
  size_t count = 0;
  ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  for (SegmentId segment_id : holder_.Ids()) {
    const LockedSegment* locked = holder_.Get(segment_id);
    ReadLock guard(*locked->lock);
    count += locked->segment->Count(filter);
  }
  return count;
}

std::vector<ScoredPoint> LocalShard::Search(const Vector& query, const Filter* filter, size_t k) {
  std::vector<ScoredPoint> hits;
  ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  for (SegmentId segment_id : holder_.Ids()) {
    const LockedSegment* locked = holder_.Get(segment_id);
    ReadLock guard(*locked->lock);
    for (const ScoredPoint& hit : locked->segment->Search(query, filter, k)) hits.push_back(hit);
  }
  std::sort(hits.begin(), hits.end(), [](const ScoredPoint& a, const ScoredPoint& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

LocalShard::Summary LocalShard::Summarize() {
  Summary summary;
  {
    ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
    for (SegmentId segment_id : holder_.Ids()) {
      const LockedSegment* locked = holder_.Get(segment_id);
      ReadLock guard(*locked->lock);
      const SegmentEntry& segment = *locked->segment;
      const size_t points = segment.LiveIds().size();
      summary.points += points;
      summary.segments.push_back(fmt::format(
          "{}: {} {} version={} persisted={} points={}", segment_id, segment.directory(),
          segment.is_appendable() ? "appendable" : "sealed",
          segment.version() ? fmt::format("{}", *segment.version()) : "none",
          segment.persisted_version() ? fmt::format("{}", *segment.persisted_version()) : "none",
          points));
    }
  }
  {
    MutexLock wal(*wal_mutex_);
    summary.wal_first_index = wal_->first_index();
    summary.wal_next_index = wal_->next_index();
  }
  MutexLock clocks(*clocks_mutex_);
  summary.newest_clocks = newest_clocks_;
  return summary;
}

std::map<PointId, std::vector<SegmentId>> LocalShard::LiveCopies() {
  ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  return holder_.LiveCopies();
}

}  // namespace engine

namespace engine {

std::map<std::string, FieldType> LocalShard::PayloadSchema() {
  MutexLock updates(*updates_mutex_);
  return payload_schema_;
}

namespace {
std::vector<std::string> FieldNames(const std::map<std::string, FieldType>& fields) {
  std::vector<std::string> names;
  for (const auto& [key, type] : fields) names.push_back(key);
  return names;
}
}  // namespace

std::optional<std::string> LocalShard::CheckStructure() {
  {
    ReadLock segments(*segments_lock_);
    MutexLock updates(*updates_mutex_);
    for (SegmentId segment_id : holder_.Ids()) {
      const LockedSegment* locked = holder_.Get(segment_id);
      ReadLock guard(*locked->lock);
      if (!locked->segment->IndexesAgreeWithPayloads()) {
        return fmt::format("segment {}: a payload index disagrees with the payloads", segment_id);
      }
      // A lost index change (e.g. one propagated after a newer delete and
      // skipped by the version rule) leaves a segment without it. Only
      // segments holding points are compared: an empty segment's index is
      // not made durable until it changes, and it indexes nothing.
      if (!locked->segment->LiveIds().empty() && locked->segment->indexed_fields() != payload_schema_) {
        return fmt::format("segment {}: indexes [{}] but the shard's are [{}]", segment_id,
                           fmt::join(FieldNames(locked->segment->indexed_fields()), ", "),
                           fmt::join(FieldNames(payload_schema_), ", "));
      }
    }
  }
  auto leftovers = env_.fs().ListDir(paths_.temp_segments());
  if (leftovers.ok() && !leftovers->empty()) {
    return fmt::format("{} entries left in temp_segments/", leftovers->size());
  }
  return std::nullopt;
}

}  // namespace engine
