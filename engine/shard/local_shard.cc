#include "engine/common/coverage.h"
#include "engine/shard/local_shard.h"

#include <algorithm>
#include <exception>
#include <set>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "engine/segment/segment.h"

namespace engine {

std::string_view UpdateStatusName(UpdateStatus status) {
  switch (status) {
    case UpdateStatus::kAcknowledged: return "acknowledged";
    case UpdateStatus::kCompleted: return "completed";
    case UpdateStatus::kClockRejected: return "clock-rejected";
  }
  return "?";
}

std::string ShardPaths::wal() const { return JoinPath(root, "wal"); }
std::string ShardPaths::segments() const { return JoinPath(root, "segments"); }
std::string ShardPaths::temp_segments() const { return JoinPath(root, "temp_segments"); }
std::string ShardPaths::newest_clocks() const { return JoinPath(root, "newest_clocks.json"); }
std::string ShardPaths::oldest_clocks() const { return JoinPath(root, "oldest_clocks.json"); }
std::string ShardPaths::config() const { return JoinPath(root, "shard_config.json"); }

LocalShard::LocalShard(Env& env, std::string dir, ShardOptions options)
    : env_(env),
      paths_{std::move(dir)},
      options_(options),
      segments_lock_(env.NewRwLock("shard.segments")),
      updates_mutex_(env.NewMutex("shard.updates")),
      holder_(env),
      proxy_all_mutex_(env.NewMutex("shard.proxy_all")),
      optimizer_mutex_(env.NewMutex("shard.optimizer")),
      flush_ack_mutex_(env.NewMutex("shard.flush_ack")),
      wal_mutex_(env.NewMutex("shard.wal")),
      clocks_mutex_(env.NewMutex("shard.clocks")),
      update_channel_(env, "shard.update_channel", options.update_queue_capacity),
      state_mutex_(env.NewMutex("shard.state")),
      flush_wake_(env.NewCondVar(*state_mutex_, "shard.flush_wake")) {}

absl::StatusOr<std::unique_ptr<LocalShard>> LocalShard::Load(Env& env, std::string dir,
                                                             ShardOptions options) {
  std::unique_ptr<LocalShard> shard(new LocalShard(env, std::move(dir), options));
  if (auto status = shard->Recover(); !status.ok()) {
    shard->shut_down_ = true;  // no workers were started
    return status;
  }
  shard->StartWorkers();
  return shard;
}

LocalShard::~LocalShard() {
  // Destroyed while an exception unwinds the stack (a simulated crash kills
  // the process this way): the workers are gone and nothing may block.
  if (std::uncaught_exceptions() > 0) return;
  if (!shut_down_) (void)Shutdown();
}

absl::Status LocalShard::Recover() {
  FileSystem& fs = env_.fs();
  if (!options_.ignore_initializing_flag) {
    auto dirty = Exists(fs, paths_.root + ".initializing");
    if (!dirty.ok()) return dirty.status();
    if (*dirty) {
      SS_COVER(kLoadRefusedDirty);
      return absl::FailedPreconditionError(fmt::format(
          "{}: a snapshot restore was interrupted; the shard is dirty until restored again",
          paths_.root));
    }
  }
  for (const std::string& dir : {paths_.root, paths_.wal(), paths_.segments()}) {
    if (auto status = EnsureDir(fs, dir); !status.ok()) return status;
  }
  // Read and validate everything before changing anything, so that a shard
  // that fails to load (a corrupt file) is left exactly as it was.
  std::vector<std::string> leftovers;
  if (auto status = LoadSegments(leftovers); !status.ok()) return status;
  auto newest = ClockMap::Load(fs, paths_.newest_clocks());
  if (!newest.ok()) return newest.status();
  auto oldest = ClockMap::Load(fs, paths_.oldest_clocks());
  if (!oldest.ok()) return oldest.status();
  auto wal = Wal::Open(fs, paths_.wal(), WalOptions{.segment_capacity_bytes =
                                                        options_.wal_segment_capacity_bytes});
  if (!wal.ok()) return wal.status();
  wal_ = std::move(*wal);
  stored_newest_clocks_ = *newest;
  synced_newest_clocks_ = *newest;
  newest_clocks_ = std::move(*newest);
  oldest_clocks_ = std::move(*oldest);
  // Now repair: drop interrupted creations and deletes, the optimizer's
  // build area, and older copies of points.
  for (const std::string& repair : wal_->load_repairs()) env_.Log(fmt::format("repaired: {}", repair));
  // A delete's rename to "<id>.deleted" may still be pending (its directory
  // sync failed, then the process died): made durable before any file in
  // it goes, or a power loss could bring back "<id>" with its completion
  // marker but without files whose unlinks survived (seed 180914).
  if (!leftovers.empty()) {
    if (auto status = fs.SyncDir(paths_.segments()); !status.ok()) return status;
  }
  for (const std::string& dir : leftovers) {
    if (auto status = RemoveTree(fs, dir); !status.ok()) return status;
    env_.Log(fmt::format("repaired: removed {}, an interrupted segment creation or delete", dir));
  }
  if (auto status = RemoveTree(fs, paths_.temp_segments()); !status.ok()) return status;
  if (auto status = EnsureDir(fs, paths_.temp_segments()); !status.ok()) return status;
  for (const std::string& dir : {paths_.segments(), paths_.root, std::string(ParentDir(paths_.root))}) {
    // Every directory entry above, and the shard directory's own, durable.
    if (auto status = fs.SyncDir(dir); !status.ok()) return status;
  }
  {
    ReadLock segments(*segments_lock_);
    MutexLock updates(*updates_mutex_);
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
    // that no op was applied).
    for (SegmentId id : holder_.Ids()) {
      if (const auto version = holder_.Get(id)->segment->version()) {
        last_applied_ = std::max(last_applied_.value_or(0), *version);
      }
    }
  }
  if (auto status = EnsureAppendableSegment(); !status.ok()) return status;
  if (auto status = ReplayWal(); !status.ok()) return status;
  return FlushAndAck(/*force=*/true);
}

absl::Status LocalShard::LoadSegments(std::vector<std::string>& leftovers) {
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
    for (const std::string& repair : (*segment)->load_repairs()) env_.Log(fmt::format("repaired: {}", repair));
    holder_.AddNew(std::shared_ptr<SegmentEntry>(std::move(*segment)));
  }
  AdoptSchema();
  return absl::OkStatus();
}

