#include "tools/shardsim/run_command.h"

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "properties/run_config.h"
#include "properties/scenario.h"
#include "scenarios/scenario_format.h"
#include "sim/profile.h"
#include "tools/shardsim/child_runs.h"
#include "tools/shardsim/flag_checks.h"
#include "tools/shardsim/output_paths.h"
#include "tools/shardsim/scenario_commands.h"
#include "tools/shardsim/trace_json.h"
#include "sim/trace.h"

namespace shardsim {

void AddRunFlags(CLI::App& command, RunOptions& options, RunFlagsOffered offered) {
  command.add_option("--seed", options.seed, "Seed of the run (decides everything; required but with --cluster)")
      ->check(DecimalIn(0, UINT64_MAX))
      ->each([&options](const std::string&) { options.seed_given = true; });
  if (offered.printing) {
    command.add_flag("--json", options.json, "Print the result as one JSON object (and nothing else)");
    command.add_flag("--trace", options.trace, "Print every trace step as it happens");
    command.add_flag("--verbose", options.verbose,
                     "Print ops, crashes and reloads as they happen (changes a shard run's trace: docs/simulation.md)");
  }
  AddConfigFlags(command, options.config);
  AddClusterFlags(command, options.cluster, offered.cluster);
}

static std::optional<std::string> KindError(const RunOptions& options) {
  // (--trace and --verbose print on stdout, where --json's object goes alone.)
  if (options.json && (options.trace || options.verbose)) {
    return std::string("--json prints one JSON object on stdout; --trace and --verbose would print there too");
  }
  if (options.cluster.cluster) {
    for (const auto& [key, value] : options.config.values) {
      if (value) return fmt::format("the shard-run knob {}= does not apply to a cluster run", key);
    }
    if (options.trace) return std::string("--trace is a shard-run flag; a cluster run takes --trace-json FILE");
    return std::nullopt;
  }
  if (auto flag = options.cluster.FirstGiven()) return fmt::format("{} needs --cluster", *flag);
  if (!options.seed_given) return std::string("--seed is required (but for a --cluster run)");
  return std::nullopt;
}

// The flags fit the kind of run, and the files it will write (`output`:
// record's scenario; run's --trace-json) can be written: checked
// before the run, not after it.
static std::optional<std::string> CheckRunKind(const RunOptions& options, const std::optional<std::string>& output) {
  if (auto error = KindError(options)) return error;
  const auto& trace_json = options.cluster.trace_json_path;
  for (const auto& [flag, path] : {std::pair{"-o", output}, std::pair{"--trace-json", trace_json}}) {
    if (!path) continue;
    if (absl::Status status = CheckOutputFile(flag, *path); !status.ok()) return std::string(status.message());
  }
  return std::nullopt;
}

std::optional<std::string> BuildConfig(const RunOptions& options,
                                       properties::ShardRunConfig& config) {
  return BuildConfig(options.seed, options.config, config);
}

std::string ResultJson(const properties::ShardRunConfig& config,
                       const properties::ShardRunResult& result) {
  nlohmann::json coverage = nlohmann::json::object();
  for (size_t mark = 0; mark < engine::kMarkCount; ++mark) {
    if (result.coverage[mark] != 0) coverage[std::string(engine::kMarkInfo[mark].name)] = result.coverage[mark];
  }
  const nlohmann::json json = {
      {"seed", config.seed},
      {"config", properties::ConfigJson(config)},
      {"profile", config.profile.ToSpec()},
      {"passed", result.passed},
      {"failure", result.failure},
      {"invariant", result.invariant},
      {"trace_hash", fmt::format("{:016x}", result.trace_hash)},
      {"steps", result.steps},
      {"stats", properties::StatsToJson(result.stats)},
      {"envelope", properties::EnvelopeToJson(result.envelope)},
      {"coverage", std::move(coverage)},
  };
  return json.dump();
}

int RunCommand(const RunOptions& options) {
  if (auto error = CheckRunKind(options, /*output=*/std::nullopt)) {
    std::fprintf(stderr, "shardsim run: %s\n", error->c_str());
    return 2;
  }
  if (options.cluster.cluster) {
    return ClusterRunCommand(options.seed, options.cluster, options.json, options.verbose);
  }
  properties::ShardRunConfig config;
  if (auto error = BuildConfig(options, config)) {
    std::fprintf(stderr, "shardsim run: %s\n", error->c_str());
    return 2;
  }
  config.print_trace = options.trace;
  config.verbose = options.verbose;
  const std::optional<std::string>& trace_json_path = options.cluster.trace_json_path;
  // (Recording the events leaves the schedule and the trace hash as they are.)
  config.record_trace = trace_json_path.has_value();
  const properties::ShardRunResult result = properties::RunShardScenario(config);
  if (trace_json_path) {
    if (!WriteText(*trace_json_path, ChromeTraceJson(result.events).dump() + "\n")) {
      std::fprintf(stderr, "shardsim run: cannot write %s\n", trace_json_path->c_str());
      return 2;
    }
    // (On stderr: with --json, stdout holds the JSON object alone.)
    std::fprintf(stderr, "trace-json: %s (%zu events; open in ui.perfetto.dev)\n", trace_json_path->c_str(),
                 result.events.size());
  }
  if (options.json) {
    std::printf("%s\n", ResultJson(config, result).c_str());  // (it holds trace_hash: nothing else on stdout)
    return result.passed ? 0 : 1;
  }
  std::printf("config: %s\n", config.Describe().c_str());
  std::printf("result: %s\n", result.passed ? "PASS" : "FAIL");
  if (!result.passed) std::printf("failure: %s\n", result.failure.c_str());
  std::printf("steps: %llu\n%s", (unsigned long long)result.steps,
              properties::StatsTable(result.stats, /*show_zeros=*/false).c_str());
  std::printf("trace-hash: %016llx\n", (unsigned long long)result.trace_hash);
  return result.passed ? 0 : 1;
}

}  // namespace shardsim

