// The cluster side of `shardsim` (a replica set on simulated peers,
// properties/cluster/):
//   run --cluster [--seed N] [--peers N] [--rf N] [--wcf N] [--lossy-network] [--lossy-log]
//                 [--transfer-method M] [--verbose] [--json] [--trace-json FILE]
//   check-determinism --cluster (--seed N | --seeds A..B)
//   record --cluster --seed N -o FILE
//   replay FILE, shrink FILE -o OUT    (a `cluster v1` file is recognised by its header)
// Exit codes as for the shard commands: 0 pass / as expected, 1 a failure
// or a mismatch, 2 bad usage or unreadable input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "properties/cluster/cluster_run.h"
#include "properties/cluster/cluster_shrink.h"

namespace shardsim {

struct ReplayOptions;
struct ShrinkOptions;

// The cluster flags of `run`, `record` and `check-determinism`. Each
// override replaces the seed's draw (DrawClusterConfig).
struct ClusterFlags {
  bool cluster = false;
  std::optional<uint32_t> peers;
  std::optional<uint32_t> replication_factor;
  std::optional<uint32_t> write_consistency_factor;
  std::optional<bool> lossy_network;
  std::optional<bool> lossy_log;
  std::optional<bool> network_stalls;
  std::optional<uint32_t> network_stall_percent;
  std::optional<bool> paced_clients;
  std::optional<bool> slow_log;
  std::optional<std::string> transfer_method;
  std::optional<std::string> trace_json_path;  // run only (a shard run's too)
  std::optional<std::string> seeds;            // check-determinism only: "A..B"
  // The first cluster-only flag given, for "needs --cluster" errors
  // (--trace-json is not one: a shard run takes it too).
  std::optional<std::string> FirstGiven() const;
};

struct ClusterCommandFlags {
  bool trace_json = false;  // offer --trace-json
  bool seeds = false;       // offer --seeds
};
void AddClusterFlags(CLI::App& command, ClusterFlags& flags, ClusterCommandFlags offered);

// The seed's draw, then the overrides; the factors follow a lowered peer
// count unless given. Returns an error message naming the flag.
std::optional<std::string> BuildClusterConfig(uint64_t seed, const ClusterFlags& flags,
                                              properties::ClusterConfig& config);

int ClusterRunCommand(uint64_t seed, const ClusterFlags& flags, bool json, bool verbose);
int ClusterCheckDeterminismCommand(std::optional<uint64_t> seed, const ClusterFlags& flags);
int ClusterRecordCommand(uint64_t seed, const ClusterFlags& flags, const std::string& path);
int ClusterReplayCommand(const ReplayOptions& options);
int ClusterShrinkCommand(const ShrinkOptions& options);

// One seed's result as the campaign's JSON line (also `run --cluster
// --json`): the run's own JSON, plus seed, "cluster": true, the config,
// the counters, and the coverage marks this run hit.
nlohmann::json ClusterRunJson(const properties::ClusterConfig& config, const properties::ClusterRunResult& result,
                              const nlohmann::json& coverage);
// Runs the seed's drawn cluster run (as a campaign does) and returns its line.
std::string RunClusterSeedLine(uint64_t seed);

// A comment for a cluster scenario file: the failure, its origin, how to replay.
std::string ClusterScenarioComment(const properties::ClusterScenario& scenario,
                                   const properties::ClusterRunResult& result, const std::string& origin);
// Shrinks with progress on stderr (a live line on a terminal).
properties::ClusterShrinkResult ClusterShrinkWithProgress(const properties::ClusterScenario& scenario,
                                                          size_t max_replays, bool quiet);

}  // namespace shardsim
