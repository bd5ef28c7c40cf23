// The optimizers on the simulated world: vacuum, writes during an
// optimization, cancellation at many interleavings, crashes mid-vacuum.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "engine/shard/local_shard.h"
#include "engine/shard/shard_test_model.h"
#include "engine/shard/world_test_util.h"
#include "sim/world.h"

namespace engine {
namespace {

using testing::kCollection;
using testing::ApplyToModel;
using testing::State;
using testing::StateOf;

Point MakePoint(PointId id, int64_t value) {
  const float f = static_cast<float>(value);
  return {id, {f, f}, Payload{{"v", value}, {"color", value % 2 == 0 ? "red" : "blue"}}};
}

ShardOptions Options() { return ShardOptions{.collection = kCollection}; }

struct Recorder {
  State model;                           // after every completed op
  std::optional<Operation> in_flight;    // submitted, not completed
  void Apply(LocalShard& shard, Operation operation) {
    in_flight = operation;
    auto result = shard.Update({operation, std::nullopt}, /*wait=*/true);
    ASSERT_TRUE(result.ok()) << result.status();
    ApplyToModel(model, operation);
    in_flight.reset();
  }
};

// Points 0..19, then every other one deleted: one appendable segment with
// half of its points deleted, and an index on "color".
void Populate(LocalShard& shard, Recorder& recorder) {
  recorder.Apply(shard, CreateFieldIndex{"color", FieldType::kKeyword});
  for (PointId id = 0; id < 20; ++id) recorder.Apply(shard, UpsertPoints{{MakePoint(id, int64_t(id))}});
  for (PointId id = 0; id < 20; id += 2) recorder.Apply(shard, DeletePoints{{id}});
}

// Writes while an optimization runs: upserts over old and new ids, payload
// changes and deletes of points in the segment being vacuumed, an index.
void WriteDuring(LocalShard& shard, Recorder& recorder, int round) {
  recorder.Apply(shard, UpsertPoints{{MakePoint(1, 100 + round), MakePoint(40 + round, 7)}});
  recorder.Apply(shard, DeletePoints{{3, PointId(5 + 2 * round)}});
  recorder.Apply(shard, SetPayload{{7, 9}, Payload{{"w", round}}});
  recorder.Apply(shard, CreateFieldIndex{"v", FieldType::kInteger});
  recorder.Apply(shard, DeletePoints{{11}});
}

size_t CountEntries(FileSystem& fs, const std::string& dir) {
  auto entries = fs.ListDir(dir);
  return entries.ok() ? entries->size() : 0;
}

// What must hold after any optimization, finished or cancelled, once a
// flush has run: the model, one copy per point, no proxies, no leftovers.
void ExpectClean(LocalShard& shard, const State& model) {
  EXPECT_EQ(StateOf(shard), model);
  for (const auto& [id, copies] : shard.LiveCopies()) EXPECT_EQ(copies.size(), 1u) << "point " << id;
  EXPECT_EQ(shard.ProxyCount(), 0u);
  EXPECT_EQ(shard.CheckStructure(), std::nullopt);
  ASSERT_TRUE(shard.FlushAndAck(false).ok());
}

void ExpectDirsMatchHolder(sim::World& world, LocalShard& shard) {
  FileSystem& fs = world.env().fs();
  EXPECT_EQ(CountEntries(fs, shard.paths().temp_segments()), 0u);
  EXPECT_EQ(CountEntries(fs, shard.paths().segments()), shard.SegmentIds().size());
}

void ReloadEquals(sim::World& world, const State& model) {
  auto reloaded = LocalShard::Load(world.env(), "shard", Options());
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(StateOf(**reloaded), model);
  EXPECT_EQ((*reloaded)->CheckStructure(), std::nullopt);
  ASSERT_TRUE((*reloaded)->Shutdown().ok());
}

using testing::InWorld;

TEST(OptimizerTest, VacuumDropsDeletedPointsAndKeepsEverythingLive) {
  InWorld(1, [](sim::World& world) {
    Recorder recorder;
    {
      auto shard = LocalShard::Load(world.env(), "shard", Options());
      ASSERT_TRUE(shard.ok()) << shard.status();
      Populate(**shard, recorder);
      const std::vector<SegmentId> before = (*shard)->SegmentIds();
      ASSERT_EQ(before.size(), 1u);
      auto vacuumed = (*shard)->OptimizeVacuum();
      ASSERT_TRUE(vacuumed.ok()) << vacuumed.status();
      EXPECT_TRUE(*vacuumed);
      // The littered segment is replaced (plus the appendable one writes need).
      const std::vector<SegmentId> after = (*shard)->SegmentIds();
      EXPECT_EQ(std::count(after.begin(), after.end(), before[0]), 0);
      EXPECT_EQ(after.size(), 2u);
      ExpectClean(**shard, recorder.model);
      ExpectDirsMatchHolder(world, **shard);
      Filter red;
      red.must.push_back(FieldCondition{"color", MatchKeyword{"red"}});
      EXPECT_EQ((*shard)->Count(&red), 0u);  // every even (red) point was deleted
      EXPECT_EQ((*shard)->Count(nullptr), 10u);
      // Nothing is littered any more.
      auto again = (*shard)->OptimizeVacuum();
      ASSERT_TRUE(again.ok());
      EXPECT_FALSE(*again);
      ASSERT_TRUE((*shard)->Shutdown().ok());
    }
    ReloadEquals(world, recorder.model);
    world.Crash(sim::CrashKind::kPowerLoss);
  });
}

TEST(OptimizerTest, BelowThresholdsNothingIsVacuumed) {
  InWorld(2, [](sim::World& world) {
    ShardOptions options = Options();
    options.vacuum_min_deleted_points = 11;  // ten are deleted
    auto shard = LocalShard::Load(world.env(), "shard", options);
    Recorder recorder;
    Populate(**shard, recorder);
    auto vacuumed = (*shard)->OptimizeVacuum();
    ASSERT_TRUE(vacuumed.ok());
    EXPECT_FALSE(*vacuumed);
    auto report = (*shard)->OptimizeIfNeeded();
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->vacuums, 0u);
    EXPECT_EQ(report->merges, 0u);
    ASSERT_TRUE((*shard)->Shutdown().ok());
  });
}

TEST(OptimizerTest, OptimizeIfNeededMergesAndVacuums) {
  InWorld(3, [](sim::World& world) {
    ShardOptions options = Options();
    options.merge_max_segments = 1;
    auto shard = LocalShard::Load(world.env(), "shard", options);
    Recorder recorder;
    Populate(**shard, recorder);
    auto report = (*shard)->OptimizeIfNeeded();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->vacuums, 1u);  // nothing to merge: one segment
    for (PointId id = 20; id < 23; ++id) recorder.Apply(**shard, DeletePoints{{id - 19}});
    report = (*shard)->OptimizeIfNeeded();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_GE(report->merges, 1u);
    ExpectClean(**shard, recorder.model);
    ASSERT_TRUE((*shard)->Shutdown().ok());
  });
}

