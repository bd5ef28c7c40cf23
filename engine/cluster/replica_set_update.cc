// The coordinator's write path (Qdrant's update_with_consistency /
// update_impl, BRIEF-cluster §2).
#include <fmt/format.h>

#include "engine/cluster/replica_set.h"
#include "engine/cluster/replica_set_slot.h"
#include "engine/common/assert.h"
#include "engine/common/coverage.h"

namespace engine {

namespace {
constexpr int kMaxClockRejectedRetries = 3;  // UPDATE_MAX_CLOCK_REJECTED_RETRIES
}  // namespace

std::optional<PeerId> ShardReplicaSet::LeaderFor(WriteOrdering ordering) {
  if (ordering == WriteOrdering::kWeak) return options_.this_peer;
  MutexLock lock(*state_mutex_);
  std::optional<PeerId> leader;
  for (const auto& [peer, state] : state_.peers) {
    if (ordering == WriteOrdering::kMedium && (!CanBeSourceOfTruth(state) || disabled_.contains(peer))) continue;
    leader = peer;  // std::map: the last one is the highest id
  }
  return leader;
}

absl::StatusOr<WriteAck> ShardReplicaSet::UpdateWithConsistency(const Operation& operation, bool wait,
                                                                WriteOrdering ordering) {
  const std::optional<PeerId> leader = LeaderFor(ordering);
  if (!leader.has_value()) return absl::UnavailableError("no replica can lead this write");
  if (*leader != options_.this_peer) return ForwardToLeader(*leader, operation, wait, ordering);
  if (ordering == WriteOrdering::kWeak) return Coordinate(operation, wait);
  MutexLock ordered(*write_ordering_mutex_);
  return Coordinate(operation, wait);
}

absl::StatusOr<WriteAck> ShardReplicaSet::ForwardToLeader(PeerId leader, const Operation& operation, bool wait,
                                                         WriteOrdering ordering) {
  UpdateRequest request{.shard = options_.shard, .record = {operation, std::nullopt}, .wait = wait,
                        .ordering = ordering};
  absl::StatusOr<RpcResponse> response = CallPeer(leader, std::move(request));
  if (!response.ok()) {
    // Qdrant locally disables a leader it cannot reach and fails the write.
    if (IsTransient(response.status())) AddLocallyDisabled(leader);
    return response.status();
  }
  const auto* update = std::get_if<UpdateResponse>(&*response);
  if (update == nullptr || !update->clock_tag.has_value()) {
    return absl::InternalError("leader answered a forwarded write without its clock tag");
  }
  return WriteAck{.clock_tag = *update->clock_tag, .successes = 1, .required = 1,
                  .completed = update->status == RemoteUpdateStatus::kCompleted};
}

absl::StatusOr<WriteAck> ShardReplicaSet::Coordinate(const Operation& operation, bool wait) {
  const int64_t started_ns = env_.NowNanos();
  std::optional<ClockSet::Guard> clock = clocks_.Acquire(options_.rpc_timeout_ns);
  if (!clock.has_value()) return absl::UnavailableError("every clock of this peer is busy");
  absl::StatusOr<WriteAck> ack = CoordinateWithClock(operation, wait, *clock, started_ns);
  clock->Release();
  return ack;
}

absl::StatusOr<WriteAck> ShardReplicaSet::CoordinateWithClock(const Operation& operation, bool wait,
                                                              ClockSet::Guard& clock, int64_t started_ns) {
  for (int attempt = 0; attempt < kMaxClockRejectedRetries; ++attempt) {
    const ClockTag tag{.peer_id = options_.this_peer, .clock_id = clock.clock_id(),
                       .tick = clock.TickOnce(), .token = NextToken()};
    const WalRecord record{operation, tag};
    Attempt result = FanOut(record, wait);
    if (result.no_targets) return absl::UnavailableError("no active replica to write to");
    clock.AdvanceTo(result.max_echoed_tick);
    if (result.successes < result.minimal) {
      // No rollback: the write may stay on the replicas that took it.
      if (!result.failures.empty()) return result.failures.front().status;
      return absl::UnavailableError(fmt::format("{} of the {} required replicas could be written (the others "
                                                "are not updatable)",
                                                result.successes, result.minimal));
    }
    if (absl::Status handled = HandleFailures(result, 0, wait, started_ns); !handled.ok()) return handled;
    if (result.successes < result.minimal) return ErasedError(result);
    // Replicas made updatable while the write waited for deactivations get it
    // too, and their failures are handled the same way (cluster seed 22713: a
    // replica skipped as Dead was healed, from one without the write, during
    // the wait).
    const size_t failures_before = result.failures.size();
    WriteRounds(record, wait, /*first_round=*/1, result);
    if (result.failures.size() > failures_before) {
      if (absl::Status handled = HandleFailures(result, failures_before, wait, started_ns); !handled.ok()) {
        return handled;
      }
      if (result.successes < result.minimal) return ErasedError(result);
    }
    // Judged on the states now, after any deactivation wait, as Qdrant does:
    // a coordinator whose own replica was made Dead while it waited on its
    // remotes must not ack a write only that replica took (cluster seed
    // 82469: a partitioned peer acked it, and a transfer later erased it).
    if (!AnySourceOfTruth(result.succeeded)) {
      return absl::UnavailableError("no replica that can be a source of truth accepted the write");
    }
    if (result.clock_rejected) {
      SS_COVER(kClusterClockRetry);
      continue;
    }
    SS_ASSERT(result.successes >= result.minimal && result.minimal >= 1, "ack with {} of {} successes",
              result.successes, result.minimal);
    return WriteAck{.clock_tag = tag, .successes = result.successes, .required = result.minimal,
                    .completed = result.any_completed};
  }
  return absl::AbortedError("write rejected by clocks three times");
}

ShardReplicaSet::Attempt ShardReplicaSet::FanOut(const WalRecord& record, bool wait) {
  Attempt attempt;
  WriteRounds(record, wait, /*first_round=*/0, attempt);
  attempt.no_targets = attempt.written.empty();
  return attempt;
}

void ShardReplicaSet::WriteRounds(const WalRecord& record, bool wait, int first_round, Attempt& attempt) {
  std::set<PeerId>& written = attempt.written;
  // Round 0 is the write's fan-out. Later rounds reach replicas that became
  // updatable while it ran (a deviation from Qdrant, docs/cluster.md "Late
  // replicas"): one skipped as Dead may meanwhile have been made Partial by a
  // transfer, or even Active, from a source that this write reached only after
  // the transfer's forward proxy was gone (cluster seed 4397).
  for (int round = first_round; round < kFanOutRounds; ++round) {
    std::map<PeerId, ReplicaState> peers;
    std::set<PeerId> disabled;
    uint32_t write_consistency_factor = 1;
    {
      MutexLock lock(*state_mutex_);
      peers = state_.peers;
      for (const auto& [peer, unused] : disabled_) disabled.insert(peer);
      write_consistency_factor = params_.write_consistency_factor;
    }
    const bool local_present = local_kind() != LocalKind::kNone;
    if (round == 0) {
      attempt.replica_count = (local_present ? 1 : 0) + static_cast<uint32_t>(peers.size()) -
                              (peers.contains(options_.this_peer) ? 1 : 0);
      attempt.minimal = std::min(write_consistency_factor, attempt.replica_count);
    }
    // The local replica first, as Qdrant submits the local update under the
    // local read guard before awaiting any remote: a transfer that proxifies
    // this replica after the write started then finds the write applied here,
    // and its batches carry it to a target this write skipped (cluster seed
    // 12591 lost a delete when the local apply came after the remotes' 2 s
    // timeout and a whole transfer from this replica).
    std::vector<std::pair<PeerId, ReplicaState>> order;
    if (const auto self = peers.find(options_.this_peer); self != peers.end()) order.push_back(*self);
    for (const auto& entry : peers) {
      if (entry.first != options_.this_peer) order.push_back(entry);
    }
    bool wrote_more = false;
    for (const auto& [peer, state] : order) {
      if (written.contains(peer)) continue;
      if (round == 0 && disabled.contains(peer) && CanBeSourceOfTruth(state)) {
        attempt.skipped_disabled.push_back(peer);
      }
      if (!IsUpdatable(state) || disabled.contains(peer)) continue;
      if (peer == options_.this_peer && !local_present) continue;
      if (round > 0) SS_COVER(kClusterLateReplicaWritten);
      written.insert(peer);
      wrote_more = true;
      WriteReplica(peer, record, wait, attempt);
    }
    if (!wrote_more) break;
  }
}

void ShardReplicaSet::WriteReplica(PeerId peer, const WalRecord& record, bool wait,
                                   Attempt& attempt) {
  absl::StatusOr<UpdateResponse> response = absl::UnknownError("unset");
  if (peer == options_.this_peer) {
    absl::StatusOr<UpdateResult> local = ApplyThroughSlot(record, wait);
    response = local.ok() ? absl::StatusOr<UpdateResponse>(ToResponse(*local)) : local.status();
  } else {
    response = CallPeerFor<UpdateResponse>(
        peer, UpdateRequest{.shard = options_.shard, .record = record, .wait = wait}, "update");
  }
  if (!response.ok()) {
    attempt.failures.push_back({peer, response.status()});
    return;
  }
  attempt.successes += 1;
  attempt.succeeded.push_back(peer);
  if (response->status == RemoteUpdateStatus::kCompleted) attempt.any_completed = true;
  if (response->status == RemoteUpdateStatus::kClockRejected) attempt.clock_rejected = true;
  if (response->clock_tag.has_value()) {
    attempt.max_echoed_tick = std::max(attempt.max_echoed_tick, response->clock_tag->tick);
  }
}

bool ShardReplicaSet::AnySourceOfTruth(const std::vector<PeerId>& peers) {
  MutexLock lock(*state_mutex_);
  return std::any_of(peers.begin(), peers.end(), [this](PeerId peer) {
    const std::optional<ReplicaState> state = state_.Get(peer);
    return state.has_value() && CanBeSourceOfTruth(*state);
  });
}

std::vector<PeerId> ShardReplicaSet::TransferTargetsFrom(PeerId source, int64_t since_ns) {
  MutexLock lock(*state_mutex_);
  std::vector<PeerId> targets;
  for (const auto& [key, transfer] : transfers_) {
    if (key.from == source) targets.push_back(key.to);
  }
  for (const FinishedTransfer& finished : recent_finished_) {
    if (finished.key.from == source && finished.applied_ns >= since_ns) targets.push_back(finished.key.to);
  }
  return targets;
}

absl::Status ShardReplicaSet::ErasedError(const Attempt& attempt) {
  SS_ASSERT(attempt.successes < attempt.minimal);
  return absl::UnavailableError(fmt::format("{} of the {} required replicas kept the write (transfers from replicas "
                                            "that missed it may have erased it from the others)",
                                            attempt.successes, attempt.minimal));
}

absl::Status ShardReplicaSet::HandleFailures(Attempt& attempt, size_t first_failure, bool wait,
                                             int64_t write_started_ns) {
  SS_ASSERT(first_failure <= attempt.failures.size());
  std::vector<PeerId> wait_for;
  // Deviation from Qdrant (docs/cluster.md): a replica that failed this write
  // may have been the source of a transfer meanwhile, whose batches erased
  // the write from a target that had taken it (SyncPoints deletes what the
  // source lacks). Such targets count as failed, and no longer as successes;
  // so do the targets of transfers from them, and so on (cluster seed 7364:
  // 3 missed it, 3 -> 2 and then 2 -> 1 erased it from 2 and 1). Scenario
  // cluster-transfer-from-a-replica-that-missed-a-write.
  std::vector<Attempt::Failure> failures(attempt.failures.begin() + static_cast<ptrdiff_t>(first_failure),
                                         attempt.failures.end());
  for (size_t index = 0; index < failures.size(); ++index) {
    SS_ASSERT(index < attempt.failures.size() - first_failure + 64, "failure closure of {} entries ran away",
              failures.size());
    const Attempt::Failure failure = failures[index];  // (push_back below may move it)
    if (!IsTransient(failure.status) && !attempt.any_completed) continue;
    for (PeerId target : TransferTargetsFrom(failure.peer, write_started_ns)) {
      const bool listed = std::any_of(failures.begin(), failures.end(),
                                      [&](const Attempt::Failure& known) { return known.peer == target; });
      // The coordinator itself may be the target: then it reports itself.
      if (listed) continue;
      failures.push_back({target, absl::UnavailableError("target of a transfer from a replica without the write")});
      const auto taken = std::find(attempt.succeeded.begin(), attempt.succeeded.end(), target);
      if (taken == attempt.succeeded.end()) continue;
      SS_COVER(kClusterWriteErasedByTransfer);
      attempt.succeeded.erase(taken);
      SS_ASSERT(attempt.successes > 0);
      attempt.successes -= 1;
    }
  }
  // As in Qdrant (update.rs): a transient or Initializing failure decides
  // whether to wait, and the wait then covers every handled failure, also
  // those not disabled here (Dead then, Active again by the time of the
  // wait: cluster seed 4400163997).
  std::vector<PeerId> handled;
  bool must_wait = false;
  for (const Attempt::Failure& failure : failures) {
    const bool transient = IsTransient(failure.status);
    // With no completed success (all wait=false acks) only transient
    // failures are handled, as in Qdrant.
    if (!attempt.any_completed && !transient) continue;
    handled.push_back(failure.peer);
    std::optional<ReplicaState> state;
    {
      MutexLock lock(*state_mutex_);
      state = state_.Get(failure.peer);
    }
    if (!state.has_value() || *state == ReplicaState::kDead || *state == ReplicaState::kListener ||
        *state == ReplicaState::kManualRecovery) {
      continue;
    }
    // A partial/recovery-like peer refusing with a precondition is still
    // catching up (Qdrant PR #5991): not a failure.
    if (IsPartialOrRecovery(*state) && absl::IsFailedPrecondition(failure.status)) continue;
    AddLocallyDisabled(failure.peer);
    if (transient || *state == ReplicaState::kInitializing) must_wait = true;
  }
  if (must_wait) wait_for = std::move(handled);
  // Deviation from Qdrant (docs/cluster.md): a replica skipped because it
  // was disabled by an earlier write also lacks this one; while consensus
  // still counts it as a source of truth, a wait=true ack waits for it to be
  // deactivated too. Else the replica holding the write could be marked
  // Dead first (by a coordinator whose forward to it timed out) and healed
  // from the one that lacks it, losing an acknowledged write (scenario
  // cluster-ack-lost-to-a-skipped-replica).
  if (first_failure == 0) {
    wait_for.insert(wait_for.end(), attempt.skipped_disabled.begin(), attempt.skipped_disabled.end());
  }
  if (!wait || wait_for.empty()) return absl::OkStatus();
  return WaitDeactivated(wait_for);
}

void ShardReplicaSet::AddLocallyDisabled(PeerId peer) {
  std::optional<SetReplicaState> report;
  {
    MutexLock lock(*state_mutex_);
    const std::optional<ReplicaState> state = state_.Get(peer);
    // Never disable the last active replica in this peer's view.
    bool other_active = false;
    for (const auto& [other, other_state] : state_.peers) {
      if (other != peer && IsActive(other_state) && !disabled_.contains(other)) other_active = true;
    }
    if (!other_active) return;
    if (disabled_.contains(peer)) return;  // re-reports go through DueFailureReports
    DisabledPeer entry;
    if (state.has_value() && !IsPartialOrRecovery(*state)) entry.from_state = state;
    entry.next_report_ns = env_.NowNanos() + entry.backoff_ns;
    disabled_.emplace(peer, entry);
    counters_.failures_reported += 1;
    report = SetReplicaState{.shard = options_.shard, .peer = peer, .state = ReplicaState::kDead,
                             .from_state = entry.from_state};
  }
  SS_COVER(kClusterPeerDisabled);
  log_.Propose(*report);
}

absl::Status ShardReplicaSet::WaitDeactivated(const std::vector<PeerId>& peers) {
  const int64_t deadline_ns = env_.NowNanos() + options_.deactivation_timeout_ns;
  MutexLock lock(*state_mutex_);
  for (int waits = 0; waits < 1'000'000; ++waits) {
    bool all_deactivated = true;
    for (PeerId peer : peers) {
      const std::optional<ReplicaState> state = state_.Get(peer);
      if (state.has_value() && CanBeSourceOfTruth(*state)) all_deactivated = false;
    }
    if (all_deactivated) return absl::OkStatus();
    const int64_t left_ns = deadline_ns - env_.NowNanos();
    if (left_ns <= 0 || shut_down_) break;
    state_changed_->WaitFor(left_ns);
  }
  SS_COVER(kClusterDeactivationTimeout);
  return absl::DeadlineExceededError("Consistency of this update is not guaranteed");
}

absl::StatusOr<RpcResponse> ShardReplicaSet::CallPeer(PeerId to, RpcRequest request) {
  SS_ASSERT(to != options_.this_peer, "a peer calls itself");
  return network_.Call(options_.this_peer, to, std::move(request), options_.rpc_timeout_ns);
}

}  // namespace engine
