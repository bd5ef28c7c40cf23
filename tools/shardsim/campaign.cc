#include "tools/shardsim/campaign.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "engine/common/coverage.h"
#include "properties/fault_ledger.h"
#include "properties/shard_run.h"
#include "properties/shrink.h"
#include "scenarios/scenario_format.h"
#include "sim/profile.h"
#include "tools/shardsim/run_command.h"
#include "tools/shardsim/scenario_commands.h"

namespace shardsim {

namespace {

struct Worker {
  pid_t pid = -1;
  int read_fd = -1;
  std::string buffer;
  bool done = false;
  uint64_t next_seed = 0;  // the first seed this worker has not reported
};

// A seed that runs longer than this in wall time is reported as hung and its
// worker is replaced (a livelock without scheduling points is a bug too).
constexpr unsigned kSeedTimeoutSeconds = 60;
volatile sig_atomic_t g_hung_seed_fd = -1;
char g_hung_line[256];

void OnSeedTimeout(int) {
  const ssize_t ignored = write(g_hung_seed_fd, g_hung_line, strlen(g_hung_line));
  (void)ignored;
  _exit(4);
}

struct Totals {
  uint64_t seeds = 0, passed = 0, failed = 0, steps = 0;
  std::map<std::string, uint64_t> stats;     // counter -> sum over seeds
  properties::Envelope envelope;             // what became of every injected fault
  std::array<uint64_t, sim::kFaultClassCount> seeds_with_fault{};  // seeds with >= 1 injection, by class
  uint64_t seeds_with_any_fault = 0;
  std::map<std::string, uint64_t> coverage;  // mark -> hits
  std::map<std::string, std::vector<nlohmann::json>> failures;  // signature -> runs
  std::map<std::string, double> first_failure_seconds;           // signature -> when first seen
  std::map<std::string, nlohmann::json> shrunk;                  // signature -> scenario file facts
};

// A worker runs seeds first + k*stride and writes one JSON line per seed.
[[noreturn]] void WorkerMain(int write_fd, uint64_t first, uint64_t last, uint64_t stride,
                             const CampaignOptions& options) {
  g_hung_seed_fd = write_fd;
  signal(SIGALRM, OnSeedTimeout);
  for (uint64_t seed = first; seed <= last; seed += stride) {
    snprintf(g_hung_line, sizeof g_hung_line,
             "{\"seed\":%llu,\"passed\":false,\"failure\":\"hung: the run took over %us of "
             "wall time\"}\n",
             (unsigned long long)seed, kSeedTimeoutSeconds);
    alarm(kSeedTimeoutSeconds);
    RunOptions run;
    run.seed = seed;
    run.profile = options.profile;
    properties::ShardRunConfig config;
    if (BuildConfig(run, config)) _exit(2);
    const properties::ShardRunResult result = properties::RunShardScenario(config);
    const std::string line = ResultJson(config, result) + "\n";
    alarm(0);
    if (write(write_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
    if (seed > last - stride) break;  // no overflow past UINT64_MAX
  }
  _exit(0);
}

std::string InvariantOf(const nlohmann::json& run) {
  const std::string invariant = run.value("invariant", "");
  return invariant.empty() ? "run-outcome" : invariant;
}

void Absorb(Totals& totals, const nlohmann::json& run, double elapsed_seconds) {
  ++totals.seeds;
  totals.steps += run.value("steps", 0ull);
  if (const auto it = run.find("stats"); it != run.end() && it->is_object()) {
    for (const auto& [name, value] : it->items()) {
      if (value.is_number_unsigned()) totals.stats[name] += value.get<uint64_t>();
    }
  }
  if (const auto it = run.find("envelope"); it != run.end()) {
    if (auto envelope = properties::EnvelopeFromJson(*it); envelope.ok()) {
      totals.envelope.Add(*envelope);
      const auto by_class = properties::InjectionsByClass(*envelope);
      bool any = false;
      for (size_t f = 0; f < by_class.size(); ++f) {
        if (by_class[f] == 0) continue;
        ++totals.seeds_with_fault[f];
        any = true;
      }
      totals.seeds_with_any_fault += any;
    }
  }
  if (const auto it = run.find("coverage"); it != run.end() && it->is_object()) {
    for (const auto& [mark, hits] : it->items()) totals.coverage[mark] += hits.get<uint64_t>();
  }
  if (run.value("passed", false)) {
    ++totals.passed;
  } else {
    ++totals.failed;
    const std::string invariant = InvariantOf(run);
    // Said at once: a long campaign's failures are worth starting on before
    // it ends (the summary repeats them with shrunk scenarios).
    std::fprintf(stderr, "\rFAIL seed %llu: %s (profile %s)\n", (unsigned long long)run.value("seed", 0ull),
                 invariant.c_str(), run.value("profile", std::string("?")).c_str());
    totals.failures[invariant].push_back(run);
    totals.first_failure_seconds.emplace(invariant, elapsed_seconds);
  }
}

void DrainLines(Worker& worker, Totals& totals, uint64_t stride, double elapsed_seconds) {
  size_t newline;
  while ((newline = worker.buffer.find('\n')) != std::string::npos) {
    const std::string line = worker.buffer.substr(0, newline);
    worker.buffer.erase(0, newline + 1);
    const nlohmann::json run = nlohmann::json::parse(line, nullptr, false);
    if (run.is_discarded()) continue;
    Absorb(totals, run, elapsed_seconds);
    worker.next_seed = run.value("seed", 0ull) + stride;
  }
}

Worker StartWorker(uint64_t first, uint64_t last, uint64_t stride, const CampaignOptions& options) {
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("pipe");
    std::exit(2);
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    WorkerMain(fds[1], first, last, stride, options);
  }
  close(fds[1]);
  return Worker{pid, fds[0], {}, false, first};
}

void PrintProgress(const Totals& totals, double elapsed_seconds, std::optional<uint64_t> planned) {
  const double rate = elapsed_seconds > 0 ? totals.seeds / elapsed_seconds : 0;
  std::string bar;
  if (planned && *planned > 0) {
    const int filled = static_cast<int>(30.0 * totals.seeds / *planned);
    bar = fmt::format("[{:<30}] ", std::string(std::min(filled, 30), '#'));
  }
  std::fprintf(stderr, "\r%s%llu seeds, %llu failed, %.1f seeds/s, %.0fs   ", bar.c_str(),
               (unsigned long long)totals.seeds, (unsigned long long)totals.failed, rate,
               elapsed_seconds);
  std::fflush(stderr);
}

// Every mark, hit or not, so that a reader sees what was never reached.
nlohmann::json CoverageJson(const Totals& totals) {
  nlohmann::json coverage = nlohmann::json::object();
  for (const engine::MarkInfo& mark : engine::kMarkInfo) {
    const auto it = totals.coverage.find(std::string(mark.name));
    coverage[std::string(mark.name)] = it == totals.coverage.end() ? 0 : it->second;
  }
  return coverage;
}

std::vector<std::string> UnhitMarks(const Totals& totals) {
  std::vector<std::string> unhit;
  const nlohmann::json coverage = CoverageJson(totals);  // (items() of a temporary would dangle)
  for (const auto& [mark, hits] : coverage.items()) {
    if (hits.get<uint64_t>() == 0) unhit.push_back(mark);
  }
  return unhit;
}

void PrintCoverage(const Totals& totals) {
  std::printf("coverage marks (hits):\n");
  for (const engine::MarkInfo& mark : engine::kMarkInfo) {
    const auto it = totals.coverage.find(std::string(mark.name));
    const uint64_t hits = it == totals.coverage.end() ? 0 : it->second;
    std::printf("  %-36s %10llu%s\n", std::string(mark.name).c_str(), (unsigned long long)hits,
                hits == 0 ? "   NEVER HIT" : "");
  }
}

uint64_t Stat(const Totals& totals, const std::string& name) {
  const auto it = totals.stats.find(name);
  return it == totals.stats.end() ? 0 : it->second;
}

std::string ReplayCommand(uint64_t seed, const CampaignOptions& options) {
  return options.profile ? fmt::format("shardsim run --seed {} --profile '{}'", seed, *options.profile)
                         : fmt::format("shardsim run --seed {}", seed);
}

nlohmann::json FaultsJson(const Totals& totals) {
  nlohmann::json injected = nlohmann::json::object(), seeds = nlohmann::json::object();
  const auto by_class = properties::InjectionsByClass(totals.envelope);
  for (size_t f = 0; f < sim::kFaultClassCount; ++f) {
    const std::string name(sim::FaultClassName(sim::FaultClass(f)));
    injected[name] = by_class[f];
    seeds[name] = totals.seeds_with_fault[f];
  }
  nlohmann::json outcomes = nlohmann::json::object();
  for (size_t o = 0; o < properties::kOutcomeCount; ++o) {
    outcomes[std::string(properties::OutcomeName(properties::Outcome(o)))] =
        totals.envelope.Total(properties::Outcome(o));
  }
  return {{"injected", std::move(injected)},
          {"seeds_with", std::move(seeds)},
          {"seeds_with_any", totals.seeds_with_any_fault},
          {"outcomes", std::move(outcomes)},
          {"envelope", properties::EnvelopeToJson(totals.envelope)}};
}

void PrintFaults(const Totals& totals) {
  const auto by_class = properties::InjectionsByClass(totals.envelope);
  std::string classes;
  for (size_t f = 0; f < sim::kFaultClassCount; ++f) {
    if (by_class[f] == 0) continue;
    classes += fmt::format("{}{} {}", classes.empty() ? "" : ", ", sim::FaultClassName(sim::FaultClass(f)), by_class[f]);
  }
  std::printf("faults: %llu of %llu seeds had some; injected: %s\n", (unsigned long long)totals.seeds_with_any_fault,
              (unsigned long long)totals.seeds, classes.empty() ? "none" : classes.c_str());
  std::printf("fault outcomes: %llu survived, %llu detected, %llu repaired, %llu silently lost\n",
              (unsigned long long)totals.envelope.Total(properties::Outcome::kSurvived),
              (unsigned long long)totals.envelope.Total(properties::Outcome::kDetected),
              (unsigned long long)totals.envelope.Total(properties::Outcome::kRepaired),
              (unsigned long long)totals.envelope.Total(properties::Outcome::kLost));
}

nlohmann::json SummaryJson(const Totals& totals, double elapsed_seconds, const CampaignOptions& options) {
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& [signature, runs] : totals.failures) {
    nlohmann::json failure = {{"invariant", signature},
                              {"count", runs.size()},
                              {"first_seed", runs.front().value("seed", 0ull)},
                              {"first_failure_seconds", totals.first_failure_seconds.at(signature)},
                              {"failure", runs.front().value("failure", "")},
                              {"profile", runs.front().value("profile", "")},
                              {"replay", ReplayCommand(runs.front().value("seed", 0ull), options)}};
    // Every failing seed (bounded), so each can be replayed after the fix.
    constexpr size_t kSeedsListed = 1000;
    nlohmann::json seeds = nlohmann::json::array();
    for (size_t i = 0; i < runs.size() && i < kSeedsListed; ++i) seeds.push_back(runs[i].value("seed", 0ull));
    failure["seeds"] = std::move(seeds);
    if (const auto it = totals.shrunk.find(signature); it != totals.shrunk.end()) failure.update(it->second);
    failures.push_back(std::move(failure));
  }
  const uint64_t ops = Stat(totals, "ops_written");
  return {{"seeds", totals.seeds},
          {"passed", totals.passed},
          {"failed", totals.failed},
          {"profile", options.profile.value_or("drawn per seed")},
          {"steps", totals.steps},
          {"stats", totals.stats},
          {"faults", FaultsJson(totals)},
          {"coverage", CoverageJson(totals)},
          {"elapsed_seconds", elapsed_seconds},
          {"seeds_per_second", elapsed_seconds > 0 ? totals.seeds / elapsed_seconds : 0},
          {"simulated_ops_per_second", elapsed_seconds > 0 ? ops / elapsed_seconds : 0},
          {"failures", failures}};
}

// Records the failing seed as a scenario, shrinks it in a child process
// (a run that aborts must not take the campaign down with it) and writes
// it under the found directory. Returns the facts for the summary.
std::optional<nlohmann::json> ShrinkFailure(uint64_t seed, const std::string& invariant,
                                            const CampaignOptions& options) {
  if (invariant == "run-outcome") return std::nullopt;  // aborts and hangs replay out of process only
  std::error_code error;
  std::filesystem::create_directories(options.found_dir, error);
  const std::string path = fmt::format("{}/{}-seed{}.scn", options.found_dir, invariant, seed);
  int fds[2];
  if (pipe(fds) != 0) return std::nullopt;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    RunOptions run;
    run.seed = seed;
    run.profile = options.profile;
    properties::ShardRunConfig config;
    if (BuildConfig(run, config)) _exit(2);
    const properties::RecordedRun recorded = properties::RecordShardRun(config);
    if (recorded.result.passed || recorded.result.invariant != invariant) _exit(5);
    const properties::ShrinkResult shrunk = ShrinkWithProgress(recorded.scenario, options.shrink_replays, options.quiet);
    if (!shrunk.reproduced) _exit(6);
    const std::string comment = ScenarioComment(shrunk.scenario, shrunk.result,
                                                fmt::format("found by a campaign, seed {}", seed));
    if (!scenarios::WriteScenarioFile(path, shrunk.scenario, comment).ok()) _exit(7);
    const std::string line = nlohmann::json{{"scenario", path},
                                            {"shrunk_steps", shrunk.scenario.StepCount()},
                                            {"original_steps", recorded.scenario.StepCount()},
                                            {"shrink_replays", shrunk.replays}}.dump();
    const ssize_t ignored = write(fds[1], line.data(), line.size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char chunk[4096];
  for (ssize_t got; (got = read(fds[0], chunk, sizeof chunk)) > 0;) text.append(chunk, static_cast<size_t>(got));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  nlohmann::json facts = nlohmann::json::parse(text, nullptr, false);
  if (facts.is_discarded()) return std::nullopt;
  return facts;
}

}  // namespace

void AddCampaignFlags(CLI::App& command, CampaignOptions& options) {
  command.add_option("--seeds", options.seeds, "Seed range A..B (inclusive)");
  command.add_option("--budget", options.budget, "Time budget, e.g. 60s, 5m, 1h (default 60s)");
  command.add_option("--jobs", options.jobs, "Worker processes (default: every core)")
      ->check(CLI::Range(0, 1024));
  command.add_option("--json", options.json_path, "Write a machine-readable summary to FILE");
  command.add_option("--profile", options.profile,
                     "Persistence profile for every seed (a name or a spec); default: drawn per seed");
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
      ->check(CLI::Range(0, 1'000'000));
}

std::optional<std::pair<uint64_t, uint64_t>> ParseSeedRange(const std::string& text) {
  const size_t dots = text.find("..");
  if (dots == std::string::npos || dots == 0 || dots + 2 >= text.size()) return std::nullopt;
  try {
    size_t used_first = 0, used_last = 0;
    const std::string first_text = text.substr(0, dots), last_text = text.substr(dots + 2);
    if (first_text[0] == '-' || last_text[0] == '-') return std::nullopt;
    const uint64_t first = std::stoull(first_text, &used_first);
    const uint64_t last = std::stoull(last_text, &used_last);
    if (used_first != first_text.size() || used_last != last_text.size() || first > last) {
      return std::nullopt;
    }
    return std::make_pair(first, last);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<int64_t> ParseDurationSeconds(const std::string& text) {
  if (text.size() < 2) return std::nullopt;
  const char unit = text.back();
  const int64_t scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 0;
  if (scale == 0) return std::nullopt;
  try {
    size_t used = 0;
    const std::string number = text.substr(0, text.size() - 1);
    const int64_t value = std::stoll(number, &used);
    if (used != number.size() || value <= 0 || value > 10'000'000) return std::nullopt;
    return value * scale;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string FailureSignature(const std::string& failure) {
  // The leading words name the invariant; values start at the first
  // number, bracket or colon.
  const size_t cut = failure.find_first_of("0123456789{[:");
  std::string signature = failure.substr(0, cut);
  while (!signature.empty() && (signature.back() == ' ' || signature.back() == '(')) signature.pop_back();
  return signature.empty() ? failure.substr(0, 80) : signature;
}

int CampaignCommand(const CampaignOptions& options) {
  std::pair<uint64_t, uint64_t> range{0, UINT64_MAX - 1};
  if (options.seeds) {
    auto parsed = ParseSeedRange(*options.seeds);
    if (!parsed) {
      std::fprintf(stderr, "shardsim campaign: --seeds wants A..B with A <= B, got '%s'\n",
                   options.seeds->c_str());
      return 2;
    }
    range = *parsed;
  }
  std::optional<int64_t> budget_seconds;
  if (options.budget || !options.seeds) {
    budget_seconds = ParseDurationSeconds(options.budget.value_or("60s"));
    if (!budget_seconds) {
      std::fprintf(stderr, "shardsim campaign: --budget wants a duration like 60s, 5m or 1h, got '%s'\n",
                   options.budget->c_str());
      return 2;
    }
  }
  if (options.profile && !sim::PersistenceProfile::FromSpec(*options.profile)) {
    std::fprintf(stderr, "shardsim campaign: unknown profile '%s'\n", options.profile->c_str());
    return 2;
  }
  const uint64_t planned = range.second - range.first + 1;
  int jobs = options.jobs > 0 ? options.jobs : static_cast<int>(std::thread::hardware_concurrency());
  jobs = static_cast<int>(std::min<uint64_t>(std::max(jobs, 1), planned == 0 ? 1 : planned));
  std::fprintf(stderr, "campaign: seeds %llu..%llu, %d jobs%s\n", (unsigned long long)range.first,
               (unsigned long long)range.second, jobs,
               budget_seconds ? fmt::format(", budget {}s", *budget_seconds).c_str() : "");

  std::vector<Worker> workers;
  for (int j = 0; j < jobs; ++j) workers.push_back(StartWorker(range.first + j, range.second, jobs, options));

  Totals totals;
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  bool out_of_time = false;
  double last_progress = 0;
  for (;;) {
    std::vector<pollfd> fds;
    for (const Worker& worker : workers) if (!worker.done) fds.push_back({worker.read_fd, POLLIN, 0});
    if (fds.empty()) break;
    poll(fds.data(), fds.size(), 500);
    for (Worker& worker : workers) {
      if (worker.done) continue;
      char chunk[65536];
      pollfd one{worker.read_fd, POLLIN, 0};
      if (poll(&one, 1, 0) <= 0) continue;
      const ssize_t got = read(worker.read_fd, chunk, sizeof chunk);
      if (got <= 0) {
        close(worker.read_fd);
        int status = 0;
        waitpid(worker.pid, &status, 0);
        worker.done = true;
        const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        const bool hung = WIFEXITED(status) && WEXITSTATUS(status) == 4;
        if (!clean && !hung && worker.next_seed >= range.first && worker.next_seed <= range.second) {
          // The run aborted (an always-on assertion, a crash): that is a
          // failure of this seed; the worker's other seeds go on.
          const std::string why = WIFSIGNALED(status)
                                      ? fmt::format("the run aborted with signal {}", WTERMSIG(status))
                                      : fmt::format("the run exited with code {}", WEXITSTATUS(status));
          Absorb(totals, nlohmann::json{{"seed", worker.next_seed}, {"passed", false}, {"failure", why}}, elapsed());
          worker.next_seed += jobs;
        }
        // A replaced worker goes on with its next seed.
        if (!clean && worker.next_seed >= range.first && worker.next_seed <= range.second) {
          worker = StartWorker(worker.next_seed, range.second, jobs, options);
        }
        continue;
      }
      worker.buffer.append(chunk, static_cast<size_t>(got));
      DrainLines(worker, totals, jobs, elapsed());
    }
    // A live line on a terminal (twice a second), a plain line every 10 s
    // otherwise (CI logs).
    const double now = elapsed();
    const double interval = isatty(STDERR_FILENO) ? 0.5 : 10.0;
    if (!options.quiet && now - last_progress >= interval) {
      last_progress = now;
      PrintProgress(totals, now, options.seeds ? std::optional(planned) : std::nullopt);
      if (!isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
    }
    if (budget_seconds && elapsed() >= *budget_seconds) { out_of_time = true; break; }
    // (Seeds still running are cut like at the end of a budget.)
    if (options.stop_on_failure && totals.failed > 0) { out_of_time = true; break; }
  }
  for (Worker& worker : workers) {
    if (worker.done) continue;
    if (out_of_time) kill(worker.pid, SIGKILL);
    int status = 0;
    waitpid(worker.pid, &status, 0);
    close(worker.read_fd);
  }
  const double seconds = elapsed();
  if (!options.quiet) std::fprintf(stderr, "\n");
  std::printf("campaign: %llu seeds, %llu passed, %llu failed in %.1fs (%.1f seeds/s, %.0f simulated ops/s)\n",
              (unsigned long long)totals.seeds, (unsigned long long)totals.passed,
              (unsigned long long)totals.failed, seconds, seconds > 0 ? totals.seeds / seconds : 0,
              seconds > 0 ? Stat(totals, "ops_written") / seconds : 0);
  const auto stat = [&](const char* name) { return (unsigned long long)Stat(totals, name); };
  std::printf("crashes: %llu process, %llu power loss; reloads: %llu (%llu refused under faults); reads checked: %llu\n",
              stat("process_crashes"), stat("power_losses"), stat("reloads"), stat("failed_loads"),
              stat("reads_checked"));
  std::printf("snapshots: %llu with WAL, %llu without, %llu partial, %llu collection (%llu failed under faults); "
              "freezes: %llu; merges and vacuums: %llu\n",
              stat("snapshots_with_wal"), stat("snapshots_without_wal"), stat("partial_snapshots"),
              stat("collection_snapshots"), stat("snapshots_failed"), stat("freezes"), stat("optimizations"));
  std::printf("restores: %llu shard, %llu partial, %llu collection (%llu failed under faults), %llu crashed; "
              "over the live shard: %llu (%llu crashed), %llu ops written after them; damaged shards replaced: %llu\n",
              stat("restores"), stat("partial_recoveries"), stat("collection_restores"), stat("restores_failed"),
              stat("restore_crashes"), stat("restores_over_live"), stat("restore_over_live_crashes"),
              stat("ops_after_restore"), stat("damaged_shards_replaced"));
  PrintFaults(totals);
  if (options.coverage || options.require_coverage) PrintCoverage(totals);
  for (const auto& [signature, runs] : totals.failures) {
    const uint64_t seed = runs.front().value("seed", 0ull);
    std::printf("FAILURE x%zu: %s (first after %.1fs)\n  first: seed %llu: %s\n  profile: %s\n  replay: %s --verbose\n",
                runs.size(), signature.c_str(), totals.first_failure_seconds.at(signature), (unsigned long long)seed,
                runs.front().value("failure", "").c_str(), runs.front().value("profile", "").c_str(),
                ReplayCommand(seed, options).c_str());
    if (options.shrink_replays == 0) continue;
    if (auto shrunk = ShrinkFailure(seed, signature, options)) {
      std::printf("  shrunk: %s (%zu steps, was %zu)\n  replay: shardsim replay %s --trace\n",
                  shrunk->value("scenario", "").c_str(), shrunk->value("shrunk_steps", size_t{0}),
                  shrunk->value("original_steps", size_t{0}), shrunk->value("scenario", "").c_str());
      totals.shrunk[signature] = *shrunk;
    } else {
      std::printf("  (not shrunk: the failure does not replay in-process, e.g. an abort)\n");
    }
  }
  if (options.json_path) {
    std::ofstream out(*options.json_path);
    out << SummaryJson(totals, seconds, options).dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "shardsim campaign: cannot write %s\n", options.json_path->c_str());
      return 2;
    }
  }
  if (options.require_coverage) {
    const auto unhit = UnhitMarks(totals);
    if (!unhit.empty()) {
      std::printf("COVERAGE: %zu marks never hit: %s\n", unhit.size(), fmt::format("{}", fmt::join(unhit, ", ")).c_str());
    }
    // Every fault class must have been injected too (unless the campaign's
    // one profile turns faults off).
    std::vector<std::string> never_injected;
    const auto injected = properties::InjectionsByClass(totals.envelope);
    for (size_t f = 0; f < injected.size() && !options.profile; ++f) {
      if (injected[f] == 0) never_injected.emplace_back(sim::FaultClassName(sim::FaultClass(f)));
    }
    if (!never_injected.empty()) {
      std::printf("COVERAGE: %zu fault classes never injected: %s\n", never_injected.size(),
                  fmt::format("{}", fmt::join(never_injected, ", ")).c_str());
    }
    if (!unhit.empty() || !never_injected.empty()) return 1;
    std::printf("coverage: every mark hit%s\n", options.profile ? "" : ", every fault class injected");
  }
  return totals.failed == 0 ? 0 : 1;
}

}  // namespace shardsim
