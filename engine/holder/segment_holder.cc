#include "engine/common/coverage.h"
#include "engine/segment/proxy_segment.h"
#include "engine/holder/segment_holder.h"

#include <algorithm>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace engine {

namespace {
SeqNumber OrZero(std::optional<SeqNumber> version) { return version.value_or(0); }
bool IsProxy(const SegmentEntry& segment) { return dynamic_cast<const ProxySegment*>(&segment) != nullptr; }
}  // namespace

SegmentId SegmentHolder::AddNew(std::shared_ptr<SegmentEntry> segment) {
  const SegmentId id = next_id_;
  AddExisting(id, std::move(segment));
  return id;
}

void SegmentHolder::AddExisting(SegmentId id, std::shared_ptr<SegmentEntry> segment) {
  SS_ASSERT(segment != nullptr);
  SS_ASSERT(!segments_.contains(id), "segment id {} already in use", id);
  // A proxy enters only by Replace, over the segment it wraps.
  SS_ASSERT(!IsProxy(*segment), "segment {} joins as a proxy", id);
  for (const auto& [other_id, locked] : segments_) {
    SS_ASSERT(locked.segment != segment, "{} is already segment {}", segment->directory(), other_id);
  }
  auto lock = std::shared_ptr<RwLock>(env_.NewRwLock(fmt::format("segment.{}", id)));
  segments_.emplace(id, LockedSegment{std::move(segment), std::move(lock)});
  next_id_ = std::max(next_id_, id + 1);
  // Every id in use is below the next new one: AddNew never reuses an id.
  SS_ASSERT(segments_.rbegin()->first < next_id_);
}

std::shared_ptr<SegmentEntry> SegmentHolder::Replace(SegmentId id,
                                                     std::shared_ptr<SegmentEntry> segment) {
  auto it = segments_.find(id);
  SS_ASSERT(it != segments_.end(), "replace of unknown segment {}", id);
  SS_ASSERT(segment != nullptr);
  // The only swaps: wrap the segment in a proxy, or put back the segment a
  // proxy wraps.
  const SegmentEntry* current = it->second.segment.get();
  const auto* wrapping = dynamic_cast<const ProxySegment*>(segment.get());
  const auto* unwrapping = dynamic_cast<const ProxySegment*>(current);
  SS_ASSERT((wrapping != nullptr && wrapping->wrapped().get() == current) ||
                (unwrapping != nullptr && unwrapping->wrapped() == segment),
            "segment {}: {} replaced by a segment that neither wraps it nor is wrapped by it", id,
            current->directory());
  return std::exchange(it->second.segment, std::move(segment));
}

std::vector<std::shared_ptr<SegmentEntry>> SegmentHolder::Remove(const std::vector<SegmentId>& ids) {
  std::vector<std::shared_ptr<SegmentEntry>> removed;
  for (SegmentId id : ids) {
    auto it = segments_.find(id);
    SS_ASSERT(it != segments_.end(), "remove of unknown segment {}", id);
    removed.push_back(std::move(it->second.segment));
    segments_.erase(it);
  }
  SS_ASSERT(removed.size() == ids.size());
  return removed;
}

const LockedSegment* SegmentHolder::Get(SegmentId id) const {
  const auto it = segments_.find(id);
  if (it == segments_.end()) return nullptr;
  SS_ASSERT(it->second.segment != nullptr && it->second.lock != nullptr, "segment {} half there", id);
  return &it->second;
}

std::vector<SegmentId> SegmentHolder::Ids() const {
  std::vector<SegmentId> appendable, rest;
  for (const auto& [id, locked] : segments_) {
    (locked.segment->is_appendable() ? appendable : rest).push_back(id);
  }
  appendable.insert(appendable.end(), rest.begin(), rest.end());
  SS_ASSERT(appendable.size() == segments_.size(), "every segment listed once");
  return appendable;
}

std::vector<SegmentId> SegmentHolder::AppendableIds() const {
  std::vector<SegmentId> ids;
  for (const auto& [id, locked] : segments_) {
    if (!locked.segment->is_appendable()) continue;
    // Writes into a proxied segment go elsewhere (a copy-on-write move).
    SS_ASSERT(!IsProxy(*locked.segment), "proxy {} is appendable", id);
    ids.push_back(id);
  }
  return ids;
}

SegmentId SegmentHolder::SmallestAppendable() const {
  std::optional<SegmentId> best;
  size_t best_points = 0;
  for (SegmentId id : AppendableIds()) {
    const LockedSegment& locked = segments_.at(id);
    ReadLock guard(*locked.lock);
    const size_t points = locked.segment->LiveCount();
    if (!best || points < best_points) {
      best = id;
      best_points = points;
    }
  }
  SS_ASSERT(best.has_value(), "no appendable segment");
  return *best;
}

