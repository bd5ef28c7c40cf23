#include <gtest/gtest.h>

#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/restore.h"
#include "engine/shard/world_test_util.h"
#include "engine/snapshot/snapshot_create.h"
#include "sim/world.h"

namespace engine {
namespace {

using testing::kCollection;

using testing::InWorld;

// Writes `value` into point id's payload as op `op_num`; remembers it.
struct Recorder {
  std::map<SeqNumber, std::pair<PointId, int64_t>> ops;
  void Write(LocalShard& shard, PointId id, int64_t value) {
    auto result = shard.Update({UpsertPoints{{{id, {1, 0}, Payload{{"value", value}}}}}, std::nullopt}, true);
    ASSERT_TRUE(result.ok()) << result.status();
    ops[*result->op_num] = {id, value};
  }
  // Each point's value after every op through `last` (all ops when nullopt).
  std::map<PointId, int64_t> StateThrough(std::optional<SeqNumber> last) const {
    std::map<PointId, int64_t> state;
    for (const auto& [op, write] : ops) {
      if (last && op > *last) break;
      state[write.first] = write.second;
    }
    return state;
  }
};

std::map<PointId, int64_t> StateOf(LocalShard& shard) {
  std::map<PointId, int64_t> state;
  for (const Point& point : shard.Scroll(nullptr, std::nullopt, SIZE_MAX)) {
    state[point.id] = point.payload.value("value", int64_t{-1});
  }
  return state;
}

TEST(SnapshotTest, WalLessSnapshotRestoresExactlyTheFreezeAndContinuesAfterIt) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    InWorld(seed, [](sim::World& world) {
      Recorder recorder;
      auto shard = LocalShard::Load(world.env(), "shard", {.collection = kCollection});
      ASSERT_TRUE(shard.ok());
      for (PointId id = 0; id < 6; ++id) recorder.Write(**shard, id, 100 + int64_t(id));
      auto writer = world.env().Spawn("writer", [&] {
        for (int i = 0; i < 8; ++i) recorder.Write(**shard, i % 6, 1000 + i);
      });
      auto snapshot = CreateSnapshot(**shard, /*save_wal=*/false, "snap.tar");
      writer->Join();
      ASSERT_TRUE(snapshot.ok()) << snapshot.status();
      ASSERT_TRUE((*shard)->Shutdown().ok());
      shard->reset();
      auto restored = RestoreSnapshot(world.env(), "snap.tar", "restored", {.collection = kCollection});
      ASSERT_TRUE(restored.ok()) << restored.status();
      EXPECT_EQ(StateOf(**restored), recorder.StateThrough(snapshot->frozen_through));
      // New ops are numbered after every archived version, so none is skipped.
      auto next = (*restored)->Update({UpsertPoints{{{0, {1, 0}, Payload{{"value", 7}}}}}, std::nullopt}, true);
      ASSERT_TRUE(next.ok());
      EXPECT_EQ(*next->op_num, snapshot->wal_next_index);
      EXPECT_EQ((*restored)->Retrieve(0)->payload.value("value", 0), 7);
      ASSERT_TRUE((*restored)->Shutdown().ok());
    });
  }
}

TEST(SnapshotTest, SnapshotWithWalRestoresAPrefixBetweenTheFreezeAndTheArchivedWal) {
  InWorld(3, [](sim::World& world) {
    Recorder recorder;
    auto shard = LocalShard::Load(world.env(), "shard", {.collection = kCollection});
    ASSERT_TRUE(shard.ok());
    for (PointId id = 0; id < 5; ++id) recorder.Write(**shard, id, int64_t(id));
    auto snapshot = CreateSnapshot(**shard, /*save_wal=*/true, "snap.tar");
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    recorder.Write(**shard, 0, 99);  // after the archive: must not appear
    ASSERT_TRUE((*shard)->Shutdown().ok());
    auto restored = RestoreSnapshot(world.env(), "snap.tar", "shard", {.collection = kCollection});
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(StateOf(**restored), recorder.StateThrough(snapshot->wal_next_index - 1));
    ASSERT_TRUE((*restored)->Shutdown().ok());
  });
}

