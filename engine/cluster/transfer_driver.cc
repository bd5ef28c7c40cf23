// The sender's transfer driver (Qdrant's transfer/driver.rs) and the
// receiver's preparation (initiate_shard_transfer), BRIEF-cluster §4.3.
#include <fmt/format.h>

#include "engine/cluster/replica_set.h"
#include "engine/cluster/replica_set_slot.h"
#include "engine/common/assert.h"
#include "engine/common/coverage.h"

namespace engine {

namespace {
constexpr int kMaxAttempts = 3;                         // MAX_RETRY_COUNT
constexpr int kFinishTries = 10;
constexpr int64_t kRetryDelayNs = 1'000'000'000;        // 1 s x attempt
constexpr int64_t kReceiverWaitNs = 60'000'000'000;     // 60 s
}  // namespace

absl::Status ShardReplicaSet::DriveTransfer(const ShardTransfer& transfer) {
  SS_ASSERT(transfer.key.from == options_.this_peer && transfer.key.shard == options_.shard,
            "peer {} drives a transfer from {}", options_.this_peer, transfer.key.from);
  absl::Status last = absl::OkStatus();
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    if (!TransferStillRegistered(transfer)) return absl::CancelledError("transfer no longer registered");
    absl::StatusOr<RpcResponse> initiated = CallPeer(transfer.key.to, InitiateTransferRequest{transfer.key});
    last = initiated.status();
    bool fell_back = false;
    if (last.ok()) {
      last = transfer.method == TransferMethod::kWalDelta ? WalDelta(transfer, fell_back) : StreamRecords(transfer);
    }
    if (fell_back) return absl::OkStatus();  // a Restart was proposed; its apply starts the new driver
    if (!TransferStillRegistered(transfer)) {
      // Aborted (or finished) while this attempt ran: its proxy must go.
      UnproxifyIfOrphaned(transfer);
      return absl::CancelledError("transfer no longer registered");
    }
    if (last.ok()) {
      // Every peer should know the receiver is Partial before it turns Active.
      (void)log_.AwaitAllApplied(log_.applied_index(), kConsensusWaitNs);
      // The log may lose a proposal: propose again until it is applied.
      for (int tries = 0; tries < kFinishTries; ++tries) {
        if (!TransferStillRegistered(transfer)) {
          UnproxifyIfOrphaned(transfer);
          return absl::OkStatus();
        }
        absl::StatusOr<ApplyOutcome> finished = log_.ProposeAndWait(FinishTransfer{transfer.key, transfer.id}, kConsensusWaitNs);
        if (finished.ok()) {
          if (finished->applied) SS_COVER(kTransferFinished);
          UnproxifyIfOrphaned(transfer);
          return absl::OkStatus();
        }
      }
      // The idle hook proposes the Finish later; the forward proxy keeps
      // the receiver up to date meanwhile.
      return absl::DeadlineExceededError("finish of the transfer was not applied in time");
    }
    UnproxifyOwn(transfer);
    if (!TransferStillRegistered(transfer)) return absl::CancelledError("transfer no longer registered");
    SS_COVER(kTransferRetried);
    env_.SleepForNanos(kRetryDelayNs * attempt);
  }
  SS_COVER(kTransferAborted);
  log_.Propose(AbortTransfer{transfer.key, fmt::format("transmission failed: {}", last.ToString()), transfer.id});
  return last;
}

