#include "tools/shardsim/real_command.h"

#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "properties/real/real_run.h"
#include "properties/run_config.h"
#include "tools/shardsim/campaign.h"

namespace shardsim {

namespace {

namespace fs = std::filesystem;

// A fresh directory for the runs: `--dir` (created if absent; it must hold
// nothing the runs would collide with) or a new one under $TMPDIR.
std::optional<std::string> RunsRoot(const RealOptions& options, std::string& error) {
  if (options.dir) {
    std::error_code code;
    fs::create_directories(*options.dir, code);
    if (code) {
      error = fmt::format("cannot create --dir {}: {}", *options.dir, code.message());
      return std::nullopt;
    }
    return *options.dir;
  }
  const char* tmp = getenv("TMPDIR");
  std::string pattern = fmt::format("{}/shardsim-real-XXXXXX", tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
  if (mkdtemp(pattern.data()) == nullptr) {
    error = fmt::format("cannot create a directory like {}", pattern);
    return std::nullopt;
  }
  return pattern;
}

struct Totals {
  uint64_t seeds = 0;
  uint64_t failed = 0;
  properties::ShardRunStats stats;
  nlohmann::json failures = nlohmann::json::array();
};

}  // namespace

void AddRealFlags(CLI::App& command, RealOptions& options) {
  command.add_option("--seed", options.seed, "One seed");
  command.add_option("--seeds", options.seeds, "Seeds A..B (inclusive), one after another");
  command.add_option("--dir", options.dir,
                     "Directory for the runs, one seed-N/ each (default: a fresh one under $TMPDIR or /tmp)");
  command.add_flag("--keep", options.keep,
                   "Leave every seed's directory with its shard and snapshot archives (failing seeds' are always "
                   "kept)");
  command.add_flag("--verbose", options.verbose, "Print epochs, restores and failures as they happen");
  command.add_flag("--quiet", options.quiet, "No progress line");
  command.add_option("--json", options.json_path, "Write a machine-readable summary to FILE");
}

int RealCommand(const RealOptions& options) {
  if (options.seed.has_value() == options.seeds.has_value()) {
    std::fprintf(stderr, "shardsim real: give --seed N or --seeds A..B\n");
    return 2;
  }
  uint64_t first = options.seed.value_or(0);
  uint64_t last = first;
  if (options.seeds) {
    const auto range = ParseSeedRange(*options.seeds);
    if (!range) {
      std::fprintf(stderr, "shardsim real: --seeds wants A..B with A <= B, got '%s'\n", options.seeds->c_str());
      return 2;
    }
    std::tie(first, last) = *range;
  }
  std::string error;
  const std::optional<std::string> root = RunsRoot(options, error);
  if (!root) {
    std::fprintf(stderr, "shardsim real: %s\n", error.c_str());
    return 2;
  }
  std::printf("real: seeds %llu..%llu in %s\n", (unsigned long long)first, (unsigned long long)last, root->c_str());
  std::fflush(stdout);
  const auto started = std::chrono::steady_clock::now();
  auto last_progress = started;
  Totals totals;
  for (uint64_t seed = first;; ++seed) {
    const std::string dir = fmt::format("{}/seed-{}", *root, seed);
    std::error_code code;
    fs::remove_all(dir, code);
    fs::create_directories(dir, code);
    if (code) {
      std::fprintf(stderr, "shardsim real: cannot create %s: %s\n", dir.c_str(), code.message().c_str());
      return 2;
    }
    const properties::RealRunResult result =
        properties::RunRealShard({.seed = seed, .dir = dir, .verbose = options.verbose});
    ++totals.seeds;
    properties::AddStats(totals.stats, result.stats);
    if (!result.passed) {
      ++totals.failed;
      std::printf("FAILURE seed %llu: %s: %s\n  config: %s\n  directory (kept): %s\n  retry: shardsim real --seed "
                  "%llu --verbose\n",
                  (unsigned long long)seed, result.invariant.c_str(), result.failure.c_str(),
                  properties::ConfigLine(result.drawn).c_str(), dir.c_str(), (unsigned long long)seed);
      totals.failures.push_back(
          {{"seed", seed}, {"invariant", result.invariant}, {"failure", result.failure}, {"dir", dir}});
    } else if (!options.keep) {
      fs::remove_all(dir, code);
    }
    const auto now = std::chrono::steady_clock::now();
    if (!options.quiet && (now - last_progress > std::chrono::seconds(10) || seed == last)) {
      last_progress = now;
      std::printf("%llu seeds, %llu failed, %.0fs\n", (unsigned long long)totals.seeds,
                  (unsigned long long)totals.failed, std::chrono::duration<double>(now - started).count());
      std::fflush(stdout);
    }
    if (seed == last) break;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("real: %llu seeds, %llu passed, %llu failed in %.1fs\n%s", (unsigned long long)totals.seeds,
              (unsigned long long)(totals.seeds - totals.failed), (unsigned long long)totals.failed, seconds,
              properties::StatsTable(totals.stats, false).c_str());
  if (options.keep || totals.failed > 0) std::printf("directories kept under %s\n", root->c_str());
  if (!options.keep && totals.failed == 0 && !options.dir) fs::remove_all(*root);
  if (options.json_path) {
    const nlohmann::json json = {{"seeds", {{"first", first}, {"last", last}}}, {"runs", totals.seeds},
                                 {"failed", totals.failed}, {"seconds", seconds},
                                 {"stats", properties::StatsToJson(totals.stats)}, {"failures", totals.failures},
                                 {"dir", *root}};
    std::ofstream out(*options.json_path);
    out << json.dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "shardsim real: cannot write %s\n", options.json_path->c_str());
      return 2;
    }
  }
  return totals.failed == 0 ? 0 : 1;
}

}  // namespace shardsim
