// Regression: a point lost after a power loss because a flush removed an
// optimizer's input that was replaced after the flush had flushed the
// segments (found by a campaign, seed 160021257, as
// scenarios/regressions/replaced-input-removed-before-its-moved-copy-was-flushed-seed160021257.scn).
//
// FlushAndAck flushes every segment under the segments lock and the updates
// mutex, releases them, and then removes the segments optimizers replaced.
// It used to take that list only then. In between, an update moved a point
// copy-on-write out of a sealed segment into the appendable one (in memory
// only) and a vacuum rebuilt the sealed segment without the point and
// swapped the result in: the flush removed the vacuum's input although the
// moved copy was never flushed. After a power loss the point was gone, and
// the WAL op that moved it only sets a payload.
//
// The test holds the flush right after it released the segments lock (the
// first release of that lock after the flush's first directory sync), runs the
// update and the vacuum, lets the flush finish, and cuts the power.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/common/file_util.h"
#include "engine/env/env.h"
#include "engine/env/file_system_wrapper.h"
#include "engine/shard/forwarding_env.h"
#include "engine/shard/local_shard.h"
#include "engine/shard/shard_test_model.h"
#include "engine/shard/task_gate.h"
#include "engine/shard/world_test_util.h"
#include "sim/world.h"

namespace engine {
namespace {

using testing::kCollection;
using testing::PointNamedById;

// Armed, the first directory sync trips it, and the next release of the
// shard's segments lock then holds the releasing task at the gate.
class Gate {
 public:
  explicit Gate(Env& env) : mutex_(env.NewMutex("test.gate.arm")), gate_(env) {}

  void Arm(int64_t timeout_ns) {
    MutexLock lock(*mutex_);
    armed_ = true;
    timeout_ns_ = timeout_ns;
  }
  void SawSync() {
    MutexLock lock(*mutex_);
    if (armed_) tripped_ = true;
  }
  // Called after the segments lock was released.
  void AfterSegmentsUnlock() {
    int64_t timeout_ns = 0;
    {
      MutexLock lock(*mutex_);
      if (!tripped_) return;
      armed_ = tripped_ = false;
      timeout_ns = timeout_ns_;
    }
    gate_.Hold(timeout_ns);
  }
  bool held() { return gate_.held(); }
  void Release() { gate_.Release(); }

 private:
  std::unique_ptr<Mutex> mutex_;
  testing::TaskGate gate_;
  bool armed_ = false;
  bool tripped_ = false;
  int64_t timeout_ns_ = 0;
};

class SyncSpyFileSystem final : public FileSystemWrapper {
 public:
  SyncSpyFileSystem(FileSystem& inner, Gate& gate) : FileSystemWrapper(inner), gate_(gate) {}
  absl::Status SyncDir(std::string_view path) override {
    gate_.SawSync();
    return FileSystemWrapper::SyncDir(path);
  }

 private:
  Gate& gate_;
};

class GatedRwLock final : public RwLock {
 public:
  GatedRwLock(std::unique_ptr<RwLock> inner, Gate& gate) : inner_(std::move(inner)), gate_(gate) {}
  void LockShared() override { inner_->LockShared(); }
  void UnlockShared() override {
    inner_->UnlockShared();
    gate_.AfterSegmentsUnlock();
  }
  void LockUpgradable() override { inner_->LockUpgradable(); }
  void UnlockUpgradable() override { inner_->UnlockUpgradable(); }
  void Upgrade() override { inner_->Upgrade(); }
  void Downgrade() override { inner_->Downgrade(); }
  void Lock() override { inner_->Lock(); }
  void Unlock() override { inner_->Unlock(); }

 private:
  std::unique_ptr<RwLock> inner_;
  Gate& gate_;
};

// The world's environment; the shard's segments lock and the file system
// report to the gate.
class GatedEnv final : public testing::ForwardingEnv {
 public:
  explicit GatedEnv(Env& inner) : ForwardingEnv(inner, fs_), gate_(inner), fs_(inner.fs(), gate_) {}
  Gate& gate() { return gate_; }
  std::unique_ptr<RwLock> NewRwLock(std::string name) override {
    auto lock = ForwardingEnv::NewRwLock(name);
    if (name != "shard.segments") return lock;
    return std::make_unique<GatedRwLock>(std::move(lock), gate_);
  }

