#include "engine/cluster/replica_set.h"

#include <fmt/format.h>

#include "engine/cluster/replica_set_slot.h"
#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"

namespace engine {

std::string_view LocalKindName(LocalKind kind) {
  switch (kind) {
    case LocalKind::kNone: return "none";
    case LocalKind::kLocal: return "local";
    case LocalKind::kForwardProxy: return "forward_proxy";
    case LocalKind::kQueueProxy: return "queue_proxy";
    case LocalKind::kDummy: return "dummy";
  }
  return "?";
}

ShardReplicaSet::ShardReplicaSet(Env& env, PeerNetwork& network, MetadataLog& log, ReplicaSetOptions options)
    : env_(env),
      network_(network),
      log_(log),
      options_(std::move(options)),
      clocks_(env),
      write_ordering_mutex_(env.NewMutex("replica_set.write_ordering")),
      local_lock_(env.NewRwLock("replica_set.local")),
      local_(std::make_unique<LocalSlot>()),
      proxy_update_mutex_(env.NewMutex("replica_set.proxy_update")),
      batch_sync_mutex_(env.NewMutex("replica_set.batch_sync")),
      state_mutex_(env.NewMutex("replica_set.state")),
      state_changed_(env.NewCondVar(*state_mutex_, "replica_set.state_changed")) {
  SS_ASSERT(options_.this_peer != 0, "peer ids start at 1");
  SS_ASSERT(options_.rpc_timeout_ns > 0 && options_.deactivation_timeout_ns > 0, "timeouts must be positive");
  state_.this_peer_id = options_.this_peer;
  state_.is_local = true;
}

ShardReplicaSet::~ShardReplicaSet() = default;

namespace {
std::string ReplicaStatePath(const std::string& dir) { return dir + "/replica_state.json"; }
}  // namespace

absl::Status EnsureDurableDir(FileSystem& fs, const std::string& path) {
  absl::StatusOr<bool> exists = Exists(fs, path);
  if (!exists.ok()) return exists.status();
  if (*exists) return absl::OkStatus();
  if (absl::Status made = fs.Mkdir(path); !made.ok()) return made;
  const size_t slash = path.rfind('/');
  return fs.SyncDir(slash == std::string::npos ? "" : path.substr(0, slash));
}

absl::Status ShardReplicaSet::Load(const CollectionState& applied) {
  {
    MutexLock lock(*state_mutex_);
    params_ = applied.params;
    const auto shard = applied.shards.find(options_.shard);
    if (shard != applied.shards.end()) state_.peers = shard->second;
    for (const auto& [key, transfer] : applied.transfers) {
      if (key.shard == options_.shard) transfers_.emplace(key, transfer);
    }
  }
  if (absl::Status made = EnsureDurableDir(env_.fs(), options_.dir); !made.ok()) return made;
  // replica_state.json is this peer's mirror of the applied log; the log's
  // own persisted state wins, the file is rewritten from it.
  if (absl::Status persisted = PersistReplicaState(); !persisted.ok()) return persisted;
  if (!LocalState().has_value()) return absl::OkStatus();
  WriteLock lock(*local_lock_);
  absl::StatusOr<std::unique_ptr<LocalShard>> shard =
      LocalShard::Load(env_, options_.dir + "/local", options_.shard_options);
  if (shard.ok()) {
    local_->kind = LocalKind::kLocal;
    local_->shard = std::move(*shard);
    NoteReplayedWrites();
    return absl::OkStatus();
  }
  env_.Log(fmt::format("peer {} shard {}: local replica failed to load, serving a dummy: {}",
                       options_.this_peer, options_.shard, shard.status().ToString()));
  local_->kind = LocalKind::kDummy;
  return absl::OkStatus();
}

absl::Status ShardReplicaSet::Shutdown() {
  WriteLock lock(*local_lock_);
  if (shut_down_) return absl::OkStatus();
  shut_down_ = true;
  return CloseLocal();
}

absl::Status ShardReplicaSet::CloseLocal() {
  if (local_->ack_pin.has_value() && local_->shard != nullptr) local_->shard->UnpinAck(*local_->ack_pin);
  local_->ack_pin.reset();
  absl::Status status = absl::OkStatus();
  if (local_->shard != nullptr) status = local_->shard->Shutdown();
  local_->shard.reset();
  local_->kind = LocalKind::kNone;
  return status;
}

absl::Status ShardReplicaSet::PersistReplicaState() {
  ReplicaSetState state;
  {
    MutexLock lock(*state_mutex_);
    state = state_;
  }
  return WriteSealedFileAtomically(env_.fs(), ReplicaStatePath(options_.dir),
                                   ReplicaSetStateToJson(state).dump());
}

absl::Status ShardReplicaSet::OnApplied(const CollectionState& state, const ApplyOutcome& outcome) {
  std::optional<ReplicaState> before_local;
  std::optional<ReplicaState> after_local;
  {
    MutexLock lock(*state_mutex_);
    before_local = state_.Get(options_.this_peer);
    params_ = state.params;
    const auto shard = state.shards.find(options_.shard);
    state_.peers = shard == state.shards.end() ? std::map<PeerId, ReplicaState>{} : shard->second;
    transfers_.clear();
    for (const auto& [key, transfer] : state.transfers) {
      if (key.shard == options_.shard) transfers_.emplace(key, transfer);
    }
    for (const ShardTransfer& finished : outcome.transfers_finished) {
      if (finished.key.shard != options_.shard) continue;
      recent_finished_.push_back({finished.key, env_.NowNanos()});
      if (recent_finished_.size() > 32) recent_finished_.erase(recent_finished_.begin());
    }
    // Any consensus change of a peer's state re-enables it (Qdrant's
    // update_locally_disabled).
    for (const ApplyOutcome::StateChange& change : outcome.state_changes) {
      if (change.shard == options_.shard) disabled_.erase(change.peer);
    }
    // If consensus shows every active replica disabled here, the registry
    // is stale: clear it (Qdrant's update_locally_disabled).
    const bool an_active_enabled = std::any_of(state_.peers.begin(), state_.peers.end(), [&](const auto& entry) {
      return IsActive(entry.second) && !disabled_.contains(entry.first);
    });
    if (!an_active_enabled) disabled_.clear();
    after_local = state_.Get(options_.this_peer);
    state_changed_->SignalAll();
  }
  for (const ShardTransfer& ended : outcome.transfers_finished) {
    if (ended.key.shard == options_.shard && ended.key.from == options_.this_peer) Unproxify();
  }
  for (const ShardTransfer& ended : outcome.transfers_aborted) {
    if (ended.key.shard == options_.shard && ended.key.from == options_.this_peer) Unproxify();
  }
  absl::Status effects = absl::OkStatus();
  if (!after_local.has_value()) {
    if (local_kind() != LocalKind::kNone) effects = DropLocal();
  } else if (local_kind() == LocalKind::kNone ||
             (local_kind() == LocalKind::kDummy && IsPartialOrRecovery(*after_local))) {
    // A transfer target, or a replica created here: an empty shard the
    // transfer fills (a Dummy is rebuilt empty, Qdrant PR #6293).
    effects = CreateEmptyLocal();
  }
  if (effects.ok() && after_local.has_value() && before_local != after_local) {
    ReadLock lock(*local_lock_);
    if (local_->shard != nullptr) {
      effects = IsActive(*after_local) ? local_->shard->ClearClocksSnapshot()
                                       : local_->shard->TakeClocksSnapshot();
    }
  }
  absl::Status persisted = PersistReplicaState();
  return effects.ok() ? persisted : effects;
}

absl::Status ShardReplicaSet::CreateEmptyLocal() {
  WriteLock lock(*local_lock_);
  if (shut_down_) return absl::FailedPreconditionError("replica set shut down");
  if (local_->kind != LocalKind::kNone && local_->kind != LocalKind::kDummy) return absl::OkStatus();
  const std::string dir = options_.dir + "/local";
  if (local_->kind == LocalKind::kDummy) {
    if (absl::Status removed = RemoveTree(env_.fs(), dir); !removed.ok() && !absl::IsNotFound(removed)) {
      return removed;
    }
  }
  absl::StatusOr<std::unique_ptr<LocalShard>> shard = LocalShard::Load(env_, dir, options_.shard_options);
  if (!shard.ok()) {
    local_->kind = LocalKind::kDummy;
    return shard.status();
  }
  local_->kind = LocalKind::kLocal;
  local_->shard = std::move(*shard);
  NoteReplayedWrites();
  return absl::OkStatus();
}

absl::Status ShardReplicaSet::DropLocal() {
  WriteLock lock(*local_lock_);
  if (absl::Status closed = CloseLocal(); !closed.ok()) return closed;
  absl::Status removed = RemoveTree(env_.fs(), options_.dir + "/local");
  return absl::IsNotFound(removed) ? absl::OkStatus() : removed;
}

std::optional<ReplicaState> ShardReplicaSet::LocalState() {
  MutexLock lock(*state_mutex_);
  return state_.Get(options_.this_peer);
}

LocalKind ShardReplicaSet::local_kind() {
  ReadLock lock(*local_lock_);
  return local_->kind;
}

ReplicaSetState ShardReplicaSet::replica_state() {
  MutexLock lock(*state_mutex_);
  return state_;
}

std::map<PeerId, ReplicaState> ShardReplicaSet::locally_disabled() {
  MutexLock lock(*state_mutex_);
  std::map<PeerId, ReplicaState> result;
  for (const auto& [peer, disabled] : disabled_) {
    result[peer] = disabled.from_state.value_or(ReplicaState::kDead);
  }
  return result;
}

std::optional<std::vector<Point>> ShardReplicaSet::LocalPoints() {
  ReadLock lock(*local_lock_);
  if (local_->shard == nullptr) return std::nullopt;
  return local_->shard->Scroll(nullptr, std::nullopt, std::numeric_limits<size_t>::max());
}

LocalShard* ShardReplicaSet::local_shard_for_checks() { return local_->shard.get(); }

ReplicaSetCounters ShardReplicaSet::counters() {
  MutexLock lock(*state_mutex_);
  return counters_;
}

uint64_t ShardReplicaSet::NextToken() {
  MutexLock lock(*state_mutex_);
  token_counter_ += 1;
  // splitmix64 of (seed, counter): distinct per op, reproducible per run.
  uint64_t z = options_.token_seed + token_counter_ * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return z == kNoOpToken ? 1 : z;
}

std::vector<SetReplicaState> ShardReplicaSet::DueFailureReports() {
  MutexLock lock(*state_mutex_);
  std::vector<SetReplicaState> due;
  const int64_t now_ns = env_.NowNanos();
  for (auto& [peer, disabled] : disabled_) {
    if (now_ns < disabled.next_report_ns) continue;
    due.push_back({.shard = options_.shard, .peer = peer, .state = ReplicaState::kDead,
                   .from_state = disabled.from_state});
    disabled.next_report_ns = now_ns + disabled.backoff_ns;
    disabled.backoff_ns = std::min<int64_t>(disabled.backoff_ns * 2, 10'000'000'000);
  }
  return due;
}

bool ShardReplicaSet::TransferStillRegistered(const ShardTransfer& transfer) {
  MutexLock lock(*state_mutex_);
  return TransferRegisteredLocked(transfer);
}

bool ShardReplicaSet::TransferRegisteredLocked(const ShardTransfer& transfer) const {
  const auto found = transfers_.find(transfer.key);
  return found != transfers_.end() && found->second.id == transfer.id && !shut_down_;
}

}  // namespace engine