TEST(OptimizerTest, WritesDuringVacuumAllSurvive) {
  int writes_during = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    InWorld(seed, [&](sim::World& world) {
      Recorder recorder;
      {
        auto shard = LocalShard::Load(world.env(), "shard", Options());
        Populate(**shard, recorder);
        bool optimizing = true;
        auto writer = world.env().Spawn("writer", [&] {
          for (int round = 0; round < 3; ++round) {
            WriteDuring(**shard, recorder, round);
            writes_during += optimizing;
          }
        });
        auto vacuumed = (*shard)->OptimizeVacuum();
        optimizing = false;
        writer->Join();
        ASSERT_TRUE(vacuumed.ok()) << vacuumed.status();
        EXPECT_TRUE(*vacuumed);
        ExpectClean(**shard, recorder.model);
        ExpectDirsMatchHolder(world, **shard);
        ASSERT_TRUE((*shard)->Shutdown().ok());
      }
      world.Crash(sim::CrashKind::kPowerLoss);
      ReloadEquals(world, recorder.model);
    });
  }
  EXPECT_GT(writes_during, 0);
}

// A canceller fires after a varying number of scheduling points, so the
// cancel lands before the proxies, between copied points, after the build,
// after the move into segments/, or too late (the swap happened).
TEST(OptimizerTest, CancelAnywhereLosesNothingAndLeavesNoLeftovers) {
  int finished = 0;
  std::map<std::string, int> cancelled_after;  // the optimizer's last yield point
  for (int delay = 0; delay < 400; delay += 2) {
    InWorld(100 + delay, [&, delay](sim::World& world) {
      std::string stage = "start";
      world.trace().set_listener([&](const sim::TraceEvent& event) {
        if (event.kind == sim::EventKind::kMark && event.detail.starts_with("optimizer.")) stage = event.detail;
      });
      Recorder recorder;
      {
        auto shard = LocalShard::Load(world.env(), "shard", Options());
        Populate(**shard, recorder);
        auto writer = world.env().Spawn("writer", [&] { WriteDuring(**shard, recorder, 0); });
        std::string stage_at_cancel;
        auto canceller = world.env().Spawn("canceller", [&] {
          for (int i = 0; i < delay; ++i) world.env().YieldPoint("test.wait");
          stage_at_cancel = stage;
          (*shard)->CancelOptimizations();
        });
        auto vacuumed = (*shard)->OptimizeVacuum();
        canceller->Join();
        writer->Join();
        if (vacuumed.ok()) {
          ++finished;
        } else {
          ASSERT_TRUE(absl::IsCancelled(vacuumed.status())) << vacuumed.status();
          ++cancelled_after[stage_at_cancel];
        }
        ExpectClean(**shard, recorder.model);
        ExpectDirsMatchHolder(world, **shard);
        ASSERT_TRUE((*shard)->Shutdown().ok());
      }
      world.trace().set_listener(nullptr);
      world.Crash(sim::CrashKind::kPowerLoss);
      ReloadEquals(world, recorder.model);
    });
  }
  for (const auto& [stage, count] : cancelled_after) std::printf("cancelled after %s: %d\n", stage.c_str(), count);
  std::printf("finished before the cancel: %d\n", finished);
  EXPECT_GT(finished, 0);
  for (const char* stage : {"start", "optimizer.proxied", "optimizer.copy", "optimizer.built", "optimizer.moved"}) {
    EXPECT_GT(cancelled_after[stage], 0) << stage;
  }
}

