// `shardsim shrink` for a cluster scenario, and the helpers the campaign
// shares with it (the scenario comment, shrinking with progress).
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "scenarios/cluster_format.h"
#include "tools/shardsim/child_runs.h"
#include "tools/shardsim/cluster_commands.h"
#include "tools/shardsim/scenario_commands.h"

namespace shardsim {

std::string ClusterScenarioComment(const properties::ClusterScenario& scenario,
                                   const properties::ClusterRunResult& result, const std::string& origin) {
  std::string comment = fmt::format("shardsim cluster scenario ({}): {} steps, {} tape bytes\n", origin,
                                    scenario.StepCount(), scenario.tape.size());
  comment += result.failure ? fmt::format("outcome: FAIL {}\nfailure: {}\n", result.failure->invariant,
                                          result.failure->message)
                            : "outcome: pass\n";
  comment += "replay: shardsim replay <this file> [--verbose] [--trace-json out.json]";
  return comment;
}

properties::ClusterShrinkResult ClusterShrinkWithProgress(const properties::ClusterScenario& scenario,
                                                          size_t max_replays, bool quiet) {
  properties::ClusterShrinkOptions options;
  options.max_replays = max_replays;
  // A run that ends in an engine assertion aborts: each replay runs in a child.
  if (scenario.expected_invariant == "run-outcome") {
    options.replay = [](const properties::ClusterScenario& candidate) { return ReplayClusterInChild(candidate, {}, /*quiet=*/true); };
  }
  const bool live = !quiet && isatty(STDERR_FILENO);
  if (live) {
    options.progress = [](size_t replays, size_t steps, size_t tape_bytes) {
      std::fprintf(stderr, "\rshrinking: %zu replays, %zu steps, %zu tape bytes   ", replays, steps, tape_bytes);
      std::fflush(stderr);
    };
  } else if (!quiet) {
    // A log gets a line per 100th replay that shrank it further.
    options.progress = [next_line_at = size_t{100}](size_t replays, size_t steps, size_t tape_bytes) mutable {
      if (replays < next_line_at) return;
      next_line_at = replays + 100;
      std::fprintf(stderr, "shrinking: %zu replays, %zu steps, %zu tape bytes\n", replays, steps, tape_bytes);
    };
  }
  properties::ClusterShrinkResult shrunk = properties::ShrinkClusterScenario(scenario, options);
  if (live) std::fprintf(stderr, "\n");
  if (!quiet) {
    std::fprintf(stderr, "shrunk %zu -> %zu steps, %zu -> %zu tape bytes in %zu replays\n", scenario.StepCount(),
                 shrunk.scenario.StepCount(), scenario.tape.size(), shrunk.scenario.tape.size(), shrunk.replays);
  }
  return shrunk;
}

int ClusterShrinkCommand(const ShrinkOptions& options) {
  auto file = scenarios::ReadClusterScenarioFile(options.path);
  if (!file.ok()) {
    std::fprintf(stderr, "shardsim shrink: %s\n", std::string(file.status().message()).c_str());
    return 2;
  }
  const properties::ClusterScenario* scenario = &file->scenario;
  if (scenario->expected_invariant.empty()) {
    std::fprintf(stderr, "shardsim shrink: %s expects a pass; only a failing scenario shrinks\n", options.path.c_str());
    return 2;
  }
  const size_t max_replays = options.max_replays_given ? options.max_replays : kClusterShrinkReplays;
  const properties::ClusterShrinkResult shrunk = ClusterShrinkWithProgress(*scenario, max_replays, false);
  if (!shrunk.reproduced) {
    std::printf("the scenario does not fail with '%s' (%s); nothing written\n", scenario->expected_invariant.c_str(),
                shrunk.result.failure ? shrunk.result.failure->invariant.c_str() : "it passes");
    return 1;
  }
  const std::string comment = ClusterScenarioComment(shrunk.scenario, shrunk.result, "shrunk from " + options.path);
  const std::optional<uint64_t> pinned = PinnableTraceHash(shrunk.result);
  if (auto status = scenarios::WriteClusterScenarioFile(options.output_path, shrunk.scenario, comment, pinned);
      !status.ok()) {
    std::fprintf(stderr, "shardsim shrink: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  std::printf("shrunk %zu steps, %zu tape bytes -> %zu steps, %zu tape bytes in %zu replays: %s\n",
              scenario->StepCount(), scenario->tape.size(), shrunk.scenario.StepCount(), shrunk.scenario.tape.size(),
              shrunk.replays, options.output_path.c_str());
  std::printf("replay: shardsim replay %s\n", options.output_path.c_str());
  return 0;
}

}  // namespace shardsim
