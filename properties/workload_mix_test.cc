// The workload mix: the default draws exactly what the hard-coded mix drew
// (so seeds replay as before), and configured weights are honoured.
#include "properties/workload_mix.h"

#include <map>

#include <gtest/gtest.h>

namespace properties {
namespace {

// The mix as it was written before it became data (kept here as the
// oracle): one draw of 100, and a second draw in two shared slices.
Action HardCodedMix(sim::DecisionSource& decisions) {
  const uint64_t roll = decisions.Draw(100);
  if (roll < 47) return Action::kUpdate;
  if (roll < 50) return Action::kDeleteByFilter;
  if (roll < 62) return Action::kRetrieve;
  if (roll < 70) return Action::kScroll;
  if (roll < 76) return Action::kCount;
  if (roll < 84) return Action::kSearch;
  if (roll < 90) return Action::kPlunge;
  if (roll < 91) return Action::kFreeze;
  if (roll < 92) return Action::kOptimize;
  if (roll < 93) return decisions.Draw(3) < 2 ? Action::kVacuum : Action::kCancelOptimize;
  if (roll < 95) return Action::kSnapshot;
  if (roll < 96) return decisions.Draw(2) == 0 ? Action::kPartialSnapshot : Action::kCollectionSnapshot;
  return Action::kFlush;
}

TEST(WorkloadMix, DefaultDrawsWhatTheHardCodedMixDrew) {
  sim::PrngSource mine(42), oracle(42);
  const WorkloadMix mix = WorkloadMix::Default();
  for (int draw = 0; draw < 100'000; ++draw) {
    ASSERT_EQ(mix.Draw(mine), HardCodedMix(oracle)) << "draw " << draw;
  }
  EXPECT_EQ(mine.Draw(1u << 30), oracle.Draw(1u << 30)) << "the streams must stay in step";
}

TEST(WorkloadMix, ConfiguredWeightsAreHonoured) {
  const auto mix = WorkloadMix::Parse("snapshot:3,retrieve:1");
  ASSERT_TRUE(mix.ok()) << mix.status();
  EXPECT_FALSE(mix->IsDefault());
  EXPECT_EQ(mix->ToText(), "snapshot:3,retrieve:1");
  sim::PrngSource decisions(7);
  std::map<Action, int> seen;
  for (int draw = 0; draw < 40'000; ++draw) ++seen[mix->Draw(decisions)];
  EXPECT_EQ(seen.size(), 2u) << "an action not named must never be drawn";
  EXPECT_NEAR(seen[Action::kSnapshot] / 40'000.0, 0.75, 0.02);
}

TEST(WorkloadMix, ParsesDefaultAndRefusesBadText) {
  const auto parsed = WorkloadMix::Parse("default");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->IsDefault());
  EXPECT_TRUE(WorkloadMix::Parse("update:1,flush:0").ok());
  for (const char* bad : {"", "update", "update:", "update:x", "update:-1", "update:10000000", "hop:1",
                          "update:0", "update:1,update:1", "update:1,,flush:1"}) {
    EXPECT_FALSE(WorkloadMix::Parse(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace properties
