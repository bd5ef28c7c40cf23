#include "engine/clock/clock_map.h"

#include <gtest/gtest.h>

#include "engine/common/file_util.h"
#include "sim/fs/sim_fs.h"

namespace engine {
namespace {

TEST(ClockMapTest, AcceptanceRules) {
  ClockMap clocks;
  ClockTag zero{1, 0, 0, 7};
  EXPECT_FALSE(clocks.AdvanceAndCorrect(zero));  // tick 0 never creates a clock
  ClockTag first{1, 0, 5, 7};
  EXPECT_TRUE(clocks.AdvanceAndCorrect(first));
  ClockTag retry{1, 0, 5, 7};
  EXPECT_TRUE(clocks.AdvanceAndCorrect(retry));  // same tick, same token
  ClockTag other_token{1, 0, 5, 8};
  EXPECT_FALSE(clocks.AdvanceAndCorrect(other_token));
  ClockTag stale{1, 0, 3, 9};
  EXPECT_FALSE(clocks.AdvanceAndCorrect(stale));
  EXPECT_EQ(stale.tick, 5u);  // corrected to the current tick
  ClockTag forced{1, 0, 2, 9, true};
  EXPECT_TRUE(clocks.AdvanceAndCorrect(forced));
  EXPECT_EQ(clocks.Get(1, 0)->tick, 5u);
}

TEST(ClockMapTest, PersistsAtomicallyAndRejectsCorruptFiles) {
  sim::SimFileSystem fs;
  ClockMap clocks;
  clocks.Advance({3, 1, 10, 4});
  clocks.Advance({2, 0, 7, 1});
  ASSERT_TRUE(clocks.StoreIfChanged(fs, "clocks.json").ok());
  EXPECT_FALSE(clocks.changed());
  auto loaded = ClockMap::Load(fs, "clocks.json");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, clocks);
  EXPECT_TRUE(ClockMap::Load(fs, "missing.json")->empty());
  ASSERT_TRUE(WriteFileAtomically(fs, "bad.json", R"({"clocks":[{"peer_id":1}]})").ok());
  EXPECT_TRUE(absl::IsDataLoss(ClockMap::Load(fs, "bad.json").status()));
  ClockMap behind;
  behind.Advance({3, 1, 9, 4});
  EXPECT_TRUE(behind.NotAheadOf(clocks));
  EXPECT_FALSE(clocks.NotAheadOf(behind));
}

TEST(ClockMapTest, TickZeroIsNoClock) {
  // Tick 0 never creates a clock, so a stored clock at tick 0 is corrupt.
  const auto at_zero = ClockMap::FromJson(
      nlohmann::json::parse(R"({"clocks":[{"peer_id":1,"clock_id":0,"tick":0,"token":1}]})"));
  EXPECT_TRUE(absl::IsDataLoss(at_zero.status())) << at_zero.status();
  const auto at_one = ClockMap::FromJson(
      nlohmann::json::parse(R"({"clocks":[{"peer_id":1,"clock_id":0,"tick":1,"token":1}]})"));
  ASSERT_TRUE(at_one.ok()) << at_one.status();
  EXPECT_EQ(at_one->Get(1, 0)->tick, 1u);
  EXPECT_FALSE(at_one->changed());
}

TEST(ClockMapTest, TicksOnlyGrow) {
  ClockMap clocks;
  clocks.Advance({1, 0, 9, 1});
  clocks.Advance({1, 0, 4, 2});  // an older op replayed: the clock stays
  EXPECT_EQ(clocks.Get(1, 0)->tick, 9u);
  ClockMap earlier;
  earlier.Advance({1, 0, 4, 2});
  EXPECT_TRUE(earlier.NotAheadOf(clocks));
  EXPECT_FALSE(clocks.NotAheadOf(earlier));
  EXPECT_TRUE(ClockMap().NotAheadOf(clocks));  // an empty map is behind every map
}

// A cutoff raises clocks past ops this replica never applied: when such an
// op arrives late (its request stalled past its coordinator's timeout), it
// is no retry and must not overwrite what the transfer brought (cluster
// seed 9049). An op this replica applied itself stays retryable.
TEST(ClockMapTest, AClockRaisedByAFloorRejectsTheOpThatSetIt) {
  ClockMap floor;
  floor.Advance({1, 0, 5, 7});
  floor.Advance({2, 0, 3, 4});
  ClockMap clocks;
  ClockTag applied{2, 0, 3, 4};
  ASSERT_TRUE(clocks.AdvanceAndCorrect(applied));
  clocks.AdvanceToAtLeast(floor);
  ClockTag late{1, 0, 5, 7};
  EXPECT_FALSE(clocks.AdvanceAndCorrect(late));
  EXPECT_EQ(late.tick, 5u);
  ClockTag retry{2, 0, 3, 4};
  EXPECT_TRUE(clocks.AdvanceAndCorrect(retry));  // applied here: still a retry
  ClockTag next{1, 0, 6, 8};
  EXPECT_TRUE(clocks.AdvanceAndCorrect(next));
}

}  // namespace
}  // namespace engine
