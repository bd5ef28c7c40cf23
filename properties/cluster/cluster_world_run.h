// ClusterRun: the state of one cluster run (private to properties/cluster/):
// the simulated cluster, the peers' nodes, the actors, the history, and the
// checks at the end (cluster_checks.cc).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/cluster/peer_node.h"
#include "properties/cluster/cluster_history.h"
#include "properties/cluster/cluster_run.h"
#include "sim/cluster/cluster_world.h"
#include "sim/cluster/sim_meta_log.h"
#include "sim/cluster/sim_network.h"

namespace properties {

// A MetadataLog whose handle is bound after the node exists (the log's
// handle needs the node as its applier).
class DeferredLog final : public engine::MetadataLog {
 public:
  void Bind(engine::MetadataLog* log) { log_ = log; }
  void Propose(const engine::MetaOp& op) override;
  absl::StatusOr<engine::ApplyOutcome> ProposeAndWait(const engine::MetaOp& op, int64_t timeout_ns) override;
  uint64_t applied_index() override;
  uint64_t committed_index() override;
  absl::Status AwaitAllApplied(uint64_t index, int64_t timeout_ns) override;
  bool Idle() override;

 private:
  engine::MetadataLog* log_ = nullptr;
};

class ClusterRun final : public engine::ReplicaSetObserver {
 public:
  ClusterRun(const ClusterScenario& scenario, sim::DecisionSource& decisions, const ClusterRunOptions& options);
  ~ClusterRun() override;
  ClusterRunResult Execute();

  // ReplicaSetObserver
  void OnReadServed(engine::PeerId peer, engine::ShardId shard, std::optional<engine::ReplicaState> state,
                    engine::LocalKind kind) override;

 private:
  class WalObserver;
  void Supervise();
  void StartPeer(engine::PeerId peer);
  void PeerMain(engine::PeerId peer, uint64_t token_seed);
  void ClientActor(uint32_t actor);
  void NemesisActor();
  void RunClientStep(const ClusterStep& step);
  void RunNemesisStep(const ClusterStep& step);
  void CreateCollection();
  // Heals and restarts everything, then waits for convergence.
  bool Quiesce();
  bool Converged(std::string& why_not);
  void OnCommitted(engine::CollectionState& state, const engine::MetaOp& op);
  void CollectStats();
  // Perfetto JSON of the recorded trace (cluster_trace_json.cc).
  std::string TraceJson();
  // ---- Checks (cluster_checks.cc). ----
  void CheckEnd();
  void CheckReads();
  void CheckWriteConsistency();
  void CheckFinalReplicas();
  void CheckStateAgreement();
  void Fail(std::string invariant, std::string message);
  uint32_t ReplicaCount();

  const ClusterScenario& scenario_;
  const ClusterConfig& config_;
  const ClusterRunOptions options_;
  std::unique_ptr<sim::ClusterWorld> world_;
  std::unique_ptr<sim::SimNetwork> network_;
  std::unique_ptr<sim::SimMetaLog> log_;
  std::vector<std::unique_ptr<WalObserver>> wal_observers_;  // index = peer - 1
  std::map<engine::PeerId, engine::PeerNode*> nodes_;  // live incarnations
  std::map<engine::PeerId, bool> stop_requested_;
  ClusterHistory history_;
  ClusterRunStats stats_;
  std::optional<ClusterFailure> failure_;
  bool quiescing_ = false;
};

}  // namespace properties
