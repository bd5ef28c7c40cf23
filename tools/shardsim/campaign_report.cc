#include "tools/shardsim/campaign_report.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/coverage.h"
#include "properties/failure_signature.h"
#include "tools/shardsim/campaign_cluster.h"
#include "tools/shardsim/campaign_json.h"
#include "tools/shardsim/campaign_shrink.h"

namespace shardsim {

namespace {

void PrintFaults(const CampaignTotals& totals) {
  const auto by_class = properties::InjectionsByClass(totals.envelope);
  std::string classes;
  for (size_t f = 0; f < sim::kFaultClassCount; ++f) {
    if (by_class[f] == 0) continue;
    classes += fmt::format("{}{} {}", classes.empty() ? "" : ", ", sim::FaultClassName(sim::FaultClass(f)), by_class[f]);
  }
  std::printf("faults: %llu of %llu shard seeds had some; injected: %s\n", (unsigned long long)totals.seeds_with_any_fault,
              (unsigned long long)totals.ShardSeeds(), classes.empty() ? "none" : classes.c_str());
  std::printf("fault outcomes: %llu survived, %llu detected, %llu repaired, %llu silently lost\n",
              (unsigned long long)totals.envelope.Total(properties::Outcome::kSurvived),
              (unsigned long long)totals.envelope.Total(properties::Outcome::kDetected),
              (unsigned long long)totals.envelope.Total(properties::Outcome::kRepaired),
              (unsigned long long)totals.envelope.Total(properties::Outcome::kLost));
}

void PrintCoverage(const CampaignTotals& totals) {
  std::printf("coverage marks (hits):\n");
  for (const engine::MarkInfo& mark : engine::kMarkInfo) {
    // Only a cluster campaign can reach the replica-set layer's marks.
    if (engine::IsClusterMark(mark.name)) continue;
    const auto it = totals.coverage.find(std::string(mark.name));
    const uint64_t hits = it == totals.coverage.end() ? 0 : it->second;
    std::printf("  %-36s %10llu%s\n", std::string(mark.name).c_str(), (unsigned long long)hits,
                hits == 0 ? "   NEVER HIT" : "");
  }
}

nlohmann::json SignatureJson(const nlohmann::json& run) {
  const properties::FailureSignature signature = properties::SignatureOf(InvariantOf(run), run.value("failure", ""));
  return {{"key", signature.Key()},
          {"invariant", signature.invariant},
          {"check", signature.check},
          {"component", signature.component},
          {"message_class", signature.message_class}};
}

nlohmann::json FailureJson(const std::string& key, const std::vector<nlohmann::json>& runs,
                           const CampaignTotals& totals, const CampaignOptions& options) {
  const nlohmann::json& first = runs.front();
  nlohmann::json failure = {{"invariant", InvariantOf(first)},
                            {"signature", SignatureJson(first)},
                            {"count", totals.failure_counts.at(key)},
                            {"first_seed", first.value("seed", 0ull)},
                            {"first_failure_seconds", totals.first_failure_seconds.at(key)},
                            {"failure", first.value("failure", "")},
                            {"profile", first.value("profile", "")},
                            {"replay", FailureReplayCommand(first.value("seed", 0ull), options)}};
  // Every failing seed (bounded by kRunsKeptPerSignature), so each can be
  // replayed after the fix; `seeds_listed` < `count` says the list is cut.
  nlohmann::json seeds = nlohmann::json::array();
  for (const nlohmann::json& run : runs) seeds.push_back(run.value("seed", 0ull));
  failure["seeds_listed"] = seeds.size();
  failure["seeds"] = std::move(seeds);
  if (const auto it = totals.shrunk.find(key); it != totals.shrunk.end()) failure.update(it->second);
  return failure;
}

}  // namespace

std::string FailureReplayCommand(uint64_t seed, const CampaignOptions& options) {
  // A cluster seed runs its drawn config (RunClusterSeedLine); a shard seed
  // its draw with the campaign's overrides (RunSeed). No --verbose: it
  // changes a shard run's trace (docs/simulation.md).
  if (IsClusterSeed(seed, options)) return fmt::format("shardsim run --cluster --seed {}", seed);
  return fmt::format("shardsim run --seed {}{}", seed, options.config.AsFlags());
}

void PrintProgress(const CampaignTotals& totals, double elapsed_seconds, std::optional<uint64_t> planned) {
  const double rate = elapsed_seconds > 0 ? totals.seeds / elapsed_seconds : 0;
  std::string bar;
  if (planned && *planned > 0) {
    const int filled = static_cast<int>(30.0 * totals.seeds / *planned);
    bar = fmt::format("[{:<30}] ", std::string(std::min(filled, 30), '#'));
  }
  std::fprintf(stderr, "\r%s%llu seeds, %llu failed, %.1f seeds/s, %.0fs   ", bar.c_str(),
               (unsigned long long)totals.seeds, (unsigned long long)totals.failed, rate, elapsed_seconds);
  if (!isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

void PrintFailureNow(const nlohmann::json& run) {
  const std::string where = run.value("cluster", false) ? "cluster " + run.value("config", std::string("?"))
                                                      : "profile " + run.value("profile", std::string("?"));
  std::fprintf(stderr, "\rFAIL seed %llu: %s (%s)\n", (unsigned long long)run.value("seed", 0ull),
               InvariantOf(run).c_str(), where.c_str());
}

void PrintSummary(const CampaignTotals& totals, double elapsed_seconds, const CampaignOptions& options) {
  const double seconds = elapsed_seconds;
  // Simulated ops are the shard seeds' (a cluster seed's writes are counted
  // in its own section): a campaign of cluster seeds only has no such figure.
  const double ops_written_per_second = seconds > 0 ? totals.stats.ops_written / seconds : 0;
  const std::string ops_per_second =
      totals.ShardSeeds() > 0 ? fmt::format(", {:.0f} simulated ops/s", ops_written_per_second) : "";
  std::printf("campaign: %llu seeds, %llu passed, %llu failed in %.1fs (%.1f seeds/s%s)\n",
              (unsigned long long)totals.seeds, (unsigned long long)totals.passed,
              (unsigned long long)totals.failed, seconds, seconds > 0 ? totals.seeds / seconds : 0,
              ops_per_second.c_str());
  const bool show_coverage = options.coverage || options.require_coverage;
  // The cluster section first: the shard summary's last lines (faults) stay last.
  if (totals.cluster_seeds > 0) PrintClusterSummary(totals, seconds, show_coverage);
  if (totals.ShardSeeds() > 0) {
    std::printf("counters (summed over shard seeds):\n%s",
                properties::StatsTable(totals.stats, /*show_zeros=*/true).c_str());
    PrintFaults(totals);
    if (show_coverage) PrintCoverage(totals);
  }
}

void ReportFailures(CampaignTotals& totals, const CampaignOptions& options) {
  for (const auto& [key, runs] : totals.failures) {
    const uint64_t seed = runs.front().value("seed", 0ull);
    const bool cluster = IsClusterSeed(seed, options);
    const std::string invariant = InvariantOf(runs.front());
    const nlohmann::json signature = SignatureJson(runs.front());
    std::printf("FAILURE x%llu: %s (first after %.1fs)\n  signature: %s [%s]%s%s\n"
                "  first: seed %llu: %s\n  %s: %s\n  replay: %s%s\n",
                (unsigned long long)totals.failure_counts.at(key), invariant.c_str(),
                totals.first_failure_seconds.at(key), signature.value("check", "").c_str(),
                signature.value("component", "").c_str(), signature.value("message_class", "").empty() ? "" : ": ",
                signature.value("message_class", "").c_str(), (unsigned long long)seed,
                runs.front().value("failure", "").c_str(), cluster ? "cluster config" : "profile",
                runs.front().value(cluster ? "config" : "profile", "").c_str(), FailureReplayCommand(seed, options).c_str(),
                cluster ? " --verbose" : "  (--trace prints every step; --verbose would change the run)");
    if (options.shrink_replays == 0) continue;
    if (auto shrunk = ShrinkFailure(seed, invariant, options)) {
      std::printf("  shrunk: %s (%zu steps, was %zu)\n  replay: shardsim replay %s %s\n",
                  shrunk->value("scenario", "").c_str(), shrunk->value("shrunk_steps", size_t{0}),
                  shrunk->value("original_steps", size_t{0}), shrunk->value("scenario", "").c_str(),
                  cluster ? "--verbose" : "--trace");
      totals.shrunk[key] = *shrunk;
    } else {
      std::printf("  (not shrunk: the failure does not replay in-process, e.g. an abort)\n");
    }
  }
}

nlohmann::json OptionsJson(const CampaignOptions& options) {
  return {{"cluster", options.cluster},
          {"cluster_share", options.cluster_share},
          {"config_overrides", options.config.ToJson()}};
}

CampaignOptions OptionsFromJson(const nlohmann::json& json) {
  CampaignOptions options;
  options.cluster = json.value("cluster", false);
  options.cluster_share = json.value("cluster_share", 10u);
  // items() refers into its json: the value() temporary must outlive the loop.
  const nlohmann::json overrides = json.value("config_overrides", nlohmann::json::object());
  for (const auto& [key, value] : overrides.items()) {
    if (value.is_string()) options.config.values[key] = value.get<std::string>();
  }
  return options;
}

namespace {

nlohmann::json MixJson(const CampaignTotals& totals, const CampaignOptions& options) {
  return {{"cluster_only", options.cluster},
          {"cluster_share_percent", options.cluster ? 100u : options.cluster_share},
          {"profile", options.config.Value("profile").value_or("drawn per seed")},
          {"config_overrides", options.config.ToJson()},
          {"profiles", totals.profile_mix},
          {"strategies", totals.strategy_mix}};
}

nlohmann::json SeedRangeJson(const CampaignProvenance& provenance) {
  nlohmann::json ranges = nlohmann::json::array();
  uint64_t first = UINT64_MAX, last = 0;
  for (const auto& [from, to] : provenance.seed_ranges) {
    ranges.push_back({{"first", from}, {"last", to}});
    first = std::min(first, from);
    last = std::max(last, to);
  }
  nlohmann::json range = {{"ranges", std::move(ranges)}};
  if (!provenance.seed_ranges.empty()) {
    range["first"] = first;
    range["last"] = last;
  }
  if (provenance.shard) range["shard"] = *provenance.shard;
  return range;
}

}  // namespace

nlohmann::json SummaryJson(const CampaignTotals& totals, double elapsed_seconds, const CampaignOptions& options,
                           const CampaignProvenance& provenance) {
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& [key, runs] : totals.failures) failures.push_back(FailureJson(key, runs, totals, options));
  nlohmann::json failing_seeds = nlohmann::json::array();
  for (const auto& [key, runs] : totals.failures) {
    for (const nlohmann::json& run : runs) failing_seeds.push_back(run.value("seed", 0ull));
  }
  std::sort(failing_seeds.begin(), failing_seeds.end());
  return {{"schema", kCampaignSchemaName},
          {"schema_version", kCampaignSchemaVersion},
          {"identity", provenance.identity},
          {"parts", provenance.parts},
          {"seed_range", SeedRangeJson(provenance)},
          {"mix", MixJson(totals, options)},
          {"options", OptionsJson(options)},
          {"seeds", totals.seeds},
          {"passed", totals.passed},
          {"failed", totals.failed},
          {"failing_seeds", std::move(failing_seeds)},
          {"profile", options.config.Value("profile").value_or("drawn per seed")},
          {"config_overrides", options.config.ToJson()},
          {"steps", totals.steps},
          {"stats", properties::StatsToJson(totals.stats)},
          {"faults", FaultsJson(totals)},
          {"coverage", CoverageJson(totals)},
          {"elapsed_seconds", elapsed_seconds},
          {"worker_seconds", provenance.worker_seconds},
          {"seeds_per_second", elapsed_seconds > 0 ? totals.seeds / elapsed_seconds : 0},
          {"simulated_ops_per_second", elapsed_seconds > 0 ? totals.stats.ops_written / elapsed_seconds : 0},
          {"failures", failures},
          {"cluster", ClusterSummaryJson(totals, elapsed_seconds)},
          {"totals", TotalsToJson(totals)}};
}

bool CheckCoverage(const CampaignTotals& totals, const CampaignOptions& options) {
  // Each kind of seed answers for its own marks, when the campaign ran it.
  const bool cluster_covered = CheckClusterCoverage(totals);
  if (totals.ShardSeeds() == 0) return cluster_covered;
  const auto unhit = UnhitMarks(totals);
  if (!unhit.empty()) {
    std::printf("COVERAGE: %zu marks never hit: %s\n", unhit.size(), fmt::format("{}", fmt::join(unhit, ", ")).c_str());
  }
  // Every fault class must have been injected too, unless one profile for
  // every seed may turn faults off.
  const bool one_profile = options.config.Given("profile");
  const auto never_injected = one_profile ? std::vector<std::string>{} : NeverInjected(totals);
  if (!never_injected.empty()) {
    std::printf("COVERAGE: %zu fault classes never injected: %s\n", never_injected.size(),
                fmt::format("{}", fmt::join(never_injected, ", ")).c_str());
  }
  if (!unhit.empty() || !never_injected.empty()) return false;
  std::printf("coverage: every mark hit%s\n", one_profile ? "" : ", every fault class injected");
  return cluster_covered;
}

}  // namespace shardsim
