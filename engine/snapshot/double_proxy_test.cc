// A snapshot during an optimization: the snapshot proxies the optimizer's
// proxies (a proxy of a proxy). The test holds the optimizer at a yield point
// (after proxying its input, or after moving its build into segments/), makes
// changes the optimizer's proxy records, holds the snapshot after its first
// frozen segment, and writes again (recorded by the snapshot's proxies). Then:
// the archive restores to exactly the freeze; the optimizer's result gets
// both layers' changes; a power loss loses no completed op; no proxy is left
// and the holder's ids are unchanged but for the optimizer's swap.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "engine/common/coverage.h"
#include "engine/env/env.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/restore.h"
#include "engine/shard/shard_test_model.h"
#include "engine/shard/world_test_util.h"
#include "engine/shard/yield_gate_env.h"
#include "engine/snapshot/snapshot_create.h"
#include "sim/world.h"

namespace engine {
namespace {

using testing::kCollection;
using testing::ApplyToModel;
using testing::State;
using testing::StateOf;
using testing::YieldGateEnv;

Point MakePoint(PointId id, int64_t value) {
  const float f = static_cast<float>(value);
  return {id, {f, 1}, Payload{{"v", value}, {"color", value % 2 == 0 ? "red" : "blue"}}};
}

// Applies an op with wait=true, and to the model.
void Apply(LocalShard& shard, State& model, const Operation& operation) {
  auto result = shard.Update({operation, std::nullopt}, /*wait=*/true);
  ASSERT_TRUE(result.ok()) << result.status();
  ApplyToModel(model, operation);
}

uint64_t Hits(Mark mark) { return CoverageSnapshot()[static_cast<size_t>(mark)]; }

ShardOptions Options() {
  // The flush worker runs often: its acks must respect both proxy layers.
  return {.collection = kCollection, .flush_interval_ns = 200'000};
}

// The run: builds the situation, checks the live shard, and ends with a
// power loss. Fills `model` (every completed op) and `frozen` (the freeze).
void RunSnapshotDuringOptimization(Env& world_env, const std::string& optimizer_gate,
                                   State& model, State& frozen) {
  YieldGateEnv env(world_env);
  auto shard = LocalShard::Load(env, "shard", Options());
  ASSERT_TRUE(shard.ok()) << shard.status();
  LocalShard& live = **shard;
  // One segment, half of it deleted: the vacuum optimizer qualifies.
  Apply(live, model, CreateFieldIndex{"color", FieldType::kKeyword});
  for (PointId id = 0; id < 20; ++id) Apply(live, model, UpsertPoints{{MakePoint(id, int64_t(id))}});
  for (PointId id = 0; id < 20; id += 2) Apply(live, model, DeletePoints{{id}});

  env.Arm(optimizer_gate);
  absl::StatusOr<bool> vacuumed = false;
  auto optimizer = env.Spawn("optimizer", [&] { vacuumed = live.OptimizeVacuum(); });
  ASSERT_TRUE(env.AwaitHeld(optimizer_gate));
  ASSERT_EQ(live.ProxyCount(), 1u);
  // Recorded by the optimizer's proxy: a delete, an index, and a
  // copy-on-write move (its delete of the old copy).
  Apply(live, model, DeletePoints{{1}});
  Apply(live, model, CreateFieldIndex{"v", FieldType::kInteger});
  Apply(live, model, SetPayload{{3}, Payload{{"w", 1}}});
  const std::vector<SegmentId> ids_before = live.SegmentIds();

  env.Arm("proxy_all.applied");
  const uint64_t froze_before = Hits(Mark::kSnapshotDuringOptimization);
  absl::StatusOr<SnapshotInfo> info = absl::UnknownError("not run");
  auto snapshotter = env.Spawn("snapshot", [&] { info = CreateSnapshot(live, false, "snapshot.tar"); });
  ASSERT_TRUE(env.AwaitHeld("proxy_all.applied"));
  EXPECT_GT(Hits(Mark::kSnapshotDuringOptimization), froze_before);
  frozen = model;
  // Recorded by the snapshot's proxy over the optimizer's proxy.
  const uint64_t double_before = Hits(Mark::kDoubleProxyPropagated);
  Apply(live, model, DeletePoints{{5}});
  Apply(live, model, DeletePoints{{7}});
  Apply(live, model, UpsertPoints{{MakePoint(50, 50)}});
  env.Release("proxy_all.applied");
  snapshotter->Join();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_GT(Hits(Mark::kDoubleProxyPropagated), double_before);
  // Back to the optimizer's proxy; the temporary segment kept point 50.
  EXPECT_EQ(live.ProxyCount(), 1u);
  const std::vector<SegmentId> ids_after = live.SegmentIds();
  EXPECT_EQ(ids_after.size(), ids_before.size() + 1);
  for (SegmentId id : ids_before) {
    EXPECT_NE(std::find(ids_after.begin(), ids_after.end(), id), ids_after.end()) << "segment " << id;
  }
  EXPECT_EQ(StateOf(live), model);

  env.Release(optimizer_gate);
  optimizer->Join();
  ASSERT_TRUE(vacuumed.ok()) << vacuumed.status();
  EXPECT_TRUE(*vacuumed);
  EXPECT_EQ(live.ProxyCount(), 0u);
  EXPECT_EQ(StateOf(live), model);
  for (const auto& [id, copies] : live.LiveCopies()) EXPECT_EQ(copies.size(), 1u) << "point " << id;
  EXPECT_EQ(live.CheckStructure(), std::nullopt);  // every segment has index "v"
  EXPECT_EQ(live.PayloadSchema().count("v"), 1u);
  // Every op completed (wait=true): none may be lost.
  world_env.SleepForNanos(1'000'000);  // a few flush-worker rounds (acks)
}

void SnapshotDuringOptimization(uint64_t seed, const std::string& optimizer_gate) {
  sim::World world(sim::WorldConfig{.seed = seed});
  State model;
  State frozen;
  const sim::RunResult run = world.RunSupervisor([&] {
    const sim::ProcessId writer = world.StartProcess("run", [&] {
      RunSnapshotDuringOptimization(world.env(), optimizer_gate, model, frozen);
      world.Crash(sim::CrashKind::kPowerLoss);
    });
    EXPECT_TRUE(world.WaitProcess(writer)) << "the run ended before its power loss";
    const sim::ProcessId check = world.StartProcess("check", [&] {
      auto reloaded = LocalShard::Load(world.env(), "shard", Options());
      ASSERT_TRUE(reloaded.ok()) << reloaded.status();
      EXPECT_EQ(StateOf(**reloaded), model);
      EXPECT_EQ((*reloaded)->CheckStructure(), std::nullopt);
      ASSERT_TRUE((*reloaded)->Shutdown().ok());
      // The archive holds exactly the freeze: the optimizer proxy's changes
      // in, the snapshot proxy's changes out.
      auto restored = RestoreSnapshot(world.env(), "snapshot.tar", "restored", Options());
      ASSERT_TRUE(restored.ok()) << restored.status();
      EXPECT_EQ(StateOf(**restored), frozen);
      EXPECT_EQ((*restored)->PayloadSchema().count("v"), 1u);
      EXPECT_EQ((*restored)->CheckStructure(), std::nullopt);
      ASSERT_TRUE((*restored)->Shutdown().ok());
    });
    EXPECT_FALSE(world.WaitProcess(check));
  });
  ASSERT_EQ(run.outcome, sim::RunOutcome::kCompleted) << run.report;
}

TEST(DoubleProxyTest, SnapshotWhileTheOptimizerBuilds) {
  for (uint64_t seed = 0; seed < 8; ++seed) {
    SCOPED_TRACE(seed);
    SnapshotDuringOptimization(seed, "optimizer.proxied");
  }
}

TEST(DoubleProxyTest, SnapshotWhileTheOptimizerWaitsToSwap) {
  for (uint64_t seed = 0; seed < 8; ++seed) {
    SCOPED_TRACE(seed);
    SnapshotDuringOptimization(seed, "optimizer.moved");
  }
}

}  // namespace
}  // namespace engine