absl::Status ShardReplicaSet::PrepareToReceive(const TransferKey& key) {
  SS_ASSERT(key.to == options_.this_peer && key.shard == options_.shard, "peer {} asked to receive for {}",
            options_.this_peer, key.to);
  const int64_t deadline_ns = env_.NowNanos() + kReceiverWaitNs;
  for (int waits = 0; waits < 1'000'000; ++waits) {
    bool ready = false;
    {
      MutexLock lock(*state_mutex_);
      const std::optional<ReplicaState> state = state_.Get(options_.this_peer);
      ready = transfers_.contains(key) && state.has_value() && IsPartialOrRecovery(*state);
      if (!ready) {
        const int64_t left_ns = deadline_ns - env_.NowNanos();
        if (left_ns <= 0 || shut_down_) return absl::DeadlineExceededError("transfer not registered on the receiver");
        state_changed_->WaitFor(left_ns);
        continue;
      }
    }
    if (local_kind() == LocalKind::kDummy) {
      if (absl::Status rebuilt = CreateEmptyLocal(); !rebuilt.ok()) return rebuilt;
    }
    if (local_kind() == LocalKind::kNone) {
      if (absl::Status created = CreateEmptyLocal(); !created.ok()) return created;
    }
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError("receiver wait woke too often");
}

absl::Status ShardReplicaSet::Proxify(const ShardTransfer& transfer, LocalKind kind, uint64_t queue_from,
                                     ClockMap queue_seen_clocks) {
  SS_ASSERT(kind == LocalKind::kForwardProxy || kind == LocalKind::kQueueProxy, "proxify to {}", LocalKindName(kind));
  WriteLock local(*local_lock_);
  // An abort applied meanwhile unproxies only after it unregistered the
  // transfer: checked under the local lock, no proxy can outlive it.
  if (!TransferStillRegistered(transfer)) return absl::CancelledError("transfer no longer registered");
  const PeerId target = transfer.key.to;
  if (local_->kind != LocalKind::kLocal) {
    return absl::FailedPreconditionError(fmt::format("cannot proxify a {} replica", LocalKindName(local_->kind)));
  }
  if (kind == LocalKind::kQueueProxy) {
    absl::StatusOr<uint64_t> pin = local_->shard->PinAckFrom(queue_from);
    if (!pin.ok()) return pin.status();
    local_->ack_pin = *pin;
    local_->queue_next_index = queue_from;
    local_->queue_seen_clocks = std::move(queue_seen_clocks);
  }
  local_->kind = kind;
  local_->proxy_target = target;
  local_->proxy_transfer_id = transfer.id;
  return absl::OkStatus();
}

bool ShardReplicaSet::ProxyIsOwnLocked(const ShardTransfer& transfer) const {
  // Another registration's proxy (an old driver ending after a new Start
  // of the same key: cluster seed 4200010639) is not this one's to remove.
  return (local_->kind == LocalKind::kForwardProxy || local_->kind == LocalKind::kQueueProxy) &&
         local_->proxy_target == transfer.key.to && local_->proxy_transfer_id == transfer.id;
}

void ShardReplicaSet::UnproxifyIfOrphaned(const ShardTransfer& transfer) {
  WriteLock local(*local_lock_);
  if (!ProxyIsOwnLocked(transfer) || TransferStillRegistered(transfer)) return;
  RevertProxy();
}

void ShardReplicaSet::UnproxifyOwn(const ShardTransfer& transfer) {
  WriteLock local(*local_lock_);
  if (ProxyIsOwnLocked(transfer)) RevertProxy();
}

void ShardReplicaSet::Unproxify() {
  WriteLock local(*local_lock_);
  if (local_->kind != LocalKind::kForwardProxy && local_->kind != LocalKind::kQueueProxy) return;
  RevertProxy();
}

void ShardReplicaSet::RevertProxy() {
  SS_ASSERT(local_->kind == LocalKind::kForwardProxy || local_->kind == LocalKind::kQueueProxy,
            "reverting a {} slot", LocalKindName(local_->kind));
  if (local_->ack_pin.has_value()) local_->shard->UnpinAck(*local_->ack_pin);
  local_->ack_pin.reset();
  local_->kind = LocalKind::kLocal;
  local_->proxy_target = 0;
  local_->proxy_transfer_id = 0;
}

absl::Status ShardReplicaSet::WaitRemoteState(const ShardTransfer& transfer, ReplicaState state) {
  const PeerId peer = transfer.key.to;
  const int64_t deadline_ns = env_.NowNanos() + kConsensusWaitNs;
  for (int polls = 0; polls < 10'000; ++polls) {
    // The remote may be in `state` for another transfer's sake.
    if (!TransferStillRegistered(transfer)) return absl::CancelledError("transfer no longer registered");
    absl::StatusOr<RpcResponse> response = CallPeer(peer, ReplicaStateRequest{options_.shard});
    if (response.ok()) {
      const auto* seen = std::get_if<ReplicaStateResponse>(&*response);
      if (seen != nullptr && seen->state == state) return absl::OkStatus();
    }
    if (env_.NowNanos() >= deadline_ns) break;
    env_.SleepForNanos(100'000'000);
  }
  return absl::DeadlineExceededError(fmt::format("peer {} did not reach {}", peer, ReplicaStateName(state)));
}

}  // namespace engine
