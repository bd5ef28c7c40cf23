#include "tools/shardsim/scenario_commands.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "properties/fuzz_input.h"
#include "scenarios/cluster_format.h"
#include "scenarios/input_file.h"
#include "scenarios/scenario_format.h"
#include "tools/shardsim/child_runs.h"
#include "tools/shardsim/cluster_commands.h"
#include "tools/shardsim/flag_checks.h"
#include "tools/shardsim/output_paths.h"
#include "tools/shardsim/trace_json.h"

namespace shardsim {

namespace {

void PrintOutcome(const properties::Scenario& scenario, const properties::ShardRunResult& result) {
  std::printf("result: %s\n", result.stopped ? "STOPPED (--until)" : result.passed ? "PASS" : "FAIL");
  if (!result.passed) std::printf("invariant: %s\nfailure: %s\n", result.invariant.c_str(), result.failure.c_str());
  std::printf("expected: %s\n", scenario.expected_invariant.empty() ? "pass" : scenario.expected_invariant.c_str());
  std::printf("steps: %llu, scenario steps: %zu\n%s", (unsigned long long)result.steps, scenario.StepCount(),
              properties::StatsTable(result.stats, /*show_zeros=*/false).c_str());
  std::printf("trace-hash: %016llx\n", (unsigned long long)result.trace_hash);
}

// Names each task in the printed trace (from its spawn event).
class TracePrinter {
 public:
  void operator()(const sim::TraceEvent& event) {
    if (event.kind == sim::EventKind::kSpawn) names_[event.task] = event.detail;
    const auto name = names_.find(event.task);
    const std::string detail = event.detail.empty() ? event.note : event.detail + (event.note.empty() ? "" : " " + event.note);
    std::printf("#%-7llu %10.3fms  %-18s %-8s %s\n", (unsigned long long)event.step, event.time_ns / 1e6,
                name == names_.end() ? fmt::format("task{}", event.task).c_str()
                                     : fmt::format("{}#{}", name->second, event.task).c_str(),
                std::string(sim::EventKindName(event.kind)).c_str(), detail.c_str());
  }