 private:
  Gate gate_;
  SyncSpyFileSystem fs_;
};

ShardOptions Options() {
  // The flush worker stays out of the way; one deleted point is enough for
  // a vacuum.
  return {.collection = kCollection,
          .flush_interval_ns = int64_t{1} << 50,
          .vacuum_deleted_ratio = 0,
          .vacuum_min_deleted_points = 1};
}

TEST(ReplacedAfterFlushTest, AFlushKeepsAnInputReplacedAfterItFlushedTheSegments) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    sim::World world(sim::WorldConfig{.seed = seed});
    bool removed_after_release = false;
    const sim::RunResult result = world.RunSupervisor([&] {
      // Segment 1: sealed, points 0..9.
      const sim::ProcessId setup = world.StartProcess("setup", [&] {
        std::vector<Point> sealed_points;
        for (PointId id = 0; id < 10; ++id) sealed_points.push_back(PointNamedById(id));
        testing::WriteShardWithSealedSegment(world.env().fs(), "shard", kCollection, sealed_points, 10);
      });
      ASSERT_FALSE(world.WaitProcess(setup));

      const sim::ProcessId run = world.StartProcess("run", [&] {
        GatedEnv env(world.env());
        auto shard = LocalShard::Load(env, "shard", Options());
        ASSERT_TRUE(shard.ok()) << shard.status();
        // Something for the flush to write (it syncs segment.json's directory).
        ASSERT_TRUE((*shard)->Update({UpsertPoints{{PointNamedById(20)}}, std::nullopt}, true).ok());

        env.gate().Arm(/*timeout_ns=*/1'000'000'000);
        auto flush = env.Spawn("flush", [&] { ASSERT_TRUE((*shard)->FlushAndAck(false).ok()); });
        for (int wait = 0; !env.gate().held(); ++wait) {
          ASSERT_LT(wait, 100000) << "the flush never released the segments lock";
          env.SleepForNanos(1000);
        }
        // Point 3 moves copy-on-write into the appendable segment (not
        // flushed), and the vacuum rebuilds segment 1 without it.
        auto moved = (*shard)->Update({SetPayload{{3}, Payload{{"moved", true}}}, std::nullopt}, true);
        ASSERT_TRUE(moved.ok()) << moved.status();
        auto vacuumed = (*shard)->OptimizeVacuum();
        ASSERT_TRUE(vacuumed.ok() && *vacuumed) << vacuumed.status();
        ASSERT_TRUE(env.gate().held()) << "the flush went on before the vacuum swapped";
        env.gate().Release();
        flush->Join();
        auto exists = Exists(world.env().fs(), "shard/segments/1");
        removed_after_release = exists.ok() && !*exists;
        world.Crash(sim::CrashKind::kPowerLoss);
      });
      EXPECT_TRUE(world.WaitProcess(run));

      const sim::ProcessId check = world.StartProcess("check", [&] {
        auto shard = LocalShard::Load(world.env(), "shard", Options());
        ASSERT_TRUE(shard.ok()) << shard.status();
        const std::optional<Point> found = (*shard)->Retrieve(3);
        ASSERT_TRUE(found.has_value()) << "point 3 was lost; the flush "
                                       << (removed_after_release ? "removed" : "kept") << " segment 1";
        EXPECT_EQ(found->payload, (Payload{{"v", int64_t{3}}, {"moved", true}}));
        ASSERT_TRUE((*shard)->Shutdown().ok());
      });
      EXPECT_FALSE(world.WaitProcess(check));
    });
    ASSERT_EQ(result.outcome, sim::RunOutcome::kCompleted) << result.report;
  }
}

}  // namespace
}  // namespace engine
