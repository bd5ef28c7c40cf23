#include "sim/cluster/sim_network.h"

#include <gtest/gtest.h>

#include <vector>

namespace sim {
namespace {

constexpr int64_t kMillisecond = 1'000'000;

// Answers ReplicaStateRequest{shard} with applied_index = shard, after an
// optional sleep; records every run.
class RecordingHandler final : public engine::RpcHandler {
 public:
  RecordingHandler(engine::Env& env, int64_t work_ns) : env_(env), work_ns_(work_ns) {}
  absl::StatusOr<engine::RpcResponse> Handle(PeerId from, const engine::RpcRequest& request) override {
    const auto& typed = std::get<engine::ReplicaStateRequest>(request);
    started.push_back(typed.shard);
    if (work_ns_ > 0) env_.SleepForNanos(work_ns_);
    finished.push_back(typed.shard);
    return engine::ReplicaStateResponse{.state = std::nullopt, .applied_index = typed.shard};
  }
  std::vector<engine::ShardId> started;
  std::vector<engine::ShardId> finished;

 private:
  engine::Env& env_;
  int64_t work_ns_;
};

// A peer that serves `handler` until `stop` is set (polling), or crashes.
void ServePeer(ClusterWorld& world, SimNetwork& network, PeerId peer, engine::RpcHandler& handler,
               const bool& stop) {
  network.Register(peer, handler);
  while (!stop) world.env(peer).SleepForNanos(kMillisecond);
  network.Unregister(peer);
  while (network.running_handlers(peer) > 0) world.env(peer).SleepForNanos(kMillisecond);
}

absl::StatusOr<engine::RpcResponse> CallShard(SimNetwork& network, PeerId from, PeerId to, engine::ShardId shard,
                                              int64_t timeout_ns) {
  return network.Call(from, to, engine::ReplicaStateRequest{.shard = shard}, timeout_ns);
}

struct Harness {
  explicit Harness(uint64_t seed, NetworkFaults faults = NetworkFaults::NoFault(), int64_t work_ns = 0)
      : world({.seed = seed, .peer_count = 3, .record_trace = true}),
        network(world, faults),
        handler1(world.env(1), work_ns),
        handler2(world.env(2), work_ns),
        handler3(world.env(3), work_ns) {}

  // Starts peers 1..3 serving, runs `body` on the supervisor, stops them.
  RunResult Run(const std::function<void()>& body) {
    return world.RunSupervisor([&] {
      RecordingHandler* handlers[] = {&handler1, &handler2, &handler3};
      for (PeerId peer : world.peers()) {
        world.StartPeer(peer, [this, peer, handler = handlers[peer - 1]] {
          ServePeer(world, network, peer, *handler, stop);
        });
      }
      body();
      stop = true;
      for (PeerId peer : world.peers()) world.WaitPeer(peer);
    });
  }

