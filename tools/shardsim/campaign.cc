#include "tools/shardsim/campaign.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <thread>
#include <variant>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "properties/shard_run.h"
#include "tools/shardsim/campaign_json.h"
#include "tools/shardsim/campaign_pool.h"
#include "tools/shardsim/campaign_report.h"
#include "tools/shardsim/campaign_totals.h"
#include "tools/shardsim/cluster_commands.h"
#include "tools/shardsim/flag_checks.h"
#include "tools/shardsim/output_paths.h"
#include "tools/shardsim/real_command.h"
#include "tools/shardsim/run_command.h"

namespace shardsim {

namespace {

volatile sig_atomic_t g_interrupted = 0;

// The first Ctrl-C ends the sweep like the budget does (summary, shrinks,
// JSON); a second one ends the process.
void OnInterrupt(int) {
  g_interrupted = 1;
  signal(SIGINT, SIG_DFL);
}

struct CampaignPlan {
  SeedRange range{0, UINT64_MAX - 1};
  std::optional<int64_t> budget_seconds;
  int jobs = 1;
  std::optional<uint64_t> planned;  // seeds, when --seeds bounds the sweep
};

// The plan from the flags, or an error message naming the bad flag.
std::variant<CampaignPlan, std::string> Plan(const CampaignOptions& options) {
  CampaignPlan plan;
  if (options.seeds) {
    const auto parsed = ParseSeedRange(*options.seeds);
    if (!parsed) return SeedRangeError(*options.seeds);
    plan.range = {parsed->first, parsed->second};
    plan.planned = parsed->second - parsed->first + 1;
  }
  if (options.shard) {
    const auto shard = ParseShard(*options.shard);
    if (!shard) return fmt::format("--shard wants I/N with 0 <= I < N, got '{}'", *options.shard);
    const auto part = ShardOfRange(plan.range.first, plan.range.last, shard->first, shard->second);
    if (!part) return fmt::format("--shard {}: part {} of {} is empty (fewer seeds than parts)", *options.shard,
                                  shard->first, shard->second);
    plan.range = {part->first, part->second};
    if (plan.planned) plan.planned = part->second - part->first + 1;
  }
  if (options.budget || !options.seeds) {
    plan.budget_seconds = ParseDurationSeconds(options.budget.value_or("60s"));
    if (!plan.budget_seconds) {
      return fmt::format("--budget wants a duration like 60s, 5m or 1h, got '{}'", options.budget.value_or(""));
    }
  }
  properties::ShardRunConfig probe;
  if (auto error = BuildConfig(plan.range.first, options.config, probe)) return *error;
  // Checked now, not after the sweep has run.
  if (options.json_path) {
    if (auto status = CheckOutputFile("--json", *options.json_path); !status.ok()) return std::string(status.message());
  }
  if (options.shrink_replays > 0) {  // (shrunk failures are written there)
    if (auto status = CheckOutputDirectory("--found-dir", options.found_dir); !status.ok()) {
      return std::string(status.message());
    }
  }
  const uint64_t seeds = plan.range.last - plan.range.first + 1;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  plan.jobs = static_cast<int>(std::min<uint64_t>(options.jobs > 0 ? options.jobs : cores, seeds == 0 ? 1 : seeds));
  SS_ASSERT(plan.jobs >= 1);
  return plan;
}

std::string RunSeed(uint64_t seed, const CampaignOptions& options) {
  if (IsClusterSeed(seed, options)) return RunClusterSeedLine(seed);
  properties::ShardRunConfig config;
  if (BuildConfig(seed, options.config, config)) _exit(2);  // (Plan checked the overrides)
  return ResultJson(config, properties::RunShardScenario(config));
}

// Runs the pool until every seed is done, the budget ends, --stop-on-failure
// sees a failure, or Ctrl-C. Returns the seconds it took.
double Sweep(const CampaignPlan& plan, const CampaignOptions& options, CampaignTotals& totals) {
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  CampaignPool pool(plan.range, plan.jobs, MixPeriodSeeds(options),
                    [&options](uint64_t seed) { return RunSeed(seed, options); });
  const auto on_run = [&](const nlohmann::json& line) {
    // (A seed whose worker died has a line without the flag.)
    nlohmann::json run = line;
    run["cluster"] = IsClusterSeed(run.value("seed", 0ull), options);
    if (Absorb(totals, run, elapsed())) PrintFailureNow(run);
  };
  // A live line on a terminal (twice a second), a plain line every 10 s
  // otherwise (CI logs).
  const double progress_interval_seconds = isatty(STDERR_FILENO) ? 0.5 : 10.0;
  double last_progress = 0;
  while (pool.Poll(500, on_run)) {
    const double now = elapsed();
    if (!options.quiet && now - last_progress >= progress_interval_seconds) {
      last_progress = now;
      PrintProgress(totals, now, plan.planned);
    }
    if (plan.budget_seconds && now >= *plan.budget_seconds) break;
    if (options.stop_on_failure && totals.failed > 0) break;
    if (g_interrupted) {
      std::fprintf(stderr, "\ncampaign: interrupted; the seeds still running are not counted\n");
      break;
    }
  }
  pool.KillAll();  // (seeds still running are cut, as at the end of a budget)
  return elapsed();
}

}  // namespace

void AddCampaignFlags(CLI::App& command, CampaignOptions& options) {
  command.add_option("--seeds", options.seeds, "Seed range A..B (inclusive)");
  command.add_option("--budget", options.budget, "Time budget, e.g. 60s, 5m, 1h (default 60s)");
  command.add_option("--shard", options.shard,
                     "I/N: run only the I-th of N disjoint parts of the seed range (of every seed with a budget); "
                     "for N machines, then `shardsim merge`");
  command.add_option("--jobs", options.jobs, "Worker processes (default: every core)")
      ->check(DecimalIn(0, 1024));
  command.add_option("--json", options.json_path, "Write a machine-readable summary to FILE");
  command.add_flag("--quiet", options.quiet, "No progress line");
  command.add_flag("--stop-on-failure", options.stop_on_failure,
                   "End the sweep at the first failing seed (then shrink it); for planted-bug hunts");
  command.add_flag("--coverage", options.coverage, "Print how often each coverage mark was hit");
  command.add_flag("--require-coverage", options.require_coverage,
                   "Exit 1 when a coverage mark was never hit (the CI check)");
  command.add_option("--found-dir", options.found_dir,
                     "Where shrunk scenarios of failures go (default scenarios/found)");
  command.add_option("--shrink-replays", options.shrink_replays,
                     "Bound on replays when shrinking each distinct failure; 0 = do not shrink (default 3000)")
      ->check(DecimalIn(0, 1'000'000));
  command.add_flag("--cluster", options.cluster, "Run only cluster seeds (a replica set on simulated peers)");
  command.add_flag("--real", options.real,
                   "The kill -9 campaign on real files instead (shardsim real --crash): seeds one after another, "
                   "each engine process killed at a drawn moment");
  command.add_option("--cluster-share", options.cluster_share,
                     "Percent of seeds run as cluster seeds, spread evenly (10: seed % 10 == 9; default 10; 0 = none)")
      ->check(DecimalIn(0, 100));
  command.add_option("--cluster-shrink-replays", options.cluster_shrink_replays,
                     "Bound on replays when shrinking a cluster failure (default 400)")
      ->check(DecimalIn(1, 1'000'000));
  AddConfigFlags(command, options.config);
  for (CLI::Option* option : command.get_options()) {
    option->each([&options, name = option->get_name()](const std::string&) { options.given.insert(name); });
  }
}

std::optional<std::string> IgnoredCampaignFlag(const CampaignOptions& options) {
  const auto given = [&options](const std::string& flag) { return options.given.contains(flag); };
  if (options.real) {
    for (const std::string& flag : options.given) {
      if (flag != "--real" && flag != "--seeds" && flag != "--budget" && flag != "--json" && flag != "--quiet") {
        return fmt::format("--real takes only --seeds, --budget, --json and --quiet, not {}", flag);
      }
    }
    return std::nullopt;
  }
  if (options.cluster) {
    if (auto flag = options.config.FirstGivenFlag()) {
      return fmt::format("{} is a shard-run knob, and --cluster runs cluster seeds only", *flag);
    }
    if (given("--cluster-share")) return std::string("--cluster-share does not go with --cluster (every seed is one)");
  } else if (options.cluster_share == 0 && given("--cluster-shrink-replays")) {
    return std::string("--cluster-shrink-replays: --cluster-share 0 runs no cluster seeds");
  }
  for (const char* flag : {"--found-dir", "--cluster-shrink-replays"}) {
    if (options.shrink_replays == 0 && given(flag)) return fmt::format("{}: --shrink-replays 0 shrinks nothing", flag);
  }
  return std::nullopt;
}

bool IsClusterSeed(uint64_t seed, const CampaignOptions& options) {
  if (options.cluster) return true;
  // `share` of every 100 consecutive seeds, evenly spaced: the seeds where
  // floor(r * share / 100) steps up (share 10: r = 9, 19, ..., 99).
  const uint64_t r = seed % 100;
  return (r + 1) * options.cluster_share / 100 > r * options.cluster_share / 100;
}

uint64_t MixPeriodSeeds(const CampaignOptions& options) {
  if (options.cluster) return 1;
  const uint64_t period = 100 / std::gcd(uint64_t{options.cluster_share}, uint64_t{100});
  // (Share 0 and 100 are periodic at 1: gcd 100.)
  SS_ASSERT(period >= 1 && 100 % period == 0, "share {} gives period {}", options.cluster_share, period);
  return period;
}

std::optional<std::pair<uint64_t, uint64_t>> ParseSeedRange(const std::string& text) {
  const size_t dots = text.find("..");
  if (dots == std::string::npos) return std::nullopt;
  const auto first = ParseDecimal(std::string_view(text).substr(0, dots));
  const auto last = ParseDecimal(std::string_view(text).substr(dots + 2));
  if (!first || !last || *first > *last) return std::nullopt;
  return std::make_pair(*first, *last);
}

std::string SeedRangeError(const std::string& text) {
  const size_t dots = text.find("..");
  const auto first = ParseDecimal(std::string_view(text).substr(0, dots));
  const auto last = dots == std::string::npos ? std::nullopt : ParseDecimal(std::string_view(text).substr(dots + 2));
  if (first && last && *first > *last) {
    return fmt::format("--seeds {}: the first seed is above the last (A..B wants A <= B)", text);
  }
  return fmt::format("--seeds wants A..B, two whole decimal numbers with A <= B, got '{}'", text);
}

std::optional<std::pair<uint64_t, uint64_t>> ParseShard(const std::string& text) {
  constexpr uint64_t kMaxParts = 1'000'000;
  const size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= text.size()) return std::nullopt;
  const std::string index_text = text.substr(0, slash), count_text = text.substr(slash + 1);
  const auto digits = [](const std::string& part) {
    return part.size() <= 7 && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(index_text) || !digits(count_text)) return std::nullopt;
  const uint64_t index = std::stoull(index_text), count = std::stoull(count_text);
  if (count == 0 || count > kMaxParts || index >= count) return std::nullopt;
  return std::make_pair(index, count);
}

