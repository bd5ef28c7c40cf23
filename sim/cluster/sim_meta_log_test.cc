#include "sim/cluster/sim_meta_log.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <vector>

namespace sim {
namespace {

constexpr int64_t kMillisecond = 1'000'000;

// Every op of these tests is a SetReplicaState whose shard numbers it.
engine::MetaOp Op(engine::ShardId number) {
  return engine::SetReplicaState{.shard = number, .peer = 1, .state = engine::ReplicaState::kActive};
}
engine::ShardId NumberOf(const engine::MetaOp& op) { return std::get<engine::SetReplicaState>(op).shard; }

// The stub reducer: the leader state records each op's number as a shard.
void StubReduce(engine::CollectionState& state, const engine::MetaOp& op) {
  const auto& set = std::get<engine::SetReplicaState>(op);
  state.shards[set.shard][set.peer] = set.state;
}
std::string StubDescribe(const engine::MetaOp& op) { return fmt::format("op{}", NumberOf(op)); }

// What survives a peer's crashes (its "disk"): the durable applied index.
struct PeerDisk {
  uint64_t durable_index = 0;
  // Entries above this index are applied but not made durable.
  uint64_t persist_up_to = UINT64_MAX;
};

class TestApplier final : public engine::MetaApplier {
 public:
  explicit TestApplier(PeerDisk& disk) : disk_(disk) {}
  engine::ApplyOutcome ApplyEntry(uint64_t index, const engine::MetaOp& op) override {
    EXPECT_EQ(index, last_index + 1) << "entries applied out of order";
    last_index = index;
    applied.emplace_back(index, NumberOf(op));
    if (index <= disk_.persist_up_to) disk_.durable_index = index;
    return {.applied = NumberOf(op) % 2 == 0, .rejection = NumberOf(op) % 2 == 0 ? "" : "odd"};
  }
  void InstallState(uint64_t index, const engine::CollectionState& state) override {
    installs.emplace_back(index, state);
    last_index = index;
    disk_.durable_index = index;
  }
  uint64_t DurableAppliedIndex() override {
    last_index = disk_.durable_index;
    return disk_.durable_index;
  }

  uint64_t last_index = 0;
  std::vector<std::pair<uint64_t, engine::ShardId>> applied;  // (index, op number)
  std::vector<std::pair<uint64_t, engine::CollectionState>> installs;

 private:
  PeerDisk& disk_;
};

struct Harness {
  explicit Harness(uint64_t seed, LogFaults faults = LogFaults::NoFault(), int peer_count = 3)
      : world({.seed = seed, .peer_count = peer_count, .record_trace = true}),
        log(world, faults, StubReduce, StubDescribe),
        disks(static_cast<size_t>(peer_count) + 1) {}

  // Starts an incarnation of `peer` that attaches a fresh applier and lives
  // until stopped (Detach) or crashed.
  void StartPeer(PeerId peer) {
    appliers.push_back(std::make_unique<TestApplier>(disks[peer]));
    TestApplier* applier = appliers.back().get();
    current[peer] = applier;
    world.StartPeer(peer, [this, peer, applier] {
      log.Attach(peer, *applier);
      while (log.handle(peer)->live()) world.env(peer).SleepForNanos(kMillisecond);
    });
  }
  void StopAll() {
    for (PeerId peer : world.peers()) {
      log.Detach(peer);
      if (world.current_process_id(peer)) world.WaitPeer(peer);
    }
  }
  // Waits until every live peer applied everything committed.
  void AwaitQuiet() {
    for (int round = 0; round < 1000; ++round) {
      world.env(1).SleepForNanos(10 * kMillisecond);
      bool idle = true;
      for (PeerId peer : world.peers()) {
        PeerLogHandle* handle = log.handle(peer);
        if (handle != nullptr && handle->live() && !handle->Idle()) idle = false;
      }
      if (idle) return;
    }
    ADD_FAILURE() << "the log never became quiet";
  }

