// Runs a cluster scenario on a simulated cluster (sim/cluster/) of
// PeerNodes (engine/cluster/) and judges it (cluster_checks.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "properties/cluster/cluster_scenario.h"

namespace properties {

// X(name, what it counts)
#define SHARDSIM_CLUSTER_STATS(X)                                                      \
  X(peers, "peers in the cluster")                                                     \
  X(writes_acked, "client writes acknowledged")                                        \
  X(writes_failed, "client writes answered with an error (outcome unknown)")           \
  X(reads_checked, "client reads checked")                                             \
  X(reads_failed, "client reads answered with an error")                               \
  X(process_crashes, "peer process crashes")                                           \
  X(power_losses, "peer power losses")                                                 \
  X(restarts, "peer restarts")                                                         \
  X(partitions, "network partitions made")                                             \
  X(messages_sent, "messages sent between peers")                                      \
  X(messages_lost, "messages lost by the network")                                     \
  X(messages_duplicated, "messages delivered twice")                                   \
  X(messages_partitioned, "messages dropped by a partition")                           \
  X(proposals_lost, "metadata proposals lost")                                         \
  X(entries_committed, "metadata log entries committed")                               \
  X(states_installed, "collection states installed on far-behind peers")               \
  X(transfers_started_stream_records, "stream_records transfers started")              \
  X(transfers_started_wal_delta, "wal_delta transfers started")                        \
  X(transfers_finished, "transfers finished")                                          \
  X(transfers_finished_stream_records, "stream_records transfers finished")            \
  X(transfers_finished_wal_delta, "wal_delta transfers finished")                      \
  X(transfers_aborted, "transfers aborted")                                            \
  X(transfers_aborted_stream_records, "stream_records transfers aborted")              \
  X(transfers_aborted_wal_delta, "wal_delta transfers aborted")                        \
  X(transfers_restarted, "transfers restarted with another method (fallback)")         \
  X(replicas_healed, "Dead replicas made Active again by a transfer")                  \
  X(runs_not_converged_by_faults, "runs whose storage faults kept the cluster from converging")

struct ClusterRunStats {
#define SHARDSIM_CLUSTER_STAT_FIELD(name, description) uint64_t name = 0;
  SHARDSIM_CLUSTER_STATS(SHARDSIM_CLUSTER_STAT_FIELD)
#undef SHARDSIM_CLUSTER_STAT_FIELD
  // "Active->Dead": how often each replica state transition was applied.
  std::map<std::string, uint64_t> transitions;
  std::map<engine::PeerId, uint64_t> crashes_per_peer;
};

struct ClusterFailure {
  std::string invariant;  // "ack-durability", "convergence", "read-safety", ...
  std::string message;
};

struct ClusterRunResult {
  std::optional<ClusterFailure> failure;
  ClusterRunStats stats;
  uint64_t trace_hash = 0;
  uint64_t trace_steps = 0;
  std::string trace_json;  // Perfetto JSON when requested (one process per peer)
  nlohmann::json ToJson() const;
};

struct ClusterRunOptions {
  bool verbose = false;
  bool trace_json = false;
  // RecordClusterRun only: when an engine assertion is about to abort the
  // process, gets the scenario recorded so far (its tape through the last
  // draw, which replays to the same assertion) and the assertion's text, so a
  // forked child can hand them back (tools/shardsim/child_runs.h).
  std::function<void(const ClusterScenario& so_far, std::string_view assertion)> on_assertion;
};

// Runs the scenario's steps; the world draws from config.seed.
ClusterRunResult RunClusterFromSeed(const ClusterConfig& config, const ClusterRunOptions& options);
// Replays: steps as written, world decisions from the tape.
ClusterRunResult ReplayCluster(const ClusterScenario& scenario, const ClusterRunOptions& options);
// Runs from the seed and records the scenario (with its tape) that replays it.
struct RecordedClusterRun {
  ClusterRunResult result;
  ClusterScenario scenario;
};
RecordedClusterRun RecordClusterRun(const ClusterConfig& config, const ClusterRunOptions& options);

}  // namespace properties