 private:
  std::map<uint32_t, std::string> names_;
};

// A `cluster v1` file is a cluster scenario; anything else (an unreadable
// file included) goes to the shard parser, which says what is wrong.
bool IsClusterFile(const std::string& path) {
  const absl::StatusOr<std::string> text = scenarios::ReadInputFile(path);
  return text.ok() && scenarios::IsClusterScenarioText(*text);
}

}  // namespace

void AddReplayFlags(CLI::App& command, ReplayOptions& options) {
  command.add_option("file", options.path, "Scenario file")->required();
  command.add_flag("--trace", options.trace, "Print every step: virtual time, task, event, file-system call");
  command.add_flag("--verbose", options.verbose, "Print ops, crashes, reloads and restores as they happen");
  command.add_option("--trace-json", options.trace_json_path, "Write Chrome trace-event JSON (Perfetto) to OUT");
  command.add_option("--until", options.until_step, "Stop the trace at this step and wind the run down")
      ->check(DecimalIn(0, UINT64_MAX));
  command.add_option("--dump-state", options.dump_state_step,
                     "Print segments, proxies, WAL range and clocks at the first client step at or after STEP")
      ->check(DecimalIn(0, UINT64_MAX));
}

int ReplayCommand(const ReplayOptions& options) {
  if (options.trace_json_path) {
    if (auto status = CheckOutputFile("--trace-json", *options.trace_json_path); !status.ok()) {
      std::fprintf(stderr, "shardsim replay: %s\n", std::string(status.message()).c_str());
      return 2;
    }
  }
  if (IsClusterFile(options.path)) return ClusterReplayCommand(options);
  auto file = scenarios::ReadScenarioFile(options.path);
  if (!file.ok()) {
    std::fprintf(stderr, "shardsim replay: %s\n", std::string(file.status().message()).c_str());
    return 2;
  }
  const properties::Scenario* scenario = &file->scenario;
  properties::ShardRunConfig print;
  print.verbose = options.verbose;
  print.record_trace = options.trace_json_path.has_value();
  print.stop_at_step = options.until_step;
  print.dump_state_at_step = options.dump_state_step;
  TracePrinter printer;
  if (options.trace) print.trace_listener = [&printer](const sim::TraceEvent& event) { printer(event); };
  std::printf("config: %s\n", scenario->config.Describe().c_str());
  // A scenario that ends in an engine assertion replays in a child, so the
  // replay can say whether it reproduced; not with --trace-json, whose events
  // stay in the child (under a debugger, `run --seed N` stops at the
  // assertion itself).
  const bool in_child = scenario->expected_invariant == "run-outcome" && !options.trace_json_path;
  const properties::ShardRunResult result =
      in_child ? ReplayShardInChild(*scenario, print) : properties::ReplayScenario(*scenario, print);
  if (options.trace_json_path) {
    if (!WriteText(*options.trace_json_path, ChromeTraceJson(result.events).dump() + "\n")) {
      std::fprintf(stderr, "shardsim replay: cannot write %s\n", options.trace_json_path->c_str());
      return 2;
    }
    std::printf("trace-json: %s (%zu events; open in ui.perfetto.dev)\n", options.trace_json_path->c_str(),
                result.events.size());
  }
  PrintOutcome(*scenario, result);
  if (result.stopped) return 0;
  const bool as_expected = result.passed ? scenario->expected_invariant.empty()
                                         : result.invariant == scenario->expected_invariant;
  std::printf("reproduced: %s\n", as_expected ? "yes" : "NO");
  // These change the schedule, so the trace differs from the pinned one.
  const char* perturbed = options.dump_state_step ? "--dump-state takes the shard's locks"
                          : options.until_step   ? "--until may stop the run"
                          : options.verbose      ? "--verbose changes a shard run's schedule (docs/simulation.md)"
                                                 : nullptr;
  if (perturbed == nullptr && EndedInAssertion(result)) perturbed = "the run ended in an engine assertion";
  const bool as_pinned = CheckPinnedTraceHash(options.path, file->trace_hash, result.trace_hash, perturbed);
  return as_expected && as_pinned ? 0 : 1;
}

bool CheckPinnedTraceHash(const std::string& path, std::optional<uint64_t> pinned, uint64_t replayed,
                          const char* not_compared_because) {
  if (!pinned) {
    std::printf("trace: not pinned (the file has no trace-hash line)\n");
  } else if (not_compared_because != nullptr) {
    std::printf("trace: not compared with the pinned %016llx (%s)\n", (unsigned long long)*pinned,
                not_compared_because);
  } else if (*pinned == replayed) {
    std::printf("trace: as pinned\n");
  } else {
    std::printf("trace drift: the replay's trace hash %016llx is not the pinned %016llx: the run took other steps "
                "than when the file was written (an engine or simulator change); if that is intended, check the "
                "replay and re-pin it with `shardsim pin %s`\n",
                (unsigned long long)replayed, (unsigned long long)*pinned, path.c_str());
    return false;
  }
  return true;
}

void AddShrinkFlags(CLI::App& command, ShrinkOptions& options) {
  command.add_option("file", options.path, "A failing scenario file")->required();
  command.add_option("-o,--output", options.output_path, "Where to write the shrunk scenario")->required();
  command.add_option("--max-replays", options.max_replays, "Bound on replays (default 3000; 400 for a cluster scenario)")
      ->check(DecimalIn(1, 1'000'000))
      ->each([&options](const std::string&) { options.max_replays_given = true; });
}

properties::ShrinkResult ShrinkWithProgress(const properties::Scenario& scenario, size_t max_replays, bool quiet) {
  properties::ShrinkOptions options;
  options.max_replays = max_replays;
  // A run that ends in an engine assertion aborts: each replay runs in a child.
  if (scenario.expected_invariant == "run-outcome") {
    options.replay = [](const properties::Scenario& candidate) { return ReplayShardInChild(candidate, {}, /*quiet=*/true); };
  }
  // A live line on a terminal; a line now and then otherwise (CI logs).
  const bool live = !quiet && isatty(STDERR_FILENO);
  if (live) {
    options.progress = [](size_t replays, size_t steps, size_t tape_bytes) {
      std::fprintf(stderr, "\rshrinking: %zu replays, %zu steps, %zu tape bytes   ", replays, steps, tape_bytes);
      std::fflush(stderr);
    };
  } else if (!quiet) {
    // A log gets a line per 500th replay that shrank it further.
    options.progress = [next_line_at = size_t{500}](size_t replays, size_t steps, size_t tape_bytes) mutable {
      if (replays < next_line_at) return;
      next_line_at = replays + 500;
      std::fprintf(stderr, "shrinking: %zu replays, %zu steps, %zu tape bytes\n", replays, steps, tape_bytes);
    };
  }
  properties::ShrinkResult shrunk = properties::ShrinkScenario(scenario, options);
  if (live) std::fprintf(stderr, "\n");
  if (!quiet) {
    std::fprintf(stderr, "shrunk %zu -> %zu steps, %zu -> %zu tape bytes in %zu replays\n", scenario.StepCount(),
                 shrunk.scenario.StepCount(), scenario.tape.size(), shrunk.scenario.tape.size(), shrunk.replays);
  }
  return shrunk;
}

int ShrinkCommand(const ShrinkOptions& options) {
  if (auto status = CheckOutputFile("-o", options.output_path); !status.ok()) {
    std::fprintf(stderr, "shardsim shrink: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  if (IsClusterFile(options.path)) return ClusterShrinkCommand(options);
  auto file = scenarios::ReadScenarioFile(options.path);
  if (!file.ok()) {
    std::fprintf(stderr, "shardsim shrink: %s\n", std::string(file.status().message()).c_str());
    return 2;
  }
  const properties::Scenario* scenario = &file->scenario;
  if (scenario->expected_invariant.empty()) {
    std::fprintf(stderr, "shardsim shrink: %s expects a pass; only a failing scenario shrinks\n", options.path.c_str());
    return 2;
  }
  const properties::ShrinkResult shrunk = ShrinkWithProgress(*scenario, options.max_replays, false);
  if (!shrunk.reproduced) {
    std::printf("the scenario does not fail with '%s' (%s); nothing written\n", scenario->expected_invariant.c_str(),
                shrunk.result.passed ? "it passes" : shrunk.result.invariant.c_str());
    return 1;
  }
  const std::string comment = ScenarioComment(shrunk.scenario, shrunk.result, "shrunk from " + options.path);
  const std::optional<uint64_t> pinned = PinnableTraceHash(shrunk.result);
  if (auto status = scenarios::WriteScenarioFile(options.output_path, shrunk.scenario, comment, pinned);
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

void AddFromFuzzFlags(CLI::App& command, FromFuzzOptions& options) {
  command.add_option("crash", options.path, "A fuzz_shard input (e.g. crash-<sha1>)")->required();
  command.add_option("-o,--output", options.output_path, "Write the scenario here instead of stdout");
}

int FromFuzzCommand(const FromFuzzOptions& options) {
  if (options.output_path) {
    if (auto status = CheckOutputFile("-o", *options.output_path); !status.ok()) {
      std::fprintf(stderr, "shardsim from-fuzz: %s\n", std::string(status.message()).c_str());
      return 2;
    }
  }
  // (An empty input is a valid one: libFuzzer tries it first.)
  const absl::StatusOr<std::string> file = scenarios::ReadInputFile(options.path);
  if (!file.ok()) {
    std::fprintf(stderr, "shardsim from-fuzz: %s\n", std::string(file.status().message()).c_str());
    return 2;
  }
  const std::vector<uint8_t> bytes(file->begin(), file->end());
  const properties::FuzzInput input = properties::DecodeFuzzInput(bytes);
  const properties::RecordedRun recorded = properties::RecordTapeRun(input.config, input.tape);
  const std::string text = scenarios::WriteScenario(
      recorded.scenario, ScenarioComment(recorded.scenario, recorded.result, "fuzz_shard input " + options.path),
      recorded.result.trace_hash);
  if (!options.output_path) {
    std::fputs(text.c_str(), stdout);
  } else if (!WriteText(*options.output_path, text)) {
    std::fprintf(stderr, "shardsim from-fuzz: cannot write %s\n", options.output_path->c_str());
    return 2;
  }
  return 0;
}

std::string ScenarioComment(const properties::Scenario& scenario, const properties::ShardRunResult& result,
                            const std::string& origin) {
  std::string comment = fmt::format("shardsim scenario ({}): {} steps, {} tape bytes\n", origin,
                                    scenario.StepCount(), scenario.tape.size());
  comment += result.passed ? "outcome: pass\n"
                           : fmt::format("outcome: FAIL {}\nfailure: {}\n", result.invariant, result.failure);
  comment += "replay: shardsim replay <this file> [--trace] [--trace-json out.json] [--dump-state STEP]";
  return comment;
}

}  // namespace shardsim
