// The mergeable campaign JSON and --shard: parts of a campaign, written,
// read back and summed, say what the whole campaign says.
#include "tools/shardsim/campaign_json.h"

#include <gtest/gtest.h>

#include "tools/shardsim/campaign.h"

namespace shardsim {
namespace {

nlohmann::json Line(uint64_t seed, bool passed, std::string failure = "") {
  nlohmann::json line = {{"seed", seed},
                         {"passed", passed},
                         {"steps", 10 + seed},
                         {"stats", {{"ops_written", seed}, {"failed_loads", 1}}},
                         {"coverage", {{"wal.ack_held_by_waterline", 2}}},
                         {"config", {{"profile", seed % 2 ? "drawn{x=1}" : "faulty"}, {"strategy", "pct"}}}};
  if (!passed) {
    line["invariant"] = "recovery";
    line["failure"] = failure;
  }
  return nlohmann::json::parse(line.dump());  // counts as unsigned, as workers' lines parse
}

TEST(CampaignJsonTest, TotalsSurviveTheirJson) {
  CampaignTotals totals;
  for (uint64_t seed = 0; seed < 6; ++seed) Absorb(totals, Line(seed, seed != 3, "load failed: EIO on read of a/b"), 0.5);
  absl::StatusOr<CampaignTotals> back = TotalsFromJson(nlohmann::json::parse(TotalsToJson(totals).dump()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(TotalsToJson(*back), TotalsToJson(totals));
  EXPECT_EQ(back->failed, 1u);
  EXPECT_EQ(back->profile_mix.at("drawn"), 3u);
  EXPECT_EQ(back->profile_mix.at("faulty"), 3u);
}

TEST(CampaignJsonTest, PartsSumToTheWhole) {
  CampaignTotals whole, first, second;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const nlohmann::json line = Line(seed, seed % 7 != 0, seed % 2 ? "load failed: EIO on read of x" : "hang");
    Absorb(whole, line, 1.0 + seed);
    Absorb(seed < 20 ? first : second, line, seed < 20 ? 1.0 + seed : 1.0 + seed - 20);
  }
  CampaignTotals merged;
  AddTotals(merged, second);  // in either order
  AddTotals(merged, first);
  nlohmann::json merged_json = TotalsToJson(merged), whole_json = TotalsToJson(whole);
  EXPECT_EQ(merged_json["stats"], whole_json["stats"]);
  EXPECT_EQ(merged_json["coverage"], whole_json["coverage"]);
  EXPECT_EQ(merged.seeds, whole.seeds);
  EXPECT_EQ(merged.failed, whole.failed);
  EXPECT_EQ(merged.failure_counts, whole.failure_counts);
  for (const auto& [key, runs] : whole.failures) EXPECT_EQ(merged.failures.at(key), runs) << key;
  // Each part's clock starts at its own beginning: the earliest wins.
  for (const auto& [key, seconds] : merged.first_failure_seconds) EXPECT_LE(seconds, whole.first_failure_seconds.at(key));
}

TEST(CampaignJsonTest, MalformedTotalsAreErrorsNotCrashes) {
  EXPECT_FALSE(TotalsFromJson(nlohmann::json::array()).ok());
  EXPECT_FALSE(TotalsFromJson({{"seeds", 1}}).ok());
  EXPECT_FALSE(TotalsFromJson({{"seeds", 2u}, {"passed", 1u}, {"failed", 0u}, {"steps", 0u},
                               {"seeds_with_any_fault", 0u}, {"cluster_seeds", 0u}, {"cluster_failed", 0u}})
                   .ok());  // passed + failed != seeds
  nlohmann::json good = TotalsToJson(CampaignTotals{});
  good["failures"] = {{"k", {{"runs", "no"}}}};
  EXPECT_FALSE(TotalsFromJson(good).ok());
  good["failures"] = nlohmann::json::object();
  good["coverage"] = {{"mark", "many"}};
  EXPECT_FALSE(TotalsFromJson(good).ok());
}

TEST(CampaignJsonTest, ShardsCoverTheRangeWithoutOverlap) {
  for (const auto& [first, last] : std::vector<std::pair<uint64_t, uint64_t>>{{0, 0}, {0, 9}, {5, 104}, {0, UINT64_MAX - 1}}) {
    for (uint64_t count : {1u, 2u, 3u, 7u, 10u}) {
      uint64_t next = first;
      bool ended = false;
      for (uint64_t index = 0; index < count; ++index) {
        const auto part = ShardOfRange(first, last, index, count);
        if (!part) {  // only when there are fewer seeds than parts
          EXPECT_LT(last - first + 1, count);
          continue;
        }
        ASSERT_FALSE(ended);
        EXPECT_EQ(part->first, next) << first << ".." << last << " part " << index << "/" << count;
        EXPECT_LE(part->first, part->second);
        if (part->second == last) ended = true;
        next = part->second + 1;
      }
      EXPECT_TRUE(ended) << first << ".." << last << " in " << count;
    }
  }
  EXPECT_EQ(ShardOfRange(0, 9, 0, 3), std::make_pair(uint64_t{0}, uint64_t{3}));
  EXPECT_EQ(ShardOfRange(0, 9, 2, 3), std::make_pair(uint64_t{7}, uint64_t{9}));
}

TEST(CampaignJsonTest, ShardFlagIsIOfN) {
  EXPECT_EQ(ParseShard("0/1"), std::make_pair(uint64_t{0}, uint64_t{1}));
  EXPECT_EQ(ParseShard("3/8"), std::make_pair(uint64_t{3}, uint64_t{8}));
  for (const char* bad : {"", "/", "1/", "/2", "2/2", "-1/2", "1/0", "a/b", "1/2/3", "1 /2", "0/99999999"}) {
    EXPECT_FALSE(ParseShard(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace shardsim