std::optional<std::pair<uint64_t, uint64_t>> ShardOfRange(uint64_t first, uint64_t last, uint64_t index,
                                                          uint64_t count) {
  SS_ASSERT(first <= last && count >= 1 && index < count, "part {} of {} of [{}, {}]", index, count, first, last);
  // size / count seeds each, the first size % count parts one more. The
  // range may be the whole seed space, so its size is counted as size - 1.
  const unsigned __int128 size = static_cast<unsigned __int128>(last - first) + 1;
  const unsigned __int128 base = size / count, extra = size % count;
  const unsigned __int128 begin = index * base + std::min<unsigned __int128>(index, extra);
  const unsigned __int128 length = base + (index < extra ? 1 : 0);
  if (length == 0) return std::nullopt;
  return std::make_pair(static_cast<uint64_t>(first + begin), static_cast<uint64_t>(first + begin + length - 1));
}

std::optional<int64_t> ParseDurationSeconds(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const char unit = text.back();
  const int64_t scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 0;
  const auto value = ParseDecimal(std::string_view(text).substr(0, text.size() - 1));
  if (scale == 0 || !value || *value == 0 || *value > 10'000'000) return std::nullopt;
  return static_cast<int64_t>(*value) * scale;
}

int CampaignCommand(const CampaignOptions& options) {
  if (auto error = IgnoredCampaignFlag(options)) {
    std::fprintf(stderr, "shardsim campaign: %s\n", error->c_str());
    return 2;
  }
  if (options.real) {
    return RealCommand({.seeds = options.seeds, .quiet = options.quiet, .json_path = options.json_path,
                        .crash = true, .budget = options.seeds ? options.budget : options.budget.value_or("60s")});
  }
  const auto planned = Plan(options);
  if (const auto* error = std::get_if<std::string>(&planned)) {
    std::fprintf(stderr, "shardsim campaign: %s\n", error->c_str());
    return 2;
  }
  const CampaignPlan& plan = std::get<CampaignPlan>(planned);
  std::fprintf(stderr, "campaign: seeds %llu..%llu%s, %d jobs%s%s%s\n", (unsigned long long)plan.range.first,
               (unsigned long long)plan.range.last,
               options.shard ? fmt::format(" (part {})", *options.shard).c_str() : "", plan.jobs,
               options.cluster           ? ", cluster seeds only"
               : options.cluster_share   ? fmt::format(", {}% cluster seeds", options.cluster_share).c_str()
                                         : "",
               plan.budget_seconds ? fmt::format(", budget {}s", *plan.budget_seconds).c_str() : "",
               options.config.AsFlags().c_str());
  g_interrupted = 0;
  signal(SIGINT, OnInterrupt);
  CampaignTotals totals;
  const double seconds = Sweep(plan, options, totals);
  signal(SIGINT, SIG_DFL);
  if (!options.quiet) std::fprintf(stderr, "\n");
  PrintSummary(totals, seconds, options);
  ReportFailures(totals, options);
  if (options.json_path) {
    std::ofstream out(*options.json_path);
    const CampaignProvenance provenance{.seed_ranges = {{plan.range.first, plan.range.last}},
                                        .shard = options.shard,
                                        .identity = IdentityJson(),
                                        .parts = 1,
                                        .worker_seconds = seconds};
    out << SummaryJson(totals, seconds, options, provenance).dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "shardsim campaign: cannot write %s\n", options.json_path->c_str());
      return 2;
    }
  }
  if (options.require_coverage && !CheckCoverage(totals, options)) return 1;
  return totals.failed == 0 ? 0 : 1;
}

}  // namespace shardsim