  ClusterWorld world;
  SimMetaLog log;
  std::vector<PeerDisk> disks;  // index = peer
  std::vector<std::unique_ptr<TestApplier>> appliers;
  std::map<PeerId, TestApplier*> current;
};

TEST(SimMetaLogTest, EveryPeerAppliesTheSameOrder) {
  LogFaults faults = LogFaults::Faulty();
  faults.compaction = 0;
  Harness harness(5, faults);
  const RunResult result = harness.world.RunSupervisor([&] {
    for (PeerId peer : harness.world.peers()) harness.StartPeer(peer);
    for (engine::ShardId number = 0; number < 40; ++number) {
      harness.log.ProposeFrom(1 + number % 3, Op(number));
      harness.world.env(1).SleepForNanos(200'000);
    }
    harness.AwaitQuiet();
    harness.StopAll();
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  std::vector<std::pair<uint64_t, engine::ShardId>> log_order;
  for (size_t i = 0; i < harness.log.entries().size(); ++i) {
    log_order.emplace_back(i + 1, NumberOf(harness.log.entries()[i].op));
  }
  EXPECT_GT(log_order.size(), 20u);
  for (PeerId peer : harness.world.peers()) EXPECT_EQ(harness.current[peer]->applied, log_order) << "peer " << peer;
  const LogStats& stats = harness.log.stats();
  EXPECT_EQ(stats.committed, stats.proposals - stats.lost + stats.duplicated);
  EXPECT_EQ(harness.log.leader_state().shards.size(), 40 - stats.lost);
}

TEST(SimMetaLogTest, ProposeAndWaitReturnsTheLocalOutcomeAndALostProposalTimesOut) {
  LogFaults faults = LogFaults::NoFault();
  Harness harness(6, faults);
  absl::StatusOr<engine::ApplyOutcome> even = absl::UnknownError("unset");
  absl::StatusOr<engine::ApplyOutcome> odd = absl::UnknownError("unset");
  absl::StatusOr<engine::ApplyOutcome> lost = absl::UnknownError("unset");
  absl::Status all_applied;
  const RunResult result = harness.world.RunSupervisor([&] {
    for (PeerId peer : harness.world.peers()) harness.StartPeer(peer);
    harness.world.scheduler().Spawn(
        "peer2.driver",
        [&] {
          PeerLogHandle& handle = *harness.log.handle(2);
          even = handle.ProposeAndWait(Op(4), 100 * kMillisecond);
          odd = handle.ProposeAndWait(Op(5), 100 * kMillisecond);
          all_applied = handle.AwaitAllApplied(handle.applied_index(), 100 * kMillisecond);
        },
        *harness.world.current_process_id(2));
    harness.world.env(1).SleepForNanos(50 * kMillisecond);
    harness.world.scheduler().Spawn(
        "peer3.driver",
        [&] {
          LogFaults lossy = harness.log.faults();
          lossy.loss = 1.0;
          harness.log.set_faults(lossy);
          lost = harness.log.handle(3)->ProposeAndWait(Op(6), 20 * kMillisecond);
        },
        *harness.world.current_process_id(3));
    harness.world.env(1).SleepForNanos(50 * kMillisecond);
    harness.StopAll();
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  ASSERT_TRUE(even.ok()) << even.status();
  EXPECT_TRUE(even->applied);
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_FALSE(odd->applied);
  EXPECT_EQ(odd->rejection, "odd");
  EXPECT_TRUE(all_applied.ok()) << all_applied;
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(harness.log.stats().lost, 1u);
}

TEST(SimMetaLogTest, RestartedPeerResumesAfterItsDurableIndex) {
  Harness harness(7);
  harness.disks[2].persist_up_to = 3;  // entries 4.. applied but not durable
  TestApplier* first = nullptr;
  const RunResult result = harness.world.RunSupervisor([&] {
    for (PeerId peer : harness.world.peers()) harness.StartPeer(peer);
    first = harness.current[2];
    for (engine::ShardId number = 1; number <= 6; ++number) harness.log.ProposeFrom(0, Op(number));
    harness.AwaitQuiet();
    harness.world.CrashPeer(2, CrashKind::kPowerLoss);
    harness.world.WaitPeer(2);
    harness.log.ProposeFrom(0, Op(7));
    harness.StartPeer(2);
    harness.AwaitQuiet();
    harness.StopAll();
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  ASSERT_EQ(first->applied.size(), 6u);
  // Commit delays are drawn per proposal: the log's order, not the proposals'.
  std::vector<std::pair<uint64_t, engine::ShardId>> expected;
  for (uint64_t index = 4; index <= 7; ++index) {
    expected.emplace_back(index, NumberOf(harness.log.entries()[index - 1].op));
  }
  EXPECT_EQ(harness.current[2]->applied, expected);
  EXPECT_TRUE(harness.current[2]->installs.empty());
}

TEST(SimMetaLogTest, FarBehindPeerGetsTheCompactedStateInstalled) {
  Harness harness(8);
  const RunResult result = harness.world.RunSupervisor([&] {
    harness.StartPeer(1);
    harness.StartPeer(2);
    for (engine::ShardId number = 1; number <= 5; ++number) harness.log.ProposeFrom(1, Op(number));
    harness.AwaitQuiet();
    harness.log.Compact();
    harness.log.ProposeFrom(1, Op(6));
    harness.StartPeer(3);  // never applied anything
    harness.AwaitQuiet();
    harness.StopAll();
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  TestApplier& late = *harness.current[3];
  ASSERT_EQ(late.installs.size(), 1u);
  EXPECT_EQ(late.installs[0].first, 5u);
  EXPECT_EQ(late.installs[0].second.shards.size(), 5u);
  EXPECT_EQ(late.applied, (std::vector<std::pair<uint64_t, engine::ShardId>>{{6, 6}}));
  EXPECT_TRUE(harness.current[1]->installs.empty());
  EXPECT_EQ(harness.log.stats().installs, 1u);
}

uint64_t FaultyRunHash(uint64_t seed) {
  Harness harness(seed, LogFaults::Faulty());
  const RunResult result = harness.world.RunSupervisor([&] {
    for (PeerId peer : harness.world.peers()) harness.StartPeer(peer);
    for (engine::ShardId number = 0; number < 30; ++number) {
      harness.log.ProposeFrom(1 + number % 3, Op(number));
      if (number == 10) harness.world.CrashPeer(3, CrashKind::kPowerLoss);
      if (number == 20) {
        harness.world.WaitPeer(3);
        harness.StartPeer(3);
      }
      harness.world.env(1).SleepForNanos(300'000);
    }
    harness.AwaitQuiet();
    harness.StopAll();
  });
  EXPECT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  return harness.world.trace().hash();
}

TEST(SimMetaLogTest, SameSeedSameTrace) {
  EXPECT_EQ(FaultyRunHash(21), FaultyRunHash(21));
  EXPECT_NE(FaultyRunHash(21), FaultyRunHash(22));
}

}  // namespace
}  // namespace sim
