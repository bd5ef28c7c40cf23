// The shard under the faults of docs/faults.md, one test per rule of its
// table: what the faulted call returns, what the shard does afterwards, and
// what a reload brings back. (engine/wal/wal_fault_test.cc covers the WAL on
// its own; these go through LocalShard, its workers and its fault policy.)
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/common/file_util.h"
#include "engine/shard/local_shard.h"
#include "engine/shard/planted_fault_env.h"
#include "engine/snapshot/restore.h"
#include "engine/snapshot/snapshot_test_util.h"
#include "engine/snapshot/snapshot_create.h"
#include "sim/world.h"

namespace engine {
namespace {

using testing::FileTree;
using testing::InWorld;
using testing::kCollection;
using testing::PlantedFault;
using testing::PlantedFaultEnv;
using testing::Write;
using Call = PlantedFault::Call;
using Values = std::map<PointId, int64_t>;

// The flush worker sleeps for an hour of virtual time: it would otherwise
// flush between the test's calls and could be the one to hit a fault.
const ShardOptions kQuiet{.collection = kCollection, .flush_interval_ns = int64_t{3600} * 1'000'000'000};

WalRecord UpsertOf(PointId id, int64_t value) {
  return {UpsertPoints{{{id, {1, float(value)}, Payload{{"value", value}}}}}, std::nullopt};
}

Values ValuesOf(LocalShard& shard) {
  Values values;
  for (const Point& point : testing::PointsOf(shard)) values[point.id] = point.payload.value("value", int64_t{-1});
  return values;
}

// Points first..last-1, point id holding 10 + id (what WriteRange writes).
Values Range(PointId first, PointId last) {
  Values values;
  for (PointId id = first; id < last; ++id) values[id] = 10 + int64_t(id);
  return values;
}

void WriteRange(LocalShard& shard, PointId first, PointId last) {
  for (PointId id = first; id < last; ++id) Write(shard, id, 10 + int64_t(id));
}

std::unique_ptr<LocalShard> LoadOrNull(Env& env, const ShardOptions& options = kQuiet) {
  auto shard = LocalShard::Load(env, "shard", options);
  EXPECT_TRUE(shard.ok()) << shard.status();
  return shard.ok() ? std::move(*shard) : nullptr;
}

// With every shard closed: only synced data and synced entries stay. (The
// disk loses power directly: World::Crash only hits a running engine
// process, and these shards run in the supervisor.)
void PowerLoss(sim::World& world) {
  ASSERT_TRUE(world.fs().Crash(sim::CrashKind::kPowerLoss, sim::CrashModel::kDropAllUnsynced, world.decisions()).ok());
}

bool Mentions(const absl::Status& status, std::string_view part) {
  return std::string(status.message()).find(part) != std::string::npos;
}

// ---- ENOSPC on a WAL append. ----

TEST(LocalShardFaultTest, WalOutOfSpaceRefusesTheOpAndTheShardTakesWritesOnceSpaceIsFreed) {
  InWorld(1, [](sim::World& world) {
    auto shard = LoadOrNull(world.env());
    ASSERT_NE(shard, nullptr);
    WriteRange(*shard, 0, 3);
    ASSERT_TRUE(shard->FlushAndAck(true).ok());  // so the op's WAL append is the only write left
    const uint64_t next_index = shard->Summarize().wal_next_index;
    world.fs().set_capacity_bytes(world.fs().total_bytes());  // the disk is full
    auto refused = shard->Update(UpsertOf(99, 99), /*wait=*/true);
    ASSERT_TRUE(absl::IsResourceExhausted(refused.status())) << refused.status();
    EXPECT_TRUE(Mentions(refused.status(), "shard/wal/")) << refused.status();
    EXPECT_TRUE(shard->health().ok()) << shard->health();  // out of space never stops the shard
    EXPECT_EQ(shard->Summarize().wal_next_index, next_index);  // nothing appended
    EXPECT_EQ(ValuesOf(*shard), Range(0, 3));
    world.fs().set_capacity_bytes(0);  // space freed
    auto completed = shard->Update(UpsertOf(3, 13), /*wait=*/true);
    ASSERT_TRUE(completed.ok()) << completed.status();
    EXPECT_EQ(completed->status, UpdateStatus::kCompleted);
    EXPECT_EQ(completed->op_num, next_index);  // the refused op took no index
    auto acknowledged = shard->Update(UpsertOf(4, 14), /*wait=*/false);
    ASSERT_TRUE(acknowledged.ok()) << acknowledged.status();
    EXPECT_EQ(acknowledged->status, UpdateStatus::kAcknowledged);
    ASSERT_TRUE(shard->Shutdown().ok());
    shard.reset();
    auto reloaded = LoadOrNull(world.env());
    ASSERT_NE(reloaded, nullptr);
    EXPECT_EQ(ValuesOf(*reloaded), Range(0, 5));  // every acknowledged op, not the refused one
    ASSERT_TRUE(reloaded->Shutdown().ok());
  });
}

// ---- ENOSPC in a flush or an optimization. ----

// Points 0..9 acknowledged (wait=true), 5..9 not yet flushed; then a flush
// with room for part of it only. Returns the shard after the failed flush.
std::unique_ptr<LocalShard> ShardAfterAFlushOutOfSpace(sim::World& world) {
  auto shard = LoadOrNull(world.env());
  if (shard == nullptr) return nullptr;
  WriteRange(*shard, 0, 5);
  EXPECT_TRUE(shard->FlushAndAck(true).ok());
  WriteRange(*shard, 5, 10);
  world.fs().set_capacity_bytes(world.fs().total_bytes() + 200);
  const absl::Status flushed = shard->FlushAndAck(true);
  EXPECT_TRUE(absl::IsResourceExhausted(flushed)) << flushed;
  EXPECT_TRUE(Mentions(flushed, "shard/segments/")) << flushed;
  EXPECT_TRUE(shard->health().ok()) << shard->health();  // the shard goes on
  EXPECT_EQ(ValuesOf(*shard), Range(0, 10));
  EXPECT_EQ(shard->CheckStructure(), std::nullopt);
  return shard;
}

TEST(LocalShardFaultTest, FlushOutOfSpaceLeavesTheShardRunningAndTheRetryFlushesEverything) {
  InWorld(2, [](sim::World& world) {
    auto shard = ShardAfterAFlushOutOfSpace(world);
    ASSERT_NE(shard, nullptr);
    world.fs().set_capacity_bytes(0);  // space freed
    Write(*shard, 10, 20);
    ASSERT_TRUE(shard->FlushAndAck(true).ok());
    ASSERT_TRUE(shard->Shutdown().ok());
    shard.reset();
    PowerLoss(world);  // what the retried flush made durable is all there is
    auto reloaded = LoadOrNull(world.env());
    ASSERT_NE(reloaded, nullptr);
    EXPECT_EQ(ValuesOf(*reloaded), Range(0, 11));
    EXPECT_EQ(reloaded->CheckStructure(), std::nullopt);
    ASSERT_TRUE(reloaded->Shutdown().ok());
  });
}

TEST(LocalShardFaultTest, ReloadAfterAFlushOutOfSpaceHoldsEveryAcknowledgedOp) {
  InWorld(3, [](sim::World& world) {
    auto shard = ShardAfterAFlushOutOfSpace(world);
    ASSERT_NE(shard, nullptr);
    // Still full: the flush at shutdown fails too, and the power loss takes
    // whatever part of the batches had reached the page cache.
    EXPECT_TRUE(absl::IsResourceExhausted(shard->Shutdown()));
    shard.reset();
    PowerLoss(world);
    world.fs().set_capacity_bytes(0);
    auto reloaded = LoadOrNull(world.env());
    ASSERT_NE(reloaded, nullptr);
    EXPECT_EQ(ValuesOf(*reloaded), Range(0, 10));  // 5..9 replayed from the WAL
    EXPECT_EQ(reloaded->CheckStructure(), std::nullopt);
    ASSERT_TRUE(reloaded->Shutdown().ok());
  });
}

TEST(LocalShardFaultTest, OptimizationOutOfSpaceIsUndoneAndTheShardGoesOn) {
  InWorld(4, [](sim::World& world) {
    PlantedFaultEnv env(world);
    auto shard = LoadOrNull(env);
    ASSERT_NE(shard, nullptr);
    WriteRange(*shard, 0, 10);
    Values expected = Range(0, 10);
    for (PointId id = 0; id < 10; id += 2) {  // half deleted: the segment qualifies for a vacuum
      ASSERT_TRUE(shard->Update({DeletePoints{{id}}, std::nullopt}, true).ok());
      expected.erase(id);
    }
    ASSERT_TRUE(shard->FlushAndAck(true).ok());
    env.Plant({.call = Call::kWrite, .path_part = "shard/temp_segments/",
               .code = absl::StatusCode::kResourceExhausted});  // the build does not fit
    auto vacuumed = shard->OptimizeVacuum();
    ASSERT_TRUE(absl::IsResourceExhausted(vacuumed.status())) << vacuumed.status();
    EXPECT_TRUE(Mentions(vacuumed.status(), "shard/temp_segments/")) << vacuumed.status();
    EXPECT_GT(env.fired(), 0);
    env.Clear();
    EXPECT_TRUE(shard->health().ok()) << shard->health();
    EXPECT_EQ(shard->ProxyCount(), 0u);  // the inputs are back
    EXPECT_EQ(env.fs().ListDir("shard/temp_segments")->size(), 0u);  // the build is gone
    EXPECT_EQ(shard->CheckStructure(), std::nullopt);
    EXPECT_EQ(ValuesOf(*shard), expected);
    Write(*shard, 20, 30);
    expected[20] = 30;
    ASSERT_TRUE(shard->Shutdown().ok());
    shard.reset();
    PowerLoss(world);
    auto reloaded = LoadOrNull(world.env());
    ASSERT_NE(reloaded, nullptr);
    EXPECT_EQ(ValuesOf(*reloaded), expected);
    auto again = reloaded->OptimizeVacuum();  // with space the same vacuum runs
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(*again);
    EXPECT_EQ(ValuesOf(*reloaded), expected);
    ASSERT_TRUE(reloaded->Shutdown().ok());
  });
}

// ---- A failed fsync of the WAL (fsyncgate). ----

// Points 0..2 completed, then an op whose WAL sync fails and drops the
// WAL's dirty pages. Checks the stopped shard and leaves it shut down.
void FailAWalSync(sim::World& world) {
  PlantedFaultEnv env(world);
  auto shard = LoadOrNull(env);
  ASSERT_NE(shard, nullptr);
  WriteRange(*shard, 0, 3);
  env.Plant({.call = Call::kSync, .path_part = "shard/wal/wal-", .drop_dirty_pages = true});
  auto failed = shard->Update(UpsertOf(99, 99), /*wait=*/true);
  ASSERT_TRUE(absl::IsDataLoss(failed.status())) << failed.status();
  EXPECT_TRUE(Mentions(failed.status(), "EIO on sync shard/wal/wal-")) << failed.status();
  EXPECT_EQ(env.fired(), 1);
  env.Clear();
  // Stopped for good with that error: a retried sync could report success
  // for the dropped pages. Reads go on.
  EXPECT_EQ(shard->health(), failed.status());
  EXPECT_EQ(shard->Update(UpsertOf(3, 13), /*wait=*/true).status(), failed.status());
  EXPECT_EQ(shard->Update(UpsertOf(4, 14), /*wait=*/false).status(), failed.status());
  EXPECT_EQ(shard->FlushAndAck(true), failed.status());
  EXPECT_EQ(ValuesOf(*shard), Range(0, 3));  // the failed op was not applied
  EXPECT_EQ(shard->Shutdown(), failed.status());
}

TEST(LocalShardFaultTest, FailedWalFsyncStopsTheShardAndAReloadKeepsEveryCompletedOp) {
  InWorld(5, [](sim::World& world) {
    ASSERT_NO_FATAL_FAILURE(FailAWalSync(world));
    PowerLoss(world);  // the failed op's entry was never durable
    auto reloaded = LoadOrNull(world.env());
    ASSERT_NE(reloaded, nullptr);
    EXPECT_EQ(ValuesOf(*reloaded), Range(0, 3));
    Write(*reloaded, 3, 13);  // usable again
    EXPECT_EQ(ValuesOf(*reloaded), Range(0, 4));
    ASSERT_TRUE(reloaded->Shutdown().ok());
  });
}

TEST(LocalShardFaultTest, AfterAFailedWalFsyncTheReloadMakesWhatItServesDurable) {
  InWorld(6, [](sim::World& world) {
    ASSERT_NO_FATAL_FAILURE(FailAWalSync(world));
    // No power loss: the failed op's entry is still readable (dropped dirty
    // pages stay in the page cache, they just never reach the disk). The
    // reload serves it, so it must make it durable for real: a power loss
    // may not take it back.
    Values served;
    {
      auto reloaded = LoadOrNull(world.env());
      ASSERT_NE(reloaded, nullptr);
      served = ValuesOf(*reloaded);
      ASSERT_TRUE(reloaded->Shutdown().ok());
    }
    Values expected = Range(0, 3);
    expected[99] = 99;
    EXPECT_EQ(served, expected);
    PowerLoss(world);
    auto after_power_loss = LoadOrNull(world.env());
    ASSERT_NE(after_power_loss, nullptr);
    EXPECT_EQ(ValuesOf(*after_power_loss), served);
    ASSERT_TRUE(after_power_loss->Shutdown().ok());
  });
}

// ---- Any fault while creating a snapshot. ----

TEST(LocalShardFaultTest, SnapshotFaultLeavesNoFileOfItAndTheShardServesEveryPoint) {
  const std::vector<PlantedFault> faults = {
      {.call = Call::kWrite, .path_part = "snapshots/snap.tar.tmp"},
      {.call = Call::kWrite, .path_part = "snapshots/snap.tar.tmp", .code = absl::StatusCode::kResourceExhausted},
      {.call = Call::kSync, .path_part = "snapshots/snap.tar.tmp", .drop_dirty_pages = true},
      {.call = Call::kWrite, .path_part = "snapshots/snap.tar.checksum"},  // after the rename
  };
  for (size_t i = 0; i < faults.size(); ++i) {
    SCOPED_TRACE(fmt::format("{} on {}", faults[i].call == Call::kSync ? "sync" : "write", faults[i].path_part));
    InWorld(10 + i, [&](sim::World& world) {
      PlantedFaultEnv env(world);
      auto shard = LoadOrNull(env);
      ASSERT_NE(shard, nullptr);
      WriteRange(*shard, 0, 5);
      ASSERT_TRUE(EnsureDir(env.fs(), "snapshots").ok());
      env.Plant(faults[i]);
      const bool save_wal = i % 2 == 0;  // both ways of archiving
      auto snapshot = CreateSnapshot(*shard, save_wal, "snapshots/snap.tar");
      ASSERT_EQ(snapshot.status().code(), faults[i].code) << snapshot.status();
      EXPECT_TRUE(Mentions(snapshot.status(), faults[i].path_part)) << snapshot.status();
      EXPECT_GT(env.fired(), 0);
      env.Clear();
      EXPECT_EQ(env.fs().ListDir("snapshots")->size(), 0u);  // no .tmp, archive or .checksum
      EXPECT_TRUE(shard->health().ok()) << shard->health();  // not the freeze's flush: the shard goes on
      EXPECT_EQ(shard->ProxyCount(), 0u);
      EXPECT_EQ(ValuesOf(*shard), Range(0, 5));
      Write(*shard, 5, 15);
      ASSERT_TRUE(CreateSnapshot(*shard, save_wal, "snapshots/snap.tar").ok());
      EXPECT_EQ(*env.fs().ListDir("snapshots"),
                (std::vector<DirEntry>{{"snap.tar", EntryKind::kFile}, {"snap.tar.checksum", EntryKind::kFile}}));
      EXPECT_EQ(ValuesOf(*shard), Range(0, 6));
      ASSERT_TRUE(shard->Shutdown().ok());
    });
  }
}

// ---- Any fault while restoring (before the swap). ----

TEST(LocalShardFaultTest, RestoreFaultLeavesTheLiveShardExactlyAsItWas) {
  const std::vector<PlantedFault> faults = {
      {.call = Call::kWrite, .path_part = "shard.staging/"},
      {.call = Call::kWrite, .path_part = "shard.staging/", .code = absl::StatusCode::kResourceExhausted},
      {.call = Call::kSync, .path_part = "shard.initializing", .drop_dirty_pages = true},  // the flag
  };
  for (size_t i = 0; i < faults.size(); ++i) {
    SCOPED_TRACE(fmt::format("{} on {}", faults[i].call == Call::kSync ? "sync" : "write", faults[i].path_part));
    InWorld(20 + i, [&](sim::World& world) {
      PlantedFaultEnv env(world);
      {
        auto shard = LoadOrNull(env);
        ASSERT_NE(shard, nullptr);
        WriteRange(*shard, 0, 4);
        ASSERT_TRUE(CreateSnapshot(*shard, false, "snap.tar").ok());
        for (PointId id = 0; id < 4; ++id) Write(*shard, id, 50 + int64_t(id));  // live differs from it
        Write(*shard, 7, 57);
        ASSERT_TRUE(shard->Shutdown().ok());
      }
      const auto before = FileTree(env.fs(), "");
      env.Plant(faults[i]);
      auto restored = RestoreSnapshot(env, "snap.tar", "shard", kQuiet);
      ASSERT_EQ(restored.status().code(), faults[i].code) << restored.status();
      EXPECT_TRUE(Mentions(restored.status(), faults[i].path_part)) << restored.status();
      EXPECT_GT(env.fired(), 0);
      env.Clear();
      EXPECT_EQ(FileTree(env.fs(), ""), before);  // no staging, no flag, the shard byte for byte
      auto live = LoadOrNull(env);
      ASSERT_NE(live, nullptr);
      EXPECT_EQ(ValuesOf(*live), (Values{{0, 50}, {1, 51}, {2, 52}, {3, 53}, {7, 57}}));
      ASSERT_TRUE(live->Shutdown().ok());
    });
  }
}

// ---- Damaged durable bytes. ----

// A shard whose files are all there: a clock-tagged op and points 1..3
// flushed (clocks stored, WAL acked: first-index written), points 4..5
// only in the WAL, synced (no flush at shutdown).
void WriteShardWithEveryFile(sim::World& world) {
  ShardOptions options = kQuiet;
  options.flush_on_shutdown = false;
  auto shard = LoadOrNull(world.env(), options);
  ASSERT_NE(shard, nullptr);
  auto tagged = UpsertOf(0, 10);
  tagged.clock_tag = ClockTag{1, 0, 5, 9};
  ASSERT_TRUE(shard->Update(tagged, true).ok());
  WriteRange(*shard, 1, 4);
  ASSERT_TRUE(shard->FlushAndAck(true).ok());
  WriteRange(*shard, 4, 6);
  ASSERT_TRUE(shard->Shutdown().ok());
}

std::string LastWalSegment(FileSystem& fs) {
  std::string last;
  const auto entries = fs.ListDir("shard/wal");
  for (const DirEntry& entry : *entries) {
    if (entry.name.starts_with("wal-")) last = "shard/wal/" + entry.name;
  }
  return last;
}

TEST(LocalShardFaultTest, DamagedDurableBytesRefuseTheLoadNamingTheFile) {
  struct Damage {
    std::string what;
    std::function<std::pair<std::string, uint64_t>(sim::World&)> file_and_byte;
  };
  const std::vector<Damage> damages = {
      {"segment.json", [](sim::World&) { return std::pair{std::string("shard/segments/1/segment.json"), 5ul}; }},
      {"clock map", [](sim::World&) { return std::pair{std::string("shard/newest_clocks.json"), 5ul}; }},
      {"WAL first-index", [](sim::World&) { return std::pair{std::string("shard/wal/first-index"), 2ul}; }},
      {"the last (synced) WAL entry",
       [](sim::World& world) {
         const std::string wal = LastWalSegment(world.env().fs());
         return std::pair{wal, world.fs().ReadDurable(wal)->size() - 2};  // in its payload
       }},
  };
  for (size_t i = 0; i < damages.size(); ++i) {
    SCOPED_TRACE(damages[i].what);
    InWorld(30 + i, [&](sim::World& world) {
      ASSERT_NO_FATAL_FAILURE(WriteShardWithEveryFile(world));
      const auto [path, byte] = damages[i].file_and_byte(world);
      ASSERT_TRUE(world.fs().FlipStoredBit(path, byte * 8 + 1).ok()) << path;
      const auto before = FileTree(world.env().fs(), "");
      for (int attempt = 0; attempt < 2; ++attempt) {  // refused for good, not repaired away
        auto shard = LocalShard::Load(world.env(), "shard", kQuiet);
        ASSERT_TRUE(absl::IsDataLoss(shard.status())) << shard.status();
        EXPECT_TRUE(Mentions(shard.status(), path)) << shard.status();
        EXPECT_EQ(FileTree(world.env().fs(), ""), before);  // a refused load changes nothing
      }
    });
  }
}

}  // namespace
}  // namespace engine
