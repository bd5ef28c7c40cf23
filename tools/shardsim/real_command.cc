#include "tools/shardsim/real_command.h"

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "properties/real/crash_child.h"
#include "properties/real/real_run.h"
#include "properties/run_config.h"
#include "tools/shardsim/campaign.h"
#include "tools/shardsim/flag_checks.h"
#include "tools/shardsim/output_paths.h"

namespace shardsim {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// `--dir` (created if absent) or a new directory under $TMPDIR.
std::optional<std::string> RunsRoot(const RealOptions& options, std::string& error) {
  if (options.dir) {
    std::error_code code;
    fs::create_directories(*options.dir, code);
    if (code) {
      error = fmt::format("cannot create --dir {}: {}", *options.dir, code.message());
      return std::nullopt;
    }
    return fs::absolute(*options.dir).string();
  }
  const char* tmp = getenv("TMPDIR");
  std::string pattern = fmt::format("{}/shardsim-real-XXXXXX", tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
  if (mkdtemp(pattern.data()) == nullptr) {
    error = fmt::format("cannot create a directory like {}", pattern);
    return std::nullopt;
  }
  return pattern;
}

// This process loads the shard itself to check it (after a kill, and at the
// end), so an engine assertion there aborts it: the handler names the seed
// being checked first. The note is written before each seed, never while
// the handler may run.
char abort_note[1024];
void OnAbort(int) {
  const ssize_t ignored = ::write(2, abort_note, strnlen(abort_note, sizeof abort_note));
  (void)ignored;  // (abort() then ends the process)
}

void SetAbortNote(const RealOptions& options, uint64_t seed, uint64_t timing_seed, const std::string& dir) {
  const std::string retry = options.crash ? fmt::format("shardsim real --crash --seed {} --timing-seed {} --verbose",
                                                        seed, timing_seed)
                                          : fmt::format("shardsim real --seed {} --verbose", seed);
  fmt::format_to_n(abort_note, sizeof abort_note - 1,
                   "shardsim real: aborted (an engine assertion, above) while checking seed {}; its directory "
                   "{} is left as it was; retry: {}\n{}",
                   seed, dir, retry, '\0');
}

std::string SelfExecutable() {
  std::error_code code;
  const fs::path self = fs::read_symlink("/proc/self/exe", code);
  return code ? std::string("/proc/self/exe") : self.string();
}

struct Totals {
  uint64_t seeds = 0;
  uint64_t failed = 0;
  properties::ShardRunStats stats;
  properties::CrashStats crash;
  nlohmann::json failures = nlohmann::json::array();

  void Add(const properties::RealRunResult& result) {
    ++seeds;
    properties::AddStats(stats, result.stats);
    crash.children += result.crash.children;
    crash.kills += result.crash.kills;
    crash.recoveries_checked += result.crash.recoveries_checked;
    crash.ops_verified += result.crash.ops_verified;
    crash.durable_ops_verified += result.crash.durable_ops_verified;
    crash.unreported_ops += result.crash.unreported_ops;
    crash.restores_crashed += result.crash.restores_crashed;
    crash.restores_left_dirty += result.crash.restores_left_dirty;
    crash.wide_runs += result.crash.wide_runs;
    crash.torn_wal_tails_cut += result.crash.torn_wal_tails_cut;
    for (const auto& [phase, count] : result.crash.kills_by_phase) crash.kills_by_phase[phase] += count;
  }
  std::string CrashSummary() const {
    std::string text = fmt::format(
        "kills: {} delivered to {} engine processes, {} recoveries checked, {} ops verified back ({} of them "
        "durable when killed, {} found in the WAL unreported), {} restores killed midway ({} left dirty and "
        "restored again), {} torn WAL tails cut at recovery ({} runs with wide vectors)\n  kills by phase:",
        crash.kills, crash.children, crash.recoveries_checked, crash.ops_verified, crash.durable_ops_verified,
        crash.unreported_ops, crash.restores_crashed, crash.restores_left_dirty, crash.torn_wal_tails_cut,
        crash.wide_runs);
    for (const auto& [phase, count] : crash.kills_by_phase) text += fmt::format(" {} {}", phase, count);
    return text + "\n";
  }
  nlohmann::json CrashJson() const {
    return {{"children", crash.children},
            {"kills", crash.kills},
            {"recoveries_checked", crash.recoveries_checked},
            {"ops_verified", crash.ops_verified},
            {"durable_ops_verified", crash.durable_ops_verified},
            {"unreported_ops", crash.unreported_ops},
            {"restores_crashed", crash.restores_crashed},
            {"restores_left_dirty", crash.restores_left_dirty},
            {"wide_runs", crash.wide_runs},
            {"torn_wal_tails_cut", crash.torn_wal_tails_cut},
            {"kills_by_phase", crash.kills_by_phase}};
  }
};

void PrintFailure(const RealOptions& options, uint64_t seed, const properties::RealRunResult& result,
                  const std::string& dir, uint64_t timing_seed, double elapsed_seconds) {
  std::printf("FAILURE seed %llu (after %.1fs): %s: %s\n  config: %s\n  directory (kept): %s\n",
              (unsigned long long)seed, elapsed_seconds, result.invariant.c_str(), result.failure.c_str(),
              properties::ConfigLine(result.drawn).c_str(), dir.c_str());
  for (const std::string& line : result.log) std::printf("  %s\n", line.c_str());
  if (options.crash) {
    std::printf("  retry: shardsim real --crash --seed %llu --timing-seed %llu --verbose (the kill plans are the "
                "same; the OS's timing is not)\n",
                (unsigned long long)seed, (unsigned long long)timing_seed);
  } else {
    std::printf("  retry: shardsim real --seed %llu --verbose\n", (unsigned long long)seed);
  }
  std::fflush(stdout);
}

}  // namespace

void AddRealFlags(CLI::App& command, RealOptions& options) {
  command.add_option("--seed", options.seed, "One seed")->check(DecimalIn(0, UINT64_MAX));
  command.add_option("--seeds", options.seeds, "Seeds A..B (inclusive), one after another");
  command.add_option("--budget", options.budget,
                     "Run seeds from --seeds' first (default 0) until this time is up, e.g. 10m");
  command.add_flag("--crash", options.crash,
                   "Kill -9 mode: each engine process runs in a child that is killed with SIGKILL at a drawn "
                   "moment (during writes, flushes, optimizations, snapshots or restores), then the recovery is "
                   "checked");
  command.add_option("--timing-seed", options.timing_seed,
                     "With --crash and --seed: draw the kill plans from this seed (default: the seed)")
      ->check(DecimalIn(0, UINT64_MAX));
  command.add_option("--dir", options.dir,
                     "Directory for the runs, one seed-N/ each (default: a fresh one under $TMPDIR or /tmp)");
  command.add_flag("--keep", options.keep,
                   "Leave every seed's directory with its shard and snapshot archives (a failing seed's is "
                   "always kept)");
  command.add_flag("--verbose", options.verbose, "Print epochs, kills, restores and failures as they happen");
  command.add_flag("--quiet", options.quiet, "No progress line");
  command.add_option("--json", options.json_path, "Write a machine-readable summary to FILE");
}

void AddRealChildFlags(CLI::App& command, RealChildOptions& options) {
  command.add_option("--seed", options.seed, "The seed")->required()->check(DecimalIn(0, UINT64_MAX));
  command.add_option("--dir", options.dir, "The run's directory")->required();
  command.add_option("--epoch", options.epoch, "The epoch (engine process) of the run")
      ->required()
      ->check(DecimalIn(0, UINT32_MAX));
  command.add_option("--restore", options.restore, "Restore this archive over the live shard, then exit");
  command.add_option("--kill-in-wal-write", options.kill_in_wal_write,
                     "Die by SIGKILL inside the N-th multi-page WAL write (from a kernel timer)")
      ->check(DecimalIn(1, UINT32_MAX));
  command.add_option("--kill-delay-ns", options.kill_delay_ns, "With --kill-in-wal-write: the timer's delay")
      ->check(DecimalIn(0, 1'000'000));
}

int RealChildCommand(const RealChildOptions& options) {
  return properties::RunCrashChild(
      {.seed = options.seed, .dir = options.dir, .epoch = options.epoch, .report_fd = 3,
       .restore_archive = options.restore,
       .kill_in_write = options.kill_in_wal_write
                            ? std::optional(properties::KillInWrite{*options.kill_in_wal_write, options.kill_delay_ns})
                            : std::nullopt});
}

namespace {

struct RealPlan {
  uint64_t first = 0;
  uint64_t last = 0;  // UINT64_MAX - 1: until the budget ends
  std::optional<int64_t> budget_seconds;
};

// The seeds and the budget the flags ask for, or the usage error (every
// flag checked before the first seed runs, the --json path included).
std::variant<RealPlan, std::string> PlanReal(const RealOptions& options) {
  if (options.seed.has_value() == (options.seeds.has_value() || options.budget.has_value())) {
    return "give --seed N, or --seeds A..B and/or --budget T";
  }
  if (options.timing_seed && (!options.crash || !options.seed)) return "--timing-seed goes with --crash --seed N";
  RealPlan plan{.first = options.seed.value_or(0)};
  plan.last = options.budget ? UINT64_MAX - 1 : plan.first;
  if (options.seeds) {
    const auto range = ParseSeedRange(*options.seeds);
    if (!range) return SeedRangeError(*options.seeds);
    std::tie(plan.first, plan.last) = *range;
  }
  if (options.budget && !(plan.budget_seconds = ParseDurationSeconds(*options.budget))) {
    return fmt::format("--budget wants a time like 60s, 10m or 1h, got '{}'", *options.budget);
  }
  if (options.json_path) {
    if (auto status = CheckOutputFile("--json", *options.json_path); !status.ok()) return std::string(status.message());
  }
  return plan;
}

}  // namespace

int RealCommand(const RealOptions& options) {
  const auto planned = PlanReal(options);
  if (const auto* error = std::get_if<std::string>(&planned)) {
    std::fprintf(stderr, "shardsim real: %s\n", error->c_str());
    return 2;
  }
  const auto [first, last, budget_seconds] = std::get<RealPlan>(planned);
  std::string error;
  const std::optional<std::string> root = RunsRoot(options, error);
  if (!root) {
    std::fprintf(stderr, "shardsim real: %s\n", error.c_str());
    return 2;
  }
  const std::string child_binary = SelfExecutable();
  std::signal(SIGABRT, OnAbort);
  std::printf("real%s: seeds %llu..%s%s in %s\n", options.crash ? " --crash" : "", (unsigned long long)first,
              last == UINT64_MAX - 1 ? "" : fmt::format("{}", last).c_str(),
              budget_seconds ? fmt::format(", budget {}s", *budget_seconds).c_str() : "", root->c_str());
  std::fflush(stdout);
  const Clock::time_point started = Clock::now();
  Clock::time_point last_progress = started;
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
    const uint64_t timing_seed = options.timing_seed.value_or(seed);
    SetAbortNote(options, seed, timing_seed, dir);
    const properties::RealRunResult result = properties::RunRealShard({.seed = seed,
                                                                       .dir = dir,
                                                                       .verbose = options.verbose,
                                                                       .crash = options.crash,
                                                                       .timing_seed = timing_seed,
                                                                       .child_binary = child_binary});
    totals.Add(result);
    if (!result.passed) {
      ++totals.failed;
      PrintFailure(options, seed, result, dir, timing_seed,
                   std::chrono::duration<double>(Clock::now() - started).count());
      totals.failures.push_back({{"seed", seed},
                                 {"timing_seed", timing_seed},
                                 {"invariant", result.invariant},
                                 {"failure", result.failure},
                                 {"dir", dir},
                                 {"log", result.log}});
    } else if (!options.keep) {
      fs::remove_all(dir, code);
    }
    const Clock::time_point now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - started).count();
    const bool out_of_time = budget_seconds && elapsed >= static_cast<double>(*budget_seconds);
    if (!options.quiet && (now - last_progress > std::chrono::seconds(10) || seed == last || out_of_time)) {
      last_progress = now;
      std::printf("%llu seeds, %llu failed, %llu kills, %.0fs\n", (unsigned long long)totals.seeds,
                  (unsigned long long)totals.failed, (unsigned long long)totals.crash.kills, elapsed);
      std::fflush(stdout);
    }
    if (seed == last || out_of_time) break;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("real%s: %llu seeds, %llu passed, %llu failed in %.1fs\n%s%s", options.crash ? " --crash" : "",
              (unsigned long long)totals.seeds, (unsigned long long)(totals.seeds - totals.failed),
              (unsigned long long)totals.failed, seconds, options.crash ? totals.CrashSummary().c_str() : "",
              properties::StatsTable(totals.stats, false).c_str());
  if (options.keep || totals.failed > 0) std::printf("directories kept under %s\n", root->c_str());
  if (!options.keep && totals.failed == 0 && !options.dir) fs::remove_all(*root);
  if (options.json_path) {
    nlohmann::json json = {{"mode", options.crash ? "crash" : "real"},
                           {"seeds", {{"first", first}, {"last", first + totals.seeds - 1}}},
                           {"runs", totals.seeds},
                           {"failed", totals.failed},
                           {"seconds", seconds},
                           {"stats", properties::StatsToJson(totals.stats)},
                           {"failures", totals.failures},
                           {"dir", *root}};
    if (options.crash) json["crash"] = totals.CrashJson();
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
