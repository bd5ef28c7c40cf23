#include "sim/world.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "engine/common/file_util.h"

namespace sim {
namespace {

// A writer process that appends numbered records to a log, syncing every
// other one, until it is crashed or done.
void WriterProcess(engine::Env& env, int records, int* written, int* synced) {
  auto file = env.fs().Open("log", engine::OpenMode::kCreate);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(env.fs().SyncDir("").ok());
  for (int i = 0; i < records; ++i) {
    const std::string record = fmt::format("{:04}\n", i);
    ASSERT_TRUE((*file)->Append(std::span<const char>(record.data(), record.size())).ok());
    ++*written;
    if (i % 2 == 1) {
      ASSERT_TRUE((*file)->Sync().ok());
      *synced = *written;
    }
  }
}

struct CrashRunResult {
  uint64_t hash;
  std::string survived;
  int written;
  int synced;
};

CrashRunResult RunWithCrash(uint64_t seed, CrashKind kind, std::optional<uint64_t> crash_step,
                            DecisionSource* decisions = nullptr) {
  WorldConfig config{.seed = seed, .profile = PersistenceProfile::StrictPosix()};
  std::unique_ptr<World> world = decisions ? std::make_unique<World>(config, *decisions)
                                           : std::make_unique<World>(config);
  int written = 0;
  int synced = 0;
  std::string survived;
  const RunResult result = world->RunSupervisor([&] {
    if (crash_step) world->CrashAtStep(*crash_step, kind);
    const ProcessId writer = world->StartProcess("writer", [&] {
      WriterProcess(world->env(), 50, &written, &synced);
    });
    const bool crashed = world->WaitProcess(writer);
    EXPECT_EQ(crashed, crash_step.has_value());
    const ProcessId reader = world->StartProcess("reader", [&] {
      auto contents = engine::ReadWholeFile(world->env().fs(), "log");
      survived = contents.ok() ? *contents : "<missing>";
    });
    EXPECT_FALSE(world->WaitProcess(reader));
  });
  EXPECT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  return {world->trace().hash(), survived, written, synced};
}

TEST(WorldTest, WithoutCrashEverythingIsWritten) {
  const CrashRunResult run = RunWithCrash(1, CrashKind::kPowerLoss, std::nullopt);
  EXPECT_EQ(run.written, 50);
  EXPECT_EQ(run.survived.size(), 250u);
}

TEST(WorldTest, ProcessCrashKeepsEveryCompletedWrite) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const CrashRunResult run = RunWithCrash(seed, CrashKind::kProcessCrash, 60 + seed * 3);
    EXPECT_LT(run.written, 50);
    EXPECT_EQ(run.survived.size(), 5u * run.written) << "seed " << seed;
  }
}

TEST(WorldTest, PowerLossKeepsSyncedRecordsAndNoMore) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const CrashRunResult run = RunWithCrash(seed, CrashKind::kPowerLoss, 60 + seed * 3);
    ASSERT_NE(run.survived, "<missing>") << "the directory entry was synced";
    const size_t synced_records = static_cast<size_t>(run.synced);
    EXPECT_GE(run.survived.size(), 5 * synced_records) << "seed " << seed;
    EXPECT_LE(run.survived.size(), 5u * run.written) << "seed " << seed;
    for (size_t i = 0; i < synced_records; ++i) {
      EXPECT_EQ(run.survived.substr(5 * i, 5), fmt::format("{:04}\n", i)) << "seed " << seed;
    }
  }
}

TEST(WorldTest, AnotherProcessCannotReachTheFileSystemAfterItsCrash) {
  WorldConfig config{.seed = 5};
  World world(config);
  const RunResult result = world.RunSupervisor([&] {
    const ProcessId writer = world.StartProcess("writer", [&] {
      auto file = world.env().fs().Open("f", engine::OpenMode::kCreate);
      ASSERT_TRUE(file.ok());
      for (int i = 0; i < 1000; ++i) {
        (void)(*file)->Append(std::span<const char>("x", 1));
      }
      ADD_FAILURE() << "the writer was never crashed";
    });
    world.scheduler().SleepUntil(world.scheduler().now_ns() + 50'000);
    world.Crash(CrashKind::kProcessCrash);  // from the supervisor
    const uint64_t bytes_at_crash = world.fs().total_bytes();
    EXPECT_TRUE(world.WaitProcess(writer));
    EXPECT_EQ(world.fs().total_bytes(), bytes_at_crash);
  });
  EXPECT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
}

TEST(WorldTest, SameSeedSameTraceAndATapeReplaysIt) {
  for (uint64_t seed = 0; seed < 30; ++seed) {
    const CrashRunResult first = RunWithCrash(seed, CrashKind::kPowerLoss, 80);
    const CrashRunResult second = RunWithCrash(seed, CrashKind::kPowerLoss, 80);
    ASSERT_EQ(first.hash, second.hash);
    ASSERT_EQ(first.survived, second.survived);
    PrngSource prng(seed);
    TapeRecorder recorder(prng);
    const CrashRunResult recorded = RunWithCrash(seed, CrashKind::kPowerLoss, 80, &recorder);
    TapeSource tape(recorder.tape());
    const CrashRunResult replayed = RunWithCrash(seed, CrashKind::kPowerLoss, 80, &tape);
    ASSERT_EQ(recorded.hash, replayed.hash);
    ASSERT_EQ(recorded.survived, replayed.survived);
  }
}

TEST(WorldTest, NothingTheDeadProcessDoesReachesTheFileSystem) {
  WorldConfig config{.seed = 3};
  World world(config);
  uint64_t calls_at_crash = 0;
  const RunResult result = world.RunSupervisor([&] {
    const ProcessId writer = world.StartProcess("writer", [&] {
      auto file = world.env().fs().Open("f", engine::OpenMode::kCreate);
      ASSERT_TRUE(file.ok());
      calls_at_crash = world.env_tracing_calls();
      // Crashing its own process: the task unwinds right here.
      world.Crash(CrashKind::kProcessCrash);
      (void)(*file)->Append(std::span<const char>("late", 4));
      ADD_FAILURE() << "a task of a crashed process kept running";
    });
    EXPECT_TRUE(world.WaitProcess(writer));
  });
  EXPECT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  EXPECT_EQ(world.env_tracing_calls(), calls_at_crash);
  EXPECT_EQ(world.fs().total_bytes(), 0u);
}

}  // namespace
}  // namespace sim
