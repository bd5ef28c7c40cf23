#include "tools/shardsim/campaign.h"

#include <gtest/gtest.h>

namespace shardsim {
namespace {

TEST(CampaignTest, SeedRanges) {
  EXPECT_EQ(ParseSeedRange("0..99"), std::make_pair(uint64_t{0}, uint64_t{99}));
  EXPECT_EQ(ParseSeedRange("7..7"), std::make_pair(uint64_t{7}, uint64_t{7}));
  for (const char* bad : {"", "5", "..9", "9..", "9..5", "a..b", "-1..3", "1..2x", "1...3"}) {
    EXPECT_FALSE(ParseSeedRange(bad).has_value()) << bad;
  }
}

TEST(CampaignTest, Durations) {
  EXPECT_EQ(ParseDurationSeconds("60s"), 60);
  EXPECT_EQ(ParseDurationSeconds("5m"), 300);
  EXPECT_EQ(ParseDurationSeconds("2h"), 7200);
  for (const char* bad : {"", "s", "10", "0s", "-3s", "5x", "1.5m"}) {
    EXPECT_FALSE(ParseDurationSeconds(bad).has_value()) << bad;
  }
}

TEST(CampaignTest, FailuresGroupByInvariant) {
  EXPECT_EQ(FailureSignature("read of point 3 returned {id 3, ...}, which no model state"),
            FailureSignature("read of point 17 returned nothing, which no model state"));
  EXPECT_NE(FailureSignature("crash recovery lost durable ops: x"),
            FailureSignature("shard load failed: y"));
}

}  // namespace
}  // namespace shardsim