namespace shardsim {

int CheckDeterminismCommand(const RunOptions& options) {
  if (auto error = CheckRunKind(options, /*output=*/std::nullopt)) {
    std::fprintf(stderr, "shardsim check-determinism: %s\n", error->c_str());
    return 2;
  }
  if (options.cluster.cluster) {
    if (options.seed_given == options.cluster.seeds.has_value()) {
      std::fprintf(stderr, "shardsim check-determinism --cluster: give --seed N or --seeds A..B\n");
      return 2;
    }
    return ClusterCheckDeterminismCommand(
        options.seed_given ? std::optional<uint64_t>(options.seed) : std::nullopt, options.cluster);
  }
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
  if (auto error = CheckRunKind(options, path)) {
    std::fprintf(stderr, "shardsim record: %s\n", error->c_str());
    return 2;
  }
  if (options.cluster.cluster) return ClusterRecordCommand(options.seed, options.cluster, path);
  properties::ShardRunConfig config;
  if (auto error = BuildConfig(options, config)) {
    std::fprintf(stderr, "shardsim record: %s\n", error->c_str());
    return 2;
  }
  // In a child, so that a run ending in an engine assertion is still written
  // (through the assertion) to be replayed and shrunk.
  const absl::StatusOr<properties::RecordedRun> recorded = RecordShardRunInChild(config);
  if (!recorded.ok()) {
    std::fprintf(stderr, "shardsim record: seed %llu: %s\n", (unsigned long long)options.seed,
                 std::string(recorded.status().message()).c_str());
    return 1;
  }
  const std::optional<uint64_t> pinned = PinnableTraceHash(recorded->result);
  const std::string comment =
      ScenarioComment(recorded->scenario, recorded->result, fmt::format("recorded from seed {}", options.seed));
  if (auto status = scenarios::WriteScenarioFile(path, recorded->scenario, comment, pinned); !status.ok()) {
    std::fprintf(stderr, "shardsim record: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  std::printf("%s: %s, %zu steps, %zu tape bytes\n", path.c_str(),
              recorded->result.passed ? "pass" : recorded->result.invariant.c_str(), recorded->scenario.StepCount(),
              recorded->scenario.tape.size());
  if (pinned) {
    std::printf("trace-hash: %016llx\n", (unsigned long long)*pinned);
  } else {
    std::printf("%s\ntrace-hash: not pinned (the run ends in an engine assertion)\n", recorded->result.failure.c_str());
  }
  return 0;
}

}  // namespace shardsim
