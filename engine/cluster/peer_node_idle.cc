// PeerNode's request handling, client calls and idle hook (Qdrant's
// sync_local_state).
#include <fmt/format.h>

#include "engine/cluster/peer_node.h"
#include "engine/common/assert.h"
#include "engine/common/coverage.h"

namespace engine {

ShardReplicaSet* PeerNode::replica_set(ShardId shard) {
  const auto it = replica_sets_.find(shard);
  return it == replica_sets_.end() ? nullptr : it->second.get();
}

CollectionState PeerNode::applied_state() {
  MutexLock lock(*mutex_);
  return applied_;
}

bool PeerNode::Ready() {
  // The log's cursor, not applied_index(): no lock, so no scheduling point
  // on the client path.
  if (!ready_.load() && log_.applied_index() >= ready_index_.load()) ready_.store(true);
  return ready_.load();
}

uint64_t PeerNode::applied_index() {
  MutexLock lock(*mutex_);
  return applied_index_;
}

PeerNodeCounters PeerNode::counters() {
  MutexLock lock(*mutex_);
  return counters_;
}

absl::StatusOr<WriteAck> PeerNode::Update(ShardId shard, const Operation& operation, bool wait,
                                          WriteOrdering ordering) {
  ShardReplicaSet* target = replica_set(shard);
  if (target == nullptr) return absl::NotFoundError(fmt::format("no shard {}", shard));
  return target->UpdateWithConsistency(operation, wait, ordering);
}

absl::StatusOr<ShardReplicaSet::ReadResult> PeerNode::Read(ShardId shard, const std::vector<PointId>& ids,
                                                           uint32_t read_factor) {
  ShardReplicaSet* target = replica_set(shard);
  if (target == nullptr) return absl::NotFoundError(fmt::format("no shard {}", shard));
  return target->Read(ids, read_factor);
}

namespace {
template <typename Request>
ShardId ShardOf(const Request& request) {
  if constexpr (requires { request.shard; }) {
    return request.shard;
  } else {
    return request.key.shard;
  }
}
}  // namespace

absl::StatusOr<RpcResponse> PeerNode::Handle(PeerId from, const RpcRequest& request) {
  const ShardId shard = std::visit([](const auto& typed) { return ShardOf(typed); }, request);
  ShardReplicaSet* target = replica_set(shard);
  if (target == nullptr) return absl::NotFoundError(fmt::format("no shard {}", shard));
  if (const auto* update = std::get_if<UpdateRequest>(&request)) {
    absl::StatusOr<UpdateResponse> response = target->HandleUpdate(from, *update);
    if (!response.ok()) return response.status();
    return RpcResponse{*response};
  }
  if (const auto* read = std::get_if<ReadRequest>(&request)) {
    absl::StatusOr<ReadResponse> response = target->HandleRead(*read);
    if (!response.ok()) return response.status();
    return RpcResponse{std::move(*response)};
  }
  if (const auto* sync = std::get_if<SyncPointsRequest>(&request)) {
    if (absl::Status synced = target->HandleSyncPoints(*sync); !synced.ok()) return synced;
    return RpcResponse{EmptyResponse{}};
  }
  if (const auto* initiate = std::get_if<InitiateTransferRequest>(&request)) {
    if (absl::Status prepared = target->PrepareToReceive(initiate->key); !prepared.ok()) return prepared;
    return RpcResponse{EmptyResponse{}};
  }
  if (std::holds_alternative<RecoveryPointRequest>(request)) {
    absl::StatusOr<ClockMap> point = target->RecoveryPoint();
    if (!point.ok()) return point.status();
    return RpcResponse{RecoveryPointResponse{std::move(*point)}};
  }
  if (const auto* cutoff = std::get_if<UpdateCutoffRequest>(&request)) {
    if (absl::Status updated = target->UpdateCutoff(cutoff->cutoff); !updated.ok()) return updated;
    return RpcResponse{EmptyResponse{}};
  }
  const bool from_client = std::holds_alternative<ClientWriteRequest>(request) ||
                           std::holds_alternative<ClientReadRequest>(request);
  if (from_client && !Ready()) {
    const uint64_t ready_index = ready_index_.load();
    if (ready_index == std::numeric_limits<uint64_t>::max()) {
      return absl::UnavailableError(fmt::format("peer {} is not ready: starting", options_.peer));
    }
    return absl::UnavailableError(fmt::format("peer {} is not ready: applied log #{} of the #{} committed at its start",
                                              options_.peer, log_.applied_index(), ready_index));
  }
  if (const auto* write = std::get_if<ClientWriteRequest>(&request)) {
    absl::StatusOr<WriteAck> ack = target->UpdateWithConsistency(write->operation, write->wait, write->ordering);
    if (!ack.ok()) return ack.status();
    return RpcResponse{ClientWriteResponse{.clock_tag = ack->clock_tag, .successes = ack->successes,
                                           .required = ack->required, .completed = ack->completed}};
  }
  if (const auto* read = std::get_if<ClientReadRequest>(&request)) {
    absl::StatusOr<ShardReplicaSet::ReadResult> result = target->Read(read->ids, read->read_factor);
    if (!result.ok()) return result.status();
    return RpcResponse{ClientReadResponse{.points = std::move(result->points), .served_by = result->served_by}};
  }
  SS_ASSERT(std::holds_alternative<ReplicaStateRequest>(request), "unhandled request {}", RpcRequestName(request));
  return RpcResponse{ReplicaStateResponse{.state = target->LocalState(), .applied_index = applied_index()}};
}

void PeerNode::JoinFinishedDrivers(bool all) {
  std::vector<Driver> finished;
  {
    MutexLock lock(*mutex_);
    for (auto it = drivers_.begin(); it != drivers_.end();) {
      if (all || *it->done) {
        finished.push_back(std::move(*it));
        it = drivers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Driver& driver : finished) driver.task->Join();
}

void PeerNode::IdleLoop() {
  for (uint64_t rounds = 0;; ++rounds) {
    SS_ASSERT(rounds < 100'000'000, "idle loop of peer {} ran away", options_.peer);
    {
      MutexLock lock(*mutex_);
      if (stopping_) return;
      stop_wake_->WaitFor(options_.idle_interval_ns);
      if (stopping_) return;
    }
    JoinFinishedDrivers(/*all=*/false);
    if (log_.Idle()) IdleOnce();
  }
}

void PeerNode::IdleOnce() {
  const CollectionState state = applied_state();
  for (auto& [shard, replica_set] : replica_sets_) {
    for (const SetReplicaState& report : replica_set->DueFailureReports()) log_.Propose(report);
    const std::optional<ReplicaState> local = state.StateOf(shard, options_.peer);
    if (local == ReplicaState::kInitializing) {
      log_.Propose(SetReplicaState{.shard = shard, .peer = options_.peer, .state = ReplicaState::kActive,
                                   .from_state = ReplicaState::kInitializing});
    }
    // An outgoing transfer with no driver (lost with a crash): abort it.
    for (const auto& [key, transfer] : state.transfers) {
      if (key.shard != shard || key.from != options_.peer) continue;
      bool driven = false;
      const TransferKey outgoing = key;  // (clang 14 cannot capture a structured binding in a lambda)
      const uint64_t outgoing_id = transfer.id;
      {
        MutexLock lock(*mutex_);
        driven = std::any_of(drivers_.begin(), drivers_.end(), [&](const Driver& driver) {
          return driver.key == outgoing && driver.transfer_id == outgoing_id && !*driver.done;
        });
      }
      if (!driven) log_.Propose(AbortTransfer{outgoing, "no driver on the sender", outgoing_id});
    }
    if (options_.auto_recovery && local == ReplicaState::kDead) HealDeadReplica(shard, state);
  }
}

void PeerNode::HealDeadReplica(ShardId shard, const CollectionState& state) {
  for (const auto& [key, transfer] : state.transfers) {
    if (key.shard == shard && (key.to == options_.peer || key.from == options_.peer)) return;
  }
  ShardReplicaSet* replica = replica_set(shard);
  const std::map<PeerId, ReplicaState> disabled = replica->locally_disabled();
  const auto peers = state.shards.find(shard);
  if (peers == state.shards.end()) return;
  for (const auto& [peer, replica_state] : peers->second) {
    if (peer == options_.peer || !IsActive(replica_state) || disabled.contains(peer)) continue;
    // One transfer per peer per shard (check_transfer_conflicts_strict).
    const PeerId source = peer;  // (clang 14 cannot capture a structured binding)
    const bool busy = std::any_of(state.transfers.begin(), state.transfers.end(), [&](const auto& entry) {
      return entry.first.shard == shard && (entry.first.from == source || entry.first.to == source);
    });
    if (busy) continue;
    {
      MutexLock lock(*mutex_);
      counters_.recoveries_proposed += 1;
    }
    log_.Propose(StartTransfer{ShardTransfer{.key = {shard, peer, options_.peer}, .sync = true,
                                             .method = options_.default_transfer_method}});
    return;
  }
}

}  // namespace engine
