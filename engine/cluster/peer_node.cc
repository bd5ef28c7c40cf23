#include "engine/cluster/peer_node.h"

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"

namespace engine {

namespace {
constexpr std::string_view kAppliedStatePath = "collection_state.json";
std::string ShardDir(ShardId shard) { return fmt::format("shards/{}", shard); }
}  // namespace

PeerNode::PeerNode(Env& env, PeerNetwork& network, MetadataLog& log, PeerNodeOptions options)
    : env_(env),
      network_(network),
      log_(log),
      options_(std::move(options)),
      mutex_(env.NewMutex("peer_node")),
      stop_wake_(env.NewCondVar(*mutex_, "peer_node.stop")) {
  SS_ASSERT(options_.peer != 0 && options_.shard_count >= 1, "peer {} with {} shards", options_.peer,
            options_.shard_count);
  for (ShardId shard = 0; shard < options_.shard_count; ++shard) {
    ReplicaSetOptions replica{.shard = shard,
                              .this_peer = options_.peer,
                              .dir = ShardDir(shard),
                              .shard_options = options_.shard_options,
                              .rpc_timeout_ns = options_.rpc_timeout_ns,
                              .token_seed = options_.token_seed + shard,
                              .observer = options_.observer};
    replica_sets_.emplace(shard, std::make_unique<ShardReplicaSet>(env, network, log, std::move(replica)));
  }
}

PeerNode::~PeerNode() {
  // Destroyed while a simulated crash unwinds the process: nothing may block.
  if (std::uncaught_exceptions() > 0) return;
  (void)Shutdown();
}

absl::Status PeerNode::Load() {
  if (absl::Status loaded = LoadAppliedState(); !loaded.ok()) return loaded;
  if (absl::Status made = EnsureDurableDir(env_.fs(), "shards"); !made.ok()) return made;
  const CollectionState state = applied_state();
  for (auto& [shard, replica_set] : replica_sets_) {
    if (absl::Status loaded = replica_set->Load(state); !loaded.ok()) return loaded;
  }
  return absl::OkStatus();
}

void PeerNode::StartBackground() {
  ready_index_.store(log_.committed_index());
  const CollectionState state = applied_state();
  // Transfers this peer sends were driven by tasks that died with the last
  // process: abort them (Qdrant's cancel_related_transfers on start).
  for (const auto& [key, transfer] : state.transfers) {
    if (key.from == options_.peer || key.to == options_.peer) {
      log_.Propose(AbortTransfer{key, "peer restarted", transfer.id});
    }
  }
  idle_task_ = env_.Spawn(fmt::format("peer{}.idle", options_.peer), [this] { IdleLoop(); });
}

absl::Status PeerNode::Shutdown() {
  {
    MutexLock lock(*mutex_);
    if (stopping_) return absl::OkStatus();
    stopping_ = true;
    stop_wake_->SignalAll();
  }
  if (idle_task_ != nullptr) idle_task_->Join();
  absl::Status status = absl::OkStatus();
  for (auto& [shard, replica_set] : replica_sets_) {
    absl::Status stopped = replica_set->Shutdown();
    if (status.ok()) status = stopped;
  }
  JoinFinishedDrivers(/*all=*/true);
  return status;
}

absl::Status PeerNode::LoadAppliedState() {
  absl::StatusOr<std::string> body = ReadSealedFile(env_.fs(), kAppliedStatePath);
  if (absl::IsNotFound(body.status())) return absl::OkStatus();
  if (!body.ok()) return body.status();
  const nlohmann::json json = nlohmann::json::parse(*body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || !json.contains("index") || !json["index"].is_number_unsigned() ||
      !json.contains("state")) {
    return absl::DataLossError("collection_state.json is malformed");
  }
  absl::StatusOr<CollectionState> state = CollectionStateFromJson(json["state"]);
  if (!state.ok()) return state.status();
  MutexLock lock(*mutex_);
  applied_ = std::move(*state);
  applied_index_ = json["index"].get<uint64_t>();
  durable_index_loaded_ = applied_index_;
  return absl::OkStatus();
}

absl::Status PeerNode::PersistAppliedState(uint64_t index, const CollectionState& state) {
  const nlohmann::json json = {{"index", index}, {"state", CollectionStateToJson(state)}};
  return WriteSealedFileAtomically(env_.fs(), kAppliedStatePath, json.dump());
}

ApplyOutcome PeerNode::ApplyEntry(uint64_t index, const MetaOp& op) {
  CollectionState state;
  {
    MutexLock lock(*mutex_);
    SS_ASSERT(index == applied_index_ + 1, "peer {} applies entry {} after {}", options_.peer, index, applied_index_);
    state = applied_;
    if (index <= durable_index_loaded_) counters_.entries_reapplied += 1;
  }
  const ApplyOutcome outcome = ApplyMetaOp(state, op);
  // Side effects first, then the applied index: a crash in between
  // re-applies the entry from the older state (idempotent, PR #8917).
  AfterApply(state, outcome);
  const absl::Status persisted = PersistAppliedState(index, state);
  MutexLock lock(*mutex_);
  applied_ = std::move(state);
  applied_index_ = index;
  counters_.entries_applied += 1;
  if (!persisted.ok()) env_.Log(fmt::format("peer {}: applied state not persisted: {}", options_.peer, persisted.ToString()));
  return outcome;
}

void PeerNode::InstallState(uint64_t index, const CollectionState& state) {
  SS_COVER(kClusterStateInstalled);
  CollectionState before = applied_state();
  // The difference, as if the skipped entries had been applied at once.
  ApplyOutcome outcome;
  outcome.applied = true;
  for (const auto& [shard, peers] : state.shards) {
    for (const auto& [peer, replica] : peers) {
      const std::optional<ReplicaState> old = before.StateOf(shard, peer);
      if (old != replica) outcome.state_changes.push_back({shard, peer, old, replica});
    }
  }
  for (const auto& [shard, peers] : before.shards) {
    for (const auto& [peer, replica] : peers) {
      if (!state.StateOf(shard, peer).has_value()) outcome.state_changes.push_back({shard, peer, replica, std::nullopt});
    }
  }
  // A registration gone or replaced (another id under the same key) ended.
  for (const auto& [key, transfer] : before.transfers) {
    const auto now = state.transfers.find(key);
    if (now == state.transfers.end() || now->second.id != transfer.id) outcome.transfers_aborted.push_back(transfer);
  }
  AfterApply(state, outcome);
  // A sender that learns of a transfer only from an installed state never
  // drove it: abort it (Qdrant's apply_state).
  for (const auto& [key, transfer] : state.transfers) {
    const auto was = before.transfers.find(key);
    const bool known = was != before.transfers.end() && was->second.id == transfer.id;
    if (!known && key.from == options_.peer) log_.Propose(AbortTransfer{key, "installed", transfer.id});
  }
  const absl::Status persisted = PersistAppliedState(index, state);
  MutexLock lock(*mutex_);
  applied_ = state;
  applied_index_ = index;
  counters_.states_installed += 1;
  if (!persisted.ok()) env_.Log(fmt::format("peer {}: installed state not persisted: {}", options_.peer, persisted.ToString()));
}

void PeerNode::AfterApply(const CollectionState& state, const ApplyOutcome& outcome) {
  for (auto& [shard, replica_set] : replica_sets_) {
    const absl::Status applied = replica_set->OnApplied(state, outcome);
    if (!applied.ok()) env_.Log(fmt::format("peer {} shard {}: apply side effects failed: {}", options_.peer, shard,
                                            applied.ToString()));
  }
  for (const ShardTransfer& started : outcome.transfers_started) {
    if (started.key.from == options_.peer) SpawnDriver(started);
  }
}

uint64_t PeerNode::DurableAppliedIndex() {
  MutexLock lock(*mutex_);
  return applied_index_;
}

void PeerNode::SpawnDriver(const ShardTransfer& transfer) {
  ShardReplicaSet* replica_set = this->replica_set(transfer.key.shard);
  if (replica_set == nullptr) return;
  auto done = std::make_shared<bool>(false);
  MutexLock lock(*mutex_);
  if (stopping_) return;
  counters_.transfers_driven += 1;
  std::unique_ptr<Task> task = env_.Spawn(
      fmt::format("peer{}.transfer.{}->{}", options_.peer, transfer.key.from, transfer.key.to),
      [this, replica_set, transfer, done] {
        const absl::Status status = replica_set->DriveTransfer(transfer);
        if (!status.ok()) env_.Log(fmt::format("transfer {}->{}: {}", transfer.key.from, transfer.key.to, status.ToString()));
        MutexLock finished(*mutex_);
        *done = true;
      });
  drivers_.push_back(Driver{transfer.key, transfer.id, std::move(task), done});
}

}  // namespace engine
