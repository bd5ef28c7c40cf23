// The shard's life (load, workers, shutdown, the fault policy) and the
// update path. Loading is in local_shard_load.cc, flushing and acking in
// local_shard_flush.cc.
#include "engine/common/coverage.h"
#include "engine/shard/local_shard.h"

#include <algorithm>
#include <exception>

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
  SS_ASSERT(false, "unknown update status {}", static_cast<int>(status));
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
      segments_lock_(std::make_unique<HeldRwLock>(env.NewRwLock("shard.segments"))),
      updates_mutex_(std::make_unique<HeldMutex>(env.NewMutex("shard.updates"))),
      holder_(env),
      proxy_all_mutex_(std::make_unique<HeldMutex>(env.NewMutex("shard.proxy_all"))),
      optimizer_mutex_(std::make_unique<HeldMutex>(env.NewMutex("shard.optimizer"))),
      flush_ack_mutex_(std::make_unique<HeldMutex>(env.NewMutex("shard.flush_ack"))),
      wal_mutex_(std::make_unique<HeldMutex>(env.NewMutex("shard.wal"))),
      clocks_mutex_(std::make_unique<HeldMutex>(env.NewMutex("shard.clocks"))),
      update_channel_(env, "shard.update_channel", options.update_queue_capacity),
      state_mutex_(env.NewMutex("shard.state")),
      flush_wake_(env.NewCondVar(*state_mutex_, "shard.flush_wake")) {
  // A queue of no slot takes no update, and a flush worker waking every 0 ns
  // would never let another task run.
  SS_ASSERT(options_.update_queue_capacity > 0);
  SS_ASSERT(options_.flush_interval_ns > 0);
  SS_ASSERT(options_.vacuum_deleted_ratio >= 0 && options_.vacuum_deleted_ratio <= 1);
}

