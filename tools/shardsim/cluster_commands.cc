#include "tools/shardsim/cluster_commands.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>
#include <xxhash.h>

#include "engine/common/coverage.h"
#include "properties/cluster/cluster_stats.h"
#include "scenarios/cluster_format.h"
#include "tools/shardsim/campaign.h"
#include "tools/shardsim/child_runs.h"
#include "tools/shardsim/flag_checks.h"
#include "tools/shardsim/output_paths.h"
#include "tools/shardsim/scenario_commands.h"

namespace shardsim {

namespace {

constexpr uint32_t kMinPeers = 2;
constexpr uint32_t kMaxPeers = 5;

void PrintResult(const properties::ClusterRunResult& result) {
  std::printf("result: %s\n", result.failure ? "FAIL" : "PASS");
  if (result.failure) {
    std::printf("invariant: %s\nfailure: %s\n", result.failure->invariant.c_str(), result.failure->message.c_str());
  }
  std::printf("trace steps: %llu\n%s", (unsigned long long)result.trace_steps,
              properties::ClusterStatsTable(result.stats, /*show_zeros=*/false).c_str());
}

nlohmann::json CoverageSince(const std::array<uint64_t, engine::kMarkCount>& before) {
  const auto after = engine::CoverageSnapshot();
  nlohmann::json coverage = nlohmann::json::object();
  for (size_t mark = 0; mark < engine::kMarkCount; ++mark) {
    if (after[mark] != before[mark]) coverage[std::string(engine::kMarkInfo[mark].name)] = after[mark] - before[mark];
  }
  return coverage;
}

std::string InvariantOf(const properties::ClusterRunResult& result) {
  return result.failure ? result.failure->invariant : "";
}

}  // namespace

std::optional<std::string> ClusterFlags::FirstGiven() const {
  if (peers) return "--peers";
  if (replication_factor) return "--rf";
  if (write_consistency_factor) return "--wcf";
  if (lossy_network) return "--lossy-network";
  if (lossy_log) return "--lossy-log";
  if (network_stalls) return "--network-stalls";
  if (network_stall_percent) return "--network-stall-percent";
  if (paced_clients) return "--paced-clients";
  if (slow_log) return "--slow-log";
  if (transfer_method) return "--transfer-method";
  if (seeds) return "--seeds";
  return std::nullopt;
}

void AddClusterFlags(CLI::App& command, ClusterFlags& flags, ClusterCommandFlags offered) {
  const std::string group = "Cluster run (a replica set on simulated peers)";
  command.add_flag("--cluster", flags.cluster, "Run the seed's cluster scenario instead of a shard run")->group(group);
  command.add_option("--peers", flags.peers, "Peers in the cluster, 2..5 (default: drawn from the seed)")
      ->check(DecimalIn(0, UINT32_MAX))
      ->group(group);
  command.add_option("--rf", flags.replication_factor, "Replication factor, 1..peers (default: drawn)")
      ->check(DecimalIn(0, UINT32_MAX))
      ->group(group);
  command.add_option("--wcf", flags.write_consistency_factor, "Write consistency factor, 1..rf (default: drawn)")
      ->check(DecimalIn(0, UINT32_MAX))
      ->group(group);
  // (A flag given as --lossy-log=false counts negative.)
  command.add_flag_function(
             "--lossy-network", [&flags](int64_t count) { flags.lossy_network = count > 0; },
             "Messages lost, duplicated and delayed more (--lossy-network=false: never; default: drawn)")
      ->group(group);
  command.add_flag_function(
             "--lossy-log", [&flags](int64_t count) { flags.lossy_log = count > 0; },
             "Metadata proposals lost and duplicated (--lossy-log=false: never; default: drawn)")
      ->group(group);
  command.add_flag_function(
             "--network-stalls", [&flags](int64_t count) { flags.network_stalls = count > 0; },
             "Some messages delayed up to 3 s, past their caller's 2 s timeout at times "
             "(--network-stalls=false: never; default: drawn)")
      ->group(group);
  command.add_option("--network-stall-percent", flags.network_stall_percent,
                     "Percent of messages stalled, 1..100; implies --network-stalls (default: drawn, 2 or 25)")
      ->check(DecimalIn(0, UINT32_MAX))
      ->group(group);
  command.add_flag_function(
             "--paced-clients", [&flags](int64_t count) { flags.paced_clients = count > 0; },
             "Clients pause 20-300 ms after each op, writing on through the nemesis's steps "
             "(--paced-clients=false: never; default: drawn)")
      ->group(group);
  command.add_flag_function(
             "--slow-log", [&flags](int64_t count) { flags.slow_log = count > 0; },
             "Metadata log commits take up to 100 ms (--slow-log=false: up to 1 ms, 20 ms lossy; default: drawn)")
      ->group(group);
  command.add_option("--transfer-method", flags.transfer_method,
                     "Default transfer method: stream_records or wal_delta (default: drawn)")
      ->group(group);
  if (offered.trace_json) {
    // (Not in the cluster group: a shard run writes its trace too.)
    command.add_option("--trace-json", flags.trace_json_path,
                       "Write the run's trace as Perfetto JSON to FILE (a cluster run: one process per peer)");
  }
  if (offered.seeds) {
    command.add_option("--seeds", flags.seeds, "Cluster seeds A..B (inclusive), each run twice")->group(group);
  }
}

std::optional<std::string> BuildClusterConfig(uint64_t seed, const ClusterFlags& flags,
                                              properties::ClusterConfig& config) {
  config = properties::DrawClusterConfig(seed);
  if (flags.peers) {
    if (*flags.peers < kMinPeers || *flags.peers > kMaxPeers) return fmt::format("--peers {} is not 2..5", *flags.peers);
    config.peers = *flags.peers;
  }
  config.replication_factor = flags.replication_factor.value_or(std::min(config.replication_factor, config.peers));
  if (config.replication_factor < 1 || config.replication_factor > config.peers) {
    return fmt::format("--rf {} is not 1..{} (the peers)", config.replication_factor, config.peers);
  }
  config.write_consistency_factor =
      flags.write_consistency_factor.value_or(std::min(config.write_consistency_factor, config.replication_factor));
  if (config.write_consistency_factor < 1 || config.write_consistency_factor > config.replication_factor) {
    return fmt::format("--wcf {} is not 1..{} (the replication factor)", config.write_consistency_factor,
                       config.replication_factor);
  }
  if (flags.lossy_network) config.lossy_network = *flags.lossy_network;
  if (flags.lossy_log) config.lossy_log = *flags.lossy_log;
  if (flags.network_stalls) config.network_stalls = *flags.network_stalls;
  if (flags.network_stall_percent) {
    if (*flags.network_stall_percent < 1 || *flags.network_stall_percent > 100) {
      return fmt::format("--network-stall-percent {} is not 1..100", *flags.network_stall_percent);
    }
    if (flags.network_stalls == std::optional<bool>(false)) {
      return "--network-stall-percent contradicts --network-stalls=false";
    }
    config.network_stalls = true;
    config.network_stall_percent = *flags.network_stall_percent;
  }
  if (!config.network_stalls) config.network_stall_percent = properties::kDefaultNetworkStallPercent;
  if (flags.paced_clients) config.paced_clients = *flags.paced_clients;
  if (flags.slow_log) config.slow_log = *flags.slow_log;
  if (flags.transfer_method) {
    if (*flags.transfer_method == "stream_records") {
      config.default_transfer_method = engine::TransferMethod::kStreamRecords;
    } else if (*flags.transfer_method == "wal_delta") {
      config.default_transfer_method = engine::TransferMethod::kWalDelta;
    } else {
      return fmt::format("--transfer-method {} is not stream_records or wal_delta", *flags.transfer_method);
    }
  }
  return std::nullopt;
}

nlohmann::json ClusterRunJson(const properties::ClusterConfig& config, const properties::ClusterRunResult& result,
                              const nlohmann::json& coverage) {
  nlohmann::json json = result.ToJson();
  if (!json.is_object()) json = nlohmann::json::object();
  json.erase("trace_json");  // a file's worth of text; --trace-json writes it
  json["seed"] = config.seed;
  json["cluster"] = true;
  json["config"] = scenarios::ClusterConfigLine(config);
  json["passed"] = !result.failure.has_value();
  json["invariant"] = InvariantOf(result);
  json["failure"] = result.failure ? result.failure->message : "";
  json["trace_hash"] = fmt::format("{:016x}", result.trace_hash);
  json["steps"] = result.trace_steps;
  json["stats"] = properties::ClusterStatsToJson(result.stats);
  json["coverage"] = coverage;
  return json;
}

std::string RunClusterSeedLine(uint64_t seed) {
  // The same config `shardsim run --cluster --seed N` builds, so that the
  // replay command a campaign prints reproduces the seed.
  properties::ClusterConfig config;
  const std::optional<std::string> error = BuildClusterConfig(seed, ClusterFlags{}, config);
  SS_ASSERT(!error.has_value(), "seed {}'s drawn cluster config is invalid: {}", seed, error.value_or(""));
  const auto before = engine::CoverageSnapshot();
  const properties::ClusterRunResult result = properties::RunClusterFromSeed(config, {});
  return ClusterRunJson(config, result, CoverageSince(before)).dump();
}

int ClusterRunCommand(uint64_t seed, const ClusterFlags& flags, bool json, bool verbose) {
  properties::ClusterConfig config;
  if (auto error = BuildClusterConfig(seed, flags, config)) {
    std::fprintf(stderr, "shardsim run --cluster: %s\n", error->c_str());
    return 2;
  }
  config.verbose = verbose;
  config.record_trace = flags.trace_json_path.has_value();
  const auto before = engine::CoverageSnapshot();
  const properties::ClusterRunResult result =
      properties::RunClusterFromSeed(config, {.verbose = verbose, .trace_json = config.record_trace});
  if (flags.trace_json_path) {
    if (!WriteText(*flags.trace_json_path, result.trace_json + "\n")) {
      std::fprintf(stderr, "shardsim run --cluster: cannot write %s\n", flags.trace_json_path->c_str());
      return 2;
    }
    std::fprintf(stderr, "trace-json: %s (open in ui.perfetto.dev)\n", flags.trace_json_path->c_str());
  }
  if (json) {
    // One object and nothing else on stdout (it holds trace_hash).
    std::printf("%s\n", ClusterRunJson(config, result, CoverageSince(before)).dump().c_str());
    return result.failure ? 1 : 0;
  }
  std::printf("cluster config: %s\n", scenarios::ClusterConfigLine(config).c_str());
  PrintResult(result);
  std::printf("trace-hash: %016llx\n", (unsigned long long)result.trace_hash);
  return result.failure ? 1 : 0;
}

int ClusterCheckDeterminismCommand(std::optional<uint64_t> seed, const ClusterFlags& flags) {
  uint64_t first = seed.value_or(0), last = seed.value_or(0);
  if (flags.seeds) {
    const auto range = ParseSeedRange(*flags.seeds);
    if (!range) {
      std::fprintf(stderr, "shardsim check-determinism: %s\n", SeedRangeError(*flags.seeds).c_str());
      return 2;
    }
    std::tie(first, last) = *range;
  }
  uint64_t differing = 0;
  // One value for the whole range, so two builds (e.g. default and asan) are
  // compared by one line rather than a thousand.
  uint64_t digest = 0;
  for (uint64_t current = first; current <= last; ++current) {
    properties::ClusterConfig config;
    if (auto error = BuildClusterConfig(current, flags, config)) {
      std::fprintf(stderr, "shardsim check-determinism --cluster: %s\n", error->c_str());
      return 2;
    }
    const uint64_t once = properties::RunClusterFromSeed(config, {}).trace_hash;
    const uint64_t twice = properties::RunClusterFromSeed(config, {}).trace_hash;
    if (once != twice) {
      ++differing;
      std::printf("NOT deterministic: cluster seed %llu: trace-hash %016llx then %016llx\n",
                  (unsigned long long)current, (unsigned long long)once, (unsigned long long)twice);
    } else if (first == last) {
      std::printf("deterministic: trace-hash: %016llx\n", (unsigned long long)once);
    }
    digest = XXH3_64bits_withSeed(&once, sizeof once, digest);
    if (current == UINT64_MAX) break;
  }
  if (first != last) {
    std::printf("cluster seeds %llu..%llu: %llu of %llu differ; digest of the trace hashes: %016llx\n",
                (unsigned long long)first, (unsigned long long)last, (unsigned long long)differing,
                (unsigned long long)(last - first + 1), (unsigned long long)digest);
  }
  return differing == 0 ? 0 : 1;
}

int ClusterRecordCommand(uint64_t seed, const ClusterFlags& flags, const std::string& path) {
  properties::ClusterConfig config;
  if (auto error = BuildClusterConfig(seed, flags, config)) {
    std::fprintf(stderr, "shardsim record --cluster: %s\n", error->c_str());
    return 2;
  }
  // In a child, so that a run ending in an engine assertion is still written
  // (through the assertion) to be replayed and shrunk.
  absl::StatusOr<properties::RecordedClusterRun> recorded = RecordClusterRunInChild(config);
  if (!recorded.ok()) {
    std::fprintf(stderr, "shardsim record --cluster: seed %llu: %s\n", (unsigned long long)seed,
                 std::string(recorded.status().message()).c_str());
    return 1;
  }
  const std::optional<uint64_t> pinned = PinnableTraceHash(recorded->result);
  const std::string comment =
      ClusterScenarioComment(recorded->scenario, recorded->result, fmt::format("recorded from cluster seed {}", seed));
  if (auto status = scenarios::WriteClusterScenarioFile(path, recorded->scenario, comment, pinned); !status.ok()) {
    std::fprintf(stderr, "shardsim record: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  std::printf("%s: %s, %zu steps, %zu tape bytes\n", path.c_str(),
              recorded->result.failure ? recorded->result.failure->invariant.c_str() : "pass",
              recorded->scenario.StepCount(), recorded->scenario.tape.size());
  if (pinned) {
    std::printf("trace-hash: %016llx\n", (unsigned long long)*pinned);
  } else {
    std::printf("%s\ntrace-hash: not pinned (the run ends in an engine assertion)\n",
                recorded->result.failure->message.c_str());
  }
  return 0;
}

int ClusterReplayCommand(const ReplayOptions& options) {
  auto file = scenarios::ReadClusterScenarioFile(options.path);
  if (!file.ok()) {
    std::fprintf(stderr, "shardsim replay: %s\n", std::string(file.status().message()).c_str());
    return 2;
  }
  properties::ClusterScenario* scenario = &file->scenario;
  if (options.until_step || options.dump_state_step || options.trace) {
    std::fprintf(stderr, "shardsim replay: --until, --dump-state and --trace are for shard scenarios\n");
    return 2;
  }
  scenario->config.verbose = options.verbose;
  scenario->config.record_trace = options.trace_json_path.has_value();
  std::printf("cluster config: %s\n", scenarios::ClusterConfigLine(scenario->config).c_str());
  const properties::ClusterRunOptions run_options{.verbose = options.verbose,
                                                 .trace_json = options.trace_json_path.has_value()};
  // A scenario that ends in an engine assertion replays in a child, so the
  // replay can say whether it reproduced (under a debugger, `run --cluster`
  // with the seed stops at the assertion itself).
  const properties::ClusterRunResult result = scenario->expected_invariant == "run-outcome"
                                                  ? ReplayClusterInChild(*scenario, run_options)
                                                  : properties::ReplayCluster(*scenario, run_options);
  if (options.trace_json_path) {
    if (!WriteText(*options.trace_json_path, result.trace_json + "\n")) {
      std::fprintf(stderr, "shardsim replay: cannot write %s\n", options.trace_json_path->c_str());
      return 2;
    }
    std::printf("trace-json: %s (one process per peer; open in ui.perfetto.dev)\n", options.trace_json_path->c_str());
  }
  PrintResult(result);
  std::printf("expected: %s\nscenario steps: %zu\n",
              scenario->expected_invariant.empty() ? "pass" : scenario->expected_invariant.c_str(),
              scenario->StepCount());
  std::printf("trace-hash: %016llx\n", (unsigned long long)result.trace_hash);
  const bool as_expected = InvariantOf(result) == scenario->expected_invariant;
  std::printf("reproduced: %s\n", as_expected ? "yes" : "NO");
  const bool as_pinned = CheckPinnedTraceHash(options.path, file->trace_hash, result.trace_hash,
                                              EndedInAssertion(result) ? "the run ended in an engine assertion" : nullptr);
  return as_expected && as_pinned ? 0 : 1;
}

}  // namespace shardsim
