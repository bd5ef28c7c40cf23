// Reads: retrieve, scroll, count, search, and introspection. Each runs under
// the segments read lock and the updates mutex, so it sees every segment at
// the same op boundary (an op that touches several points, or moves a point
// between segments, is never seen half-applied), and under each segment's
// read lock.
#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/assert.h"
#include "engine/shard/local_shard.h"

namespace engine {

void LocalShard::ReadEverySegment(const std::function<bool(SegmentId, const SegmentEntry&)>& visit) {
  SS_ASSERT(visit != nullptr);
  ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  for (SegmentId segment_id : holder_.Ids()) {
    const LockedSegment* locked = holder_.Get(segment_id);
    ReadLock guard(*locked->lock);
    if (!visit(segment_id, *locked->segment)) return;
  }
}

std::optional<Point> LocalShard::Retrieve(PointId id) {
  std::optional<Point> point;
  ReadEverySegment([&](SegmentId, const SegmentEntry& segment) {
    if (!segment.has_point(id)) return true;
    point = segment.Retrieve(id);  // the newest copy: the only live one
    SS_ASSERT(point.has_value(), "live point {} of {} does not retrieve", id, segment.directory());
    return false;
  });
  SS_ASSERT(!point || point->id == id, "retrieved point {} for {}", point->id, id);
  return point;
}

std::vector<Point> LocalShard::Scroll(const Filter* filter, std::optional<PointId> after_id,
                                      size_t limit) {
  std::vector<Point> points;
  ReadEverySegment([&](SegmentId, const SegmentEntry& segment) {
    const std::vector<PointId> ids = segment.ReadFiltered(filter, after_id, limit);
    // The merge below keeps the first `limit` of the segments' first `limit`.
    SS_ASSERT(ids.size() <= limit, "{} read {} of {}", segment.directory(), ids.size(), limit);
    for (PointId id : ids) {
      SS_ASSERT(!after_id || id > *after_id, "{} scrolled back to {}", segment.directory(), id);
      std::optional<Point> point = segment.Retrieve(id);
      if (point) points.push_back(std::move(*point));
    }
    return true;
  });
  std::sort(points.begin(), points.end(),
            [](const Point& a, const Point& b) { return a.id < b.id; });
  if (points.size() > limit) points.resize(limit);
  SS_ASSERT(points.empty() || !after_id || points.front().id > *after_id, "scroll went back to {}",
            points.front().id);
  return points;
}

size_t LocalShard::Count(const Filter* filter) {
  size_t count = 0;
  ReadEverySegment([&](SegmentId, const SegmentEntry& segment) {
    count += segment.Count(filter);
    return true;
  });
  return count;
}

std::vector<ScoredPoint> LocalShard::Search(const Vector& query, const Filter* filter, size_t k) {
  std::vector<ScoredPoint> hits;
  ReadEverySegment([&](SegmentId, const SegmentEntry& segment) {
    const std::vector<ScoredPoint> segment_hits = segment.Search(query, filter, k);
    SS_ASSERT(segment_hits.size() <= k, "{} found {} of top {}", segment.directory(), segment_hits.size(), k);
    hits.insert(hits.end(), segment_hits.begin(), segment_hits.end());
    return true;
  });
  std::sort(hits.begin(), hits.end(), [](const ScoredPoint& a, const ScoredPoint& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

LocalShard::Summary LocalShard::Summarize() {
  Summary summary;
  ReadEverySegment([&](SegmentId segment_id, const SegmentEntry& segment) {
    const size_t points = segment.LiveCount();
    summary.points += points;
    summary.segments.push_back(fmt::format(
        "{}: {} {} version={} persisted={} points={}", segment_id, segment.directory(),
        segment.is_appendable() ? "appendable" : "sealed",
        segment.version() ? fmt::format("{}", *segment.version()) : "none",
        segment.persisted_version() ? fmt::format("{}", *segment.persisted_version()) : "none",
        points));
    SS_ASSERT(segment.persisted_version().value_or(0) <= segment.version().value_or(0),
              "segment {} persisted past its version", segment_id);
    return true;
  });
  {
    MutexLock wal(*wal_mutex_);
    summary.wal_first_index = wal_->first_index();
    summary.wal_next_index = wal_->next_index();
  }
  SS_ASSERT(summary.wal_first_index <= summary.wal_next_index);
  MutexLock clocks(*clocks_mutex_);
  summary.newest_clocks = newest_clocks_;
  return summary;
}

std::map<PointId, std::vector<SegmentId>> LocalShard::LiveCopies() {
  ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  return holder_.LiveCopies();
}

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
  std::optional<std::string> broken;
  ReadEverySegment([&](SegmentId segment_id, const SegmentEntry& segment) {
    if (!segment.IndexesAgreeWithPayloads()) {
      broken = fmt::format("segment {}: a payload index disagrees with the payloads", segment_id);
      return false;
    }
    // A lost index change (e.g. one propagated after a newer delete and
    // skipped by the version rule) leaves a segment without it. Only
    // segments holding points are compared: an empty segment's index is
    // not made durable until it changes, and it indexes nothing.
    if (segment.LiveCount() != 0 && segment.indexed_fields() != payload_schema_) {
      broken = fmt::format("segment {}: indexes [{}] but the shard's are [{}]", segment_id,
                           fmt::join(FieldNames(segment.indexed_fields()), ", "),
                           fmt::join(FieldNames(payload_schema_), ", "));
      return false;
    }
    return true;
  });
  if (broken) return broken;
  auto leftovers = env_.fs().ListDir(paths_.temp_segments());
  if (leftovers.ok() && !leftovers->empty()) {
    return fmt::format("{} entries left in temp_segments/", leftovers->size());
  }
  return std::nullopt;
}

}  // namespace engine