absl::StatusOr<std::unique_ptr<LocalShard>> LocalShard::Load(Env& env, std::string dir,
                                                             ShardOptions options) {
  std::unique_ptr<LocalShard> shard(new LocalShard(env, std::move(dir), options));
  if (auto status = shard->Recover(); !status.ok()) {
    SS_ASSERT(shard->update_worker_ == nullptr && shard->flush_worker_ == nullptr);
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

absl::StatusOr<std::shared_ptr<SegmentEntry>> LocalShard::CreateSegment(bool appendable) {
  SS_ASSERT(updates_mutex_->held(), "a segment is created under the updates mutex");
  return CreatePlannedSegment(PlanSegment(), appendable);
}

LocalShard::SegmentPlan LocalShard::PlanSegment() {
  // The updates mutex guards the segment numbers and the schema.
  SS_ASSERT(segments_lock_->held(), "a segment is numbered against the holder, under the segments lock");
  SS_ASSERT(updates_mutex_->held(), "a segment is planned under the updates mutex");
  SegmentPlan plan{.directory = JoinPath(paths_.segments(), fmt::format("{}", next_segment_number_++)),
                   .schema = payload_schema_};
  // Segment numbers are never reused (the load starts past every directory).
  for (SegmentId id : holder_.Ids()) {
    SS_ASSERT(holder_.Get(id)->segment->directory() != plan.directory, "segment {} already lives in {}", id,
              plan.directory);
  }
  return plan;
}

absl::StatusOr<std::shared_ptr<SegmentEntry>> LocalShard::CreatePlannedSegment(const SegmentPlan& plan,
                                                                               bool appendable) {
  SS_ASSERT(segments_lock_->held(), "a segment is created against the holder, under the segments lock");
  // The segment's first files hold the schema: the index ops behind it must
  // be durable first, or a power loss could keep the index and lose the op.
  // That holds for an index's absence too: a schema without a field whose
  // delete_index op was lost would leave the segment without an index the
  // rest of the shard has (seed 44759). The plan's schema is that of ops
  // already appended, so a sync now covers them (and maybe newer ones).
  if (wal_ != nullptr) {
    MutexLock wal(*wal_mutex_);
    if (auto status = SyncWal(); !status.ok()) {
      SetFatal(status);
      return status;
    }
  }
  auto segment = Segment::Create(env_.fs(), plan.directory, options_.collection, appendable, /*complete=*/true,
                                 plan.schema);
  if (!segment.ok()) {
    // A failed creation may have got as far as the marker: remove what it
    // left, best effort — a leftover holds no op and takes
    // the shard's indexes at the next load (AdoptSchema).
    (void)RemoveSegmentDirectory(plan.directory);
    return segment.status();
  }
  // Empty, of the kind asked for, holding the planned indexes.
  SS_ASSERT((*segment)->is_appendable() == appendable, "{} created of the other kind", plan.directory);
  SS_ASSERT((*segment)->LiveIds().empty() && !(*segment)->version(), "{} created holding ops", plan.directory);
  SS_ASSERT((*segment)->indexed_fields() == plan.schema, "{} created without the planned indexes", plan.directory);
  return std::shared_ptr<SegmentEntry>(std::move(*segment));
}

void LocalShard::StartWorkers() {
  SS_ASSERT(update_worker_ == nullptr && flush_worker_ == nullptr, "the workers start once");
  SS_ASSERT(wal_ != nullptr, "workers start on a loaded shard");
  SS_ASSERT(holder_.HasAppendable(), "the update worker needs an appendable segment");
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
  SS_ASSERT(!status.ok(), "a shard stopped by no error");
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

absl::StatusOr<std::string> LocalShard::EncodeForWal(const WalRecord& record) const {
  // Replay decodes every record with these rules (ReplayWal): one it would
  // refuse must not reach the WAL, or the shard would never load again.
  auto replayable = EncodeReplayableWalRecord(record);
  if (!replayable.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("update refused, its WAL record would not replay: {}", std::string(replayable.status().message())));
  }
  std::string encoded = *std::move(replayable);
  // Wal::Append refuses it too, but after the clock advanced, and the
  // refusal would stop the shard.
  if (encoded.size() > wal_format::kMaxEntryBytes ||
      Wal::kHeaderBytes + encoded.size() > options_.wal_segment_capacity_bytes) {
    return absl::InvalidArgumentError(fmt::format("update refused: its WAL record of {} bytes exceeds a {}-byte segment",
                                                  encoded.size(), options_.wal_segment_capacity_bytes));
  }
  return encoded;
}

absl::StatusOr<UpdateResult> LocalShard::Update(WalRecord record, bool wait) {
  // Encoded (pure computation) before anything else, so that a refused
  // record touches neither the clocks nor the WAL.
  auto encoded = EncodeForWal(record);
  if (!encoded.ok()) return encoded.status();
  const std::optional<ClockTag> encoded_tag = record.clock_tag;
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
        SS_ASSERT(!record.clock_tag->force, "a forced op was rejected");
        update_channel_.CancelReservation();
        SS_COVER(kClockRejected);
        return UpdateResult{std::nullopt, UpdateStatus::kClockRejected, record.clock_tag};
      }
    }
    // An accepted tag is left as it was: the encoded record holds it.
    SS_ASSERT(record.clock_tag == encoded_tag, "the clock changed an accepted tag");
    const uint64_t next_index = wal_->next_index();
    auto op_num = wal_->Append(*encoded);
    if (!op_num.ok()) {
      // Out of space nothing was written: the op is refused, and the shard
      // takes writes again once space is freed.
      update_channel_.CancelReservation();
      return Escalate(op_num.status());
    }
    // The op number is the WAL index the op got: above every op appended
    // before it, replayed or live.
    SS_ASSERT(*op_num == next_index, "op {} appended at WAL index {}", *op_num, next_index);
    SS_ASSERT(wal_->next_index() == next_index + 1, "one append took WAL indexes {} to {}", next_index,
              wal_->next_index());
    result.op_num = *op_num;
    if (record.clock_tag) {
      RememberToken(*record.clock_tag);
      NoteWalTick(*op_num, *record.clock_tag);
    }
    if (options_.observer) options_.observer->OnWalAppend(*op_num, record);
    result.clock_tag = record.clock_tag;
    if (!update_channel_.SendReserved(OperationData{*op_num, std::move(record), wait, done})) {
      return absl::UnavailableError("the shard is shutting down");
    }
  }
  if (!wait) return result;
  SS_ASSERT(done != nullptr);
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
  std::optional<SeqNumber> previous_op;
  for (uint64_t signals = 0;; ++signals) {
    std::optional<UpdateSignal> signal = update_channel_.Receive();
    if (!signal || std::holds_alternative<Stop>(*signal)) return;
    if (auto* plunger = std::get_if<Plunger>(&*signal)) {
      SS_ASSERT(plunger->done != nullptr);
      plunger->done->Set(absl::OkStatus());
      continue;
    }
    auto& data = std::get<OperationData>(*signal);
    // Ops are queued under the WAL mutex as they are appended: WAL order.
    SS_ASSERT(!previous_op || data.op_num > *previous_op, "op {} queued after op {}", data.op_num, *previous_op);
    SS_ASSERT(data.wait == (data.done != nullptr), "op {}: a waiter without a oneshot", data.op_num);
    previous_op = data.op_num;
    absl::Status status = health();
    if (status.ok() && data.wait) {
      MutexLock wal(*wal_mutex_);
      status = SyncWal();
      if (!status.ok()) SetFatal(status);  // a failed sync is fatal
      // A waiter is answered only once its op is durable.
      SS_ASSERT(!status.ok() || wal_->synced_next_index() > data.op_num, "op {} not durable", data.op_num);
    }
    if (status.ok()) status = ApplyOperation(data.op_num, data.record.operation);
    if (!status.ok()) SetFatal(status);
    if (data.done) data.done->Set(status);
  }
}

}  // namespace engine