void LocalShard::AdoptSchema() {
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
  }
}

absl::StatusOr<std::shared_ptr<SegmentEntry>> LocalShard::CreateSegment(bool appendable) {
  const std::string dir = JoinPath(paths_.segments(), fmt::format("{}", next_segment_number_++));
  // The segment's first files hold the schema: the index ops behind it must
  // be durable first, or a power loss could keep the index and lose the op.
  // That holds for an index's absence too: a schema without a field whose
  // delete_index op was lost would leave the segment without an index the
  // rest of the shard has (seed 44759).
  if (wal_ != nullptr) {
    MutexLock wal(*wal_mutex_);
    if (auto status = SyncWal(); !status.ok()) {
      SetFatal(status);
      return status;
    }
  }
  auto segment = Segment::Create(env_.fs(), dir, options_.collection, appendable, /*complete=*/true,
                                 payload_schema_);
  if (!segment.ok()) {
    // A failed creation may have got as far as the marker: remove what it
    // left, best effort — a leftover holds no op and takes
    // the shard's indexes at the next load (AdoptSchema).
    (void)RemoveSegmentDirectory(dir);
    return segment.status();
  }
  return std::shared_ptr<SegmentEntry>(std::move(*segment));
}

absl::Status LocalShard::EnsureAppendableSegment() {
  WriteLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  if (holder_.HasAppendable()) return absl::OkStatus();
  auto segment = CreateSegment(/*appendable=*/true);
  if (!segment.ok()) return segment.status();
  holder_.AddNew(std::move(*segment));
  return absl::OkStatus();
}

absl::Status LocalShard::ReplayWal() {
  const uint64_t first = wal_->first_index();
  const uint64_t end = wal_->next_index();
  for (uint64_t index = first; index < end; ++index) {
    auto bytes = wal_->Read(index);
    if (!bytes.ok()) return bytes.status();
    auto record = DecodeWalRecord(*bytes);
    if (!record.ok()) {
      return absl::DataLossError(
          fmt::format("WAL entry {}: {}", index, std::string(record.status().message())));
    }
    if (record->clock_tag) {
      MutexLock clocks(*clocks_mutex_);
      newest_clocks_.Advance(*record->clock_tag);
    }
    if (auto status = ApplyOperation(index, record->operation); !status.ok()) return status;
  }
  return absl::OkStatus();
}

void LocalShard::StartWorkers() {
  update_worker_ = env_.Spawn("update_worker", [this] { UpdateWorker(); });
  flush_worker_ = env_.Spawn("flush_worker", [this] { FlushWorker(); });
}

absl::Status LocalShard::Shutdown() {
  {
    MutexLock state(*state_mutex_);
    if (shut_down_) return absl::OkStatus();
    shut_down_ = true;
    stopping_ = true;
    flush_wake_->SignalAll();
  }
  if (update_worker_) {
    update_channel_.Send(Stop{});
    update_worker_->Join();
  }
  update_channel_.Close();
  if (flush_worker_) flush_worker_->Join();
  // stopping_ cancelled any optimization in progress: wait until it has put
  // its inputs back (or a snapshot has finished) before the last flush.
  { MutexLock optimizer_done(*optimizer_mutex_); }
  { MutexLock snapshot_done(*proxy_all_mutex_); }
  if (options_.flush_on_shutdown && health().ok() && wal_ != nullptr) return FlushAndAck(false);
  return health();
}