TEST(OptimizerTest, ShutdownCancelsARunningVacuum) {
  InWorld(7, [](sim::World& world) {
    Recorder recorder;
    absl::StatusOr<bool> vacuumed = false;
    {
      auto shard = LocalShard::Load(world.env(), "shard", Options());
      Populate(**shard, recorder);
      auto optimizer = world.env().Spawn("optimizer", [&] { vacuumed = (*shard)->OptimizeVacuum(); });
      for (int i = 0; i < 8; ++i) world.env().YieldPoint("test.wait");
      ASSERT_TRUE((*shard)->Shutdown().ok());
      optimizer->Join();
      EXPECT_TRUE(absl::IsCancelled(vacuumed.status())) << vacuumed.status();
      EXPECT_EQ((*shard)->ProxyCount(), 0u);
      EXPECT_EQ(CountEntries(world.env().fs(), (*shard)->paths().temp_segments()), 0u);
      EXPECT_TRUE(absl::IsUnavailable((*shard)->OptimizeVacuum().status()));
    }
    ReloadEquals(world, recorder.model);
  });
}

// A crash at many steps of a vacuum with writes going on: the reload equals
// the model after every completed op (plus, perhaps, the one in flight).
TEST(OptimizerTest, CrashDuringVacuumReloadsToTheModel) {
  int mid_vacuum = 0;
  for (uint64_t offset = 1; offset < 1000; offset += 4) {
    const auto kind = offset % 3 ? sim::CrashKind::kPowerLoss : sim::CrashKind::kProcessCrash;
    sim::World world(sim::WorldConfig{.seed = offset});
    Recorder recorder;
    world.RunSupervisor([&] {
      const sim::ProcessId setup = world.StartProcess("setup", [&] {
        auto shard = LocalShard::Load(world.env(), "shard", Options());
        Populate(**shard, recorder);
        ASSERT_TRUE((*shard)->Shutdown().ok());
      });
      world.WaitProcess(setup);
      bool in_vacuum = false;
      world.CrashAtStep(world.trace().steps() + offset, kind);
      const sim::ProcessId run = world.StartProcess("vacuum", [&] {
        auto shard = LocalShard::Load(world.env(), "shard", Options());
        auto writer = world.env().Spawn("writer", [&] { WriteDuring(**shard, recorder, 1); });
        // Flushes racing the flush worker's (and the vacuum's input removal).
        bool vacuumed = false;
        auto flusher = world.env().Spawn("flusher", [&] {
          for (int after = 0; after < 3; after += vacuumed) (void)(*shard)->FlushAndAck(false);
        });
        in_vacuum = true;
        (void)(*shard)->OptimizeVacuum();
        in_vacuum = false;
        vacuumed = true;
        (void)(*shard)->FlushAndAck(false);  // destroys the input, racing the flusher
        writer->Join();
        flusher->Join();
        (void)(*shard)->Shutdown();
      });
      const bool crashed = world.WaitProcess(run);
      world.DisarmCrash();
      mid_vacuum += crashed && in_vacuum;
      const sim::ProcessId check = world.StartProcess("check", [&] {
        auto shard = LocalShard::Load(world.env(), "shard", Options());
        ASSERT_TRUE(shard.ok()) << shard.status();
        const State state = StateOf(**shard);
        // Completed ops are durable; the op in flight may have reached the WAL.
        State with_in_flight = recorder.model;
        if (recorder.in_flight) ApplyToModel(with_in_flight, *recorder.in_flight);
        EXPECT_TRUE(state == recorder.model || state == with_in_flight) << "crash offset " << offset;
        EXPECT_EQ((*shard)->CheckStructure(), std::nullopt);
        for (const auto& [id, copies] : (*shard)->LiveCopies()) EXPECT_EQ(copies.size(), 1u);
        ASSERT_TRUE((*shard)->Shutdown().ok());
      });
      world.WaitProcess(check);
    });
  }
  std::printf("crashes in the middle of a vacuum: %d\n", mid_vacuum);
  EXPECT_GT(mid_vacuum, 10);
}

