#include "tools/shardsim/run_command.h"

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "properties/scenario.h"
#include "scenarios/scenario_format.h"
#include "sim/profile.h"
#include "tools/shardsim/scenario_commands.h"
#include "sim/trace.h"

namespace shardsim {

void AddRunFlags(CLI::App& command, RunOptions& options) {
  command.add_option("--seed", options.seed, "Seed of the run (decides everything)")->required();
  command.add_flag("--json", options.json, "Print the result as one JSON object");
  command.add_flag("--trace", options.trace, "Print every trace step as it happens");
  command.add_flag("--verbose", options.verbose, "Print ops, crashes and reloads as they happen");
  command.add_option("--strategy", options.strategy, "Scheduler: random, pct, round-robin");
  command.add_option("--profile", options.profile,
                     "Persistence profile: a name (no-fault, strict-posix, ext4-ordered, faulty, small-disk) or a "
                     "spec as a failure prints it; default: drawn from the seed");
  command.add_option("--crashes", options.crashes, "Crashes to inject")->check(CLI::Range(0, 100));
  command.add_option("--clients", options.clients, "Concurrent clients")->check(CLI::Range(1, 64));
  command.add_option("--ops,--steps", options.ops_per_client, "Client steps (operations and reads) per client per process")
      ->check(CLI::Range(0, 100000));
}

std::optional<std::string> BuildConfig(const RunOptions& options,
                                       properties::ShardRunConfig& config) {
  config = properties::ShardRunConfig::Draw(options.seed);
  if (options.strategy) {
    auto strategy = sim::ParseStrategy(*options.strategy);
    if (!strategy) return fmt::format("unknown strategy '{}' (random, pct, round-robin)", *options.strategy);
    config.strategy = *strategy;
  }
  if (options.profile) {
    auto profile = sim::PersistenceProfile::FromSpec(*options.profile);
    if (!profile) {
      return fmt::format("unknown profile '{}' ({})", *options.profile,
                         fmt::join(sim::PersistenceProfile::Names(), ", "));
    }
    config.profile = *profile;
  }
  if (options.crashes) config.crashes = *options.crashes;
  if (options.clients) config.clients = *options.clients;
  if (options.ops_per_client) config.ops_per_client = *options.ops_per_client;
  config.profile = config.profile.SizedToWorkload(config.PlannedOps());
  return std::nullopt;
}

std::string ResultJson(const properties::ShardRunConfig& config,
                       const properties::ShardRunResult& result) {
  nlohmann::json stats = nlohmann::json::object();
  for (const properties::StatField& field : properties::StatFields(result.stats)) {
    stats[std::string(field.name)] = field.value;
  }
  nlohmann::json coverage = nlohmann::json::object();
  for (size_t mark = 0; mark < engine::kMarkCount; ++mark) {
    if (result.coverage[mark] != 0) coverage[std::string(engine::kMarkInfo[mark].name)] = result.coverage[mark];
  }
  const nlohmann::json json = {
      {"seed", config.seed},
      {"config", config.Describe()},
      {"profile", config.profile.ToSpec()},
      {"passed", result.passed},
      {"failure", result.failure},
      {"invariant", result.invariant},
      {"trace_hash", fmt::format("{:016x}", result.trace_hash)},
      {"steps", result.steps},
      {"stats", std::move(stats)},
      {"envelope", properties::EnvelopeToJson(result.envelope)},
      {"coverage", std::move(coverage)},
  };
  return json.dump();
}

int RunCommand(const RunOptions& options) {
  properties::ShardRunConfig config;
  if (auto error = BuildConfig(options, config)) {
    std::fprintf(stderr, "shardsim run: %s\n", error->c_str());
    return 2;
  }
  config.print_trace = options.trace;
  config.verbose = options.verbose;
  const properties::ShardRunResult result = properties::RunShardScenario(config);
  if (options.json) {
    std::printf("%s\n", ResultJson(config, result).c_str());
  } else {
    std::printf("config: %s\n", config.Describe().c_str());
    std::printf("result: %s\n", result.passed ? "PASS" : "FAIL");
    if (!result.passed) std::printf("failure: %s\n", result.failure.c_str());
    std::printf("snapshots: %llu with WAL, %llu without, %llu restored; freezes: %llu; "
                "merges: %llu\n",
                (unsigned long long)result.stats.snapshots_with_wal,
                (unsigned long long)result.stats.snapshots_without_wal,
                (unsigned long long)result.stats.restores, (unsigned long long)result.stats.freezes,
                (unsigned long long)result.stats.optimizations);
    std::printf("steps: %llu, ops written: %llu, completed: %llu, reads checked: %llu, "
                "process crashes: %llu, power losses: %llu, reloads: %llu\n",
                (unsigned long long)result.steps, (unsigned long long)result.stats.ops_written,
                (unsigned long long)result.stats.ops_completed,
                (unsigned long long)result.stats.reads_checked,
                (unsigned long long)result.stats.process_crashes,
                (unsigned long long)result.stats.power_losses,
                (unsigned long long)result.stats.reloads);
  }
  std::printf("trace-hash: %016llx\n", (unsigned long long)result.trace_hash);
  return result.passed ? 0 : 1;
}

}  // namespace shardsim

namespace shardsim {

int CheckDeterminismCommand(const RunOptions& options) {
  properties::ShardRunConfig config;
  if (auto error = BuildConfig(options, config)) {
    std::fprintf(stderr, "shardsim check-determinism: %s\n", error->c_str());
    return 2;
  }
  config.record_trace = true;
  const properties::ShardRunResult first = properties::RunShardScenario(config);
  const properties::ShardRunResult second = properties::RunShardScenario(config);
  const auto difference = sim::FirstDifference(first.events, second.events);
  if (!difference && first.trace_hash == second.trace_hash) {
    std::printf("deterministic: %zu steps, trace-hash: %016llx\n", first.events.size(),
                (unsigned long long)first.trace_hash);
    return 0;
  }
  std::printf("NOT deterministic: the runs differ at step %zu\n", difference.value_or(0));
  const auto show = [&](const char* label, const std::vector<sim::TraceEvent>& events) {
    if (difference && *difference < events.size()) {
      std::printf("  %s: %s\n", label, events[*difference].ToString().c_str());
    } else {
      std::printf("  %s: (trace ended)\n", label);
    }
  };
  show("first run ", first.events);
  show("second run", second.events);
  return 1;
}

}  // namespace shardsim

namespace shardsim {

int RecordCommand(const RunOptions& options, const std::string& path) {
  properties::ShardRunConfig config;
  if (auto error = BuildConfig(options, config)) {
    std::fprintf(stderr, "shardsim record: %s\n", error->c_str());
    return 2;
  }
  const properties::RecordedRun recorded = properties::RecordShardRun(config);
  const std::string comment =
      ScenarioComment(recorded.scenario, recorded.result, fmt::format("recorded from seed {}", options.seed));
  if (auto status = scenarios::WriteScenarioFile(path, recorded.scenario, comment); !status.ok()) {
    std::fprintf(stderr, "shardsim record: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  std::printf("%s: %s, %zu steps, %zu tape bytes\n", path.c_str(),
              recorded.result.passed ? "pass" : recorded.result.invariant.c_str(), recorded.scenario.StepCount(),
              recorded.scenario.tape.size());
  std::printf("trace-hash: %016llx\n", (unsigned long long)recorded.result.trace_hash);
  return 0;
}

}  // namespace shardsim
