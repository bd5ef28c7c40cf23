// A cluster scenario: one simulated replica-set run written down completely
// (config, the steps of each client and of the nemesis, and the tape of the
// world's own decisions), so that it replays bit for bit and shrinks.
//
// Clients write and read through an entry peer; the nemesis crashes and
// restarts peers, partitions and heals the network, starts transfers and
// sleeps. Every actor runs its own steps in order; actors interleave as the
// scheduler and the network decide. After the last step the run quiesces
// (network healed, every peer up, faults off) and waits for the cluster to
// converge, then checks (properties/cluster/cluster_checks.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/cluster/meta_ops.h"
#include "engine/cluster/transport.h"
#include "engine/model/types.h"
#include "sim/fs/sim_fs.h"

namespace properties {

// The stall rate of a seed with network stalls unless its config says
// otherwise (scenario files from before the rate was drawn say nothing).
inline constexpr uint32_t kDefaultNetworkStallPercent = 2;

// How often each peer's shards flush (ShardOptions::flush_interval_ns), in
// virtual ms. A cluster run lasts minutes of virtual time, mostly waiting
// for transfers and convergence; at a shard run's 5 ms the idle flush
// workers' wake-ups were 93% of a seed's steps (cluster seed 9: 50,030 of
// 53,705 trace events), at 50 ms a seed runs ~4.6x faster with the same
// coverage. Qdrant flushes every 5 s against RPC timeouts of seconds, so
// 50 ms still flushes many times within every timeout. Scenario files
// written before the key existed say nothing and mean 5 ms (the legacy value),
// so they replay as they were recorded.
inline constexpr uint32_t kDefaultFlushIntervalMs = 50;
inline constexpr uint32_t kLegacyFlushIntervalMs = 5;
inline constexpr uint32_t kMaxFlushIntervalMs = 10'000;

// A cluster has 2..5 peers.
inline constexpr uint32_t kMinPeers = 2;
inline constexpr uint32_t kMaxPeers = 5;

struct ClusterConfig {
  uint64_t seed = 0;
  uint32_t peers = 3;               // 2..5
  uint32_t replication_factor = 2;  // 1..peers
  uint32_t write_consistency_factor = 1;
  uint32_t clients = 2;
  uint32_t steps_per_client = 12;
  uint32_t nemesis_steps = 6;
  uint32_t point_ids = 8;  // ids drawn from [0, point_ids)
  bool lossy_network = false;  // loss, duplication, wider delays
  bool lossy_log = false;      // proposals lost and duplicated
  bool network_stalls = false;  // a few messages delayed past their caller's timeout
  // Percent of messages stalled when network_stalls (1..100).
  uint32_t network_stall_percent = kDefaultNetworkStallPercent;
  engine::TransferMethod default_transfer_method = engine::TransferMethod::kWalDelta;
  // A loaded cluster (drawn together, DrawClusterConfig): clients pause
  // after each op, so their writes go on through the nemesis's crashes and
  // the transfers that heal them (the draw inserts the pauses as sleep
  // steps), and the metadata log commits in up to 100 ms instead of 1 ms.
  bool paced_clients = false;
  bool slow_log = false;
  uint32_t flush_interval_ms = kDefaultFlushIntervalMs;  // 1..kMaxFlushIntervalMs
  bool verbose = false;
  bool record_trace = false;
  friend bool operator==(const ClusterConfig&, const ClusterConfig&) = default;
};

enum class ClusterStepKind : uint8_t {
  kUpsert,     // client: upsert point `id` with value `value`
  kDelete,     // client: delete point `id`
  kRead,       // client: read every point with `read_factor`
  kCrash,      // nemesis: crash `peer` (`crash_kind`)
  kRestart,    // nemesis: restart `peer` if it is down
  kPartition,  // nemesis: cut `side` from the other peers (one way: side -> others only)
  kHeal,       // nemesis: heal every partition
  kTransfer,   // nemesis: propose a transfer `peer` -> `to` with `method`
  kSleep,      // any actor: sleep `sleep_ms` of virtual time
};
std::string_view ClusterStepKindName(ClusterStepKind kind);

struct ClusterStep {
  ClusterStepKind kind = ClusterStepKind::kSleep;
  uint32_t actor = 0;  // 0 = nemesis, 1.. = clients
  engine::PeerId peer = 1;  // entry peer, crashed/restarted peer, transfer source
  engine::PeerId to = 0;    // transfer target
  engine::PointId id = 0;
  uint64_t value = 0;  // unique per write in a run: what a read saw tells which write
  bool wait = true;
  engine::WriteOrdering ordering = engine::WriteOrdering::kWeak;
  uint32_t read_factor = 1;
  sim::CrashKind crash_kind = sim::CrashKind::kProcessCrash;
  std::set<engine::PeerId> side;
  bool one_way = false;
  engine::TransferMethod method = engine::TransferMethod::kStreamRecords;
  uint64_t sleep_ms = 0;
  friend bool operator==(const ClusterStep&, const ClusterStep&) = default;
};

struct ClusterScenario {
  ClusterConfig config;
  std::string expected_invariant;  // "" for a passing run
  std::vector<ClusterStep> steps;  // every actor's steps, each actor's in order
  std::vector<uint8_t> tape;       // the world's decisions
  size_t StepCount() const { return steps.size(); }
};

// Draws a scenario's steps from config.seed (the workload stream; the
// world's decisions come from another stream of the same seed).
std::vector<ClusterStep> DrawClusterSteps(const ClusterConfig& config);
// Draws a config for a campaign seed (peers, factors, network...).
ClusterConfig DrawClusterConfig(uint64_t seed);

}  // namespace properties
