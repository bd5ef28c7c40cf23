// The cluster checker (docs/cluster.md, "Invariants"): what a correct
// replica set may do, judged from the history and the converged cluster.
#include <fmt/format.h>

#include "engine/common/assert.h"
#include "properties/cluster/cluster_world_run.h"

namespace properties {

engine::Point PointOfValue(engine::PointId id, uint64_t value, uint32_t dimension) {
  engine::Point point{.id = id, .vector = engine::Vector(dimension, 0.0f)};
  point.vector[0] = static_cast<float>(value % 1000) + 1.0f;
  point.payload = nlohmann::json{{"value", value}};
  return point;
}

std::optional<uint64_t> ValueOfPoint(const engine::Point& point) {
  if (!point.payload.is_object() || !point.payload.contains("value") || !point.payload["value"].is_number_unsigned()) {
    return std::nullopt;
  }
  return point.payload["value"].get<uint64_t>();
}

void ClusterRun::Fail(std::string invariant, std::string message) {
  if (failure_) return;  // the first failure is the run's
  failure_ = ClusterFailure{std::move(invariant), std::move(message)};
  if (config_.verbose || options_.verbose) {
    std::printf("FAIL %s: %s\n", failure_->invariant.c_str(), failure_->message.c_str());
  }
}

void ClusterRun::OnReadServed(engine::PeerId peer, engine::ShardId, std::optional<engine::ReplicaState> state,
                              engine::LocalKind kind) {
  history_.served.push_back({peer, state, kind, world_->scheduler().now_ns()});
}

namespace {
std::string StateName(std::optional<engine::ReplicaState> state) {
  return state ? std::string(engine::ReplicaStateName(*state)) : "None";
}
// The states that may serve a client read (BRIEF-cluster §1, column R),
// stated here rather than asked of engine::IsReadable: with the engine's
// table as the judge, a wrong row there would make the engine and its
// checker agree (planted bug 41, tools/bugs/).
bool MayServeReads(engine::ReplicaState state) {
  return state == engine::ReplicaState::kActive || state == engine::ReplicaState::kReshardingScaleDown ||
         state == engine::ReplicaState::kActiveRead;
}
// Column A of the same table, for the same reason.
bool CountsAsActive(engine::ReplicaState state) {
  return state == engine::ReplicaState::kActive || state == engine::ReplicaState::kReshardingScaleDown;
}
size_t ActiveCount(const engine::CollectionState& state) {
  const auto shard = state.shards.find(0);
  if (shard == state.shards.end()) return 0;
  return std::count_if(shard->second.begin(), shard->second.end(),
                       [](const auto& entry) { return CountsAsActive(entry.second); });
}
}  // namespace

// The log's reducer: applies each committed entry to the leader's state and
// judges the transition (no empty truth, activation only after catch-up).
void ClusterRun::OnCommitted(engine::CollectionState& state, const engine::MetaOp& op) {
  const size_t active_before = ActiveCount(state);
  const engine::ApplyOutcome outcome = engine::ApplyMetaOp(state, op);
  stats_.entries_committed += 1;
  if (options_.verbose) {
    std::printf("[%8.3f s] log #%llu %s%s\n", world_->scheduler().now_ns() / 1e9,
                (unsigned long long)stats_.entries_committed, engine::DescribeMetaOp(op).c_str(),
                outcome.applied ? "" : (" (rejected: " + outcome.rejection + ")").c_str());
  }
  if (!outcome.applied) return;
  if (active_before > 0 && ActiveCount(state) == 0) {
    Fail("no-empty-truth", fmt::format("{} left shard 0 with no Active replica", engine::DescribeMetaOp(op)));
  }
  for (const engine::ApplyOutcome::StateChange& change : outcome.state_changes) {
    stats_.transitions[fmt::format("{}->{}", StateName(change.before), StateName(change.after))] += 1;
    if (change.after != engine::ReplicaState::kActive || change.before == engine::ReplicaState::kActive) continue;
    const auto* set = std::get_if<engine::SetReplicaState>(&op);
    const bool finish = std::holds_alternative<engine::FinishTransfer>(op);
    const bool initialized = set != nullptr && set->from_state == engine::ReplicaState::kInitializing;
    if (!finish && !initialized) {
      Fail("activation-after-catch-up", fmt::format("peer {} became Active from {} by {}, not by a finished "
                                                    "transfer or initialization",
                                                    change.peer, StateName(change.before), engine::DescribeMetaOp(op)));
    }
    if (finish) stats_.replicas_healed += 1;
  }
  for (const engine::ShardTransfer& started : outcome.transfers_started) {
    (started.method == engine::TransferMethod::kWalDelta ? stats_.transfers_started_wal_delta
                                                         : stats_.transfers_started_stream_records) += 1;
  }
  const auto wal_delta = [](const engine::ShardTransfer& transfer) {
    return transfer.method == engine::TransferMethod::kWalDelta;
  };
  for (const engine::ShardTransfer& finished : outcome.transfers_finished) {
    stats_.transfers_finished += 1;
    (wal_delta(finished) ? stats_.transfers_finished_wal_delta : stats_.transfers_finished_stream_records) += 1;
  }
  if (std::holds_alternative<engine::RestartTransfer>(op)) {
    stats_.transfers_restarted += 1;
    return;
  }
  for (const engine::ShardTransfer& aborted : outcome.transfers_aborted) {
    stats_.transfers_aborted += 1;
    (wal_delta(aborted) ? stats_.transfers_aborted_wal_delta : stats_.transfers_aborted_stream_records) += 1;
  }
}

void ClusterRun::CollectStats() {
  stats_.peers = config_.peers;
  const sim::NetworkStats& network = network_->stats();
  stats_.messages_sent = network.sent;
  stats_.messages_lost = network.lost;
  stats_.messages_duplicated = network.duplicated;
  stats_.messages_partitioned = network.dropped_by_partition;
  stats_.proposals_lost = log_->stats().lost;
  stats_.states_installed = log_->stats().installs;
}

void ClusterRun::CheckEnd() {
  CheckReads();
  CheckWriteConsistency();
  CheckStateAgreement();
  CheckFinalReplicas();
}

void ClusterRun::CheckReads() {
  for (const ServedRead& served : history_.served) {
    if (!served.state.has_value() || !MayServeReads(*served.state) || served.kind == engine::LocalKind::kDummy) {
      Fail("read-safety", fmt::format("peer {} served a read at {} ms while its replica was {} ({})", served.peer,
                                      served.time_ns / 1'000'000, StateName(served.state),
                                      engine::LocalKindName(served.kind)));
      return;
    }
  }
  std::map<engine::PointId, std::set<uint64_t>> written;
  for (const ClusterWrite& write : history_.writes) {
    if (write.value) written[write.id].insert(*write.value);
  }
  for (const ClusterRead& read : history_.reads) {
    for (const engine::Point& point : read.points) {
      const std::optional<uint64_t> value = ValueOfPoint(point);
      if (!value || !written[point.id].contains(*value)) {
        Fail("no-invented-data", fmt::format("a read via peer {} returned point {} with a value no client wrote: {}",
                                             read.entry, point.id, point.payload.dump()));
        return;
      }
    }
  }
}

void ClusterRun::CheckWriteConsistency() {
  for (const ClusterWrite& write : history_.writes) {
    if (!write.acked || !write.ack) continue;
    const uint32_t required = std::min(write.write_consistency_factor, write.replicas_at_invoke);
    uint32_t holders = 0;
    const auto appends = history_.appends.find(KeyOf(write.ack->clock_tag));
    if (appends != history_.appends.end()) {
      for (const auto& [peer, time_ns] : appends->second) {
        if (time_ns <= write.complete_ns) holders += 1;
      }
    }
    if (holders < required) {
      Fail("write-consistency",
           fmt::format("client {}'s write of point {} was acknowledged with its tag in {} WALs; the write "
                       "consistency factor asks for {}",
                       write.actor, write.id, holders, required));
      return;
    }
  }
}

void ClusterRun::CheckStateAgreement() {
  // A copy, as in CheckFinalReplicas: the checks below take locks.
  const engine::CollectionState leader = log_->leader_state();
  for (const auto& [peer, node] : nodes_) {
    if (node->applied_state() != leader || node->applied_index() != log_->committed_index()) {
      Fail("state-agreement", fmt::format("peer {} applied index {} and a state unlike the log's (index {})", peer,
                                          node->applied_index(), log_->committed_index()));
      return;
    }
    engine::ShardReplicaSet* replica_set = node->replica_set(0);
    const engine::LocalKind kind = replica_set->local_kind();
    const bool replica = leader.StateOf(0, peer).has_value();
    if (kind != (replica ? engine::LocalKind::kLocal : engine::LocalKind::kNone)) {
      Fail("no-proxy-left", fmt::format("peer {}'s local slot is {} after every transfer ended", peer,
                                        engine::LocalKindName(kind)));
      return;
    }
    engine::LocalShard* shard = replica_set->local_shard_for_checks();
    if (shard != nullptr && !shard->OldestClocks().NotAheadOf(shard->NewestClocks())) {
      Fail("recovery-point-honesty", fmt::format("peer {}'s oldest clocks are ahead of its newest", peer));
      return;
    }
  }
}

}  // namespace properties
