// ApplyMetaOp: what every peer does with one log entry, reduced to the
// consensus-replicated state (Qdrant's toc/collection_meta_ops.rs and
// Collection::{set_shard_replica_state, start_shard_transfer,
// finish_shard_transfer, abort_shard_transfer}).
//
// Each apply works on a copy and commits it only when the op is accepted, so
// a rejected op leaves the state untouched whatever step rejected it.
#include "engine/cluster/meta_ops.h"

#include <set>
#include <utility>

#include <fmt/core.h>

#include "engine/common/assert.h"

namespace engine {
namespace {

std::string KeyText(const TransferKey& key) {
  return fmt::format("shard {} from {} to {}", key.shard, key.from, key.to);
}

// Why an op for transfer `key` (registration `id`, 0 = any) does not apply.
std::optional<std::string> MissingTransfer(const CollectionState& state, const TransferKey& key, uint64_t id) {
  const auto found = state.transfers.find(key);
  if (found == state.transfers.end()) return fmt::format("no transfer {}", KeyText(key));
  if (id != 0 && found->second.id != id) {
    return fmt::format("transfer {} is registration {}, not {}", KeyText(key), found->second.id, id);
  }
  return std::nullopt;
}

}  // namespace

// ---- CollectionState queries ----

std::optional<ReplicaState> CollectionState::StateOf(ShardId shard, PeerId peer) const {
  const auto replicas = shards.find(shard);
  if (replicas == shards.end()) return std::nullopt;
  const auto found = replicas->second.find(peer);
  if (found == replicas->second.end()) return std::nullopt;
  return found->second;
}

std::vector<TransferKey> CollectionState::RelatedTransfers(ShardId shard, PeerId peer) const {
  std::vector<TransferKey> related;
  for (const auto& [key, transfer] : transfers) {
    SS_ASSERT(key == transfer.key);
    if (key.shard == shard && (key.from == peer || key.to == peer)) related.push_back(key);
  }
  return related;
}

bool CollectionState::IsLastSourceOfTruth(ShardId shard, PeerId peer) const {
  const auto replicas = shards.find(shard);
  if (replicas == shards.end()) return false;
  size_t active_count = 0;
  bool peer_active = false;
  for (const auto& [replica_peer, replica_state] : replicas->second) {
    if (!IsActive(replica_state)) continue;
    active_count++;
    if (replica_peer == peer) peer_active = true;
  }
  if (active_count == 0) {
    // Nothing is active yet (a collection still being created): deactivating
    // an Initializing or Listener replica could not be recovered from.
    const std::optional<ReplicaState> state = StateOf(shard, peer);
    return state == ReplicaState::kInitializing || state == ReplicaState::kListener;
  }
  SS_ASSERT(active_count <= replicas->second.size());
  return active_count == 1 && peer_active;
}

absl::Status CollectionState::CheckConsistency() const {
  const auto inconsistent = [](std::string why) { return absl::FailedPreconditionError(std::move(why)); };
  for (const auto& [shard, replicas] : shards) {
    for (const auto& [peer, state] : replicas) {
      if (!peers.contains(peer)) return inconsistent(fmt::format("replica {}:{} on an unknown peer", peer, shard));
    }
  }
  std::set<std::pair<ShardId, PeerId>> busy;  // (shard, peer) already in a transfer
  for (const auto& [key, transfer] : transfers) {
    if (!(transfer.key == key)) return inconsistent(fmt::format("transfer {} stored under another key", KeyText(key)));
    if (!shards.contains(key.shard)) return inconsistent(fmt::format("transfer {}: no such shard", KeyText(key)));
    if (!peers.contains(key.from) || !peers.contains(key.to) || key.from == key.to) {
      return inconsistent(fmt::format("transfer {}: bad peers", KeyText(key)));
    }
    if (transfer.id > transfers_started) {
      return inconsistent(fmt::format("transfer {}: id {} past the {} started", KeyText(key), transfer.id,
                                      transfers_started));
    }
    if (!busy.insert({key.shard, key.from}).second || !busy.insert({key.shard, key.to}).second) {
      return inconsistent(fmt::format("transfer {} overlaps another transfer of the shard", KeyText(key)));
    }
  }
  return absl::OkStatus();
}

// ---- Apply ----

namespace {

// The state being built by one apply and what it did so far.
struct Apply {
  CollectionState next;
  ApplyOutcome outcome;