absl::Status LocalShard::Escalate(absl::Status status) {
  if (!status.ok() && !absl::IsResourceExhausted(status) && !absl::IsCancelled(status)) SetFatal(status);
  return status;
}

void LocalShard::SetFatal(const absl::Status& status) {
  MutexLock state(*state_mutex_);
  if (fatal_.ok()) {
    SS_COVER(kShardStopped);
    fatal_ = status;
  }
}

absl::Status LocalShard::health() {
  MutexLock state(*state_mutex_);
  return fatal_;
}

absl::StatusOr<UpdateResult> LocalShard::Update(WalRecord record, bool wait) {
  if (auto status = health(); !status.ok()) return status;
  if (!update_channel_.Reserve()) return absl::UnavailableError("the shard is shutting down");
  std::shared_ptr<Oneshot<absl::Status>> done;
  if (wait) done = std::make_shared<Oneshot<absl::Status>>(env_, "update.done");
  UpdateResult result;
  {
    MutexLock wal(*wal_mutex_);
    if (record.clock_tag) {
      MutexLock clocks(*clocks_mutex_);
      if (!newest_clocks_.AdvanceAndCorrect(*record.clock_tag)) {
        update_channel_.CancelReservation();
        SS_COVER(kClockRejected);
        return UpdateResult{std::nullopt, UpdateStatus::kClockRejected, record.clock_tag};
      }
    }
    auto op_num = wal_->Append(EncodeWalRecord(record));
    if (!op_num.ok()) {
      // Out of space nothing was written: the op is refused, and the shard
      // takes writes again once space is freed.
      update_channel_.CancelReservation();
      return Escalate(op_num.status());
    }
    result.op_num = *op_num;
    if (options_.observer) options_.observer->OnWalAppend(*op_num, record);
    result.clock_tag = record.clock_tag;
    if (!update_channel_.SendReserved(OperationData{*op_num, std::move(record), wait, done})) {
      return absl::UnavailableError("the shard is shutting down");
    }
  }
  if (!wait) return result;
  std::optional<absl::Status> applied = done->Wait();
  if (!applied) return absl::UnavailableError("the shard stopped before applying the op");
  if (!applied->ok()) return *applied;
  result.status = UpdateStatus::kCompleted;
  return result;
}

absl::StatusOr<UpdateResult> LocalShard::DeleteByFilter(const Filter& filter, bool wait) {
  std::vector<PointId> ids;
  for (const Point& point : Scroll(&filter, std::nullopt, SIZE_MAX)) ids.push_back(point.id);
  return Update(WalRecord{DeletePoints{std::move(ids)}, std::nullopt}, wait);
}

absl::Status LocalShard::Plunge() {
  auto done = std::make_shared<Oneshot<absl::Status>>(env_, "plunger.done");
  if (!update_channel_.Send(Plunger{done})) return absl::UnavailableError("shard shutting down");
  std::optional<absl::Status> result = done->Wait();
  if (!result) return absl::UnavailableError("the shard stopped before the plunger");
  return *result;
}

void LocalShard::UpdateWorker() {
  for (uint64_t signals = 0;; ++signals) {
    std::optional<UpdateSignal> signal = update_channel_.Receive();
    if (!signal || std::holds_alternative<Stop>(*signal)) return;
    if (auto* plunger = std::get_if<Plunger>(&*signal)) {
      plunger->done->Set(absl::OkStatus());
      continue;
    }
    auto& data = std::get<OperationData>(*signal);
    absl::Status status = health();
    if (status.ok() && data.wait) {
      MutexLock wal(*wal_mutex_);
      status = SyncWal();
      if (!status.ok()) SetFatal(status);  // a failed sync is fatal
    }
    if (status.ok()) status = ApplyOperation(data.op_num, data.record.operation);
    if (!status.ok()) SetFatal(status);
    if (data.done) data.done->Set(status);
  }
}

absl::StatusOr<SeqNumber> LocalShard::FlushSegmentsWalFirst(bool force) {
  // Under the updates mutex no op is applied meanwhile, so every op whose
  // data the flush persists is in the WAL synced just before: segment data
  // is never durable ahead of its WAL entry.
  {
    MutexLock wal(*wal_mutex_);
    if (auto status = SyncWal(); !status.ok()) return status;
  }
  return holder_.FlushAll(force);
}

