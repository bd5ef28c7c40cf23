// The power-loss enumeration API: PendingOperations lists what a power loss
// may keep, PowerLossKeeping applies exactly a chosen subset, refuses
// illegal ones, and reaches exactly the states random power losses reach.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "sim/fs/fs_test_util.h"
#include "sim/fs/sim_fs.h"

namespace sim {
namespace {

using fs_test::BuildPendingScenario;
using fs_test::KeepMask;
using fs_test::PendingScenarioOperations;
using fs_test::ReadFile;
using Kind = PendingOperation::Kind;

// Every name with its contents: what an observer of the disk can tell apart.
std::string StateOf(SimFileSystem& fs) {
  std::string state;
  const auto listing = fs.ListDir("");
  EXPECT_TRUE(listing.ok());
  if (!listing.ok()) return "<unlistable>";
  for (const auto& entry : *listing) state += entry.name + "=" + ReadFile(fs, entry.name) + ";";
  return state;
}

// The constraints, checked independently of SimFileSystem: per name a
// prefix of its operations; the pending halves of a rename together.
bool Legal(const std::vector<PendingOperation>& operations, const std::vector<bool>& keep) {
  std::set<std::pair<uint64_t, std::string>> dropped_names;
  for (size_t i = 0; i < operations.size(); ++i) {
    const PendingOperation& operation = operations[i];
    if (operation.partner && keep[*operation.partner] != keep[i]) return false;
    if (!operation.IsNamespace()) continue;
    const std::pair<uint64_t, std::string> name{operation.directory, operation.name};
    if (keep[i] && dropped_names.contains(name)) return false;
    if (!keep[i]) dropped_names.insert(name);
  }
  return true;
}

TEST(PendingOperationsTest, ListsEveryPendingOperationInTheOrderItHappened) {
  SimFileSystem fs;
  BuildPendingScenario(fs);
  const std::vector<PendingOperation> operations = fs.PendingOperations();
  ASSERT_EQ(operations.size(), 7u);
  const std::vector<Kind> kinds{Kind::kCreate,     Kind::kWrite,  Kind::kUnlink, Kind::kRenameFrom,
                                Kind::kRenameTo, Kind::kCreate, Kind::kWrite};
  for (size_t i = 0; i < kinds.size(); ++i) EXPECT_EQ(operations[i].kind, kinds[i]) << i;
  EXPECT_EQ(operations[0].description, "create b");
  EXPECT_EQ(operations[1].description, "write 1 bytes at 0 to c");  // the file's path now
  EXPECT_EQ(operations[2].description, "unlink a");
  EXPECT_EQ(operations[3].description, "rename b -> c (unlink half)");
  EXPECT_EQ(operations[4].description, "rename b -> c (link half)");
  EXPECT_EQ(operations[3].partner, 4u);
  EXPECT_EQ(operations[4].partner, 3u);
  EXPECT_FALSE(operations[0].partner.has_value());
  EXPECT_EQ(operations[1].inode, operations[0].inode);
  EXPECT_EQ(operations[4].inode, operations[0].inode);
  EXPECT_EQ(operations[6].path, "a");
}

TEST(PendingOperationsTest, KeepingAllIsThePageCacheAndKeepingNoneIsTheSyncedState) {
  SimFileSystem all;
  BuildPendingScenario(all);
  const std::string volatile_state = StateOf(all);
  ASSERT_TRUE(all.PowerLossKeeping(std::vector<bool>(7, true)).ok());
  EXPECT_EQ(StateOf(all), volatile_state);
  EXPECT_TRUE(all.PendingOperations().empty());

  SimFileSystem none;
  BuildPendingScenario(none);
  ASSERT_TRUE(none.PowerLossKeeping(std::vector<bool>(7, false)).ok());
  EXPECT_EQ(StateOf(none), "a=A;");
}

TEST(PendingOperationsTest, RefusesIllegalSubsetsAndChangesNothing) {
  SimFileSystem fs;
  BuildPendingScenario(fs);
  const std::string before = fs.DumpTree();
  // Wrong size.
  EXPECT_TRUE(absl::IsInvalidArgument(fs.PowerLossKeeping(std::vector<bool>(6, true))));
  // Only one half of the rename.
  EXPECT_TRUE(absl::IsInvalidArgument(fs.PowerLossKeeping({true, true, true, true, false, true, true})));
  EXPECT_TRUE(absl::IsInvalidArgument(fs.PowerLossKeeping({true, true, true, false, true, true, true})));
  // The re-create of a without the earlier unlink of a.
  EXPECT_TRUE(absl::IsInvalidArgument(fs.PowerLossKeeping({true, true, false, true, true, true, true})));
  // The rename (whose unlink half is b's second operation) without the create of b.
  EXPECT_TRUE(absl::IsInvalidArgument(fs.PowerLossKeeping({false, true, true, true, true, true, true})));
  EXPECT_EQ(fs.DumpTree(), before);
  EXPECT_EQ(fs.PendingOperations().size(), 7u);
  // Data writes may be kept in any subset.
  EXPECT_TRUE(fs.PowerLossKeeping({true, false, true, true, true, true, true}).ok());
}

TEST(PendingOperationsTest, ChosenStatesAreExactlyTheStatesRandomPowerLossesReach) {
  const std::vector<PendingOperation> operations = PendingScenarioOperations();
  const size_t count = operations.size();
  std::set<std::string> chosen_states;
  size_t legal_subsets = 0;
  for (uint32_t mask = 0; mask < (1u << count); ++mask) {
    const std::vector<bool> keep = KeepMask(mask, count);
    SimFileSystem fs;
    BuildPendingScenario(fs);
    const absl::Status status = fs.PowerLossKeeping(keep);
    ASSERT_EQ(status.ok(), Legal(operations, keep)) << "mask " << mask << ": " << status;
    if (!status.ok()) continue;
    ++legal_subsets;
    chosen_states.insert(StateOf(fs));
  }
  // a: 3 prefixes; b with c (rename whole): 3; two writes: 4.
  EXPECT_EQ(legal_subsets, 36u);
  // Each file has one unsynced write, so random-prefix can keep any subset
  // of them: random power losses must reach the same states, no more.
  std::set<std::string> random_states;
  for (uint64_t seed = 0; seed < 3000; ++seed) {
    SimFileSystem fs;
    BuildPendingScenario(fs);
    PrngSource decisions(seed);
    ASSERT_TRUE(fs.Crash(CrashKind::kPowerLoss, CrashModel::kRandomPrefix, decisions).ok());
    random_states.insert(StateOf(fs));
  }
  EXPECT_EQ(chosen_states, random_states);
}

TEST(PendingOperationsTest, ReportsWhatItDrops) {
  SimFileSystem fs;
  BuildPendingScenario(fs);
  std::vector<Injection> injections;
  fs.set_injection_sink([&](Injection injection) { injections.push_back(std::move(injection)); });
  // Keep the namespace operations, drop both writes.
  ASSERT_TRUE(fs.PowerLossKeeping({true, false, true, true, true, true, false}).ok());
  ASSERT_EQ(injections.size(), 2u);
  EXPECT_EQ(injections[0].fault, FaultClass::kLostUnsynced);
  EXPECT_EQ(injections[0].detail, "kept 0 of 1 unsynced writes");
  EXPECT_EQ(StateOf(fs), "a=;c=;");
}

}  // namespace
}  // namespace sim
