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

}  // namespace
}  // namespace engine
