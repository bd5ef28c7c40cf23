// The world's fault machinery: the injection log, stored rot, crash effects
// as injections, capacity headroom and an operator freeing space, and the
// power-loss chooser.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "sim/world.h"

namespace sim {
namespace {

using engine::OpenMode;

PersistenceProfile ProfileWith(FaultRates faults, std::vector<CrashModel> models = {CrashModel::kDropAllUnsynced}) {
  return {.name = "test", .crash_models = std::move(models), .faults = faults};
}

absl::Status AppendTo(engine::FileSystem& fs, const std::string& path, const std::string& data, bool sync) {
  auto file = fs.Open(path, OpenMode::kCreate);
  if (!file.ok()) return file.status();
  if (auto status = (*file)->Append(std::span<const char>(data.data(), data.size())); !status.ok()) return status;
  return sync ? (*file)->Sync() : absl::OkStatus();
}

const TraceEvent& EventAt(World& world, uint64_t step) {
  const auto& events = world.trace().events();
  const auto it = std::find_if(events.begin(), events.end(), [&](const TraceEvent& e) { return e.step == step; });
  EXPECT_NE(it, events.end()) << "no event at step " << step;
  return *it;
}

// One call of the kind each class hits, from a process, with that class's
// rate at 1: the injection names the class, the path, the process and the
// step of its kFault trace event.
TEST(WorldFaultsTest, InjectionsAreLoggedWithPathStepAndProcess) {
  struct Case {
    FaultRates rates;
    FaultClass fault;
    std::string path;
    std::string detail;
  };
  const std::vector<Case> cases{
      {{.read_error = 1}, FaultClass::kReadError, "d/wal", "EIO on read d/wal; nothing read"},
      {{.write_error = 1}, FaultClass::kWriteError, "d/wal", "EIO on append d/wal; nothing written"},
      {{.sync_error = 1}, FaultClass::kSyncError, "d/wal", "EIO on sync d/wal; dirty pages kept"},
      {{.fsync_failure = 1}, FaultClass::kFsyncFailure, "d/wal", "EIO on sync d/wal; dirty pages dropped"},
      {{.dir_sync_error = 1}, FaultClass::kDirSyncError, "d", "EIO on syncdir d; entries stay pending"},
      {{.bit_flip_on_read = 1}, FaultClass::kReadFlip, "d/wal", ""},
  };
  for (const Case& test : cases) {
    World world({.seed = 1, .profile = PersistenceProfile::NoFault(), .record_trace = true});
    ProcessId caller = 0;
    const RunResult result = world.RunSupervisor([&] {
      ASSERT_TRUE(world.fs().Mkdir("d").ok());
      ASSERT_TRUE(AppendTo(world.fs(), "d/wal", "records", false).ok());
      caller = world.StartProcess("caller", [&] {
        world.fault_fs().set_rates(test.rates);
        engine::FileSystem& fs = world.env().fs();
        auto file = fs.Open("d/wal", OpenMode::kReadWrite);
        ASSERT_TRUE(file.ok());
        char buffer[7];
        (void)(*file)->ReadAt(0, std::span<char>(buffer, 7));
        (void)(*file)->Append(std::span<const char>("x", 1));
        (void)(*file)->Sync();
        (void)fs.SyncDir("d");
        world.fault_fs().set_rates({});
      });
      EXPECT_FALSE(world.WaitProcess(caller));
    });
    ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
    ASSERT_EQ(world.injections().size(), 1u) << FaultClassName(test.fault);
    const Injection& injection = world.injections()[0];
    EXPECT_EQ(injection.fault, test.fault);
    EXPECT_EQ(injection.path, test.path);
    EXPECT_EQ(injection.process, caller);
    if (!test.detail.empty()) {
      EXPECT_EQ(injection.detail, test.detail);
    }
    const TraceEvent& event = EventAt(world, injection.step);
    EXPECT_EQ(event.kind, EventKind::kFault);
    EXPECT_EQ(event.detail, injection.Summary());
    EXPECT_TRUE(event.detail.starts_with(std::string(FaultClassName(test.fault)) + " " + test.path + ": "));
  }
}

TEST(WorldFaultsTest, StoredRotFlipsExactlyOneDurableBitUnderTheDirectoryAndIsLogged) {
  int rotted = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    World world({.seed = seed, .profile = ProfileWith({.stored_rot = 1})});
    std::map<std::string, std::string> before;
    const RunResult result = world.RunSupervisor([&] {
      SimFileSystem& fs = world.fs();
      ASSERT_TRUE(fs.Mkdir("shard").ok());
      for (const std::string path : {"shard/a", "shard/b", "outside"}) {
        ASSERT_TRUE(AppendTo(fs, path, std::string(50, 'x') + path, true).ok());
        before[path] = *fs.ReadDurable(path);
      }
      const std::optional<Injection> injection = world.MaybeRotStoredBlock("shard");
      ASSERT_TRUE(injection.has_value());
      EXPECT_EQ(injection->fault, FaultClass::kStoredRot);
      EXPECT_EQ(injection->process, 0u);
      EXPECT_TRUE(injection->path == "shard/a" || injection->path == "shard/b") << injection->path;
      int flipped_bits = 0;
      for (const auto& [path, contents] : before) {
        const std::string now = *fs.ReadDurable(path);
        ASSERT_EQ(now.size(), contents.size());
        for (size_t i = 0; i < now.size(); ++i) flipped_bits += __builtin_popcount(uint8_t(now[i] ^ contents[i]));
        if (now != contents) {
          EXPECT_EQ(path, injection->path);
        }
      }
      EXPECT_EQ(flipped_bits, 1);
      ++rotted;
    });
    ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
    ASSERT_EQ(world.injections().size(), 1u);
  }
  EXPECT_EQ(rotted, 20);
}

TEST(WorldFaultsTest, StoredRotAtRateZeroDrawsNothing) {
  PrngSource prng(3);
  TapeRecorder recorder(prng);
  World world({.seed = 3, .scheduler = {.strategy = Strategy::kRoundRobin}, .profile = ProfileWith({})},
              recorder);
  const RunResult result = world.RunSupervisor([&] {
    ASSERT_TRUE(AppendTo(world.fs(), "f", "data", true).ok());
    const uint64_t draws = recorder.draws();
    EXPECT_FALSE(world.MaybeRotStoredBlock("").has_value());
    EXPECT_EQ(recorder.draws(), draws);
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  EXPECT_TRUE(world.injections().empty());
}

TEST(WorldFaultsTest, StoredRotHitsFilesAtItsRate) {
  World world({.seed = 9, .profile = ProfileWith({.stored_rot = 0.25})});
  int rotted = 0;
  const RunResult result = world.RunSupervisor([&] {
    ASSERT_TRUE(AppendTo(world.fs(), "f", "data", true).ok());
    for (int i = 0; i < 2000; ++i) rotted += world.MaybeRotStoredBlock("").has_value() ? 1 : 0;
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  EXPECT_NEAR(rotted, 500, 80);
  EXPECT_EQ(world.injections().size(), static_cast<size_t>(rotted));
}

// A writer with a synced, durable file "log" that then appends three
// unsynced records and creates "new" without syncing the directory, and
// waits to be crashed.
void WriterThatWaits(World& world) {
  engine::FileSystem& fs = world.env().fs();
  ASSERT_TRUE(AppendTo(fs, "log", "durable;", true).ok());
  ASSERT_TRUE(fs.SyncDir("").ok());
  auto file = fs.Open("log", OpenMode::kReadWrite);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*file)->Append(std::span<const char>("unsynced;", 9)).ok());
  ASSERT_TRUE(fs.Open("new", OpenMode::kCreate).ok());
  for (;;) world.env().SleepForNanos(1'000'000);
}

std::vector<Injection> CrashEffects(CrashKind kind, CrashModel model, uint64_t seed, ProcessId* victim) {
  World world({.seed = seed, .profile = ProfileWith({}, {model})});
  const RunResult result = world.RunSupervisor([&] {
    *victim = world.StartProcess("writer", [&] { WriterThatWaits(world); });
    world.scheduler().SleepUntil(world.scheduler().now_ns() + 500'000'000);
    world.Crash(kind);
    EXPECT_TRUE(world.WaitProcess(*victim));
  });
  EXPECT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  return world.injections();
}

TEST(WorldFaultsTest, PowerLossRecordsWhatItDestroyedAndAProcessCrashNothing) {
  ProcessId victim = 0;
  EXPECT_TRUE(CrashEffects(CrashKind::kProcessCrash, CrashModel::kDropAllUnsynced, 1, &victim).empty());

  const std::vector<Injection> dropped = CrashEffects(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, 1, &victim);
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[0].fault, FaultClass::kDirEntryLoss);
  EXPECT_EQ(dropped[0].path, "new");
  EXPECT_EQ(dropped[0].detail, "dropped create new");
  EXPECT_EQ(dropped[1].fault, FaultClass::kLostUnsynced);
  EXPECT_EQ(dropped[1].path, "log");
  EXPECT_EQ(dropped[1].detail, "kept 0 of 3 unsynced writes");
  for (const Injection& injection : dropped) EXPECT_EQ(injection.process, victim);

  bool torn = false;
  for (uint64_t seed = 0; seed < 20 && !torn; ++seed) {
    for (const Injection& injection : CrashEffects(CrashKind::kPowerLoss, CrashModel::kTornLastBlock, seed, &victim)) {
      if (injection.fault != FaultClass::kTornWrite) continue;
      torn = true;
      EXPECT_EQ(injection.path, "log");
      EXPECT_TRUE(injection.detail.starts_with("write torn at byte ")) << injection.detail;
      EXPECT_TRUE(injection.detail.find(" of 9 (at offset 26)") != std::string::npos) << injection.detail;
    }
  }
  EXPECT_TRUE(torn) << "no torn write in 20 seeds";
}

// A writer that appends 100-byte records until told to stop, counting the
// ENOSPC failures.
struct Filler {
  int appended = 0;
  int no_space = 0;
  bool stop = false;
};

void Fill(World& world, Filler& filler, int records) {
  auto file = world.env().fs().Open("data", OpenMode::kCreate);
  ASSERT_TRUE(file.ok());
  const std::string record(100, 'r');
  for (int i = 0; i < records && !filler.stop; ++i) {
    const absl::Status status = (*file)->Append(std::span<const char>(record.data(), record.size()));
    if (status.ok()) {
      ++filler.appended;
    } else {
      ASSERT_TRUE(absl::IsResourceExhausted(status)) << status;
      EXPECT_NE(status.message().find("ENOSPC writing data"), std::string::npos);
      ++filler.no_space;
    }
  }
}

TEST(WorldFaultsTest, EachProcessStartsWithTheHeadroomAboveWhatIsStored) {
  PersistenceProfile profile = ProfileWith({});
  profile.capacity_headroom_bytes = 1000;
  World world({.seed = 2, .profile = profile});
  const RunResult result = world.RunSupervisor([&] {
    ASSERT_TRUE(AppendTo(world.fs(), "existing", std::string(5000, 'e'), true).ok());
    EXPECT_EQ(world.fs().capacity_bytes(), 0u);  // unlimited until a process starts
    Filler first;
    const ProcessId one = world.StartProcess("one", [&] { Fill(world, first, 20); });
    EXPECT_EQ(world.fs().capacity_bytes(), 6000u);
    EXPECT_FALSE(world.WaitProcess(one));
    EXPECT_EQ(first.appended, 10);
    EXPECT_EQ(first.no_space, 10);
    Filler second;
    const ProcessId two = world.StartProcess("two", [&] { Fill(world, second, 20); });
    EXPECT_EQ(world.fs().capacity_bytes(), 7000u);
    EXPECT_FALSE(world.WaitProcess(two));
    EXPECT_EQ(second.appended, 10);
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  ASSERT_FALSE(world.injections().empty());
  EXPECT_EQ(world.injections()[0].fault, FaultClass::kNoSpace);
  EXPECT_EQ(world.injections()[0].path, "data");
  EXPECT_EQ(world.injections()[0].process, 1u);
}

TEST(WorldFaultsTest, AnOperatorFreesSpaceOnceAfterAProcesssFirstNoSpace) {
  for (const double probability : {1.0, 0.0}) {
    PersistenceProfile profile = ProfileWith({});
    profile.capacity_headroom_bytes = 1000;
    profile.space_freed_probability = probability;
    World world({.seed = 4, .profile = profile, .record_trace = true});
    Filler filler;
    const RunResult result = world.RunSupervisor([&] {
      const ProcessId writer = world.StartProcess("writer", [&] { Fill(world, filler, 3000); });
      EXPECT_FALSE(world.WaitProcess(writer));
    });
    ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
    std::vector<const TraceEvent*> freed;
    for (const TraceEvent& event : world.trace().events()) {
      if (event.kind == EventKind::kOperator) freed.push_back(&event);
    }
    if (probability == 0) {
      EXPECT_TRUE(freed.empty());
      EXPECT_EQ(filler.appended, 10);
      continue;
    }
    ASSERT_EQ(freed.size(), 1u) << "space is freed at most once per process";
    EXPECT_EQ(freed[0]->detail, "freed 1000 bytes: capacity 1000 -> 2000 bytes");
    EXPECT_EQ(filler.appended, 20);
    const uint64_t first_no_space = world.injections().front().step;
    EXPECT_GE(freed[0]->step, first_no_space + 50);
    EXPECT_LE(freed[0]->step, first_no_space + 2000 + 10);  // fires at the next step or call after
  }
}

TEST(WorldFaultsTest, APowerLossChooserPicksExactlyWhatSurvives) {
  for (const bool keep_all : {true, false}) {
    std::vector<PendingOperation> offered;
    WorldConfig config{.seed = 6, .profile = PersistenceProfile::StrictPosix()};
    config.power_loss_chooser = [&](const std::vector<PendingOperation>& operations) {
      offered = operations;
      return std::vector<bool>(operations.size(), keep_all);
    };
    World world(config);
    std::string survived;
    const RunResult result = world.RunSupervisor([&] {
      const ProcessId writer = world.StartProcess("writer", [&] { WriterThatWaits(world); });
      world.scheduler().SleepUntil(world.scheduler().now_ns() + 500'000'000);
      world.Crash(CrashKind::kPowerLoss);
      EXPECT_TRUE(world.WaitProcess(writer));
      survived = world.fs().DumpTree();
    });
    ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
    ASSERT_EQ(offered.size(), 4u);  // three appends to log, the create of new
    EXPECT_EQ(offered[3].description, "create new");
    ASSERT_EQ(world.crashes().size(), 1u);
    EXPECT_TRUE(world.crashes()[0].chosen);
    EXPECT_EQ(survived, keep_all ? "log 35 bytes (0 unsynced writes)\nnew 0 bytes (0 unsynced writes)\n"
                                 : "log 8 bytes (0 unsynced writes)\n");
  }
}

// crash-every's enumeration: a chooser armed with one crash decides that
// power loss alone; a later crash (armed without one) draws its model, so
// the other power losses of a replayed scenario keep reading their tape.
TEST(WorldFaultsTest, AnArmedChooserDecidesOnlyItsOwnCrash) {
  std::vector<PendingOperation> offered;
  World world({.seed = 6, .profile = ProfileWith({}, {CrashModel::kDropAllUnsynced})});
  std::string after_chosen, after_drawn;
  const RunResult result = world.RunSupervisor([&] {
    const ProcessId first = world.StartProcess("writer", [&] { WriterThatWaits(world); });
    world.scheduler().SleepUntil(world.scheduler().now_ns() + 500'000'000);
    world.CrashAtStep(world.trace().steps() + 1, CrashKind::kPowerLoss,
                      [&](const std::vector<PendingOperation>& operations) {
                        offered = operations;
                        return std::vector<bool>(operations.size(), true);
                      });
    EXPECT_TRUE(world.WaitProcess(first));
    after_chosen = world.fs().DumpTree();
    const ProcessId second = world.StartProcess("writer", [&] { WriterThatWaits(world); });
    world.scheduler().SleepUntil(world.scheduler().now_ns() + 500'000'000);
    world.CrashAtStep(world.trace().steps() + 1, CrashKind::kPowerLoss);
    EXPECT_TRUE(world.WaitProcess(second));
    after_drawn = world.fs().DumpTree();
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  EXPECT_EQ(offered.size(), 4u);  // three appends to log, the create of new
  ASSERT_EQ(world.crashes().size(), 2u);
  EXPECT_TRUE(world.crashes()[0].chosen);
  EXPECT_FALSE(world.crashes()[1].chosen);
  EXPECT_EQ(world.crashes()[1].model, CrashModel::kDropAllUnsynced);
  EXPECT_EQ(after_chosen, "log 35 bytes (0 unsynced writes)\nnew 0 bytes (0 unsynced writes)\n");
  // The second writer appended "durable;" (synced) and three unsynced
  // records again: the drawn drop model keeps only the synced bytes.
  EXPECT_EQ(after_drawn, "log 43 bytes (0 unsynced writes)\nnew 0 bytes (0 unsynced writes)\n");
}

}  // namespace
}  // namespace sim
