#include "tools/shardsim/campaign.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "properties/run_config.h"
#include "sim/profile.h"
#include "tools/shardsim/campaign_report.h"
#include "tools/shardsim/cluster_commands.h"
#include "tools/shardsim/run_command.h"
#include "tools/shardsim/campaign_pool.h"
#include "tools/shardsim/campaign_totals.h"

namespace shardsim {
namespace {

TEST(CampaignTest, SeedRanges) {
  EXPECT_EQ(ParseSeedRange("0..99"), std::make_pair(uint64_t{0}, uint64_t{99}));
  EXPECT_EQ(ParseSeedRange("7..7"), std::make_pair(uint64_t{7}, uint64_t{7}));
  EXPECT_EQ(ParseSeedRange("0..18446744073709551615"), std::make_pair(uint64_t{0}, UINT64_MAX));
  for (const char* bad : {"", "5", "..9", "9..", "9..5", "a..b", "-1..3", "1..2x", "1...3", "+1..3", " 1..3",
                          "1.. 3", "0..18446744073709551616", "0x1..3"}) {
    EXPECT_FALSE(ParseSeedRange(bad).has_value()) << bad;
  }
  EXPECT_EQ(SeedRangeError("9..5"), "--seeds 9..5: the first seed is above the last (A..B wants A <= B)");
  EXPECT_NE(SeedRangeError("-1..3").find("two whole decimal numbers"), std::string::npos);
}

// The campaign flags parsed from `args`, as main() parses them.
CampaignOptions ParseCampaign(std::vector<std::string> args) {
  CampaignOptions options;
  CLI::App app;
  AddCampaignFlags(app, options);
  args.insert(args.begin(), "shardsim-campaign");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return options;
}

// The issue: flags a campaign parsed and then did not use (--real ran one
// seed after another whatever --jobs said).
TEST(CampaignTest, FlagsTheCampaignWouldIgnoreAreRefused) {
  const std::pair<std::vector<std::string>, std::string> refused[] = {
      {{"--real", "--jobs", "4"}, "--real takes only --seeds, --budget, --json and --quiet, not --jobs"},
      {{"--real", "--coverage"}, "--real takes only --seeds, --budget, --json and --quiet, not --coverage"},
      {{"--real", "--profile", "faulty"}, "--real takes only --seeds, --budget, --json and --quiet, not --profile"},
      {{"--real", "--shrink-replays", "5"}, "not --shrink-replays"},
      {{"--cluster", "--profile", "faulty"}, "--profile is a shard-run knob, and --cluster runs cluster seeds only"},
      {{"--cluster", "--steps", "3"}, "--ops is a shard-run knob"},
      {{"--cluster", "--cluster-share", "50"}, "--cluster-share does not go with --cluster"},
      {{"--cluster-share", "0", "--cluster-shrink-replays", "9"}, "--cluster-share 0 runs no cluster seeds"},
      {{"--shrink-replays", "0", "--found-dir", "x"}, "--found-dir: --shrink-replays 0 shrinks nothing"},
  };
  for (const auto& [args, error] : refused) {
    const std::string got = IgnoredCampaignFlag(ParseCampaign(args)).value_or("(accepted)");
    EXPECT_NE(got.find(error), std::string::npos) << args.front() << ": " << got;
  }
  const std::vector<std::string> accepted[] = {
      {},
      {"--real", "--seeds", "0..9", "--budget", "1m", "--json", "x.json", "--quiet"},
      {"--cluster", "--jobs", "2", "--found-dir", "x", "--cluster-shrink-replays", "9"},
      {"--profile", "faulty", "--cluster-share", "20", "--coverage"},
      {"--shrink-replays", "0", "--quiet"},
  };
  for (const std::vector<std::string>& args : accepted) {
    EXPECT_EQ(IgnoredCampaignFlag(ParseCampaign(args)), std::nullopt) << (args.empty() ? "" : args.front());
  }
}

// The issue: `campaign --help` did not list the profiles --profile takes.
TEST(CampaignTest, HelpListsEveryProfileFromTheTable) {
  CampaignOptions options;
  CLI::App app;
  AddCampaignFlags(app, options);
  const std::string help = app.help();
  for (const std::string& name : sim::PersistenceProfile::Names()) {
    EXPECT_NE(help.find("\n  " + name + " (crash models: "), std::string::npos) << name << " in:\n" << help;
  }
}

TEST(CampaignTest, Durations) {
  EXPECT_EQ(ParseDurationSeconds("60s"), 60);
  EXPECT_EQ(ParseDurationSeconds("5m"), 300);
  EXPECT_EQ(ParseDurationSeconds("2h"), 7200);
  for (const char* bad : {"", "s", "10", "0s", "-3s", "5x", "1.5m", "+5s", " 5s", "0x5s"}) {
    EXPECT_FALSE(ParseDurationSeconds(bad).has_value()) << bad;
  }
}

// The reducer sums every counter the run's JSON holds (it used to drop the
// ones its hand-written list missed).
TEST(CampaignTest, TotalsSumEveryCounter) {
  CampaignTotals totals;
  const nlohmann::json run = {{"seed", 1}, {"passed", true}, {"steps", 10},
                              {"stats", {{"clock_rejections", 2}, {"failed_loads", 3}, {"ops_written", 5}}}};
  EXPECT_FALSE(Absorb(totals, run, 0.1));
  nlohmann::json failed = run;
  failed["seed"] = 2;
  failed["passed"] = false;
  failed["invariant"] = "read";
  EXPECT_TRUE(Absorb(totals, failed, 0.2));
  EXPECT_EQ(totals.seeds, 2u);
  EXPECT_EQ(totals.failed, 1u);
  EXPECT_EQ(totals.stats.clock_rejections, 4u);
  EXPECT_EQ(totals.stats.failed_loads, 6u);
  EXPECT_EQ(totals.stats.ops_written, 10u);
  EXPECT_EQ(totals.failures.at(SignatureKeyOf(failed)).size(), 1u);
}

// Two bugs that break one invariant are two groups; two seeds of one bug
// (differing in ids and paths only) are one, with every seed counted.
TEST(CampaignTest, FailuresGroupBySignature) {
  CampaignTotals totals;
  auto failing = [](uint64_t seed, std::string message) {
    return nlohmann::json{{"seed", seed}, {"passed", false}, {"invariant", "recovery"}, {"failure", message}};
  };
  const std::string prefix = "the shard did not load for the final check under injected faults: last refusal: ";
  EXPECT_TRUE(Absorb(totals, failing(1, prefix + "UNAVAILABLE: EIO on syncdir of shard/segments"), 0.1));
  EXPECT_TRUE(Absorb(totals, failing(2, prefix + "UNAVAILABLE: EIO on read of shard/wal/open-3"), 0.2));
  EXPECT_TRUE(Absorb(totals, failing(3, prefix + "UNAVAILABLE: EIO on syncdir of shard/segments/7"), 0.3));
  EXPECT_EQ(totals.failures.size(), 2u);
  const std::string syncdir = SignatureKeyOf(failing(1, prefix + "UNAVAILABLE: EIO on syncdir of shard/segments/9"));
  EXPECT_EQ(totals.failure_counts.at(syncdir), 2u);
  EXPECT_EQ(totals.failures.at(syncdir).size(), 2u);
  EXPECT_DOUBLE_EQ(totals.first_failure_seconds.at(syncdir), 0.1);
}

// 10% by default: exactly the seeds ending in 9; 0 none; --cluster all.
TEST(CampaignTest, ClusterSeedsAreAnEvenShare) {
  CampaignOptions options;
  EXPECT_EQ(options.cluster_share, 10u);
  for (uint64_t seed = 0; seed < 1000; ++seed) EXPECT_EQ(IsClusterSeed(seed, options), seed % 10 == 9) << seed;
  options.cluster_share = 25;
  int count = 0;
  for (uint64_t seed = 0; seed < 1000; ++seed) count += IsClusterSeed(seed, options);
  EXPECT_EQ(count, 250);
  options.cluster_share = 0;
  for (uint64_t seed = 0; seed < 1000; ++seed) EXPECT_FALSE(IsClusterSeed(seed, options));
  options.cluster = true;
  for (uint64_t seed = 0; seed < 1000; ++seed) EXPECT_TRUE(IsClusterSeed(seed, options));
}

// A cluster line adds to the cluster totals (counters, transitions, crashes
// per peer), not to the shard counters; its coverage counts.
TEST(CampaignTest, TotalsKeepClusterSeedsApart) {
  CampaignTotals totals;
  const nlohmann::json shard = {{"seed", 1}, {"passed", true}, {"steps", 10}, {"stats", {{"ops_written", 5}}}};
  // (Through text, as the workers' lines come: counts parse as unsigned.)
  const nlohmann::json cluster = nlohmann::json::parse(nlohmann::json{
      {"seed", 9}, {"cluster", true}, {"passed", false}, {"invariant", "convergence"}, {"steps", 99},
      {"stats", {{"peers", 3}, {"messages_lost", 4}, {"ops_written", 1000},
                 {"transitions", {{"Active->Dead", 2}}}, {"crashes_per_peer", {{"2", 1}, {"x", 5}}}}},
      {"coverage", {{"transfer.finished", 1}}}}.dump());
  EXPECT_FALSE(Absorb(totals, shard, 0.1));
  EXPECT_TRUE(Absorb(totals, cluster, 0.2));
  EXPECT_TRUE(Absorb(totals, cluster, 0.3));
  EXPECT_EQ(totals.seeds, 3u);
  EXPECT_EQ(totals.cluster_seeds, 2u);
  EXPECT_EQ(totals.ShardSeeds(), 1u);
  EXPECT_EQ(totals.cluster_failed, 2u);
  EXPECT_EQ(totals.steps, 10u);
  EXPECT_EQ(totals.stats.ops_written, 5u);
  EXPECT_EQ(totals.cluster_stats.peers, 6u);
  EXPECT_EQ(totals.cluster_stats.messages_lost, 8u);
  EXPECT_EQ(totals.cluster_stats.transitions.at("Active->Dead"), 4u);
  EXPECT_EQ(totals.cluster_stats.crashes_per_peer.at(2), 2u);
  EXPECT_EQ(totals.cluster_stats.crashes_per_peer.size(), 1u);  // "x" is no peer
  EXPECT_EQ(totals.failures.size(), 1u);
  EXPECT_EQ(totals.failures.begin()->second.size(), 2u);
  EXPECT_EQ(totals.coverage.at("transfer.finished"), 2u);
  const auto missing = MissingTransitions(totals);
  EXPECT_EQ(std::find(missing.begin(), missing.end(), "Active->Dead"), missing.end());
  EXPECT_EQ(missing.size(), 4u);
  const auto unhit = UnhitClusterMarks(totals);
  EXPECT_EQ(std::find(unhit.begin(), unhit.end(), "transfer.finished"), unhit.end());
}

// A seed whose run aborts is that seed's failure; its worker is replaced and
// every other seed is still reported, once.
TEST(CampaignTest, PoolReportsAnAbortedSeedAndGoesOn) {
  std::map<uint64_t, bool> reported;  // seed -> passed
  {
    CampaignPool pool({10, 29}, 3, 4, [](uint64_t seed) {
      if (seed == 14) std::abort();
      return nlohmann::json{{"seed", seed}, {"passed", true}}.dump();
    });
    const auto on_run = [&](const nlohmann::json& run) {
      EXPECT_TRUE(reported.emplace(run["seed"].get<uint64_t>(), run["passed"].get<bool>()).second);
    };
    for (int polls = 0; polls < 10'000 && pool.Poll(100, on_run); ++polls) {
    }
  }
  ASSERT_EQ(reported.size(), 20u);
  for (const auto& [seed, passed] : reported) EXPECT_EQ(passed, seed != 14) << seed;
}

// Every worker runs the campaign's mix: dealt in blocks of the mix's period,
// each worker's seeds hold the cluster share, whatever the number of jobs
// (a stride of 2 gave one worker every cluster seed, seed % 10 == 9).
TEST(CampaignTest, PoolGivesEveryWorkerTheMix) {
  for (const uint32_t share : {0u, 10u, 25u, 33u, 100u}) {
    CampaignOptions options;
    options.cluster_share = share;
    const uint64_t period = MixPeriodSeeds(options);
    for (uint64_t seed = 0; seed < 1000; ++seed) {
      ASSERT_EQ(IsClusterSeed(seed, options), IsClusterSeed(seed + period, options)) << share << " " << seed;
    }
  }
  CampaignOptions options;  // share 10, period 10
  ASSERT_EQ(MixPeriodSeeds(options), 10u);
  for (const int jobs : {2, 5}) {
    std::map<int, std::vector<uint64_t>> seeds_of_worker;  // pid -> seeds, as reported
    {
      // 200 seeds from 7: blocks of 10 that do not start at a multiple of 10.
      CampaignPool pool({7, 206}, jobs, MixPeriodSeeds(options), [](uint64_t seed) {
        return nlohmann::json{{"seed", seed}, {"passed", true}, {"pid", getpid()}}.dump();
      });
      const auto on_run = [&](const nlohmann::json& run) {
        seeds_of_worker[run["pid"].get<int>()].push_back(run["seed"].get<uint64_t>());
      };
      for (int polls = 0; polls < 10'000 && pool.Poll(100, on_run); ++polls) {
      }
    }
    ASSERT_EQ(seeds_of_worker.size(), size_t(jobs));
    size_t total = 0;
    for (const auto& [pid, seeds] : seeds_of_worker) {
      total += seeds.size();
      EXPECT_TRUE(std::is_sorted(seeds.begin(), seeds.end()));
      const auto cluster =
          std::count_if(seeds.begin(), seeds.end(), [&](uint64_t seed) { return IsClusterSeed(seed, options); });
      EXPECT_EQ(size_t(cluster) * 10, seeds.size())
          << "jobs " << jobs << ": a worker ran " << cluster << " cluster seeds of " << seeds.size();
    }
    EXPECT_EQ(total, 200u);
  }
}

// A sweep of the last seeds before UINT64_MAX ends there, without wrapping.
TEST(CampaignTest, PoolEndsAtTheLastSeed) {
  std::set<uint64_t> reported;
  {
    CampaignPool pool({UINT64_MAX - 24, UINT64_MAX}, 2, 10, [](uint64_t seed) {
      return nlohmann::json{{"seed", seed}, {"passed", true}}.dump();
    });
    const auto on_run = [&](const nlohmann::json& run) {
      EXPECT_TRUE(reported.insert(run["seed"].get<uint64_t>()).second);
    };
    for (int polls = 0; polls < 10'000 && pool.Poll(100, on_run); ++polls) {
    }
  }
  EXPECT_EQ(reported.size(), 25u);
  EXPECT_EQ(*reported.begin(), UINT64_MAX - 24);
}

}  // namespace
}  // namespace shardsim

