// Engine throughput on both worlds with the same workload, and segment flush
// cost against segment size.
// Run: ./build/default/bench/shard_bench
#include <benchmark/benchmark.h>

#include <stdlib.h>

#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "engine/env/posix_env.h"
#include "engine/segment/segment.h"
#include "engine/shard/local_shard.h"
#include "properties/workload.h"
#include "sim/fs/sim_fs.h"
#include "sim/world.h"

namespace {

constexpr int kClients = 4;
constexpr int kOpsPerClient = 500;
const engine::CollectionConfig kCollection{.dimension = 16, .distance = engine::Distance::kDot};

// One client's share of the workload: upserts and payload updates, every
// tenth op waiting for completion.
void ClientLoop(engine::LocalShard& shard, uint64_t seed) {
  sim::PrngSource decisions(seed);
  properties::ShardRunConfig config;
  config.id_range = 1000;
  config.collection = kCollection;
  properties::Workload workload(decisions, config);
  for (int op = 0; op < kOpsPerClient; ++op) {
    (void)shard.Update({workload.NextOperation(), std::nullopt}, op % 10 == 0);
  }
}

void BM_ShardOpsSimulated(benchmark::State& state) {
  uint64_t ops = 0;
  for (auto _ : state) {
    sim::World world(sim::WorldConfig{.seed = 1});
    world.RunSupervisor([&] {
      auto shard = engine::LocalShard::Load(world.env(), "shard", {.collection = kCollection});
      std::vector<std::unique_ptr<engine::Task>> clients;
      for (int c = 0; c < kClients; ++c) {
        clients.push_back(world.env().Spawn("client", [&, c] { ClientLoop(**shard, c); }));
      }
      for (auto& client : clients) client->Join();
      (void)(*shard)->Shutdown();
    });
    ops += kClients * kOpsPerClient;
  }
  state.counters["ops_per_second"] = benchmark::Counter(double(ops), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ShardOpsSimulated)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ShardOpsReal(benchmark::State& state) {
  uint64_t ops = 0;
  for (auto _ : state) {
    char pattern[] = "/tmp/shardsim-bench-XXXXXX";
    if (mkdtemp(pattern) == nullptr) state.SkipWithError("mkdtemp failed");
    engine::PosixEnv env(pattern);
    {
      auto shard = engine::LocalShard::Load(env, "shard", {.collection = kCollection});
      std::vector<std::thread> clients;
      for (int c = 0; c < kClients; ++c) clients.emplace_back([&, c] { ClientLoop(**shard, c); });
      for (auto& client : clients) client.join();
      (void)(*shard)->Shutdown();
    }
    std::filesystem::remove_all(pattern);
    ops += kClients * kOpsPerClient;
  }
  state.counters["ops_per_second"] = benchmark::Counter(double(ops), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ShardOpsReal)->Unit(benchmark::kMillisecond)->UseRealTime();

// Flush after changing 10 points of a segment of N points (dim 64).
void BM_SegmentFlushAfterTenChanges(benchmark::State& state) {
  const auto points = static_cast<engine::PointId>(state.range(0));
  sim::SimFileSystem fs;
  auto segment = *engine::Segment::Create(fs, "seg", {.dimension = 64}, true);
  engine::Vector vector(64, 0.5f);
  for (engine::PointId id = 0; id < points; ++id) {
    (void)segment->Upsert(id, {id, vector, engine::Payload{{"n", int64_t(id)}}});
  }
  (void)segment->Flush(false);
  engine::SeqNumber op = points;
  uint64_t bytes = 0;
  for (auto _ : state) {
    for (int i = 0; i < 10; ++i) {
      ++op;
      (void)segment->SetPayload(op, (op * 7919) % points, engine::Payload{{"v", int64_t(op)}});
    }
    const uint64_t before = segment->flushed_bytes();
    (void)segment->Flush(false);
    bytes += segment->flushed_bytes() - before;
  }
  state.counters["bytes_per_flush"] = double(bytes) / double(state.iterations());
}
BENCHMARK(BM_SegmentFlushAfterTenChanges)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
