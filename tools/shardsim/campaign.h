// `shardsim campaign`: sweeps seeds over J worker processes, shows progress,
// stops at a time budget (or Ctrl-C), groups failures by their signature,
// shrinks the first failure of each into a scenario file and prints how to
// replay it. The pieces: campaign_pool (workers), campaign_totals (the
// reducer), campaign_report (progress, summary, JSON), campaign_shrink.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/shardsim/config_flags.h"

namespace shardsim {

struct CampaignOptions {
  std::optional<std::string> seeds;   // "A..B", inclusive
  std::optional<std::string> budget;  // "60s", "5m", "1h"
  // "I/N": run the I-th of N disjoint, contiguous parts of the seed range
  // (of the whole seed space with a budget and no --seeds), for N machines.
  std::optional<std::string> shard;
  int jobs = 0;                       // 0 = every core
  std::optional<std::string> json_path;
  ConfigOverrides config;  // --profile, --weights, ...: the same for every seed
  bool quiet = false;
  bool coverage = false;          // print the coverage marks
  bool require_coverage = false;  // exit 1 when a mark was never hit
  std::string found_dir = "scenarios/found";
  size_t shrink_replays = 3000;
  bool stop_on_failure = false;  // end the sweep at the first failing seed
  // Cluster seeds (DrawClusterConfig(seed)): every seed with --cluster,
  // else `cluster_share` percent of them spread evenly (10: seed % 10 == 9);
  // 0 runs none.
  bool cluster = false;
  uint32_t cluster_share = 10;
  size_t cluster_shrink_replays = 400;
  // The kill -9 campaign on real files (`shardsim real --crash`), one seed
  // after another: takes --seeds, --budget, --json and --quiet only.
  bool real = false;
  // The flags given (each option's first name), whatever their values: a
  // flag the campaign would not act on is refused (IgnoredCampaignFlag).
  std::set<std::string> given;
};

void AddCampaignFlags(CLI::App& command, CampaignOptions& options);
// A given flag this campaign would parse and not use (--jobs with --real,
// --profile with --cluster, --found-dir with --shrink-replays 0, ...), as a
// usage error naming it; nullopt when every flag given has an effect.
std::optional<std::string> IgnoredCampaignFlag(const CampaignOptions& options);
int CampaignCommand(const CampaignOptions& options);

// Whether the campaign runs `seed` as a cluster seed.
bool IsClusterSeed(uint64_t seed, const CampaignOptions& options);
// The fewest consecutive seeds that hold the campaign's mix exactly: the
// period of IsClusterSeed (share 10: 10; 25: 4; 0, 100 and --cluster: 1).
// The worker pool deals seeds in blocks of it.
uint64_t MixPeriodSeeds(const CampaignOptions& options);

// Parsers shared with tests. nullopt on malformed input.
// "I/N" with 0 <= I < N <= 1,000,000.
std::optional<std::pair<uint64_t, uint64_t>> ParseShard(const std::string& text);
// The I-th of N contiguous parts of [first, last]: sizes differ by at most
// one, the parts cover the range, and none overlaps another. nullopt for an
// empty part (more parts than seeds).
std::optional<std::pair<uint64_t, uint64_t>> ShardOfRange(uint64_t first, uint64_t last, uint64_t index,
                                                          uint64_t count);
std::optional<std::pair<uint64_t, uint64_t>> ParseSeedRange(const std::string& text);
std::optional<int64_t> ParseDurationSeconds(const std::string& text);
// The error for a --seeds value ParseSeedRange refuses: "--seeds wants ...".
std::string SeedRangeError(const std::string& text);

}  // namespace shardsim
