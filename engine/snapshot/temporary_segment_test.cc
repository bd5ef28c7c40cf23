// Regression: a snapshot's temporary segment, dropped because it ended up
// empty, came back after a power loss with a point that a completed delete
// had removed (found by the faulty campaign, seed 503469, as
// scenarios/regressions/dropped-temporary-segment-removal-failed-before-ack.scn).
//
// During the proxy pass an upsert lands in the temporary segment and a flush
// makes it durable there; a delete of that point then leaves a tombstone that
// is not flushed. The segment holds no live point, so the pass drops it. The
// pass used to remove its directory on the spot: when that removal's
// directory sync failed, the snapshot returned the error, a later flush acked
// the WAL past the delete, and a power loss undid the removal: the directory
// was back with the point, and the WAL that would delete it again started
// after the delete. The removal now waits for the next FlushAndAck, which
// makes it durable before it acks (as it does for an optimizer's inputs).
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

#include "engine/common/coverage.h"
#include "engine/shard/local_shard.h"
#include "engine/shard/planted_fault_env.h"
#include "engine/shard/shard_test_model.h"
#include "engine/shard/world_test_util.h"
#include "engine/shard/yield_gate_env.h"
#include "engine/snapshot/snapshot_create.h"
#include "sim/world.h"

namespace engine {
namespace {

using testing::ApplyToModel;
using testing::InWorld;
using testing::kCollection;
using testing::PlantedFault;
using testing::PlantedFaultEnv;
using testing::State;
using testing::StateOf;
using testing::YieldGateEnv;

// No flush worker between the test's calls: the test decides every flush.
const ShardOptions kQuiet{.collection = kCollection, .flush_interval_ns = int64_t{3600} * 1'000'000'000};
const PlantedFault kSegmentsDirSyncFails{.call = PlantedFault::Call::kSyncDir, .path_part = "shard/segments"};

void Apply(LocalShard& shard, State& model, const Operation& operation) {
  auto result = shard.Update({operation, std::nullopt}, /*wait=*/true);
  ASSERT_TRUE(result.ok()) << result.status();
  ApplyToModel(model, operation);
}

Point MakePoint(PointId id) { return {id, {float(id), 1}, Payload{{"v", static_cast<int64_t>(id)}}}; }

uint64_t Hits(Mark mark) { return CoverageSnapshot()[static_cast<size_t>(mark)]; }

// Runs a snapshot whose temporary segment gets point 50 (flushed) and then
// its delete (not flushed), with every directory sync of shard/segments
// failing from the delete on: the pass drops the segment while the fault is
// planted. Returns the shard after the snapshot; the fault is still planted.
// REQUIRES: `env` wraps `planted` and outlives the shard.
std::unique_ptr<LocalShard> ShardAfterDroppingTheTemporarySegment(PlantedFaultEnv& planted, YieldGateEnv& env,
                                                                  State& model) {
  auto loaded = LocalShard::Load(env, "shard", kQuiet);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  if (!loaded.ok()) return nullptr;
  std::unique_ptr<LocalShard> shard = std::move(*loaded);
  for (PointId id = 0; id < 5; ++id) Apply(*shard, model, UpsertPoints{{MakePoint(id)}});
  EXPECT_TRUE(shard->FlushAndAck(true).ok());

  env.Arm("proxy_all.applied");
  const uint64_t dropped_before = Hits(Mark::kTemporarySegmentDropped);
  absl::StatusOr<SnapshotInfo> info = absl::UnknownError("not run");
  auto snapshotter = env.Spawn("snapshot", [&] { info = CreateSnapshot(*shard, false, "snapshot.tar"); });
  EXPECT_TRUE(env.AwaitHeld("proxy_all.applied"));
  Apply(*shard, model, UpsertPoints{{MakePoint(50)}});  // into the temporary segment
  EXPECT_TRUE(shard->FlushAndAck(true).ok());           // durable there
  Apply(*shard, model, DeletePoints{{50}});             // its tombstone is not
  planted.Plant(kSegmentsDirSyncFails);
  env.Release("proxy_all.applied");
  snapshotter->Join();
  EXPECT_GT(Hits(Mark::kTemporarySegmentDropped), dropped_before) << "the pass kept its temporary segment";
  // The snapshot may fail (an error is allowed); what it may not do is lose
  // the delete, which the reload checks.
  EXPECT_EQ(StateOf(*shard), model);
  return shard;
}

std::vector<PointId> IdsOf(const State& state) {
  std::vector<PointId> ids;
  for (const auto& [id, point] : state) ids.push_back(id);
  return ids;
}

// With every shard closed: only synced data and synced entries stay.
void PowerLossAndCheck(sim::World& world, const State& model) {
  ASSERT_TRUE(world.fs().Crash(sim::CrashKind::kPowerLoss, sim::CrashModel::kDropAllUnsynced, world.decisions()).ok());
  auto reloaded = LocalShard::Load(world.env(), "shard", kQuiet);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(IdsOf(StateOf(**reloaded)), IdsOf(model));  // point 50 stays deleted
  EXPECT_EQ(StateOf(**reloaded), model);
  for (const auto& [id, copies] : (*reloaded)->LiveCopies()) EXPECT_EQ(copies.size(), 1u) << "point " << id;
  EXPECT_EQ((*reloaded)->CheckStructure(), std::nullopt);
  ASSERT_TRUE((*reloaded)->Shutdown().ok());
}

// Each test runs as the supervisor of a fresh world: the snapshot that drops
// the temporary segment while the directory syncs of shard/segments fail,
// then the test's own steps, which end with the shard shut down, then a
// power loss and a reload that must not bring point 50 back.
class TemporarySegmentTest : public ::testing::Test {
 protected:
  // Runs `test` on the shard the snapshot left (shard_, planted_, model_),
  // in a world with `seed`.
  void RunAfterTheDrop(uint64_t seed, const std::function<void()>& test) {
    InWorld(seed, [&](sim::World& world) {
      PlantedFaultEnv planted(world);
      YieldGateEnv env(planted);
      planted_ = &planted;
      shard_ = ShardAfterDroppingTheTemporarySegment(planted, env, model_);
      ASSERT_NE(shard_, nullptr);
      test();
      shard_.reset();  // before the environments it uses
      planted_ = nullptr;
      if (HasFatalFailure()) return;
      planted.Clear();
      PowerLossAndCheck(world, model_);
    });
  }

  PlantedFaultEnv* planted_ = nullptr;  // the fault is still planted when `test` starts
  std::unique_ptr<LocalShard> shard_;
  State model_;
};

TEST_F(TemporarySegmentTest, ADroppedTemporarySegmentIsRemovedDurablyBeforeTheNextAck) {
  RunAfterTheDrop(1, [&] {
    planted_->Clear();
    Apply(*shard_, model_, UpsertPoints{{MakePoint(6)}});  // a newer op, so that
    ASSERT_TRUE(shard_->FlushAndAck(true).ok());           // the ack passes the delete
    ASSERT_TRUE(shard_->Shutdown().ok());
  });
}

TEST_F(TemporarySegmentTest, AFlushThatCannotRemoveTheDroppedSegmentDoesNotAck) {
  RunAfterTheDrop(2, [&] {
    Apply(*shard_, model_, UpsertPoints{{MakePoint(6)}});  // an ack would pass the delete
    const uint64_t fired_before = planted_->fired();
    EXPECT_FALSE(shard_->FlushAndAck(true).ok());
    EXPECT_GT(planted_->fired(), fired_before);
    (void)shard_->Shutdown();  // the shard failed: it may say so again
  });
}

}  // namespace
}  // namespace engine