  // Sets (or with nullopt removes) a replica and records the change.
  void SetReplica(ShardId shard, PeerId peer, std::optional<ReplicaState> after) {
    SS_ASSERT(next.shards.contains(shard), "replica {}:{} of an unknown shard", peer, shard);
    SS_ASSERT(!after || next.peers.contains(peer), "replica {}:{} on an unknown peer", peer, shard);
    auto& replicas = next.shards.at(shard);
    const std::optional<ReplicaState> before = next.StateOf(shard, peer);
    if (before == after) return;
    if (after) {
      replicas[peer] = *after;
    } else {
      replicas.erase(peer);
    }
    outcome.state_changes.push_back({shard, peer, before, after});
    SS_ASSERT(next.StateOf(shard, peer) == after);
  }
};

ApplyOutcome Reject(std::string why) {
  SS_ASSERT(!why.empty(), "a rejection says why");
  ApplyOutcome outcome;
  outcome.applied = false;
  outcome.rejection = std::move(why);
  return outcome;
}

// What StartTransfer makes of the target (always partial or recovery-like).
ReplicaState TargetStateOf(TransferMethod method) {
  switch (method) {
    case TransferMethod::kStreamRecords:
      return ReplicaState::kPartial;
    case TransferMethod::kWalDelta:
    case TransferMethod::kSnapshot:
      return ReplicaState::kRecovery;
  }
  SS_ASSERT(false, "transfer method {} out of range", static_cast<int>(method));
  return ReplicaState::kPartial;
}

// Qdrant's abort_shard_transfer on the state: a replicating (sync) target is
// marked Dead, a moving one is removed; the transfer is unregistered.
//
// Deviation: Qdrant applies this without a guard. The brief argues the target
// is never the last source of truth since the source is Active, but a
// SetReplicaState can make the target Active and demote the source while the
// transfer is registered; demoting the target then would leave the shard with
// no Active replica. Here such a target keeps its state.
void AbortOne(Apply& apply, const TransferKey& key) {
  const auto found = apply.next.transfers.find(key);
  SS_ASSERT(found != apply.next.transfers.end(), "abort of unknown transfer {}", KeyText(key));
  const ShardTransfer transfer = found->second;
  apply.next.transfers.erase(found);
  if (apply.next.StateOf(key.shard, key.to) && !apply.next.IsLastSourceOfTruth(key.shard, key.to)) {
    if (transfer.sync) {
      apply.SetReplica(key.shard, key.to, ReplicaState::kDead);
    } else {
      apply.SetReplica(key.shard, key.to, std::nullopt);
    }
  }
  apply.outcome.transfers_aborted.push_back(transfer);
  const std::optional<ReplicaState> target = apply.next.StateOf(key.shard, key.to);
  SS_ASSERT(!target || *target == ReplicaState::kDead || apply.next.IsLastSourceOfTruth(key.shard, key.to),
            "aborted transfer {} left its target {}", KeyText(key), ReplicaStateName(*target));
}

ApplyOutcome ApplyCreate(Apply& apply, const CreateCollection& op) {
  if (!apply.next.shards.empty()) return Reject("collection already exists");
  if (op.shards.empty()) return Reject("a collection needs at least one shard");
  if (op.params.replication_factor == 0 || op.params.write_consistency_factor == 0) {
    return Reject("replication and write consistency factors must be at least 1");
  }
  for (const auto& [shard, replicas] : op.shards) {
    for (const auto& [peer, state] : replicas) {
      if (!op.peers.contains(peer)) {
        return Reject(fmt::format("shard {} placed on peer {} outside the cluster", shard, peer));
      }
    }
  }
  apply.next.params = op.params;
  apply.next.peers = op.peers;
  apply.next.transfers.clear();
  for (const auto& [shard, replicas] : op.shards) {
    apply.next.shards[shard];
    for (const auto& [peer, state] : replicas) apply.SetReplica(shard, peer, state);
  }
  SS_ASSERT(apply.next.shards == op.shards);
  return std::move(apply.outcome);
}

ApplyOutcome ApplySetReplicaState(Apply& apply, const SetReplicaState& op) {
  CollectionState& next = apply.next;
  if (!next.shards.contains(op.shard)) return Reject(fmt::format("shard {} not found", op.shard));
  const std::optional<ReplicaState> current = next.StateOf(op.shard, op.peer);
  if (!current && !next.peers.contains(op.peer)) {
    return Reject(fmt::format("replica {}:{} does not exist and peer {} is not in the cluster",
                              op.peer, op.shard, op.peer));
  }
  if (op.from_state && current != op.from_state) {
    return Reject(fmt::format("replica {}:{} is {}, expected {}", op.peer, op.shard,
                              current ? ReplicaStateName(*current) : "absent",
                              ReplicaStateName(*op.from_state)));
  }
  if (next.IsLastSourceOfTruth(op.shard, op.peer) && !IsActive(op.state)) {
    return Reject(fmt::format("cannot deactivate the last active replica {} of shard {}",
                              op.peer, op.shard));
  }
  // Qdrant sets the state first and then aborts the related transfers (the
  // brief lists the abort first). The order matters for a move whose target
  // is this peer: the abort removes the replica just marked Dead.
  apply.SetReplica(op.shard, op.peer, op.state);
  if (op.state == ReplicaState::kDead) {
    for (const TransferKey& key : next.RelatedTransfers(op.shard, op.peer)) AbortOne(apply, key);
    SS_ASSERT(next.RelatedTransfers(op.shard, op.peer).empty());
  }
  // Only the abort of a move to this peer removes the replica just set.
  SS_ASSERT(next.StateOf(op.shard, op.peer) == op.state ||
                (op.state == ReplicaState::kDead && !next.StateOf(op.shard, op.peer)),
            "replica {}:{} is not {} after its SetReplicaState", op.peer, op.shard, ReplicaStateName(op.state));
  return std::move(apply.outcome);
}

// validate_transfer, plus the crash re-apply rule for an identical key.
std::optional<std::string> ValidateStart(const CollectionState& state, const ShardTransfer& transfer) {
  const TransferKey& key = transfer.key;
  if (!state.shards.contains(key.shard)) return fmt::format("shard {} does not exist", key.shard);
  if (!state.peers.contains(key.from)) return fmt::format("peer {} does not exist", key.from);
  if (!state.peers.contains(key.to)) return fmt::format("peer {} does not exist", key.to);
  if (key.from == key.to) return fmt::format("transfer of shard {} from peer {} to itself", key.shard, key.from);
  const std::optional<ReplicaState> source = state.StateOf(key.shard, key.from);
  if (source != ReplicaState::kActive && source != ReplicaState::kReshardingScaleDown) {
    return fmt::format("shard {} is not active on source peer {}", key.shard, key.from);
  }
  if (state.transfers.contains(key)) {
    const std::optional<ReplicaState> target = state.StateOf(key.shard, key.to);
    if (target && IsPartialOrRecovery(*target)) return fmt::format("transfer {} already started", KeyText(key));
  }
  for (const auto& [other_key, other] : state.transfers) {
    if (other_key == key || other_key.shard != key.shard) continue;
    const bool touches = other_key.from == key.from || other_key.to == key.from ||
                         other_key.from == key.to || other_key.to == key.to;
    if (touches) {
      return fmt::format("shard {} is already in transfer {} -> {}", key.shard, other_key.from, other_key.to);
    }
  }
  return std::nullopt;
}

// Registers and sets the target's state (demoting it even if Active: queries
// must stop reaching the receiver).
// REQUIRES: ValidateStart accepted `transfer` on apply.next.
void StartOne(Apply& apply, const ShardTransfer& transfer) {
  const TransferKey& key = transfer.key;
  SS_ASSERT(IsActive(*apply.next.StateOf(key.shard, key.from)), "transfer {} from an inactive source", KeyText(key));
  ShardTransfer registered = transfer;
  registered.id = ++apply.next.transfers_started;
  apply.next.transfers[key] = registered;
  apply.SetReplica(key.shard, key.to, TargetStateOf(transfer.method));
  apply.outcome.transfers_started.push_back(registered);
  SS_ASSERT(IsPartialOrRecovery(*apply.next.StateOf(key.shard, key.to)));
  SS_ASSERT(IsActive(*apply.next.StateOf(key.shard, key.from)), "starting {} demoted its source", KeyText(key));
}

ApplyOutcome ApplyStart(Apply& apply, const StartTransfer& op) {
  if (auto why = ValidateStart(apply.next, op.transfer)) return Reject(std::move(*why));
  StartOne(apply, op.transfer);
  return std::move(apply.outcome);
}

// Qdrant applies Restart as two steps, Abort then Start, each committing on its
// own: when the Start part fails validation the Abort part stays applied. The
// outcome is then applied (the state changed) with the Start's rejection.
ApplyOutcome ApplyRestart(Apply& apply, const RestartTransfer& op) {
  if (auto why = MissingTransfer(apply.next, op.key, op.id)) return Reject(std::move(*why));
  const auto found = apply.next.transfers.find(op.key);
  // The brief does not list this check; Qdrant rejects it ("its configuration
  // did not change").
  if (found->second.method == op.method) {
    return Reject(fmt::format("restart of transfer {} with the same method", KeyText(op.key)));
  }
  const ShardTransfer restarted{op.key, found->second.sync, op.method};
  AbortOne(apply, op.key);
  if (auto why = ValidateStart(apply.next, restarted)) {
    apply.outcome.rejection = fmt::format("restart: start rejected after the abort: {}", *why);
    return std::move(apply.outcome);
  }
  StartOne(apply, restarted);
  SS_ASSERT(apply.next.transfers.at(op.key).sync == restarted.sync);
  return std::move(apply.outcome);
}

ApplyOutcome ApplyRecoveryToPartial(Apply& apply, const RecoveryToPartial& op) {
  if (auto why = MissingTransfer(apply.next, op.key, op.id)) return Reject(std::move(*why));
  const std::optional<ReplicaState> target = apply.next.StateOf(op.key.shard, op.key.to);
  if (!target) return Reject(fmt::format("replica {}:{} does not exist", op.key.to, op.key.shard));
  if (target != ReplicaState::kRecovery && target != ReplicaState::kPartialSnapshot) {
    return Reject(fmt::format("replica {}:{} is {}, expected Recovery or PartialSnapshot",
                              op.key.to, op.key.shard, ReplicaStateName(*target)));
  }
  apply.SetReplica(op.key.shard, op.key.to, ReplicaState::kPartial);
  SS_ASSERT(apply.next.transfers.contains(op.key), "RecoveryToPartial keeps the transfer {}", KeyText(op.key));
  return std::move(apply.outcome);
}

ApplyOutcome ApplyFinish(Apply& apply, const FinishTransfer& op) {
  if (auto why = MissingTransfer(apply.next, op.key, op.id)) return Reject(std::move(*why));
  const auto found = apply.next.transfers.find(op.key);
  const ShardTransfer transfer = found->second;
  apply.next.transfers.erase(found);
  if (apply.next.StateOf(op.key.shard, op.key.to)) {
    apply.SetReplica(op.key.shard, op.key.to, ReplicaState::kActive);
    // A move hands the shard over: the source goes once the target is Active.
    if (!transfer.sync) apply.SetReplica(op.key.shard, op.key.from, std::nullopt);
    SS_ASSERT(apply.next.StateOf(op.key.shard, op.key.to) == ReplicaState::kActive);
  }
  SS_ASSERT(!apply.next.transfers.contains(op.key));
  apply.outcome.transfers_finished.push_back(transfer);
  return std::move(apply.outcome);
}

ApplyOutcome ApplyAbort(Apply& apply, const AbortTransfer& op) {
  if (auto why = MissingTransfer(apply.next, op.key, op.id)) return Reject(std::move(*why));
  AbortOne(apply, op.key);
  SS_ASSERT(!apply.next.transfers.contains(op.key));
  return std::move(apply.outcome);
}

// Qdrant's collection params hold both factors as NonZeroU32 and only warn
// when write_consistency_factor exceeds replication_factor, so that is allowed.
ApplyOutcome ApplySetReplicationFactor(Apply& apply, const SetReplicationFactor& op) {
  if (op.replication_factor == 0) return Reject("replication_factor must be at least 1");
  if (op.write_consistency_factor == 0) return Reject("write_consistency_factor must be at least 1");
  apply.next.params = {op.replication_factor, op.write_consistency_factor};
  return std::move(apply.outcome);
}

// Which shard (if any) had an Active replica before and has none after.
std::optional<ShardId> ShardThatLostItsLastActive(const CollectionState& before, const CollectionState& after) {
  for (const auto& [shard, replicas] : before.shards) {
    bool had_active = false;
    for (const auto& [peer, state] : replicas) had_active = had_active || IsActive(state);
    if (!had_active) continue;
    bool has_active = false;
    const auto found = after.shards.find(shard);
    if (found != after.shards.end()) {
      for (const auto& [peer, state] : found->second) has_active = has_active || IsActive(state);
    }
    if (!has_active) return shard;
  }
  return std::nullopt;
}

// Qdrant's API refuses to remove a peer that still holds shards unless forced;
// a forced removal of the last replica loses the shard. This log has no force:
// removing a peer that is the last source of truth of a shard is rejected, and
// so is a removal whose transfer aborts would leave a shard with no active
// replica (a target made Active during its transfer, see AbortOne).
ApplyOutcome ApplyRemovePeer(Apply& apply, const RemovePeer& op, const CollectionState& before) {
  CollectionState& next = apply.next;
  if (!next.peers.contains(op.peer)) return Reject(fmt::format("peer {} is not in the cluster", op.peer));
  for (const auto& [shard, replicas] : next.shards) {
    if (next.IsLastSourceOfTruth(shard, op.peer)) {
      return Reject(fmt::format("peer {} holds the last active replica of shard {}", op.peer, shard));
    }
  }
  for (const auto& [shard, replicas] : next.shards) {
    for (const TransferKey& key : next.RelatedTransfers(shard, op.peer)) AbortOne(apply, key);
  }
  for (const auto& [shard, replicas] : before.shards) apply.SetReplica(shard, op.peer, std::nullopt);
  next.peers.erase(op.peer);
  for (const auto& [shard, replicas] : next.shards) {
    SS_ASSERT(!replicas.contains(op.peer) && next.RelatedTransfers(shard, op.peer).empty(),
              "peer {} still in shard {} after its removal", op.peer, shard);
  }
  if (const auto shard = ShardThatLostItsLastActive(before, next)) {
    return Reject(fmt::format("removing peer {} would leave shard {} with no active replica", op.peer, *shard));
  }
  return std::move(apply.outcome);
}

}  // namespace

ApplyOutcome ApplyMetaOp(CollectionState& state, const MetaOp& op) {
  Apply apply{state, {}};
  apply.outcome.applied = true;
  ApplyOutcome outcome = std::visit(
      [&apply, &state](const auto& typed) -> ApplyOutcome {
        using T = std::decay_t<decltype(typed)>;
        if constexpr (std::is_same_v<T, CreateCollection>) return ApplyCreate(apply, typed);
        if constexpr (std::is_same_v<T, SetReplicaState>) return ApplySetReplicaState(apply, typed);
        if constexpr (std::is_same_v<T, StartTransfer>) return ApplyStart(apply, typed);
        if constexpr (std::is_same_v<T, RestartTransfer>) return ApplyRestart(apply, typed);
        if constexpr (std::is_same_v<T, FinishTransfer>) return ApplyFinish(apply, typed);
        if constexpr (std::is_same_v<T, RecoveryToPartial>) return ApplyRecoveryToPartial(apply, typed);
        if constexpr (std::is_same_v<T, AbortTransfer>) return ApplyAbort(apply, typed);
        if constexpr (std::is_same_v<T, SetReplicationFactor>) return ApplySetReplicationFactor(apply, typed);
        if constexpr (std::is_same_v<T, RemovePeer>) return ApplyRemovePeer(apply, typed, state);
      },
      op);
  if (!outcome.applied) {
    SS_ASSERT(!outcome.rejection.empty());
    SS_ASSERT(outcome.state_changes.empty() && outcome.transfers_started.empty());
    return outcome;
  }
  // No accepted op takes the last source of truth away (BRIEF-cluster §9.2).
  const std::optional<ShardId> emptied = ShardThatLostItsLastActive(state, apply.next);
  SS_ASSERT(!emptied, "{} left shard {} with no active replica", DescribeMetaOp(op), *emptied);
  // Apply preserves consistency; it cannot restore it in a state that lacked
  // it (one built by hand: CollectionStateFromJson refuses such a state).
  SS_ASSERT(!state.CheckConsistency().ok() || apply.next.CheckConsistency().ok(),
            "{} broke the collection state: {}", DescribeMetaOp(op),
            std::string(apply.next.CheckConsistency().message()));
  state = std::move(apply.next);
  return outcome;
}

}  // namespace engine