namespace shardsim {
namespace {

// The issue: a failure's printed replay command must run what the campaign
// ran (it carried --verbose, which changes a shard run's trace). Parsed
// back as `shardsim run` parses it, it must give the campaign's config for
// that seed, and nothing that changes the run.
TEST(CampaignTest, AFailuresReplayCommandRunsTheCampaignsConfig) {
  const std::string spec = properties::ShardRunConfig::Draw(1).profile.ToSpec();  // braces, semicolons
  const std::vector<std::string> campaigns[] = {
      {},
      {"--profile", "faulty"},
      {"--profile", spec, "--weights", "update:60,snapshot:40", "--clients", "3", "--steps", "5", "--wait", "0.25"},
      {"--profile", "small-disk", "--crashes", "2", "--power-loss", "1", "--dim", "4", "--wal-segment", "4096"},
      {"--cluster"},
      {"--cluster-share", "50", "--distance", "cosine", "--ids", "9", "--strategy", "pct"},
  };
  for (const std::vector<std::string>& args : campaigns) {
    const CampaignOptions campaign = ParseCampaign(args);
    for (uint64_t seed : {53, 59, 7}) {
      const std::string command = FailureReplayCommand(seed, campaign);
      SCOPED_TRACE(command);
      ASSERT_TRUE(command.starts_with("shardsim run "));
      RunOptions run;
      CLI::App app;
      AddRunFlags(app, run, kRunCommandFlags);
      ASSERT_NO_THROW(app.parse(command.substr(std::string("shardsim run ").size()), false));
      EXPECT_EQ(run.seed, seed);
      EXPECT_FALSE(run.verbose);
      EXPECT_FALSE(run.json);
      EXPECT_EQ(run.cluster.cluster, IsClusterSeed(seed, campaign));
      if (run.cluster.cluster) {
        properties::ClusterConfig replayed, ran;
        ASSERT_EQ(BuildClusterConfig(run.seed, run.cluster, replayed), std::nullopt);
        ASSERT_EQ(BuildClusterConfig(seed, ClusterFlags{}, ran), std::nullopt);  // (as RunClusterSeedLine)
        EXPECT_EQ(replayed, ran);
        continue;
      }
      properties::ShardRunConfig replayed, ran;
      ASSERT_EQ(BuildConfig(run, replayed), std::nullopt);
      ASSERT_EQ(BuildConfig(seed, campaign.config, ran), std::nullopt);  // (as RunSeed)
      EXPECT_EQ(properties::ConfigLine(replayed), properties::ConfigLine(ran));
      EXPECT_EQ(replayed.profile.ToSpec(), ran.profile.ToSpec());
    }
  }
}

}  // namespace
}  // namespace shardsim
