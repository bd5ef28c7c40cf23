#include "tools/shardsim/campaign_cluster.h"


#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/coverage.h"
#include "properties/cluster/cluster_stats.h"
#include "scenarios/cluster_format.h"
#include "tools/shardsim/cluster_commands.h"
#include "tools/shardsim/child_runs.h"
#include "tools/shardsim/in_child.h"

namespace shardsim {

namespace {

double PerSeed(uint64_t sum, uint64_t seeds) { return seeds == 0 ? 0 : static_cast<double>(sum) / seeds; }

std::string CrashesPerPeer(const properties::ClusterRunStats& stats) {
  std::vector<std::string> parts;
  for (const auto& [peer, count] : stats.crashes_per_peer) parts.push_back(fmt::format("peer {} {}", peer, count));
  return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
}


}  // namespace

void PrintClusterSummary(const CampaignTotals& totals, double elapsed_seconds, bool show_coverage) {
  const properties::ClusterRunStats& stats = totals.cluster_stats;
  const uint64_t seeds = totals.cluster_seeds;
  std::printf("cluster: %llu seeds, %llu failed (%.1f cluster seeds/s), %.2f peers per seed\n",
              (unsigned long long)seeds, (unsigned long long)totals.cluster_failed,
              elapsed_seconds > 0 ? seeds / elapsed_seconds : 0, PerSeed(stats.peers, seeds));
  std::printf("  partitions %llu, messages dropped %llu (lost %llu, by partitions %llu) of %llu sent\n",
              (unsigned long long)stats.partitions,
              (unsigned long long)(stats.messages_lost + stats.messages_partitioned),
              (unsigned long long)stats.messages_lost, (unsigned long long)stats.messages_partitioned,
              (unsigned long long)stats.messages_sent);
  std::printf("  transfers stream_records: %llu started, %llu finished, %llu aborted; wal_delta: %llu started, "
              "%llu finished, %llu aborted, %llu restarted as stream_records; replicas healed %llu\n",
              (unsigned long long)stats.transfers_started_stream_records,
              (unsigned long long)stats.transfers_finished_stream_records,
              (unsigned long long)stats.transfers_aborted_stream_records,
              (unsigned long long)stats.transfers_started_wal_delta,
              (unsigned long long)stats.transfers_finished_wal_delta,
              (unsigned long long)stats.transfers_aborted_wal_delta, (unsigned long long)stats.transfers_restarted,
              (unsigned long long)stats.replicas_healed);
  std::printf("  crashes per peer: %s\n", CrashesPerPeer(stats).c_str());
  std::printf("cluster counters (summed over cluster seeds):\n%s",
              properties::ClusterStatsTable(stats, /*show_zeros=*/true).c_str());
  if (!show_coverage) return;
  std::printf("cluster coverage marks (hits):\n");
  const nlohmann::json coverage = ClusterCoverageJson(totals);  // (items() of a temporary would dangle)
  for (const auto& [mark, hits] : coverage.items()) {
    std::printf("  %-36s %10llu%s\n", mark.c_str(), (unsigned long long)hits.get<uint64_t>(),
                hits.get<uint64_t>() == 0 ? "   NEVER HIT" : "");
  }
}

nlohmann::json ClusterSummaryJson(const CampaignTotals& totals, double elapsed_seconds) {
  const properties::ClusterRunStats& stats = totals.cluster_stats;
  return {{"seeds", totals.cluster_seeds},
          {"failed", totals.cluster_failed},
          {"seeds_per_second", elapsed_seconds > 0 ? totals.cluster_seeds / elapsed_seconds : 0},
          {"peers_per_seed", PerSeed(stats.peers, totals.cluster_seeds)},
          {"messages_dropped", stats.messages_lost + stats.messages_partitioned},
          {"stats", properties::ClusterStatsToJson(stats)},
          {"coverage", ClusterCoverageJson(totals)},
          {"required_transitions_missing", MissingTransitions(totals)}};
}

bool CheckClusterCoverage(const CampaignTotals& totals) {
  if (totals.cluster_seeds == 0) return true;
  const auto unhit = UnhitClusterMarks(totals);
  if (!unhit.empty()) {
    std::printf("COVERAGE: %zu cluster marks never hit: %s\n", unhit.size(),
                fmt::format("{}", fmt::join(unhit, ", ")).c_str());
  }
  const auto missing = MissingTransitions(totals);
  if (!missing.empty()) {
    std::printf("COVERAGE: %zu required replica-state transitions never applied: %s\n", missing.size(),
                fmt::format("{}", fmt::join(missing, ", ")).c_str());
  }
  if (!unhit.empty() || !missing.empty()) return false;
  std::printf("cluster coverage: every cluster mark hit, every required transition applied\n");
  return true;
}

std::optional<nlohmann::json> ShrinkClusterFailure(uint64_t seed, const std::string& invariant,
                                                   const CampaignOptions& options) {
  std::error_code error;
  std::filesystem::create_directories(options.found_dir, error);
  const std::string path = fmt::format("{}/cluster-{}-seed{}.scn", options.found_dir, invariant, seed);
  return InChild([&]() -> std::optional<std::string> {
    // (In a grandchild: a run that ends in an engine assertion, run-outcome,
    // comes back recorded through the assertion; the shrinker then replays in
    // children too.)
    absl::StatusOr<properties::RecordedClusterRun> in_child =
        RecordClusterRunInChild(properties::DrawClusterConfig(seed));
    if (!in_child.ok()) return std::nullopt;
    properties::RecordedClusterRun& recorded = *in_child;
    if (!recorded.result.failure || recorded.result.failure->invariant != invariant) return std::nullopt;
    recorded.scenario.expected_invariant = invariant;
    const properties::ClusterShrinkResult shrunk =
        ClusterShrinkWithProgress(recorded.scenario, options.cluster_shrink_replays, options.quiet);
    if (!shrunk.reproduced) return std::nullopt;
    const std::string comment =
        ClusterScenarioComment(shrunk.scenario, shrunk.result, fmt::format("found by a campaign, cluster seed {}", seed));
    const std::optional<uint64_t> pinned = PinnableTraceHash(shrunk.result);
    if (!scenarios::WriteClusterScenarioFile(path, shrunk.scenario, comment, pinned).ok()) {
      return std::nullopt;
    }
    return nlohmann::json{{"scenario", path},
                          {"shrunk_steps", shrunk.scenario.StepCount()},
                          {"original_steps", recorded.scenario.StepCount()},
                          {"shrink_replays", shrunk.replays}}
        .dump();
  });
}

}  // namespace shardsim
