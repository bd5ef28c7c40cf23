// The Env contract, checked on both worlds: every test body runs once on
// PosixEnv (a temp directory, real threads) and once on the simulated world
// (several seeds), and must pass on each.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "engine/common/file_util.h"
#include "engine/env/channel.h"
#include "engine/env/posix_env.h"
#include "sim/world.h"

namespace engine {
namespace {

using Body = std::function<void(Env&)>;

struct World {
  std::string name;
  std::function<void(const Body&)> run;
};

void RunOnPosix(const Body& body) {
  char pattern[] = "/tmp/shardsim-env-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  {
    PosixEnv env(pattern);
    body(env);
  }
  std::filesystem::remove_all(pattern);
}

void RunOnSim(const Body& body) {
  for (uint64_t seed = 0; seed < 5; ++seed) {
    sim::World world(sim::WorldConfig{.seed = seed});
    const sim::RunResult result = world.RunSupervisor([&] { body(world.env()); });
    ASSERT_EQ(result.outcome, sim::RunOutcome::kCompleted) << "seed " << seed << ": " << result.report;
  }
}

class EnvConformanceTest : public ::testing::TestWithParam<World> {
 protected:
  void Run(const Body& body) { GetParam().run(body); }
};

std::string Contents(Env& env, std::string_view path) {
  auto contents = ReadWholeFile(env.fs(), path);
  return contents.ok() ? *contents : "<" + contents.status().ToString() + ">";
}

TEST_P(EnvConformanceTest, FileCallsAndErrorCodes) {
  Run([](Env& env) {
    FileSystem& fs = env.fs();
    EXPECT_TRUE(absl::IsNotFound(fs.Open("missing", OpenMode::kRead).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(fs.Open("a/../b", OpenMode::kCreate).status()));
    ASSERT_TRUE(fs.Mkdir("d").ok());
    EXPECT_TRUE(absl::IsAlreadyExists(fs.Mkdir("d")));
    auto file = fs.Open("d/f", OpenMode::kCreateExclusive);
    ASSERT_TRUE(file.ok()) << file.status();
    EXPECT_TRUE(absl::IsAlreadyExists(fs.Open("d/f", OpenMode::kCreateExclusive).status()));
    ASSERT_TRUE((*file)->WriteAt(3, std::span<const char>("xy", 2)).ok());
    ASSERT_TRUE((*file)->Append(std::span<const char>("z", 1)).ok());
    EXPECT_EQ(*(*file)->Size(), 6u);
    EXPECT_EQ(Contents(env, "d/f"), std::string("\0\0\0xyz", 6));
    ASSERT_TRUE((*file)->Truncate(4).ok());
    ASSERT_TRUE((*file)->Sync().ok());
    EXPECT_EQ(Contents(env, "d/f"), std::string("\0\0\0x", 4));
    EXPECT_TRUE(absl::IsFailedPrecondition(fs.Rmdir("d")));
    EXPECT_TRUE(absl::IsFailedPrecondition(fs.Open("d", OpenMode::kRead).status()));
    EXPECT_TRUE(absl::IsNotFound(fs.Unlink("d/none")));
    EXPECT_EQ(*fs.Stat("d"), EntryKind::kDirectory);
    EXPECT_EQ(*fs.Stat("d/f"), EntryKind::kFile);
    ASSERT_TRUE(fs.SyncDir("d").ok());
    ASSERT_TRUE(fs.SyncDir("").ok());
  });
}

TEST_P(EnvConformanceTest, RenameListAndRemove) {
  Run([](Env& env) {
    FileSystem& fs = env.fs();
    ASSERT_TRUE(WriteFileAtomically(fs, "b", "old").ok());
    ASSERT_TRUE(WriteFileAtomically(fs, "a", "new").ok());
    ASSERT_TRUE(fs.Rename("a", "b").ok());
    EXPECT_EQ(Contents(env, "b"), "new");
    ASSERT_TRUE(fs.Mkdir("dir").ok());
    ASSERT_TRUE(fs.Rename("dir", "moved").ok());
    auto entries = fs.ListDir("");
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->size(), 2u);
    EXPECT_EQ((*entries)[0], (DirEntry{"b", EntryKind::kFile}));
    EXPECT_EQ((*entries)[1], (DirEntry{"moved", EntryKind::kDirectory}));
    ASSERT_TRUE(fs.Unlink("b").ok());
    ASSERT_TRUE(fs.Rmdir("moved").ok());
    EXPECT_TRUE(fs.ListDir("")->empty());
  });
}

TEST_P(EnvConformanceTest, MutexExcludesAcrossTasks) {
  Run([](Env& env) {
    auto mutex = env.NewMutex("counter");
    int counter = 0;
    std::vector<std::unique_ptr<Task>> tasks;
    for (int t = 0; t < 4; ++t) {
      tasks.push_back(env.Spawn("incrementer", [&] {
        for (int i = 0; i < 200; ++i) {
          MutexLock lock(*mutex);
          const int seen = counter;
          env.YieldPoint("inside");
          counter = seen + 1;
        }
      }));
    }
    for (auto& task : tasks) task->Join();
    EXPECT_EQ(counter, 800);
  });
}

TEST_P(EnvConformanceTest, UpgradableReadCoexistsWithReadersAndExcludesWriters) {
  Run([](Env& env) {
    auto lock = env.NewRwLock("holder");
    auto mutex = env.NewMutex("log");
    std::vector<std::string> log;
    const auto note = [&](std::string what) {
      MutexLock guard(*mutex);
      log.push_back(std::move(what));
    };
    lock->LockUpgradable();
    auto reader = env.Spawn("reader", [&] {
      ReadLock read(*lock);
      note("read");
    });
    reader->Join();  // a reader got in beside the upgradable read
    auto writer = env.Spawn("writer", [&] {
      WriteLock write(*lock);
      note("write");
    });
    env.SleepForNanos(1'000'000);
    note("upgrading");
    lock->Upgrade();
    note("upgraded");
    lock->Downgrade();
    lock->UnlockUpgradable();
    writer->Join();
    ASSERT_EQ(log.size(), 4u);
    EXPECT_EQ(log[0], "read");
    EXPECT_EQ(log[1], "upgrading");  // the writer waited for the upgradable holder
    EXPECT_EQ(log[2], "upgraded");
    EXPECT_EQ(log[3], "write");
  });
}

TEST_P(EnvConformanceTest, ConditionSignalsAndTimesOut) {
  Run([](Env& env) {
    auto mutex = env.NewMutex("m");
    auto ready = env.NewCondVar(*mutex, "ready");
    bool flag = false;
    auto signaller = env.Spawn("signaller", [&] {
      MutexLock lock(*mutex);
      flag = true;
      ready->SignalAll();
    });
    {
      MutexLock lock(*mutex);
      for (int i = 0; !flag && i < 1000; ++i) ready->WaitFor(1'000'000);
      EXPECT_TRUE(flag);
      const int64_t before = env.NowNanos();
      EXPECT_FALSE(ready->WaitFor(2'000'000));
      EXPECT_GE(env.NowNanos() - before, 2'000'000);
    }
    signaller->Join();
  });
}

TEST_P(EnvConformanceTest, ChannelIsFifoWithBackPressure) {
  Run([](Env& env) {
    BoundedChannel<int> channel(env, "queue", 2);
    std::vector<std::unique_ptr<Task>> producers;
    for (int p = 0; p < 3; ++p) {
      producers.push_back(env.Spawn("producer", [&, p] {
        for (int i = 0; i < 50; ++i) EXPECT_TRUE(channel.Send(p * 1000 + i));
      }));
    }
    std::vector<int> last_seen(3, -1);
    for (int received = 0; received < 150; ++received) {
      std::optional<int> value = channel.Receive();
      ASSERT_TRUE(value.has_value());
      const int producer = *value / 1000;
      EXPECT_GT(*value % 1000, last_seen[producer]);  // FIFO per producer
      last_seen[producer] = *value % 1000;
      EXPECT_LE(channel.size(), 2u);
    }
    for (auto& producer : producers) producer->Join();
    channel.Close();
    EXPECT_FALSE(channel.Receive().has_value());
    EXPECT_FALSE(channel.Send(1));
  });
}

TEST_P(EnvConformanceTest, ClockIsMonotonicAndSleepAdvancesIt) {
  Run([](Env& env) {
    const int64_t start = env.NowNanos();
    env.SleepForNanos(3'000'000);
    const int64_t end = env.NowNanos();
    EXPECT_GE(end - start, 3'000'000);
  });
}

INSTANTIATE_TEST_SUITE_P(Worlds, EnvConformanceTest,
                         ::testing::Values(World{"posix", RunOnPosix}, World{"sim", RunOnSim}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace engine
