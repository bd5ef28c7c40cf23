// Loading a shard as after a crash (docs/engine.md, "Load after a crash"):
// read and validate everything first, then repair, de-duplicate, replay the
// WAL, and flush and ack once.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"
#include "engine/segment/segment.h"
#include "engine/shard/local_shard.h"

namespace engine {
namespace {
// Bounds the writes a load keeps for TakeLoadNotes: well below the
// replica set's prune threshold of direct-write notes (4,096 points).
constexpr size_t kReplayedWritesKept = 1024;
}  // namespace

absl::Status LocalShard::Recover() {
  SS_ASSERT(wal_ == nullptr, "{}: a shard loads once", paths_.root);
  SS_ASSERT(update_worker_ == nullptr && flush_worker_ == nullptr, "{}: loaded after its workers started",
            paths_.root);
  FileSystem& fs = env_.fs();
  if (auto status = RefuseDirtyShard(); !status.ok()) return status;
  for (const std::string& dir : {paths_.root, paths_.wal(), paths_.segments()}) {
    if (auto status = EnsureDir(fs, dir); !status.ok()) return status;
  }
  // Read and validate everything before changing anything, so that a shard
  // that fails to load (a corrupt file) is left exactly as it was.
  std::vector<std::string> leftovers;
  if (auto status = LoadSegments(leftovers); !status.ok()) return status;
  if (auto status = OpenWalAndClocks(); !status.ok()) return status;
  // Now repair: drop interrupted creations and deletes, the optimizer's
  // build area, and older copies of points.
  for (const std::string& repair : wal_->load_repairs()) env_.Log(fmt::format("repaired: {}", repair));
  if (auto status = RemoveLeftovers(leftovers); !status.ok()) return status;
  if (auto status = DeduplicateLoadedPoints(); !status.ok()) return status;
  if (auto status = EnsureAppendableSegment(); !status.ok()) return status;
  if (auto status = ReplayWal(); !status.ok()) return status;
  return FlushAndAck(/*force=*/true);
}

absl::Status LocalShard::RefuseDirtyShard() {
  if (options_.ignore_initializing_flag) return absl::OkStatus();
  auto dirty = Exists(env_.fs(), paths_.root + ".initializing");
  if (!dirty.ok()) return dirty.status();
  if (!*dirty) return absl::OkStatus();
  SS_COVER(kLoadRefusedDirty);
  return absl::FailedPreconditionError(fmt::format(
      "{}: a snapshot restore was interrupted; the shard is dirty until restored again", paths_.root));
}

absl::Status LocalShard::LoadSegments(std::vector<std::string>& leftovers) {
  SS_ASSERT(holder_.size() == 0, "{}: segments load into an empty shard", paths_.root);
  SS_ASSERT(leftovers.empty());
  FileSystem& fs = env_.fs();
  auto entries = fs.ListDir(paths_.segments());
  if (!entries.ok()) return entries.status();
  WriteLock segments(*segments_lock_);
  for (const DirEntry& entry : *entries) {
    if (entry.name.empty() || entry.name[0] == '.') continue;  // hidden entries are not ours
    if (entry.kind != EntryKind::kDirectory) continue;
    const std::string dir = JoinPath(paths_.segments(), entry.name);
    const uint64_t number = std::strtoull(entry.name.c_str(), nullptr, 10);
    next_segment_number_ = std::max(next_segment_number_, number + 1);
    auto complete = Segment::IsComplete(fs, dir);
    if (!complete.ok()) return complete.status();
    if (!*complete || entry.name.ends_with(".deleted")) {
      SS_COVER(kIncompleteSegmentRemoved);
      leftovers.push_back(dir);  // an interrupted creation or delete
      continue;
    }
    auto segment = Segment::Load(fs, dir);
    if (!segment.ok()) return segment.status();
    SS_ASSERT((*segment)->directory() == dir, "segment {} loaded as {}", dir, (*segment)->directory());
    for (const std::string& repair : (*segment)->load_repairs()) env_.Log(fmt::format("repaired: {}", repair));
    holder_.AddNew(std::shared_ptr<SegmentEntry>(std::move(*segment)));
  }
  // Every directory became a segment or a leftover; a new segment's number
  // is past all of them.
  SS_ASSERT(holder_.size() + leftovers.size() <= entries->size());
  AdoptSchema();
  return absl::OkStatus();
}

void LocalShard::AdoptSchema() {
  SS_ASSERT(segments_lock_->write_held(), "the schema is adopted under the segments write lock");
  // The shard's indexes are those of the segments that applied ops: index
  // ops reach every segment in the holder, and WAL replay brings back the
  // unacked ones. A segment without a version applied no op at all; its
  // indexes are only those of its creation, which an index op acked while
  // it waited to join the holder (or a creation that failed and left it
  // behind) can have made stale. It takes the shard's.
  std::vector<SegmentEntry*> versionless;
  bool any_versioned = false;
  for (SegmentId id : holder_.Ids()) {
    SegmentEntry& segment = *holder_.Get(id)->segment;
    if (!segment.version()) {
      versionless.push_back(&segment);
      continue;
    }
    any_versioned = true;
    for (const auto& [key, type] : segment.indexed_fields()) payload_schema_[key] = type;
  }
  if (!any_versioned) {
    for (SegmentEntry* segment : versionless) {
      for (const auto& [key, type] : segment->indexed_fields()) payload_schema_[key] = type;
    }
  }
  for (SegmentEntry* segment : versionless) {
    const std::map<std::string, FieldType> indexed = segment->indexed_fields();
    if (indexed == payload_schema_) continue;
    SS_COVER(kVersionlessSegmentSchemaAdopted);
    // Op 0 changes the indexes of a segment that holds no op; the load's
    // final flush makes them durable.
    for (const auto& [key, type] : indexed) {
      if (payload_schema_.contains(key)) continue;
      const auto dropped = segment->DeleteFieldIndex(0, key);
      SS_ASSERT(dropped.ok() && *dropped, "{}: index {} not dropped", segment->directory(), key);
    }
    for (const auto& [key, type] : payload_schema_) {
      const auto it = indexed.find(key);
      if (it != indexed.end() && it->second == type) continue;
      const auto created = segment->CreateFieldIndex(0, key, type);
      SS_ASSERT(created.ok() && *created, "{}: index {} not created", segment->directory(), key);
    }
    SS_ASSERT(segment->indexed_fields() == payload_schema_, "{} did not take the shard's indexes",
              segment->directory());
  }
}

absl::Status LocalShard::OpenWalAndClocks() {
  SS_ASSERT(wal_ == nullptr, "{}: the WAL is opened once", paths_.root);
  FileSystem& fs = env_.fs();
  auto newest = ClockMap::Load(fs, paths_.newest_clocks());
  if (!newest.ok()) return newest.status();
  auto oldest = ClockMap::Load(fs, paths_.oldest_clocks());
  if (!oldest.ok()) return oldest.status();
  // A clock the newest clocks lack, or have behind, cannot be among the oldest.
  if (!oldest->NotAheadOf(*newest)) {
    return absl::DataLossError(fmt::format("{}: oldest clocks ahead of the newest", paths_.root));
  }
  auto wal = Wal::Open(fs, paths_.wal(), WalOptions{.segment_capacity_bytes =
                                                        options_.wal_segment_capacity_bytes});
  if (!wal.ok()) return wal.status();
  wal_ = std::move(*wal);
  // Open refuses a first index past the WAL's end.
  SS_ASSERT(wal_->first_index() <= wal_->next_index());
  stored_newest_clocks_ = *newest;
  synced_newest_clocks_ = *newest;
  newest_clocks_ = std::move(*newest);
  oldest_clocks_ = std::move(*oldest);
  return absl::OkStatus();
}

absl::Status LocalShard::RemoveLeftovers(const std::vector<std::string>& leftovers) {
  FileSystem& fs = env_.fs();
  // A delete's rename to "<id>.deleted" may still be pending (its directory
  // sync failed, then the process died): made durable before any file in
  // it goes, or a power loss could bring back "<id>" with its completion
  // marker but without files whose unlinks survived (seed 180914).
  if (!leftovers.empty()) {
    if (auto status = fs.SyncDir(paths_.segments()); !status.ok()) return status;
  }
  for (const std::string& dir : leftovers) {
    SS_ASSERT(ParentDir(dir) == paths_.segments(), "leftover {} outside {}", dir, paths_.segments());
    if (auto status = RemoveTree(fs, dir); !status.ok()) return status;
    env_.Log(fmt::format("repaired: removed {}, an interrupted segment creation or delete", dir));
  }
  if (auto status = RemoveTree(fs, paths_.temp_segments()); !status.ok()) return status;
  if (auto status = EnsureDir(fs, paths_.temp_segments()); !status.ok()) return status;
  for (const std::string& dir : {paths_.segments(), paths_.root, std::string(ParentDir(paths_.root))}) {
    // Every directory entry above, and the shard directory's own, durable.
    if (auto status = fs.SyncDir(dir); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status LocalShard::DeduplicateLoadedPoints() {
  ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  SS_ASSERT(!last_applied_ && !last_op_applied_here_, "{}: no op is applied before the load's", paths_.root);
  // Copies read from an interrupted flush (past a log's committed length,
  // perhaps only in the page cache) become durable before de-duplication
  // deletes the older copies they supersede: otherwise a flush could
  // persist those deletes, fail or lose power before the newer copies are
  // durable, and a point whose upsert the WAL no longer holds would be
  // gone (seed 28066: a sync failure in the load's own flush).
  if (!holder_.Ids().empty()) {
    bool interrupted_flush = false;
    for (SegmentId id : holder_.Ids()) interrupted_flush |= holder_.Get(id)->segment->has_unsaved_changes();
    if (interrupted_flush) SS_COVER(kFlushedBeforeDedup);
    if (auto flushed = FlushSegmentsWalFirst(/*force=*/false); !flushed.ok()) return flushed.status();
  }
  auto resolved = holder_.DeduplicatePoints();
  if (!resolved.ok()) return resolved.status();
  for (const std::string& line : *resolved) env_.Log(fmt::format("repaired: {}", line));
  // Every op the loaded segments hold is applied (a restored WAL-less
  // snapshot replays none: without this its first freeze would claim
  // that no op was applied). A point's version counts too: a segment can
  // hold a point above its own version (SegmentEntry::newest_point_version),
  // and a restored WAL-less snapshot of it, merged by an optimizer into a
  // segment at that point's version, then failed the next snapshot's check
  // that no frozen segment is past the freeze (seed 230032699).
  for (SegmentId id : holder_.Ids()) {
    const SegmentEntry& segment = *holder_.Get(id)->segment;
    for (const auto version : {segment.version(), segment.newest_point_version()}) {
      if (version) last_applied_ = std::max(last_applied_.value_or(0), *version);
    }
  }
  return absl::OkStatus();
}

absl::Status LocalShard::EnsureAppendableSegment() {
  WriteLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  if (holder_.HasAppendable()) return absl::OkStatus();
  auto segment = CreateSegment(/*appendable=*/true);
  if (!segment.ok()) return segment.status();
  holder_.AddNew(std::move(*segment));
  // From here on the shard always has one: the workers write into it.
  SS_ASSERT(holder_.HasAppendable());
  return absl::OkStatus();
}

absl::Status LocalShard::ReplayWal() {
  const uint64_t first = wal_->first_index();
  const uint64_t end = wal_->next_index();
  SS_ASSERT(first <= end, "replay of [{}, {})", first, end);
  SS_ASSERT(update_worker_ == nullptr, "replay with the update worker running");
  // The clocks as stored, before the replay advances them (no lock: nothing
  // else runs during the load's replay). A forced record below them may
  // follow a newer tick acknowledged out of the WAL before the restart, which
  // the replay cannot see: it counts as out of order (NoteWalTick).
  const ClockMap stored_clocks = newest_clocks_;
  for (uint64_t index = first; index < end; ++index) {
    auto bytes = wal_->Read(index);
    if (!bytes.ok()) return bytes.status();
    auto record = DecodeWalRecord(*bytes);
    if (!record.ok()) {
      return absl::DataLossError(
          fmt::format("WAL entry {}: {}", index, std::string(record.status().message())));
    }
    if (record->clock_tag) {
      RememberToken(*record->clock_tag);
      const ClockTag& tag = *record->clock_tag;
      const std::optional<ClockMap::Clock> stored = stored_clocks.Get(tag.peer_id, tag.clock_id);
      NoteWalTick(index, tag, tag.force && stored.has_value() ? stored->tick : 0);
      KeepReplayedWrite(*record);
      MutexLock clocks(*clocks_mutex_);
      newest_clocks_.Advance(*record->clock_tag);
    }
    if (auto status = ApplyOperation(index, record->operation); !status.ok()) return status;
  }
  // Nothing is appended before the workers start.
  SS_ASSERT(wal_->next_index() == end, "the WAL grew from {} to {} during replay", end, wal_->next_index());
  // No lock: nothing else runs during the load's replay (a lock would be a
  // scheduling point in every load).
  load_newest_clocks_ = newest_clocks_;
  return absl::OkStatus();
}

void LocalShard::KeepReplayedWrite(const WalRecord& record) {
  SS_ASSERT(record.clock_tag.has_value());
  if (record.clock_tag->force) return;
  if (!std::holds_alternative<UpsertPoints>(record.operation) &&
      !std::holds_alternative<DeletePoints>(record.operation)) {
    return;
  }
  replayed_writes_.push_back(ReplayedWrite{.tag = *record.clock_tag, .ids = OperationPointIds(record.operation)});
  if (replayed_writes_.size() > kReplayedWritesKept) replayed_writes_.pop_front();
}

LocalShard::LoadNotes LocalShard::TakeLoadNotes() {
  LoadNotes notes{.writes = std::vector<ReplayedWrite>(std::make_move_iterator(replayed_writes_.begin()),
                                                       std::make_move_iterator(replayed_writes_.end())),
                  .newest_clocks = std::move(load_newest_clocks_)};
  replayed_writes_.clear();
  load_newest_clocks_ = ClockMap();
  return notes;
}

}  // namespace engine
