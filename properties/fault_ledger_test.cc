#include "properties/fault_ledger.h"

#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "sim/world.h"

namespace properties {
namespace {

// A write error on each path, in that order.
void InjectWriteErrors(sim::World& world, const std::vector<std::string>& paths = {"d/alpha", "d/beta", "d/gamma"}) {
  const sim::RunResult result = world.RunSupervisor([&] {
    ASSERT_TRUE(world.fs().Mkdir("d").ok());
    const sim::ProcessId writer = world.StartProcess("writer", [&] {
      world.fault_fs().set_rates({.write_error = 1});
      for (const std::string& path : paths) {
        auto file = world.env().fs().Open(path, engine::OpenMode::kCreate);
        ASSERT_TRUE(file.ok());
        EXPECT_FALSE((*file)->Append(std::span<const char>("x", 1)).ok());
      }
      world.fault_fs().set_rates({});
    });
    EXPECT_FALSE(world.WaitProcess(writer));
  });
  ASSERT_EQ(result.outcome, sim::RunOutcome::kCompleted) << result.report;
  ASSERT_EQ(world.injections().size(), paths.size());
}

uint64_t Count(const Envelope& envelope, Outcome outcome) {
  return envelope.get(sim::FaultClass::kWriteError, ComponentOf("d/alpha"), outcome);
}

// An injection is detected when an error at or after its step names its
// file, repaired when only a repair does, survived otherwise; a message
// before the injection names an earlier fault, not it.
TEST(FaultLedgerTest, ClassifiesByMessagesAtOrAfterTheInjection) {
  sim::World world({.seed = 1, .profile = sim::PersistenceProfile::NoFault()});
  InjectWriteErrors(world);
  const auto& injections = world.injections();
  FaultLedger ledger(world);
  ledger.NoteError(injections[0].step, "append to d/alpha: EIO");
  ledger.NoteError(injections[1].step - 1, "append to d/beta: EIO");  // before beta's injection
  ledger.NoteRepair(injections[2].step + 5, "d/beta rewritten");
  ledger.NoteRepair(injections[0].step + 1, "d/alpha rewritten");  // detected wins over repaired
  const Envelope envelope = ledger.Classify();
  EXPECT_EQ(Count(envelope, Outcome::kDetected), 1u);  // alpha
  EXPECT_EQ(Count(envelope, Outcome::kRepaired), 1u);  // beta
  EXPECT_EQ(Count(envelope, Outcome::kSurvived), 1u);  // gamma
  EXPECT_EQ(Count(envelope, Outcome::kLost), 0u);
}

// A failed check marks every injection at or before its step lost.
TEST(FaultLedgerTest, AFailureMarksEarlierInjectionsLost) {
  sim::World world({.seed = 1, .profile = sim::PersistenceProfile::NoFault()});
  InjectWriteErrors(world);
  FaultLedger ledger(world);
  ledger.NoteError(world.injections()[2].step, "append to d/gamma: EIO");
  ledger.NoteFailure(world.injections()[1].step);
  const Envelope envelope = ledger.Classify();
  EXPECT_EQ(Count(envelope, Outcome::kLost), 2u);
  EXPECT_EQ(Count(envelope, Outcome::kDetected), 1u);
}

// Past a few thousand (path, message) pairs the ledger indexes the messages
// instead of searching each for each path; the answers are the same: a
// message names every path it contains (d/f1 inside d/f12 too), and only
// the injections at or before its step.
TEST(FaultLedgerTest, ManyPathsAndMessagesClassifyAsFewDo) {
  std::vector<std::string> paths;
  for (int i = 0; i < 80; ++i) paths.push_back(fmt::format("d/f{}", i));
  sim::World world({.seed = 1, .profile = sim::PersistenceProfile::NoFault()});
  InjectWriteErrors(world, paths);
  const auto& injections = world.injections();
  FaultLedger ledger(world);
  // Each of d/f10..d/f19 is named once, after its injection; that names
  // d/f1 too. d/f2 is named only before its injection.
  for (int i = 10; i < 20; ++i) ledger.NoteError(injections[i].step, fmt::format("append to d/f{}: EIO", i));
  ledger.NoteError(injections[2].step - 1, "append to d/f2: EIO");
  for (int i = 0; i < 80; ++i) ledger.NoteError(injections[79].step + 1, "refused: checksum mismatch");
  const Envelope envelope = ledger.Classify();
  EXPECT_EQ(Count(envelope, Outcome::kDetected), 11u);
  EXPECT_EQ(Count(envelope, Outcome::kSurvived), 69u);
}

}  // namespace
}  // namespace properties
