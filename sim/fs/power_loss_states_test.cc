// The legal power-loss states crash-every tries: CheckKeepLegal answers as
// PowerLossKeeping does, and the enumeration gives legal, distinct states
// in its documented order, within its bounds, the same for the same seed.
#include "sim/fs/power_loss_states.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "sim/fs/fs_test_util.h"

namespace sim {
namespace {

using fs_test::BuildPendingScenario;
using fs_test::KeepMask;
using fs_test::PendingScenarioOperations;

bool AcceptedByTheFileSystem(const std::vector<bool>& keep) {
  SimFileSystem fs;
  BuildPendingScenario(fs);
  return fs.PowerLossKeeping(keep).ok();
}

TEST(PowerLossStatesTest, CheckKeepLegalAnswersAsPowerLossKeepingDoes) {
  const std::vector<PendingOperation> pending = PendingScenarioOperations();
  ASSERT_EQ(pending.size(), 7u);
  size_t legal = 0;
  for (uint32_t mask = 0; mask < (1u << pending.size()); ++mask) {
    const std::vector<bool> keep = KeepMask(mask, pending.size());
    const absl::Status status = CheckKeepLegal(pending, keep);
    EXPECT_EQ(status.ok(), AcceptedByTheFileSystem(keep)) << "mask " << mask << ": " << status;
    legal += status.ok() ? 1 : 0;
  }
  EXPECT_EQ(legal, 36u);
  EXPECT_TRUE(absl::IsInvalidArgument(CheckKeepLegal(pending, std::vector<bool>(6, true))));
  const absl::Status half = CheckKeepLegal(pending, {true, true, true, true, false, true, true});
  EXPECT_NE(std::string(half.message()).find("other half of its rename"), std::string::npos) << half;
  const absl::Status prefix = CheckKeepLegal(pending, {true, true, false, true, true, true, true});
  EXPECT_NE(std::string(prefix.message()).find("'create a' is kept after the earlier 'unlink a'"), std::string::npos)
      << prefix;
}

TEST(PowerLossStatesTest, WideBoundsGiveEveryLegalStateOnce) {
  const std::vector<PendingOperation> pending = PendingScenarioOperations();
  PrngSource sample(1);
  // Six units (the rename's halves are one): dropping or keeping at most
  // three covers every subset.
  const PowerLossStates states = EnumeratePowerLossStates(pending, {.max_dropped = 3, .max_states = 1000}, sample);
  EXPECT_FALSE(states.truncated);
  EXPECT_GT(states.illegal_skipped, 0u);
  std::set<std::vector<bool>> distinct(states.keeps.begin(), states.keeps.end());
  EXPECT_EQ(distinct.size(), states.keeps.size());
  std::set<std::vector<bool>> legal;
  for (uint32_t mask = 0; mask < (1u << pending.size()); ++mask) {
    if (AcceptedByTheFileSystem(KeepMask(mask, pending.size()))) legal.insert(KeepMask(mask, pending.size()));
  }
  EXPECT_EQ(distinct, legal);
}

TEST(PowerLossStatesTest, LevelsComeInOrderWithinTheBound) {
  const std::vector<PendingOperation> pending = PendingScenarioOperations();
  PrngSource sample(7);
  const PowerLossStates states = EnumeratePowerLossStates(pending, {.max_dropped = 2, .max_states = 10}, sample);
  ASSERT_EQ(states.keeps.size(), 10u);
  EXPECT_EQ(states.keeps[0], std::vector<bool>(7, true));
  EXPECT_EQ(states.keeps[1], std::vector<bool>(7, false));
  // Level 1: the four legal single drops (write b, the whole rename,
  // create a, write a: dropping create b or unlink a would need their
  // names' later operations dropped too), then the four legal single keeps.
  const std::vector<std::vector<bool>> level_one = {
      {true, false, true, true, true, true, true},  {true, true, true, false, false, true, true},
      {true, true, true, true, true, false, true},  {true, true, true, true, true, true, false},
      {true, false, false, false, false, false, false}, {false, true, false, false, false, false, false},
      {false, false, true, false, false, false, false}, {false, false, false, false, false, false, true},
  };
  for (size_t index = 0; index < level_one.size(); ++index) EXPECT_EQ(states.keeps[2 + index], level_one[index]);
  EXPECT_TRUE(states.truncated);  // level 2 did not fit
  for (const std::vector<bool>& keep : states.keeps) EXPECT_TRUE(AcceptedByTheFileSystem(keep));
}

TEST(PowerLossStatesTest, RandomStatesAreLegalAndTheSameForTheSameSeed) {
  const std::vector<PendingOperation> pending = PendingScenarioOperations();
  // max_dropped 0: past keep-all and keep-none every state is drawn.
  PrngSource first(3), second(3);
  const PowerLossStates a = EnumeratePowerLossStates(pending, {.max_dropped = 0, .max_states = 20}, first);
  const PowerLossStates b = EnumeratePowerLossStates(pending, {.max_dropped = 0, .max_states = 20}, second);
  EXPECT_EQ(a.keeps, b.keeps);
  EXPECT_EQ(a.keeps.size(), 20u);
  for (const std::vector<bool>& keep : a.keeps) EXPECT_TRUE(AcceptedByTheFileSystem(keep));
}

// Many pending writes (a long unsynced WAL tail) and a name touched many
// times: a level too big to list is sampled, within the bound, legally.
TEST(PowerLossStatesTest, LargeListsAreSampledWithinTheBound) {
  std::vector<PendingOperation> pending;
  for (size_t index = 0; index < 300; ++index) {
    pending.push_back({.kind = PendingOperation::Kind::kWrite, .path = "wal/0",
                       .description = "write " + std::to_string(index), .inode = 5});
  }
  for (size_t index = 0; index < 10; ++index) {
    const bool create = index % 2 == 0;
    pending.push_back({.kind = create ? PendingOperation::Kind::kCreate : PendingOperation::Kind::kUnlink,
                       .path = "tmp", .description = (create ? "create tmp " : "unlink tmp ") + std::to_string(index),
                       .inode = 9, .directory = 1, .name = "tmp"});
  }
  PrngSource sample(11);
  const PowerLossStates states = EnumeratePowerLossStates(pending, {.max_dropped = 2, .max_states = 40}, sample);
  EXPECT_EQ(states.keeps.size(), 40u);
  EXPECT_TRUE(states.truncated);
  std::set<std::vector<bool>> distinct(states.keeps.begin(), states.keeps.end());
  EXPECT_EQ(distinct.size(), states.keeps.size());
  for (const std::vector<bool>& keep : states.keeps) EXPECT_TRUE(CheckKeepLegal(pending, keep).ok());
}

TEST(PowerLossStatesTest, NothingPendingIsOneState) {
  PrngSource sample(0);
  const PowerLossStates states = EnumeratePowerLossStates({}, {}, sample);
  ASSERT_EQ(states.keeps.size(), 1u);
  EXPECT_TRUE(states.keeps[0].empty());
}

}  // namespace
}  // namespace sim