  ClusterWorld world;
  SimNetwork network;
  RecordingHandler handler1;
  RecordingHandler handler2;
  RecordingHandler handler3;
  bool stop = false;
};

TEST(SimNetworkTest, CallReturnsTheHandlersResponse) {
  Harness harness(1);
  const RunResult result = harness.Run([&] {
    harness.world.env(1).SleepForNanos(kMillisecond);  // peers registered
    auto response = CallShard(harness.network, 1, 2, 42, 100 * kMillisecond);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(std::get<engine::ReplicaStateResponse>(*response).applied_index, 42u);
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  EXPECT_EQ(harness.handler2.finished, std::vector<engine::ShardId>{42});
  EXPECT_EQ(harness.network.stats().responses, 1u);
}

TEST(SimNetworkTest, MessageToAPartitionedPeerTimesOut) {
  Harness harness(2);
  const RunResult result = harness.Run([&] {
    harness.world.env(1).SleepForNanos(kMillisecond);
    harness.network.SetPartition({1}, {3}, /*one_way=*/false);
    EXPECT_TRUE(harness.network.IsBlocked(3, 1));
    auto blocked = CallShard(harness.network, 1, 3, 7, 10 * kMillisecond);
    EXPECT_EQ(blocked.status().code(), absl::StatusCode::kDeadlineExceeded);
    auto open = CallShard(harness.network, 1, 2, 8, 10 * kMillisecond);
    EXPECT_TRUE(open.ok()) << open.status();
    // One way: 1 -> 3 is delivered but the response 3 -> 1 is dropped.
    harness.network.SetPartition({3}, {1}, /*one_way=*/true);
    auto one_way = CallShard(harness.network, 1, 3, 9, 10 * kMillisecond);
    EXPECT_EQ(one_way.status().code(), absl::StatusCode::kDeadlineExceeded);
    harness.network.Heal();
    auto healed = CallShard(harness.network, 1, 3, 10, 10 * kMillisecond);
    EXPECT_TRUE(healed.ok()) << healed.status();
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  EXPECT_EQ(harness.handler3.finished, (std::vector<engine::ShardId>{9, 10}));
  EXPECT_EQ(harness.network.stats().timed_out, 2u);
  EXPECT_EQ(harness.network.stats().dropped_by_partition, 2u);
  int partition_drops = 0;
  for (const TraceEvent& event : harness.world.trace().events()) {
    if (event.kind == EventKind::kMessage &&
        event.detail.find("peer1->peer3 #1 ReplicaStateRequest dropped by partition at send") != std::string::npos) {
      ++partition_drops;
    }
  }
  EXPECT_EQ(partition_drops, 1);
}

TEST(SimNetworkTest, DuplicationRunsTheHandlerTwice) {
  NetworkFaults faults = NetworkFaults::NoFault();
  faults.duplication = 1.0;
  Harness harness(3, faults);
  const RunResult result = harness.Run([&] {
    harness.world.env(1).SleepForNanos(kMillisecond);
    auto response = CallShard(harness.network, 2, 1, 5, 100 * kMillisecond);
    EXPECT_TRUE(response.ok()) << response.status();
    harness.world.env(1).SleepForNanos(2 * faults.max_delay_ns);  // the other copy arrives
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  EXPECT_EQ(harness.handler1.finished, (std::vector<engine::ShardId>{5, 5}));
  EXPECT_EQ(harness.network.stats().duplicated, 1u);
  EXPECT_EQ(harness.network.stats().delivered, 2u);
  EXPECT_EQ(harness.network.stats().responses, 1u);
}

TEST(SimNetworkTest, CrashOfTheDestinationUnwindsItsHandlerAndTheCallerTimesOut) {
  Harness harness(4, NetworkFaults::NoFault(), /*work_ns=*/20 * kMillisecond);
  absl::Status caller_status;
  const RunResult result = harness.Run([&] {
    harness.world.env(1).SleepForNanos(kMillisecond);
    harness.world.scheduler().Spawn("caller", [&] {
      caller_status = CallShard(harness.network, 1, 2, 3, 50 * kMillisecond).status();
    });
    harness.world.env(1).SleepForNanos(5 * kMillisecond);  // the handler is sleeping now
    ASSERT_EQ(harness.handler2.started, std::vector<engine::ShardId>{3});
    harness.world.CrashPeer(2, CrashKind::kProcessCrash);
    harness.world.env(1).SleepForNanos(100 * kMillisecond);
    // A call to the crashed peer is refused.
    auto refused = CallShard(harness.network, 1, 2, 4, 50 * kMillisecond);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  EXPECT_TRUE(harness.handler2.finished.empty());
  EXPECT_EQ(caller_status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(harness.network.stats().refused, 1u);
}

// Two calls sent one after the other arrive in the other order for some
// seeds (independent delays).
TEST(SimNetworkTest, MessagesReorder) {
  int reordered_seeds = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Harness harness(seed);
    const RunResult result = harness.Run([&] {
      harness.world.env(1).SleepForNanos(kMillisecond);
      for (engine::ShardId shard : {1u, 2u}) {
        harness.world.scheduler().Spawn("caller", [&harness, shard] {
          EXPECT_TRUE(CallShard(harness.network, 1, 3, shard, 100 * kMillisecond).ok());
        });
        harness.world.env(1).SleepForNanos(1000);  // sent in order 1, 2
      }
      harness.world.env(1).SleepForNanos(10 * kMillisecond);
    });
    ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
    ASSERT_EQ(harness.handler3.started.size(), 2u);
    if (harness.handler3.started[0] == 2) ++reordered_seeds;
  }
  EXPECT_GT(reordered_seeds, 0);
  EXPECT_LT(reordered_seeds, 20);
}

// A stalled request can arrive after its caller's timeout: the caller gets
// DeadlineExceeded and the handler still runs later (a write applied after
// its coordinator gave up on it).
TEST(SimNetworkTest, AStalledRequestIsHandledAfterItsCallerTimedOut) {
  NetworkFaults faults = NetworkFaults::NoFault();
  faults.stall = 1.0;
  faults.stall_max_delay_ns = 3'000 * kMillisecond;
  int handled_after_timeout = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Harness harness(seed, faults);
    absl::Status status;
    const RunResult result = harness.Run([&] {
      harness.world.env(1).SleepForNanos(kMillisecond);
      status = CallShard(harness.network, 2, 1, 9, 100 * kMillisecond).status();
      const bool handled_in_time = !harness.handler1.started.empty();
      harness.world.env(1).SleepForNanos(2 * faults.stall_max_delay_ns);  // the request arrives by then
      if (status.code() == absl::StatusCode::kDeadlineExceeded && !handled_in_time &&
          harness.handler1.started == std::vector<engine::ShardId>{9}) {
        ++handled_after_timeout;
      }
    });
    ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
    EXPECT_EQ(harness.handler1.finished, std::vector<engine::ShardId>{9});
  }
  // Delays are drawn in [1 ms, 3 s]: nearly all past the 100 ms timeout.
  EXPECT_GE(handled_after_timeout, 8);
}

uint64_t FaultyRunHash(uint64_t seed) {
  Harness harness(seed, NetworkFaults::Faulty(), /*work_ns=*/kMillisecond);
  const RunResult result = harness.Run([&] {
    harness.world.env(1).SleepForNanos(kMillisecond);
    for (engine::ShardId shard = 0; shard < 30; ++shard) {
      const PeerId from = 1 + shard % 3;
      const PeerId to = 1 + (shard + 1) % 3;
      harness.world.scheduler().Spawn("caller", [&harness, from, to, shard] {
        (void)CallShard(harness.network, from, to, shard, 30 * kMillisecond);
      });
      if (shard == 10) harness.network.SetPartition({1}, {2, 3}, false);
      if (shard == 20) harness.network.Heal();
      harness.world.env(1).SleepForNanos(500'000);
    }
    harness.world.env(1).SleepForNanos(100 * kMillisecond);
  });
  EXPECT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  return harness.world.trace().hash();
}

TEST(SimNetworkTest, SameSeedSameTrace) {
  EXPECT_EQ(FaultyRunHash(11), FaultyRunHash(11));
  EXPECT_NE(FaultyRunHash(11), FaultyRunHash(12));
}

}  // namespace
}  // namespace sim
