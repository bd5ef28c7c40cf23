// The two transfer methods: stream_records (BRIEF-cluster §4.4) and
// wal_delta (§4.6), on the sender.
#include <fmt/format.h>

#include "engine/cluster/replica_set.h"
#include "engine/cluster/replica_set_slot.h"
#include "engine/common/assert.h"
#include "engine/common/coverage.h"

namespace engine {

namespace {
constexpr size_t kBatchPoints = 100;
constexpr size_t kQueueBatchRecords = 64;
}  // namespace

absl::Status ShardReplicaSet::StreamRecords(const ShardTransfer& transfer) {
  const PeerId target = transfer.key.to;
  if (absl::Status proxied = Proxify(transfer, LocalKind::kForwardProxy, 0); !proxied.ok()) return proxied;
  ClockMap cutoff;
  {
    ReadLock local(*local_lock_);
    if (local_->shard == nullptr) return absl::FailedPreconditionError("local shard gone");
    // Queued-but-unapplied ops would be missed by the scroll (PR #8103).
    if (absl::Status plunged = local_->shard->Plunge(); !plunged.ok()) return plunged;
    cutoff = local_->shard->RecoveryPoint();
  }
  std::optional<PointId> after;
  for (int batches = 0; batches < 10'000'000; ++batches) {
    if (!TransferStillRegistered(transfer)) return absl::CancelledError("transfer no longer registered");
    ReadLock local(*local_lock_);
    if (local_->kind != LocalKind::kForwardProxy) return absl::FailedPreconditionError("forward proxy gone");
    // The batch is read and sent under the proxy's update lock: no write
    // lands between the read and the send.
    MutexLock proxy(*proxy_update_mutex_);
    std::vector<Point> points = local_->shard->Scroll(nullptr, after, kBatchPoints);
    ClockMap source_clocks = local_->shard->NewestClocks();
    const bool last = points.size() < kBatchPoints;
    const std::optional<PointId> through = last ? std::nullopt : std::optional<PointId>(points.back().id);
    const std::optional<PointId> next_after = points.empty() ? after : std::optional<PointId>(points.back().id);
    absl::StatusOr<RpcResponse> sent = CallPeer(
        target, SyncPointsRequest{.shard = options_.shard, .transfer_key = transfer.key, .transfer_id = transfer.id,
                                  .after_id = after, .through_id = through,
                                  .points = std::move(points), .wait = last,
                                  .source_clocks = std::move(source_clocks)});
    if (!sent.ok()) return sent.status();
    SS_COVER(kTransferStreamBatch);
    if (last) break;
    after = next_after;
  }
  absl::StatusOr<RpcResponse> cut = CallPeer(target, UpdateCutoffRequest{.shard = options_.shard, .cutoff = cutoff});
  if (!cut.ok()) return cut.status();
  SS_COVER(kTransferCutoffSent);
  return absl::OkStatus();
}

absl::Status ShardReplicaSet::WalDelta(const ShardTransfer& transfer, bool& fell_back) {
  const PeerId target = transfer.key.to;
  absl::StatusOr<RpcResponse> point = CallPeer(target, RecoveryPointRequest{options_.shard});
  if (!point.ok()) return point.status();
  const auto* recovery = std::get_if<RecoveryPointResponse>(&*point);
  if (recovery == nullptr) return absl::InternalError("recovery point answered with another response type");
  absl::StatusOr<uint64_t> from = absl::UnknownError("unset");
  ClockMap seen_at_resolve;
  {
    ReadLock local(*local_lock_);
    if (local_->shard == nullptr) return absl::FailedPreconditionError("local shard gone");
    // Read before resolving (Qdrant PR #5271): a write appended while the
    // delta resolves to "nothing" is then still queued (cluster seed 28838
    // lost one appended between the two when this came after).
    const uint64_t next_before_resolve = local_->shard->WalNextIndex();
    absl::StatusOr<std::optional<SeqNumber>> delta =
        local_->shard->ResolveWalDelta(recovery->recovery_point, &seen_at_resolve);
    if (delta.ok()) {
      if (delta->has_value()) {
        SS_COVER(kTransferDeltaResolved);
      } else {
        SS_COVER(kTransferDeltaNothing);
      }
      from = delta->value_or(next_before_resolve);
    } else {
      from = delta.status();
    }
  }
  // A queue even for an empty delta: until a peer applies RecoveryToPartial
  // its writes skip the receiver, and only the queue brings them there
  // (Qdrant made no queue then before PR #5271; tools/bugs/35).
  absl::Status queued =
      from.ok() ? Proxify(transfer, LocalKind::kQueueProxy, *from, std::move(seen_at_resolve)) : from.status();
  if (absl::IsCancelled(queued)) return queued;
  if (!queued.ok()) {
    // Qdrant's transfer_shard_fallback_default: Restart as stream_records.
    SS_COVER(kTransferDeltaFallback);
    env_.Log(fmt::format("wal_delta to peer {} falls back to stream_records: {}", target, queued.ToString()));
    fell_back = true;
    log_.Propose(RestartTransfer{transfer.key, TransferMethod::kStreamRecords, transfer.id});
    return absl::OkStatus();
  }
  if (absl::Status sent = SendQueued(transfer, /*until_end=*/false); !sent.ok()) return sent;
  absl::StatusOr<ApplyOutcome> partial =
      log_.ProposeAndWait(RecoveryToPartial{transfer.key, transfer.id}, kConsensusWaitNs);
  if (!partial.ok()) return partial.status();
  if (!partial->applied) return absl::FailedPreconditionError("RecoveryToPartial refused: " + partial->rejection);
  if (absl::Status seen = WaitRemoteState(transfer, ReplicaState::kPartial); !seen.ok()) return seen;
  if (absl::Status sent = SendQueued(transfer, /*until_end=*/true); !sent.ok()) return sent;
  // The replayed records were sent without waiting, so the target's WAL may
  // hold them unsynced; Finish makes it Active, and a power loss after that
  // would leave an Active replica without them. An empty cutoff advances no
  // clock and syncs the target's WAL first, as stream_records' cutoff does.
  // Qdrant sends no cutoff here (docs/cluster.md).
  absl::StatusOr<RpcResponse> synced = CallPeer(target, UpdateCutoffRequest{.shard = options_.shard, .cutoff = {}});
  return synced.status();
}

// Sends the queue proxy's WAL records from its next index, forced (the
// receiver is in Recovery, and WAL order may interleave with direct
// writes). With `until_end`, the last part runs under the local write lock
// and the proxy becomes a forward proxy.
absl::Status ShardReplicaSet::SendQueued(const ShardTransfer& transfer, bool until_end) {
  const PeerId target = transfer.key.to;
  // The read side lets writes go on (into the WAL the loop reads); the
  // write side at the end stops them so nothing lands between the last
  // record sent and the switch to forwarding.
  std::optional<ReadLock> shared;
  std::optional<WriteLock> exclusive;
  if (until_end) {
    exclusive.emplace(*local_lock_);
  } else {
    shared.emplace(*local_lock_);
  }
  if (local_->kind != LocalKind::kQueueProxy) return absl::FailedPreconditionError("queue proxy gone");
  for (int batches = 0; batches < 10'000'000; ++batches) {
    absl::StatusOr<std::vector<std::pair<SeqNumber, WalRecord>>> records =
        local_->shard->ReadWalRange(local_->queue_next_index, kQueueBatchRecords);
    if (!records.ok()) return records.status();
    if (records->empty()) break;
    for (auto& [op_num, record] : *records) {
      // Sent with no op's token, as a cutoff raises a clock with none: when
      // the op's own request reaches the receiver late (stalled past its
      // coordinator's timeout), it is no retry of an op applied there and
      // is rejected. Cluster seed 658 (a loaded cluster): a stalled upsert
      // reached a replica after this queue had replayed it there and a
      // newer write of its point had landed, was taken as a retry and
      // overwrote the newer value. Qdrant sends the token.
      if (record.clock_tag.has_value()) {
        local_->queue_seen_clocks.Advance(*record.clock_tag);
        record.clock_tag->force = true;
        record.clock_tag->token = kNoOpToken;
      }
      absl::StatusOr<RpcResponse> sent =
          CallPeer(target, UpdateRequest{.shard = options_.shard, .record = record, .wait = false,
                                         .replay_transfer_key = transfer.key, .replay_transfer_id = transfer.id,
                                         .replay_source_clocks = local_->queue_seen_clocks});
      // A refusal the sender itself would make is skipped (PR #9125);
      // anything transient fails the attempt.
      if (!sent.ok() && (IsTransient(sent.status()) || absl::IsFailedPrecondition(sent.status()))) {
        return sent.status();
      }
      SS_ASSERT(op_num >= local_->queue_next_index, "WAL record {} below the queue's next {}", op_num,
                local_->queue_next_index);
      local_->queue_next_index = op_num + 1;
    }
    SS_COVER(kTransferQueueReplayed);
  }
  if (!until_end) return absl::OkStatus();
  if (local_->ack_pin.has_value()) local_->shard->UnpinAck(*local_->ack_pin);
  local_->ack_pin.reset();
  local_->kind = LocalKind::kForwardProxy;
  SS_COVER(kTransferQueueToForward);
  return absl::OkStatus();
}

}  // namespace engine