absl::Status LocalShard::DestroyReplacedSegments() {
  std::vector<std::string> doomed;
  {
    MutexLock updates(*updates_mutex_);
    doomed.swap(pending_destroy_);
  }
  if (doomed.empty()) return absl::OkStatus();
  // On failure the directories stay pending (RemoveTree of a removed one is a
  // no-op): no later flush may ack while any of them can still come back.
  auto keep_pending = [&](absl::Status status) {
    MutexLock updates(*updates_mutex_);
    pending_destroy_.insert(pending_destroy_.begin(), doomed.begin(), doomed.end());
    return status;
  };
  for (const std::string& dir : doomed) {
    if (auto status = RemoveSegmentDirectory(dir); !status.ok()) return keep_pending(status);
  }
  return absl::OkStatus();
}

absl::Status LocalShard::RemoveSegmentDirectory(const std::string& dir) {
  FileSystem& fs = env_.fs();
  const std::string doomed = dir + ".deleted";
  auto exists = Exists(fs, dir);
  if (!exists.ok()) return exists.status();
  if (*exists) {
    if (auto status = RemoveTree(fs, doomed); !status.ok()) return status;
    if (auto status = fs.Rename(dir, doomed); !status.ok()) return status;
  }
  // Also when the rename is an earlier attempt's whose sync failed: until
  // it is durable the segment can come back, and an ack after this call
  // would drop deletes it needs (seed 121040: the retry found no "<id>",
  // skipped the sync, and a power loss brought back the merged input).
  if (auto status = fs.SyncDir(paths_.segments()); !status.ok()) return status;
  return RemoveTree(fs, doomed);
}

absl::Status LocalShard::SyncWal() {
  if (auto status = wal_->Sync(); !status.ok()) return status;
  {
    // Clocks advance with their op's append under the WAL mutex, which the
    // caller holds: every tick here belongs to an op now durable (or one
    // whose append failed, which claims nothing new).
    MutexLock clocks(*clocks_mutex_);
    synced_newest_clocks_ = newest_clocks_;
  }
  if (options_.observer) options_.observer->OnWalSynced(wal_->next_index());
  return absl::OkStatus();
}

void LocalShard::FlushWorker() {
  for (;;) {
    {
      MutexLock state(*state_mutex_);
      if (!stopping_) flush_wake_->WaitFor(options_.flush_interval_ns);
      if (stopping_) return;
    }
    // Out of space the flush is retried at the next interval (nothing is
    // acked meanwhile, as in Qdrant); any other failure stopped the shard.
    if (auto status = FlushAndAck(false); !status.ok() && !health().ok()) return;
  }
}

absl::Status LocalShard::FlushAndAck(bool force) {
  // After a fatal error (a failed sync lost pages), nothing may be built on
  // what is on disk until the shard is reloaded.
  if (auto status = health(); !status.ok()) return status;
  absl::Status status = FlushAndAckOnce(force);
  if (absl::IsResourceExhausted(status)) SS_COVER(kFlushOutOfSpace);
  return Escalate(std::move(status));
}

absl::Status LocalShard::FlushAndAckOnce(bool force) {
  // Concurrent calls would let one ack while another is still removing an
  // optimizer's inputs: after a power loss those come back with live copies
  // of points whose deletes the WAL no longer holds.
  MutexLock one_at_a_time(*flush_ack_mutex_);
  // Checked again here: a call that failed while this one waited for the
  // mutex stopped the shard, and nothing may be acked after that (seed
  // 121040: a second flush acked after the first one's removal failed).
  if (auto status = health(); !status.ok()) return status;
  absl::StatusOr<SeqNumber> waterline;
  {
    ReadLock segments(*segments_lock_);
    MutexLock updates(*updates_mutex_);
    waterline = FlushSegmentsWalFirst(force);
  }
  if (!waterline.ok()) return waterline.status();
  if (auto status = DestroyReplacedSegments(); !status.ok()) return status;
  ClockMap synced;
  {
    MutexLock clocks(*clocks_mutex_);
    synced = synced_newest_clocks_;
  }
  if (!(synced == stored_newest_clocks_)) {
    if (auto status = synced.Store(env_.fs(), paths_.newest_clocks()); !status.ok()) return status;
    stored_newest_clocks_ = std::move(synced);
  }
  MutexLock wal(*wal_mutex_);
  // Ops applied after the WAL sync above may be in the waterline; the ack
  // stops at what the WAL holds durably.
  uint64_t ack = std::min<uint64_t>(*waterline, wal_->synced_next_index());
  if (*waterline < wal_->synced_next_index() && *waterline > wal_->first_index()) SS_COVER(kWalAckHeldByWaterline);
  // A snapshot archiving the WAL needs every op after its freeze kept.
  if (!ack_pins_.empty() && *ack_pins_.begin() < ack) {
    SS_COVER(kWalAckPinnedBySnapshot);
    ack = *ack_pins_.begin();
  }
  if (ack <= wal_->first_index()) return absl::OkStatus();
  return wal_->Ack(ack);
}

}  // namespace engine
