// The receiving side: writes and reads another peer sends to this peer's
// local replica (Qdrant's update_local and local-only reads), through the
// local slot and its transfer proxies.
#include <fmt/format.h>

#include "engine/cluster/replica_set.h"
#include "engine/cluster/replica_set_slot.h"
#include "engine/common/assert.h"
#include "engine/common/coverage.h"

namespace engine {

namespace {
// A direct write with `tag` that a source with these clocks had not seen.
bool NotSeenBy(const ClockMap& source_clocks, const ClockTag& tag) {
  const std::optional<ClockMap::Clock> seen = source_clocks.Get(tag.peer_id, tag.clock_id);
  return !seen.has_value() || seen->tick < tag.tick;
}

// The writes whose effect on a point does not depend on what it held: the
// only ones a receiver may apply to some of their points.
bool IsCuttable(const Operation& operation) {
  return std::holds_alternative<UpsertPoints>(operation) || std::holds_alternative<DeletePoints>(operation);
}
}  // namespace

absl::StatusOr<UpdateResponse> ShardReplicaSet::HandleUpdate(PeerId from, const UpdateRequest& request) {
  SS_ASSERT(request.shard == options_.shard, "update for shard {} reached shard {}", request.shard, options_.shard);
  if (request.ordering.has_value()) {
    // This peer is asked to lead an ordered write.
    SS_COVER(kClusterForwardedToLeader);
    absl::StatusOr<WriteAck> ack = UpdateWithConsistency(request.record.operation, request.wait, *request.ordering);
    if (!ack.ok()) return ack.status();
    return UpdateResponse{.status = ack->completed ? RemoteUpdateStatus::kCompleted : RemoteUpdateStatus::kAcknowledged,
                          .clock_tag = ack->clock_tag};
  }
  std::optional<ShardTransfer> replay_of;
  if (request.replay_transfer_key.has_value()) {
    replay_of = ShardTransfer{.key = *request.replay_transfer_key, .id = request.replay_transfer_id};
  }
  FloorCheck floor{.applies = true};
  if (request.forwarded) {
    floor.unless_floor_of = RegistrationId{TransferKey{.shard = options_.shard, .from = from, .to = options_.this_peer},
                                           request.forward_transfer_id};
  }
  return UpdateLocal(request.record, request.wait, floor, replay_of,
                     replay_of.has_value() ? &request.replay_source_clocks : nullptr);
}

absl::StatusOr<UpdateResponse> ShardReplicaSet::UpdateLocal(const WalRecord& record, bool wait, const FloorCheck& floor,
                                                            const std::optional<ShardTransfer>& replay_of,
                                                            const ClockMap* replay_source_clocks) {
  // The state and the replay's registration under one lock: no extra
  // scheduling point for the check.
  std::optional<ReplicaState> state;
  bool replay_registered = true;
  {
    MutexLock lock(*state_mutex_);
    state = state_.Get(options_.this_peer);
    if (replay_of.has_value()) {
      replay_registered = replay_of->key.to == options_.this_peer && TransferRegisteredLocked(*replay_of);
    }
  }
  if (!replay_registered) {
    SS_COVER(kClusterRejectedByState);
    return absl::FailedPreconditionError(fmt::format("replayed record of transfer {} -> {} #{}, not registered here",
                                                     replay_of->key.from, replay_of->key.to, replay_of->id));
  }
  const bool forced = record.clock_tag.has_value() && record.clock_tag->force;
  if (!state.has_value()) return absl::FailedPreconditionError("No target shard: no local replica");
  if (!AcceptsLocalUpdate(*state, forced)) {
    SS_COVER(kClusterRejectedByState);
    return absl::FailedPreconditionError(
        fmt::format("No target shard: local replica is {}", ReplicaStateName(*state)));
  }
  absl::StatusOr<UpdateResult> result = ApplyThroughSlot(record, wait, floor, replay_source_clocks);
  if (!result.ok()) return result.status();
  return ToResponse(*result);
}

absl::StatusOr<UpdateResult> ShardReplicaSet::ApplyThroughSlot(const WalRecord& record, bool wait,
                                                               const FloorCheck& floor,
                                                               const ClockMap* replay_source_clocks) {
  ReadLock local(*local_lock_);
  switch (local_->kind) {
    case LocalKind::kNone:
      return absl::FailedPreconditionError("No target shard: no local replica");
    case LocalKind::kDummy:
      // Transient: the coordinator reports this replica, which heals it.
      return absl::UnavailableError("dummy shard: the local replica failed to load");
    case LocalKind::kLocal:
      return UpdateAndNote(record, wait, floor, replay_source_clocks);
    // A proxied replica's writes are noted too: the proxy may go (an aborted
    // transfer) and a batch from a replica that missed them come next (cluster
    // seed 7364 lost a write taken while this replica was a queue proxy).
    case LocalKind::kQueueProxy: {
      MutexLock proxy(*proxy_update_mutex_);
      return UpdateAndNote(record, wait, floor, replay_source_clocks);
    }
    case LocalKind::kForwardProxy: {
      MutexLock proxy(*proxy_update_mutex_);
      // The batch floor of a transfer this replica received still holds
      // while it sends one: a coordinator's stale copy landing here would
      // otherwise overwrite what a batch brought, and be forwarded (cluster
      // seed 6200272279).
      std::optional<WalRecord> cut;
      absl::StatusOr<UpdateResult> applied =
          UpdateAndNote(record, /*wait=*/true, floor, replay_source_clocks, &cut);
      if (!applied.ok() || applied->status == UpdateStatus::kClockRejected) return applied;
      // The receiver mirrors this replica, so it gets what was applied here:
      // a point a cut kept back holds a newer write here, which the receiver
      // may hold from a batch only (no note of it there), and the exempt
      // floor would let the uncut record overwrite it.
      absl::StatusOr<RpcResponse> forwarded =
          CallPeer(local_->proxy_target,
                   UpdateRequest{.shard = options_.shard, .record = cut.has_value() ? *cut : record, .wait = false,
                                 .forwarded = true,
                                 .forward_transfer_id = local_->proxy_transfer_id});
      if (!forwarded.ok()) {
        // Qdrant's ForwardProxyError: not transient, after the local apply.
        return absl::InternalError(fmt::format("forward proxy: {}", forwarded.status().ToString()));
      }
      SS_COVER(kTransferForwarded);
      const auto* remote = std::get_if<UpdateResponse>(&*forwarded);
      if (remote != nullptr && remote->status == RemoteUpdateStatus::kClockRejected) {
        return UpdateResult{.op_num = std::nullopt, .status = UpdateStatus::kClockRejected,
                            .clock_tag = remote->clock_tag};
      }
      return applied;
    }
  }
  return absl::InternalError("unknown local kind");
}

absl::StatusOr<ReadResponse> ShardReplicaSet::HandleRead(const ReadRequest& request) {
  SS_ASSERT(request.shard == options_.shard, "read for shard {} reached shard {}", request.shard, options_.shard);
  ReadLock local(*local_lock_);
  // The serving peer checks its own view once it holds the local replica
  // (the lock may have waited for a swap): a replica it knows is not
  // readable never serves (read safety, docs/cluster.md). The state checked
  // is the state reported: the read's linearization point.
  const std::optional<ReplicaState> state = LocalState();
  if (!state.has_value() || !IsReadable(*state)) {
    return absl::UnavailableError(fmt::format("local replica is not readable ({})",
                                              state ? ReplicaStateName(*state) : "absent"));
  }
  if (local_->shard == nullptr) return absl::UnavailableError("no local shard to read");
  if (options_.observer != nullptr) {
    options_.observer->OnReadServed(options_.this_peer, options_.shard, state, local_->kind);
  }
  ReadResponse response;
  if (request.ids.empty()) {
    response.points = local_->shard->Scroll(nullptr, std::nullopt, std::numeric_limits<size_t>::max());
  } else {
    for (PointId id : request.ids) {
      if (std::optional<Point> point = local_->shard->Retrieve(id)) response.points.push_back(std::move(*point));
    }
  }
  std::sort(response.points.begin(), response.points.end(),
            [](const Point& a, const Point& b) { return a.id < b.id; });
  MutexLock lock(*state_mutex_);
  counters_.reads_served += 1;
  return response;
}

absl::StatusOr<UpdateResult> ShardReplicaSet::UpdateAndNote(const WalRecord& record, bool wait, const FloorCheck& floor,
                                                            const ClockMap* replay_source_clocks,
                                                            std::optional<WalRecord>* applied_cut) {
  MutexLock sync(*batch_sync_mutex_);
  if (floor.applies && (!floor.unless_floor_of.has_value() || floor.unless_floor_of != batch_floor_transfer_)) {
    if (std::optional<UpdateResult> refused = RefuseBelowBatches(record)) return *refused;
  }
  if (replay_source_clocks != nullptr) {
    // Forced, so no clock refuses it, and a forced record is no direct write
    // to note: only the cut. The cut record keeps its clock tag, so the
    // clocks (and a later transfer's recovery point) still count it.
    if (std::optional<WalRecord> cut = WithoutNewerDirectWrites(record, *replay_source_clocks)) {
      absl::StatusOr<UpdateResult> applied = local_->shard->Update(*cut, wait);
      if (applied_cut != nullptr) *applied_cut = std::move(cut);
      return applied;
    }
  }
  std::optional<WalRecord> cut = WithoutReplacedRetries(record);
  const WalRecord& applying = cut.has_value() ? *cut : record;
  absl::StatusOr<UpdateResult> applied = local_->shard->Update(applying, wait);
  if (applied.ok()) NoteDirectWrite(applying, *applied);
  if (applied_cut != nullptr) *applied_cut = std::move(cut);
  return applied;
}

std::optional<WalRecord> ShardReplicaSet::WithoutNewerDirectWrites(const WalRecord& record,
                                                                   const ClockMap& source_clocks) {
  if (!IsCuttable(record.operation)) return std::nullopt;
  std::set<PointId> newer;
  for (PointId id : OperationPointIds(record.operation)) {
    const auto found = direct_writes_.find(id);
    if (found == direct_writes_.end()) continue;
    if (NotSeenBy(source_clocks, found->second.tag)) newer.insert(id);
  }
  std::optional<WalRecord> cut = WithoutRecentDirectWrites(record, std::move(newer), "replayed record kept {} newer "
                                                                                 "direct write(s) of points the "
                                                                                 "source had not seen");
  if (cut.has_value()) SS_COVER(kTransferBatchKeptNewerWrite);
  return cut;
}

std::optional<WalRecord> ShardReplicaSet::WithoutReplacedRetries(const WalRecord& record) {
  if (!record.clock_tag.has_value() || record.clock_tag->force || !IsCuttable(record.operation)) return std::nullopt;
  std::set<PointId> replaced;
  for (PointId id : OperationPointIds(record.operation)) {
    const auto found = direct_writes_.find(id);
    if (found == direct_writes_.end()) continue;
    const std::vector<ClockTag>& earlier = found->second.replaced;
    if (std::find(earlier.begin(), earlier.end(), *record.clock_tag) != earlier.end()) replaced.insert(id);
  }
  return WithoutRecentDirectWrites(record, std::move(replaced), "a resent write kept {} newer direct write(s) "
                                                               "taken after its first copy");
}

std::optional<WalRecord> ShardReplicaSet::WithoutRecentDirectWrites(const WalRecord& record, std::set<PointId> kept,
                                                                    std::string_view log_format) {
  SS_ASSERT(IsCuttable(record.operation));
  if (kept.empty()) return std::nullopt;
  // Only now the window, which reads the replica state under its lock: the
  // common write takes no extra scheduling point.
  const int64_t oldest_ns = env_.NowNanos() - DirectWriteWindowNs();
  std::erase_if(kept, [&](PointId id) { return direct_writes_.at(id).applied_ns < oldest_ns; });
  if (kept.empty()) return std::nullopt;
  WalRecord cut = record;
  if (auto* upsert = std::get_if<UpsertPoints>(&cut.operation)) {
    std::erase_if(upsert->points, [&](const Point& point) { return kept.contains(point.id); });
  } else {
    auto& ids = std::get<DeletePoints>(cut.operation).ids;
    std::erase_if(ids, [&](PointId id) { return kept.contains(id); });
  }
  env_.Log(fmt::format(fmt::runtime(log_format), kept.size()));
  return cut;
}

std::optional<UpdateResult> ShardReplicaSet::RefuseBelowBatches(const WalRecord& record) {
  if (!record.clock_tag.has_value() || record.clock_tag->force) return std::nullopt;
  const ClockTag& tag = *record.clock_tag;
  const std::optional<ClockMap::Clock> floor = batch_floor_.Get(tag.peer_id, tag.clock_id);
  if (!floor.has_value() || tag.tick > floor->tick) return std::nullopt;
  SS_COVER(kTransferStaleWriteRefused);
  ClockTag echoed = tag;
  echoed.tick = floor->tick;
  return UpdateResult{.op_num = std::nullopt, .status = UpdateStatus::kClockRejected, .clock_tag = echoed};
}

void ShardReplicaSet::RaiseBatchFloor(const SyncPointsRequest& request) {
  const RegistrationId transfer{request.transfer_key, request.transfer_id};
  if (batch_floor_transfer_ != transfer) {
    batch_floor_ = ClockMap();
    batch_floor_transfer_ = transfer;
  }
  batch_floor_.AdvanceToAtLeast(request.source_clocks);
}

void ShardReplicaSet::NoteDirectWrite(const WalRecord& record, const UpdateResult& result) {
  if (!record.clock_tag.has_value() || record.clock_tag->force) return;
  if (result.status == UpdateStatus::kClockRejected) return;
  const ClockTag& tag = *record.clock_tag;
  const int64_t now_ns = env_.NowNanos();
  for (PointId id : OperationPointIds(record.operation)) NoteWriteOf(id, tag, now_ns);
  if (direct_writes_.size() >= kPruneDirectWritesAt) PruneDirectWrites();
}

void ShardReplicaSet::NoteWriteOf(PointId id, const ClockTag& tag, int64_t now_ns) {
  auto [entry, first] = direct_writes_.try_emplace(id);
  DirectWrite& write = entry->second;
  std::erase(write.replaced, tag);
  if (!first && write.tag != tag) {
    if (write.replaced.size() == kReplacedTagsKept) write.replaced.erase(write.replaced.begin());
    write.replaced.push_back(write.tag);
  }
  write.tag = tag;
  write.applied_ns = now_ns;
}

void ShardReplicaSet::NoteReplayedWrites() {
  SS_ASSERT(local_->shard != nullptr, "no loaded shard to note the writes of");
  const int64_t now_ns = env_.NowNanos();
  LocalShard::LoadNotes notes = local_->shard->TakeLoadNotes();
  for (const LocalShard::ReplayedWrite& write : notes.writes) {
    for (PointId id : write.ids) NoteWriteOf(id, write.tag, now_ns);
  }
  restart_clocks_ = std::move(notes.newest_clocks);
  restart_ns_ = now_ns;
}

std::optional<absl::Status> ShardReplicaSet::RefuseBatchAfterRestart(const SyncPointsRequest& request) {
  if (restart_clocks_.clocks().empty()) return std::nullopt;
  std::optional<ClockTag> unseen;
  for (const auto& [key, clock] : restart_clocks_.clocks()) {
    const ClockTag tag{.peer_id = key.first, .clock_id = key.second, .tick = clock.tick, .token = clock.token};
    if (NotSeenBy(request.source_clocks, tag)) {
      unseen = tag;
      break;
    }
  }
  if (!unseen.has_value()) return std::nullopt;
  // Only now the window, which reads the replica state under its lock: a
  // batch from a source that saw every such tick takes no extra scheduling
  // point.
  const int64_t since_restart_ns = env_.NowNanos() - restart_ns_;
  if (since_restart_ns > DirectWriteWindowNs()) {
    restart_clocks_ = ClockMap();
    return std::nullopt;
  }
  SS_COVER(kTransferBatchRefusedAfterRestart);
  return absl::UnavailableError(fmt::format(
      "sync points refused: this replica restarted {} ms ago claiming tick {} of clock {}/{}, which the source has "
      "not seen; that write may still reach the source, and the batch would erase it here",
      since_restart_ns / 1'000'000, unseen->tick, unseen->peer_id, unseen->clock_id));
}

int64_t ShardReplicaSet::DirectWriteWindowNs() {
  size_t peers = 1;
  {
    MutexLock lock(*state_mutex_);
    peers = std::max<size_t>(1, state_.peers.size());
  }
  return 2 * kFanOutRounds * static_cast<int64_t>(peers) * options_.rpc_timeout_ns;
}

void ShardReplicaSet::PruneDirectWrites() {
  const int64_t oldest_ns = env_.NowNanos() - DirectWriteWindowNs();
  std::erase_if(direct_writes_, [oldest_ns](const auto& entry) { return entry.second.applied_ns < oldest_ns; });
}

std::set<PointId> ShardReplicaSet::NewerThanBatch(const SyncPointsRequest& request) {
  PruneDirectWrites();
  std::set<PointId> newer;
  auto lower = request.after_id.has_value() ? direct_writes_.upper_bound(*request.after_id) : direct_writes_.begin();
  for (auto it = lower; it != direct_writes_.end(); ++it) {
    if (request.through_id.has_value() && it->first > *request.through_id) break;
    if (NotSeenBy(request.source_clocks, it->second.tag)) newer.insert(it->first);
  }
  return newer;
}

absl::Status ShardReplicaSet::HandleSyncPoints(const SyncPointsRequest& request) {
  SS_ASSERT(request.shard == options_.shard, "sync for shard {} reached shard {}", request.shard, options_.shard);
  const std::optional<ReplicaState> state = LocalState();
  if (!state.has_value() || !AcceptsLocalUpdate(*state, /*forced=*/false)) {
    return absl::FailedPreconditionError("No target shard: sync points to a replica that refuses writes");
  }
  if (request.transfer_key.to != options_.this_peer ||
      !TransferStillRegistered(ShardTransfer{.key = request.transfer_key, .id = request.transfer_id})) {
    return absl::FailedPreconditionError(fmt::format("sync points of transfer {} -> {} #{}, not registered here",
                                                     request.transfer_key.from, request.transfer_key.to,
                                                     request.transfer_id));
  }
  ReadLock local(*local_lock_);
  if (local_->shard == nullptr) return absl::UnavailableError("no local shard to sync");
  if (local_->kind != LocalKind::kLocal) return absl::FailedPreconditionError("sync points to a proxied replica");
  // Held from the read of the stored ids to the last apply: no direct write
  // lands in between unseen by NewerThanBatch.
  MutexLock sync(*batch_sync_mutex_);
  if (std::optional<absl::Status> refused = RefuseBatchAfterRestart(request)) return *refused;
  const std::set<PointId> newer = NewerThanBatch(request);
  if (!newer.empty()) SS_COVER(kTransferBatchKeptNewerWrite);
  std::vector<PointId> stale;
  std::optional<PointId> after = request.after_id;
  std::set<PointId> incoming;
  for (const Point& point : request.points) incoming.insert(point.id);
  for (int pages = 0; pages < 1'000'000; ++pages) {
    const std::vector<Point> page = local_->shard->Scroll(nullptr, after, 256);
    for (const Point& point : page) {
      if (request.through_id.has_value() && point.id > *request.through_id) break;
      if (!incoming.contains(point.id) && !newer.contains(point.id)) stale.push_back(point.id);
    }
    if (page.size() < 256 || (request.through_id.has_value() && page.back().id >= *request.through_id)) break;
    after = page.back().id;
  }
  if (!stale.empty()) {
    absl::StatusOr<UpdateResult> deleted = local_->shard->Update({DeletePoints{stale}, std::nullopt}, request.wait);
    if (!deleted.ok()) return deleted.status();
  }
  std::vector<Point> upserts;
  for (const Point& point : request.points) {
    if (!newer.contains(point.id)) upserts.push_back(point);
  }
  if (!upserts.empty()) {
    absl::StatusOr<UpdateResult> upserted =
        local_->shard->Update({UpsertPoints{std::move(upserts)}, std::nullopt}, request.wait);
    if (!upserted.ok()) return upserted.status();
  }
  RaiseBatchFloor(request);
  return absl::OkStatus();
}

absl::StatusOr<ClockMap> ShardReplicaSet::RecoveryPoint() {
  ReadLock local(*local_lock_);
  if (local_->shard == nullptr) return absl::UnavailableError("no local shard: no recovery point");
  return local_->shard->RecoveryPoint();
}

absl::Status ShardReplicaSet::UpdateCutoff(const ClockMap& cutoff) {
  ReadLock local(*local_lock_);
  if (local_->shard == nullptr) return absl::UnavailableError("no local shard to update the cutoff of");
  return local_->shard->UpdateCutoff(cutoff);
}

}  // namespace engine
