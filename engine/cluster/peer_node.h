// PeerNode: one peer's share of one collection (Qdrant's Collection on one
// node): the applied collection state (collection_state.json, with the log
// index it is applied through), the shard replica sets, the transfer driver
// tasks, the handler of requests from other peers, and the idle hook
// (Qdrant's sync_local_state) that re-reports failed replicas, activates
// initializing ones and heals Dead local replicas by starting transfers.
//
// Disk layout under the peer's root: collection_state.json,
// shards/<id>/replica_state.json, shards/<id>/local/ (the LocalShard).
//
// Thread safety: the log's apply task calls the MetaApplier side, the
// network's delivery tasks call Handle, clients call Update/Read; all from
// tasks of the peer's process.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/cluster/meta_log.h"
#include "engine/cluster/replica_set.h"
#include "engine/cluster/transport.h"

namespace engine {

struct PeerNodeOptions {
  PeerId peer = 0;
  uint32_t shard_count = 1;  // REQUIRES: >= 1
  ShardOptions shard_options;
  int64_t rpc_timeout_ns = 2'000'000'000;
  int64_t idle_interval_ns = 200'000'000;
  TransferMethod default_transfer_method = TransferMethod::kWalDelta;
  uint64_t token_seed = 0;
  // The idle hook heals Dead local replicas by itself (Qdrant's automatic
  // recovery); off leaves transfers to the workload.
  bool auto_recovery = true;
  ReplicaSetObserver* observer = nullptr;  // not owned; may be null
};

struct PeerNodeCounters {
  uint64_t entries_applied = 0;
  uint64_t entries_reapplied = 0;
  uint64_t states_installed = 0;
  uint64_t transfers_driven = 0;
  uint64_t recoveries_proposed = 0;
};

class PeerNode final : public RpcHandler, public MetaApplier {
 public:
  PeerNode(Env& env, PeerNetwork& network, MetadataLog& log, PeerNodeOptions options);
  ~PeerNode() override;
  PeerNode(const PeerNode&) = delete;
  PeerNode& operator=(const PeerNode&) = delete;

  // Loads the applied state and every local replica. REQUIRES: called
  // once, before the log attaches (the log resumes after the loaded index).
  absl::Status Load();
  // Aborts transfers the last incarnation was part of and starts the idle
  // hook. REQUIRES: Load succeeded and the log is attached.
  void StartBackground();
  // Stops the idle hook and transfer drivers, then the replica sets.
  absl::Status Shutdown();

  // ---- Clients (shard = 0 when the collection has one shard). ----
  // Qdrant's readiness (/readyz, src/common/health.rs): ready once this
  // process has applied the commit index the cluster reported when it
  // started; it stays ready. Handle refuses client requests (Unavailable)
  // until then, standing in for the load balancer or Kubernetes Service
  // that routes clients only to ready peers: a restarted peer with an old
  // collection state would otherwise fan writes out to the replicas it
  // remembers and miss one made Active meanwhile. Update and Read below
  // are not gated. False before StartBackground.
  bool Ready();
  absl::StatusOr<WriteAck> Update(ShardId shard, const Operation& operation, bool wait, WriteOrdering ordering);
  absl::StatusOr<ShardReplicaSet::ReadResult> Read(ShardId shard, const std::vector<PointId>& ids,
                                                   uint32_t read_factor);

  // ---- RpcHandler. ----
  absl::StatusOr<RpcResponse> Handle(PeerId from, const RpcRequest& request) override;
  // ---- MetaApplier. ----
  ApplyOutcome ApplyEntry(uint64_t index, const MetaOp& op) override;
  void InstallState(uint64_t index, const CollectionState& state) override;
  uint64_t DurableAppliedIndex() override;

  // ---- Introspection. ----
  CollectionState applied_state();
  uint64_t applied_index();
  ShardReplicaSet* replica_set(ShardId shard);
  PeerNodeCounters counters();
  PeerId peer() const { return options_.peer; }

 private:
  absl::Status LoadAppliedState();
  absl::Status PersistAppliedState(uint64_t index, const CollectionState& state);
  void AfterApply(const CollectionState& state, const ApplyOutcome& outcome);
  void SpawnDriver(const ShardTransfer& transfer);
  void JoinFinishedDrivers(bool all);
  void IdleLoop();
  void IdleOnce();
  void HealDeadReplica(ShardId shard, const CollectionState& state);

  Env& env_;
  PeerNetwork& network_;
  MetadataLog& log_;
  const PeerNodeOptions options_;
  std::map<ShardId, std::unique_ptr<ShardReplicaSet>> replica_sets_;

  std::unique_ptr<Mutex> mutex_;  // guards the fields below
  std::unique_ptr<CondVar> stop_wake_;
  CollectionState applied_;
  uint64_t applied_index_ = 0;
  uint64_t durable_index_loaded_ = 0;
  bool stopping_ = false;
  struct Driver {
    TransferKey key;
    uint64_t transfer_id = 0;  // ShardTransfer::id of the registration it drives
    std::unique_ptr<Task> task;
    std::shared_ptr<bool> done;  // guarded by mutex_
  };
  std::vector<Driver> drivers_;
  PeerNodeCounters counters_;
  std::unique_ptr<Task> idle_task_;
  // The commit index at StartBackground; none before it (not ready).
  std::atomic<uint64_t> ready_index_{std::numeric_limits<uint64_t>::max()};
  std::atomic<bool> ready_{false};  // latched: Qdrant's check never turns back
};

}  // namespace engine