// Regression (pre-existing in the merge optimizer): one FlushAndAck was
// removing a merge's inputs while another acked the WAL past the deletes
// propagated into the result; a power loss before the removal was synced
// brought the inputs back with live copies of the deleted points.
TEST(OptimizerTest, MergeInputsRemovedWhileAnotherFlushAcksLoseNothing) {
  for (uint64_t offset = 1; offset < 1500; offset += 4) {
    sim::World world(sim::WorldConfig{.seed = offset});
    Recorder recorder;
    world.RunSupervisor([&] {
      const sim::ProcessId setup = world.StartProcess("setup", [&] {
        // A sealed segment (points 0..9) and an appendable one (10..13).
        std::vector<Point> sealed_points;
        for (PointId id = 0; id < 10; ++id) {
          sealed_points.push_back(MakePoint(id, int64_t(id)));
          recorder.model[id] = sealed_points.back();
        }
        testing::WriteShardWithSealedSegment(world.env().fs(), "shard", kCollection, sealed_points, 10);
        auto shard = LocalShard::Load(world.env(), "shard", Options());
        for (PointId id = 10; id < 14; ++id) recorder.Apply(**shard, UpsertPoints{{MakePoint(id, int64_t(id))}});
        ASSERT_TRUE((*shard)->Shutdown().ok());
      });
      world.WaitProcess(setup);
      world.CrashAtStep(world.trace().steps() + offset, sim::CrashKind::kPowerLoss);
      const sim::ProcessId run = world.StartProcess("merge", [&] {
        auto shard = LocalShard::Load(world.env(), "shard", Options());
        bool merged = false;
        auto writer = world.env().Spawn("writer", [&] {
          for (PointId id : {1, 3, 5, 11}) recorder.Apply(**shard, DeletePoints{{id}});
        });
        auto flusher = world.env().Spawn("flusher", [&] {
          for (int after = 0; after < 3; after += merged) (void)(*shard)->FlushAndAck(false);
        });
        (void)(*shard)->OptimizeMerge();
        merged = true;
        (void)(*shard)->FlushAndAck(false);  // removes the inputs
        writer->Join();
        flusher->Join();
        (void)(*shard)->Shutdown();
      });
      world.WaitProcess(run);
      world.DisarmCrash();
      const sim::ProcessId check = world.StartProcess("check", [&] {
        auto shard = LocalShard::Load(world.env(), "shard", Options());
        ASSERT_TRUE(shard.ok()) << shard.status();
        State with_in_flight = recorder.model;
        if (recorder.in_flight) ApplyToModel(with_in_flight, *recorder.in_flight);
        const State state = StateOf(**shard);
        EXPECT_TRUE(state == recorder.model || state == with_in_flight) << "crash offset " << offset;
        ASSERT_TRUE((*shard)->Shutdown().ok());
      });
      world.WaitProcess(check);
    });
  }
}

}  // namespace
}  // namespace engine