TEST(SnapshotTest, HostileOrDamagedArchivesLeaveTheLiveShardUntouched) {
  InWorld(4, [](sim::World& world) {
    FileSystem& fs = world.env().fs();
    Recorder recorder;
    {
      auto shard = LocalShard::Load(world.env(), "shard", {.collection = kCollection});
      for (PointId id = 0; id < 3; ++id) recorder.Write(**shard, id, int64_t(id));
      ASSERT_TRUE(CreateSnapshot(**shard, false, "good.tar").ok());
      recorder.Write(**shard, 0, 42);
      ASSERT_TRUE((*shard)->Shutdown().ok());
    }
    const std::string good = *ReadWholeFile(fs, "good.tar");
    std::string flipped = good;
    flipped[700] ^= 1;
    ASSERT_TRUE(WriteFileAtomically(fs, "flipped.tar", flipped).ok());
    ASSERT_TRUE(WriteFileAtomically(fs, "flipped.tar.checksum", *ReadWholeFile(fs, "good.tar.checksum")).ok());
    ASSERT_TRUE(WriteFileAtomically(fs, "truncated.tar", good.substr(0, good.size() / 2)).ok());
    ASSERT_TRUE(WriteFileAtomically(fs, "truncated.tar.checksum", good.substr(0, 0) + "0").ok());
    for (const char* bad : {"flipped.tar", "truncated.tar", "missing.tar"}) {
      auto restored = RestoreSnapshot(world.env(), bad, "shard", {.collection = kCollection});
      EXPECT_FALSE(restored.ok()) << bad;
    }
    auto live = LocalShard::Load(world.env(), "shard", {.collection = kCollection});
    ASSERT_TRUE(live.ok()) << live.status();
    EXPECT_EQ(StateOf(**live), recorder.StateThrough(std::nullopt));
    ASSERT_TRUE((*live)->Shutdown().ok());
  });
}

// A crash anywhere in a restore leaves the old shard, the new one, or a
// shard that refuses to load until restored again.
TEST(SnapshotTest, CrashDuringRestoreNeverLeavesASilentMix) {
  int outcomes[3] = {0, 0, 0};  // old shard, new shard, dirty
  // (Past the swap and the load.)
  for (uint64_t crash_offset = 1; crash_offset < 1500; crash_offset += 13) {
    sim::World world(sim::WorldConfig{.seed = crash_offset, .profile = sim::PersistenceProfile::StrictPosix()});
    std::map<PointId, int64_t> old_state, new_state;
    world.RunSupervisor([&] {
      Recorder recorder;
      const sim::ProcessId setup = world.StartProcess("setup", [&] {
        auto shard = LocalShard::Load(world.env(), "shard", {.collection = kCollection});
        for (PointId id = 0; id < 4; ++id) recorder.Write(**shard, id, int64_t(id));
        ASSERT_TRUE(CreateSnapshot(**shard, false, "snap.tar").ok());
        new_state = recorder.StateThrough(std::nullopt);
        for (PointId id = 0; id < 4; ++id) recorder.Write(**shard, id, 50 + int64_t(id));
        old_state = recorder.StateThrough(std::nullopt);
        ASSERT_TRUE((*shard)->Shutdown().ok());
      });
      world.WaitProcess(setup);
      world.CrashAtStep(world.trace().steps() + crash_offset, sim::CrashKind::kPowerLoss);
      const sim::ProcessId restore = world.StartProcess("restore", [&] {
        auto restored = RestoreSnapshot(world.env(), "snap.tar", "shard", {.collection = kCollection});
        if (restored.ok()) (void)(*restored)->Shutdown();
      });
      world.WaitProcess(restore);
      world.DisarmCrash();
      const sim::ProcessId check = world.StartProcess("check", [&] {
        auto shard = LocalShard::Load(world.env(), "shard", {.collection = kCollection});
        if (!shard.ok()) {
          EXPECT_TRUE(absl::IsFailedPrecondition(shard.status())) << shard.status();
          ++outcomes[2];
          auto again = RestoreSnapshot(world.env(), "snap.tar", "shard", {.collection = kCollection});
          ASSERT_TRUE(again.ok()) << again.status();
          EXPECT_EQ(StateOf(**again), new_state);
          (void)(*again)->Shutdown();
          return;
        }
        const auto state = StateOf(**shard);
        EXPECT_TRUE(state == old_state || state == new_state) << "a mix after crash offset " << crash_offset;
        ++outcomes[state == new_state ? 1 : 0];
        (void)(*shard)->Shutdown();
      });
      world.WaitProcess(check);
    });
  }
  std::printf("restore crashes: %d left the old shard, %d the new one, %d a dirty one\n",
              outcomes[0], outcomes[1], outcomes[2]);
  EXPECT_GT(outcomes[0], 0);
  EXPECT_GT(outcomes[1], 0);
  EXPECT_GT(outcomes[2], 0);
}

}  // namespace
}  // namespace engine
