// Regression: a completed (wait=true) delete lost after a power loss that
// follows a merge optimization (found by a campaign, seed 15451, as
// scenarios/regressions/merge-inputs-removed-while-another-flush-acks.scn).
//
// The merge swaps its result in and leaves the inputs' directories to
// DestroyReplacedSegments, which the next FlushAndAck runs after its segment
// flush. Two FlushAndAck calls (the flush worker, a client's flush) used to
// run concurrently: call A takes the pending list and starts removing the
// inputs; call B finds the list empty, flushes the result (which holds the
// delete) and acks the WAL past the delete before A's removal is durable.
// After a power loss the inputs' directories come back with live copies of
// the deleted points (the result holds no copy of them any more), and the WAL
// that would have deleted them again starts after the delete.
//
// The test drives that interleaving directly: the file system holds A at its
// first call on an input directory (the Stat that starts RemoveTree) until B
// has returned (or, when B waits for A as it must, until a long virtual
// timeout), then the power goes out.
#include <gtest/gtest.h>

#include <set>
#include <string>

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

// Forwards to the world's file system; the first Stat of `gate_path` after
// Arm() blocks the calling task until Release() or `timeout_ns` of virtual
// time.
class GatedFileSystem final : public FileSystemWrapper {
 public:
  GatedFileSystem(Env& env, FileSystem& inner)
      : FileSystemWrapper(inner), mutex_(env.NewMutex("test.gate.path")), gate_(env) {}

  void Arm(std::string path, int64_t timeout_ns) {
    MutexLock lock(*mutex_);
    gate_path_ = std::move(path);
    timeout_ns_ = timeout_ns;
  }
  bool held() { return gate_.held(); }
  void Release() { gate_.Release(); }

  absl::StatusOr<EntryKind> Stat(std::string_view path) override {
    bool hold = false;
    int64_t timeout_ns = 0;
    {
      MutexLock lock(*mutex_);
      hold = !gate_path_.empty() && path == gate_path_;
      if (hold) gate_path_.clear();
      timeout_ns = timeout_ns_;
    }
    if (hold) gate_.Hold(timeout_ns);
    return FileSystemWrapper::Stat(path);
  }

 private:
  std::unique_ptr<Mutex> mutex_;
  testing::TaskGate gate_;
  std::string gate_path_;
  int64_t timeout_ns_ = 0;
};

// The world's environment with the gated file system.
class GatedEnv final : public testing::ForwardingEnv {
 public:
  explicit GatedEnv(Env& inner) : ForwardingEnv(inner, fs_), fs_(inner, inner.fs()) {}
  GatedFileSystem& gate() { return fs_; }

 private:
  GatedFileSystem fs_;
};

ShardOptions Options() {
  // The flush worker stays out of the way: the test's two flushes are the race.
  return {.collection = kCollection, .wal_segment_capacity_bytes = 256, .flush_interval_ns = int64_t{1} << 50};
}

std::set<PointId> LiveIds(LocalShard& shard) {
  std::set<PointId> ids;
  for (const Point& point : shard.Scroll(nullptr, std::nullopt, SIZE_MAX)) ids.insert(point.id);
  return ids;
}

TEST(LostDeleteTest, CompletedDeleteSurvivesPowerLossWhileMergeInputsAreRemoved) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    sim::World world(sim::WorldConfig{.seed = seed});
    bool gate_was_held_when_acked = false;
    std::set<PointId> expected;
    const sim::RunResult result = world.RunSupervisor([&] {
      // Segment 1: sealed, points 0..9 (as an earlier optimization leaves
      // it); segment 2: appendable, points 10..13. The merge takes both.
      const sim::ProcessId setup = world.StartProcess("setup", [&] {
        std::vector<Point> sealed_points;
        for (PointId id = 0; id < 10; ++id) sealed_points.push_back(PointNamedById(id));
        testing::WriteShardWithSealedSegment(world.env().fs(), "shard", kCollection, sealed_points, 10);
        auto shard = LocalShard::Load(world.env(), "shard", Options());
        ASSERT_TRUE(shard.ok()) << shard.status();
        for (PointId id = 10; id < 14; ++id) {
          ASSERT_TRUE((*shard)->Update({UpsertPoints{{PointNamedById(id)}}, std::nullopt}, true).ok());
        }
        ASSERT_TRUE((*shard)->Shutdown().ok());
      });
      ASSERT_FALSE(world.WaitProcess(setup));

      const sim::ProcessId run = world.StartProcess("run", [&] {
        GatedEnv env(world.env());
        auto shard = LocalShard::Load(env, "shard", Options());
        ASSERT_TRUE(shard.ok()) << shard.status();
        auto merged = (*shard)->OptimizeMerge();
        ASSERT_TRUE(merged.ok() && *merged) << merged.status();
        // The completed delete-by-filter: everything but points 1 and 12.
        const Filter keep{.must_not = {HasIdCondition{{1, 12}}}};
        auto deleted = (*shard)->DeleteByFilter(keep, /*wait=*/true);
        ASSERT_TRUE(deleted.ok()) << deleted.status();
        ASSERT_EQ(deleted->status, UpdateStatus::kCompleted);
        // A later op, so that the ack can pass the delete (the acked op
        // itself is replayed at load).
        ASSERT_TRUE((*shard)->Update({UpsertPoints{{PointNamedById(20)}}, std::nullopt}, true).ok());
        expected = LiveIds(**shard);
        ASSERT_EQ(expected, (std::set<PointId>{1, 12, 20}));

        // A: flushes the result, takes the inputs to remove, and is held at
        // the first input directory (a long virtual timeout lets it go on if
        // B waits for it, as B must).
        env.gate().Arm("shard/segments/1", /*timeout_ns=*/1'000'000'000);
        auto remover = env.Spawn("flush-a", [&] { (void)(*shard)->FlushAndAck(false); });
        for (int wait = 0; !env.gate().held(); ++wait) {
          ASSERT_LT(wait, 100000) << "flush A never reached the merge inputs";
          env.SleepForNanos(1000);
        }
        // B: a second flush (the flush worker, a client's flush) acks.
        ASSERT_TRUE((*shard)->FlushAndAck(false).ok());
        gate_was_held_when_acked = env.gate().held();
        // Power loss now: A's removal (if still held) was never synced.
        world.Crash(sim::CrashKind::kPowerLoss);
        remover->Join();  // not reached: the crash unwinds this task
      });
      EXPECT_TRUE(world.WaitProcess(run));

      const sim::ProcessId check = world.StartProcess("check", [&] {
        auto shard = LocalShard::Load(world.env(), "shard", Options());
        ASSERT_TRUE(shard.ok()) << shard.status();
        EXPECT_EQ(LiveIds(**shard), expected)
            << "the delete completed before the power loss; B acked while A was "
            << (gate_was_held_when_acked ? "still removing the merge inputs" : "done");
        for (const auto& [id, copies] : (*shard)->LiveCopies()) EXPECT_EQ(copies.size(), 1u) << "point " << id;
        ASSERT_TRUE((*shard)->Shutdown().ok());
      });
      EXPECT_FALSE(world.WaitProcess(check));
    });
    ASSERT_EQ(result.outcome, sim::RunOutcome::kCompleted) << result.report;
  }
}

}  // namespace
}  // namespace engine
