#include "tools/shardsim/crash_every.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "properties/scenario.h"
#include "scenarios/scenario_format.h"
#include "sim/profile.h"

namespace shardsim {

namespace {

struct CrashPointCandidate {
  uint64_t after_steps;
  std::string call;  // the file-system call and path
};

// The file-system calls of the first engine process, as offsets from its
// start (the step its restart event took, which is where a crash is armed).
std::vector<CrashPointCandidate> FirstProcessCalls(const properties::Scenario& base) {
  properties::ShardRunConfig print;
  print.record_trace = true;
  const properties::ShardRunResult result = properties::ReplayScenario(base, print);
  std::vector<CrashPointCandidate> calls;
  std::optional<uint64_t> start;
  for (const sim::TraceEvent& event : result.events) {
    if (event.kind == sim::EventKind::kRestart) {
      if (start) break;  // the next process: the first one is over
      start = event.step;
      continue;
    }
    if (start && event.kind == sim::EventKind::kFsCall) calls.push_back({event.step - *start, event.detail});
  }
  return calls;
}

struct Variant {
  sim::CrashKind kind;
  std::optional<sim::CrashModel> model;  // power loss only
};

std::string VariantName(const Variant& variant) {
  if (!variant.model) return std::string(sim::CrashKindName(variant.kind));
  return fmt::format("{}/{}", sim::CrashKindName(variant.kind), sim::CrashModelName(*variant.model));
}

}  // namespace

void AddCrashEveryFlags(CLI::App& command, CrashEveryOptions& options) {
  command.add_option("file", options.path, "A small scenario file")->required();
  command.add_option("--max-calls", options.max_calls, "Try at most this many file-system calls (default 2000)")
      ->check(CLI::Range(1, 1'000'000));
  command.add_option("--failures-dir", options.failures_dir, "Write each failing crash variant there as a scenario");
  command.add_flag("--quiet", options.quiet, "No progress line");
}

int CrashEveryCommand(const CrashEveryOptions& options) {
  auto loaded = scenarios::ReadScenarioFile(options.path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "shardsim crash-every: %s\n", std::string(loaded.status().message()).c_str());
    return 2;
  }
  // The first epoch without its own crash, then an empty epoch: the reload
  // after each injected crash, checked, and the run's final checks.
  properties::Scenario base = *loaded;
  if (base.epochs.empty()) base.epochs.emplace_back();
  base.epochs.resize(1);
  base.epochs[0].crash.reset();
  base.epochs.emplace_back();
  base.expected_invariant.clear();
  std::vector<CrashPointCandidate> calls = FirstProcessCalls(base);
  if (calls.size() > options.max_calls) calls.resize(options.max_calls);
  std::vector<Variant> variants = {{sim::CrashKind::kProcessCrash, std::nullopt}};
  for (sim::CrashModel model : base.config.profile.crash_models) variants.push_back({sim::CrashKind::kPowerLoss, model});
  std::printf("crash-every: %zu file-system calls in the first process, %zu crash variants each\n", calls.size(),
              variants.size());
  const bool live = !options.quiet && isatty(STDERR_FILENO);
  size_t checked = 0, failed = 0;
  for (size_t index = 0; index < calls.size(); ++index) {
    for (const Variant& variant : variants) {
      properties::Scenario candidate = base;
      candidate.epochs[0].crash = properties::CrashPoint{calls[index].after_steps, variant.kind};
      if (variant.model) candidate.config.profile.crash_models = {*variant.model};
      const properties::ShardRunResult result = properties::ReplayScenario(candidate, {});
      ++checked;
      if (result.passed) continue;
      ++failed;
      std::printf("FAIL at call %zu (%s), %s: %s: %s\n", index, calls[index].call.c_str(), VariantName(variant).c_str(),
                  result.invariant.c_str(), result.failure.c_str());
      if (options.failures_dir && !variant.model) {  // (a one-model profile has no name to write)
        std::filesystem::create_directories(*options.failures_dir);
        candidate.expected_invariant = result.invariant;
        (void)scenarios::WriteScenarioFile(fmt::format("{}/crash-at-call-{}.scn", *options.failures_dir, index),
                                           candidate, fmt::format("crash-every: {} before call {} ({})",
                                                                  VariantName(variant), index, calls[index].call));
      }
    }
    if (live) std::fprintf(stderr, "\r%zu/%zu calls, %zu states, %zu failed   ", index + 1, calls.size(), checked, failed);
  }
  if (live) std::fprintf(stderr, "\n");
  std::printf("crash-every: %zu crash states checked, %zu failed\n", checked, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace shardsim