std::map<PointId, std::vector<SegmentHolder::Occurrence>> SegmentHolder::FindCopies(
    const std::vector<PointId>& ids) const {
  // An op may name an id twice; each copy must be seen once.
  const std::set<PointId> unique_ids(ids.begin(), ids.end());
  std::map<PointId, std::vector<Occurrence>> copies;
  for (SegmentId segment_id : Ids()) {
    const LockedSegment& locked = segments_.at(segment_id);
    ReadLock guard(*locked.lock);
    for (PointId id : unique_ids) {
      if (!locked.segment->has_point(id)) continue;
      const auto version = locked.segment->point_version(id);
      SS_ASSERT(version.has_value(), "live point {} without a version in segment {}", id,
                segment_id);
      copies[id].push_back({segment_id, *version});
    }
  }
  for (auto& [id, occurrences] : copies) {
    std::sort(occurrences.begin(), occurrences.end(), [](const Occurrence& a, const Occurrence& b) {
      return a.version != b.version ? a.version > b.version : a.segment < b.segment;
    });
  }
  return copies;
}

absl::Status SegmentHolder::DeleteOlderCopies(PointId id, const std::vector<Occurrence>& copies) {
  SS_ASSERT(!copies.empty(), "point {} has no copy to keep", id);
  for (size_t i = 1; i < copies.size(); ++i) {
    // FindCopies' order: newest first, one copy per segment.
    SS_ASSERT(copies[i].version <= copies[0].version && copies[i].segment != copies[0].segment,
              "point {}: copy {}@{} is not older than {}@{}", id, copies[i].segment, copies[i].version,
              copies[0].segment, copies[0].version);
    const LockedSegment& locked = segments_.at(copies[i].segment);
    WriteLock guard(*locked.lock);
    auto deleted = locked.segment->DeleteSupersededCopy(id, copies[i].version);
    if (!deleted.ok()) return deleted.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> SegmentHolder::MovePoint(SeqNumber op_num, PointId id, SegmentId source_id,
                                              const CowOp& cow_op) {
  const SegmentId destination_id = SmallestAppendable();
  SS_ASSERT(destination_id != source_id, "copy-on-write into its own source {}", source_id);
  const LockedSegment& source = segments_.at(source_id);
  const LockedSegment& destination = segments_.at(destination_id);
  // Only a point in a sealed segment or a proxy moves.
  SS_ASSERT(!source.segment->is_appendable(), "point {} moved out of appendable segment {}", id, source_id);
  WriteLock source_guard(*source.lock);
  WriteLock destination_guard(*destination.lock);
  std::optional<Point> point = source.segment->Retrieve(id);
  SS_ASSERT(point.has_value(), "point {} vanished from segment {}", id, source_id);
  cow_op(*point);
  // The copy must be durable before the delete in the source is.
  AddFlushDependency(destination_id, source_id, op_num);
  SS_COVER(kCopyOnWrite);
  if (dynamic_cast<const ProxySegment*>(source.segment.get()) != nullptr) SS_COVER(kCopyOnWriteFromProxy);
  env_.YieldPoint("holder.copy_on_write");
  auto upserted = destination.segment->Upsert(op_num, *point);
  if (!upserted.ok()) return upserted.status();
  // The version rule: an applied op stamps the point with its op_num.
  SS_ASSERT(!*upserted || destination.segment->point_version(id) == op_num, "moved point {} not at op {}", id,
            op_num);
  auto deleted = source.segment->DeletePoint(op_num, id);
  if (!deleted.ok()) return deleted.status();
  SS_ASSERT(!*deleted || !source.segment->has_point(id), "point {} still live in source {}", id, source_id);
  return true;
}

absl::StatusOr<std::set<PointId>> SegmentHolder::ApplyPointsWithConditionalMove(
    SeqNumber op_num, const std::vector<PointId>& ids, const PointOp& point_op,
    const CowOp& cow_op) {
  SS_ASSERT(point_op != nullptr && cow_op != nullptr);
  std::set<PointId> found;
  for (const auto& [id, copies] : FindCopies(ids)) {
    if (auto status = DeleteOlderCopies(id, copies); !status.ok()) return status;
    found.insert(id);
    const Occurrence& newest = copies.front();
    if (newest.version >= op_num) continue;  // already applied (WAL replay)
    const LockedSegment& locked = segments_.at(newest.segment);
    if (locked.segment->is_appendable()) {
      WriteLock guard(*locked.lock);
      auto applied = point_op(id, *locked.segment);
      if (!applied.ok()) return applied.status();
      SS_ASSERT(!*applied || locked.segment->point_version(id) == op_num, "point {} not at op {}", id, op_num);
    } else {
      auto moved = MovePoint(op_num, id, newest.segment, cow_op);
      if (!moved.ok()) return moved.status();
    }
  }
  return found;
}

absl::Status SegmentHolder::DeletePoints(SeqNumber op_num, const std::vector<PointId>& ids) {
  for (const auto& [id, copies] : FindCopies(ids)) {
    if (auto status = DeleteOlderCopies(id, copies); !status.ok()) return status;
    const LockedSegment& locked = segments_.at(copies.front().segment);
    WriteLock guard(*locked.lock);
    auto deleted = locked.segment->DeletePoint(op_num, id);
    if (!deleted.ok()) return deleted.status();
    // Older copies went first: a delete that applied leaves the point nowhere.
    SS_ASSERT(!*deleted || !locked.segment->has_point(id), "deleted point {} still live", id);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> SegmentHolder::DeduplicatePoints() {
  // Only ids live in more than one segment need FindCopies (rare: an
  // interrupted optimization or copy-on-write). Asking every segment about
  // every id of the shard was a fifth of a restore's load.
  // With live points in one segment at most, no id can be in two: its ids
  // need not be listed (a restore's load of one large segment listed them
  // for nothing). Counted without the locks: at load no other task runs.
  const size_t holding_segments = static_cast<size_t>(std::count_if(
      segments_.begin(), segments_.end(), [](const auto& entry) { return entry.second.segment->LiveCount() > 0; }));
  std::vector<PointId> live;
  for (const auto& [segment_id, locked] : segments_) {
    SS_ASSERT(!IsProxy(*locked.segment), "de-duplication (at load) met proxy {}", segment_id);
    ReadLock guard(*locked.lock);
    if (holding_segments < 2) continue;
    const std::vector<PointId> ids = locked.segment->LiveIds();
    live.insert(live.end(), ids.begin(), ids.end());
  }
  std::sort(live.begin(), live.end());
  std::vector<PointId> duplicated;
  for (size_t i = 1; i < live.size(); ++i) {
    if (live[i] == live[i - 1] && (duplicated.empty() || duplicated.back() != live[i])) duplicated.push_back(live[i]);
  }
  std::vector<std::string> resolved;
  // FindCopies takes every segment's read lock whatever the ids: in the
  // simulation, the same scheduling steps as when it was given every id.
  for (const auto& [id, copies] : FindCopies(duplicated)) {
    if (copies.size() < 2) continue;
    SS_COVER(kDuplicateResolvedAtLoad);
    if (auto status = DeleteOlderCopies(id, copies); !status.ok()) return status;
    std::string line = fmt::format("point {}: kept the copy at version {} in {}, deleted", id, copies[0].version,
                                   segments_.at(copies[0].segment).segment->directory());
    for (size_t i = 1; i < copies.size(); ++i) {
      line += fmt::format(" {}@{}", segments_.at(copies[i].segment).segment->directory(), copies[i].version);
    }
    resolved.push_back(std::move(line));
  }
  // One live copy of each point now: `live` showed it when no id was
  // duplicated. Otherwise read again, without the segment locks (taking
  // them here would add scheduling points): at load no other task runs.
  if (duplicated.empty()) return resolved;
  std::vector<std::pair<PointId, SegmentId>> holders;
  for (const auto& [segment_id, locked] : segments_) {
    for (PointId id : locked.segment->LiveIds()) holders.emplace_back(id, segment_id);
  }
  std::sort(holders.begin(), holders.end());
  const auto twice = std::adjacent_find(holders.begin(), holders.end(),
                                        [](const auto& a, const auto& b) { return a.first == b.first; });
  SS_ASSERT(twice == holders.end(), "point {} is live in segments {} and {}", twice->first, twice->second,
            std::next(twice)->second);
  return resolved;
}

absl::Status SegmentHolder::ApplyToAllSegments(
    const std::function<absl::StatusOr<bool>(SegmentEntry&)>& op) {
  SS_ASSERT(op != nullptr);
  for (SegmentId id : Ids()) {
    const LockedSegment& locked = segments_.at(id);
    WriteLock guard(*locked.lock);
    auto applied = op(*locked.segment);
    if (!applied.ok()) return applied.status();
  }
  return absl::OkStatus();
}

void SegmentHolder::AddFlushDependency(SegmentId flush_first, SegmentId flush_after,
                                       SeqNumber op_num) {
  SS_ASSERT(flush_first != flush_after, "segment {} cannot flush before itself", flush_first);
  SS_ASSERT(segments_.contains(flush_first) && segments_.contains(flush_after),
            "flush dependency {} before {} outside the holder", flush_first, flush_after);
  flush_dependencies_.push_back({flush_first, flush_after, op_num});
}

bool SegmentHolder::MustFlushBeforeOthers(const std::vector<SegmentId>& ids) const {
  for (SegmentId id : ids) SS_ASSERT(segments_.contains(id), "segment {} is not in the holder", id);
  return std::any_of(flush_dependencies_.begin(), flush_dependencies_.end(), [&](const FlushDependency& dep) {
    return std::find(ids.begin(), ids.end(), dep.flush_first) != ids.end();
  });
}

std::vector<SegmentId> SegmentHolder::FlushOrder() const {
  // Kahn's algorithm; among ready segments the default order (appendable
  // first, then by id) decides. No order is safe for a cycle (either delete
  // could be durable before its copy), so the shard flushes before a
  // copy-on-write destination becomes a source (see MustFlushBeforeOthers)
  // and a cycle is an engine bug.
  const std::vector<SegmentId> default_order = Ids();
  std::vector<SegmentId> order;
  std::set<SegmentId> done;
  for (size_t round = 0; order.size() < default_order.size(); ++round) {
    SS_ASSERT(round <= default_order.size(), "flush order did not converge");
    bool progressed = false;
    for (SegmentId candidate : default_order) {
      if (done.contains(candidate)) continue;
      const bool blocked = std::any_of(
          flush_dependencies_.begin(), flush_dependencies_.end(), [&](const FlushDependency& dep) {
            return dep.flush_after == candidate && segments_.contains(dep.flush_first) &&
                   !done.contains(dep.flush_first) && dep.flush_first != candidate;
          });
      if (blocked) continue;
      order.push_back(candidate);
      done.insert(candidate);
      progressed = true;
      break;  // re-scan from the start: the default order decides among ready ones
    }
    SS_ASSERT(progressed, "flush dependency cycle among segments {}", DescribeDependencies());
  }
  // Every dependency between segments still here is respected.
  for (const FlushDependency& dep : flush_dependencies_) {
    const auto first = std::find(order.begin(), order.end(), dep.flush_first);
    const auto after = std::find(order.begin(), order.end(), dep.flush_after);
    SS_ASSERT(first == order.end() || after == order.end() || first < after,
              "segment {} flushes after {}:{}", dep.flush_first, dep.flush_after, DescribeDependencies());
  }
  return order;
}

std::string SegmentHolder::DescribeDependencies() const {
  std::string text;
  for (const FlushDependency& dep : flush_dependencies_) {
    text += fmt::format(" {} before {} (op {})", dep.flush_first, dep.flush_after, dep.op_num);
  }
  return text;
}

absl::StatusOr<SeqNumber> SegmentHolder::FlushAll(bool force) {
  SS_ASSERT(!segments_.empty(), "a shard always has at least one segment");
  for (SegmentId id : FlushOrder()) {
    const LockedSegment& locked = segments_.at(id);
    WriteLock guard(*locked.lock);
    auto persisted = locked.segment->Flush(force);
    if (!persisted.ok()) return persisted.status();
  }
  // Everything recorded so far is durable now in the required order.
  flush_dependencies_.clear();
  SeqNumber max_persisted = persisted_version_overwrite_;
  SeqNumber min_unsaved = UINT64_MAX;
  bool has_unsaved = false;
  std::vector<std::pair<SeqNumber, SeqNumber>> flushed;  // (version, persisted) of each segment
  for (const auto& [id, locked] : segments_) {
    ReadLock guard(*locked.lock);
    const SeqNumber version = OrZero(locked.segment->version());
    const SeqNumber persisted = OrZero(locked.segment->persisted_version());
    SS_ASSERT(persisted <= version, "segment {} persisted {} past its version {}", id, persisted, version);
    if (version > persisted) {
      // Only a proxy's recorded changes (memory only) outlive a flush.
      SS_ASSERT(IsProxy(*locked.segment), "segment {} unsaved after its flush", id);
      has_unsaved = true;
      min_unsaved = std::min(min_unsaved, persisted);
    }
    max_persisted = std::max(max_persisted, persisted);
    flushed.emplace_back(version, persisted);
  }
  const SeqNumber waterline = has_unsaved ? min_unsaved : max_persisted;
  // The WAL is acked up to here: every segment has flushed every op up to
  // the waterline, or holds nothing unsaved.
  for (const auto& [version, persisted] : flushed) {
    SS_ASSERT(version <= persisted || waterline <= persisted, "waterline {} past a segment flushed to {}",
              waterline, persisted);
  }
  return waterline;
}

std::map<PointId, std::vector<SegmentId>> SegmentHolder::LiveCopies() const {
  std::map<PointId, std::vector<SegmentId>> copies;
  for (const auto& [segment_id, locked] : segments_) {
    ReadLock guard(*locked.lock);
    for (PointId id : locked.segment->LiveIds()) copies[id].push_back(segment_id);
  }
  return copies;
}

}  // namespace engine
