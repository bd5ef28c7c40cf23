// Snapshot and restore cost, and the write stall a snapshot causes.
//
// 1. BM_CreateSnapshotReal: create_snapshot (with and without WAL) of a
//    flushed shard of 1k/10k/100k points (dense, dim 64) on the real world
//    (PosixEnv in a temporary directory under /tmp, removed at exit): wall
//    time per snapshot, archive bytes, bytes per point, archive bytes per
//    second.
// 2. BM_RestoreSnapshotReal: RestoreSnapshot of those archives, including the
//    load of the restored shard (WAL replay): archive bytes per second.
// 3. BM_UnpackSnapshotReal: only the archive part of a restore (the
//    checksum and strict first pass, the manifest listing, the streaming
//    unpack into staging, synced), with its peak memory growth: what a
//    restore's archive handling costs apart from loading the shard.
// 4. BM_RestoreMemoryReal: one RestoreSnapshot per iteration with the
//    source shards dropped and freed memory handed back first (so not timed
//    like 2, whose restores reuse the heap): the process's peak resident set
//    during the restore, how far it is above the resident set before it
//    (restore_peak_growth_mb), and what the open restored shard holds after
//    it (restored_shard_mb; the engine keeps segments in memory), also once
//    freed heap is handed back (restored_shard_trimmed_mb: the shard's own
//    memory, without what the restore's transient buffers left in the heap).
// 5. BM_WriteStallDuringSnapshotSim (bench/write_stall_bench.cc): in the
//    simulated world, the latency of writes issued while a snapshot runs,
//    with and without a modelled SSD's cost (bench/ssd_cost_env.h).
//
// Run: ./build/default/bench/snapshot_bench
#include <benchmark/benchmark.h>

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "bench/snapshot_bench_util.h"
#include "bench/ssd_cost_env.h"
#include "engine/common/file_util.h"
#include "engine/env/posix_env.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/restore.h"
#include "engine/snapshot/restore_steps.h"
#include "engine/snapshot/snapshot_create.h"

namespace bench {
namespace {

// The real world: one temporary directory, one filled shard per size, shared
// by the snapshot and restore benchmarks; everything removed at exit.
class RealWorld {
 public:
  static RealWorld& Get() {
    static RealWorld world;
    return world;
  }
  engine::PosixEnv& env() { return *env_; }
  const std::string& root() const { return root_; }

  // The filled shard of `points` points (built on first use).
  absl::StatusOr<engine::LocalShard*> Shard(size_t points) {
    auto it = shards_.find(points);
    if (it != shards_.end()) return it->second.get();
    auto shard = engine::LocalShard::Load(*env_, fmt::format("shard-{}", points), {.collection = kCollection});
    if (!shard.ok()) return shard.status();
    if (auto status = Fill(**shard, points); !status.ok()) return status;
    return (shards_[points] = std::move(*shard)).get();
  }
  static std::string ArchivePath(size_t points, bool save_wal) {
    return fmt::format("snap-{}-{}.tar", points, save_wal ? "wal" : "nowal");
  }
  // The archive of `points` points (created on first use).
  absl::Status EnsureArchive(size_t points, bool save_wal) {
    const std::string path = ArchivePath(points, save_wal);
    auto exists = engine::Exists(env_->fs(), path);
    if (exists.ok() && *exists) return absl::OkStatus();
    auto shard = Shard(points);
    if (!shard.ok()) return shard.status();
    return CreateSnapshot(**shard, save_wal, path).status();
  }

  // The source shards go (their archives stay), so that a restore's memory
  // is measured without them.
  void DropShards() {
    for (auto& [points, shard] : shards_) (void)shard->Shutdown();
    shards_.clear();
  }

  void TearDown() {
    for (auto& [points, shard] : shards_) (void)shard->Shutdown();
    shards_.clear();
    env_.reset();
    if (!root_.empty()) std::filesystem::remove_all(root_);
    root_.clear();
  }
  ~RealWorld() { TearDown(); }

 private:
  RealWorld() {
    char pattern[] = "/tmp/shardsim-snapshot-bench-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    root_ = pattern;
    env_ = std::make_unique<engine::PosixEnv>(root_);
  }
  std::string root_;
  std::unique_ptr<engine::PosixEnv> env_;
  std::map<size_t, std::unique_ptr<engine::LocalShard>> shards_;
};

// Args: points, save_wal.
void BM_CreateSnapshotReal(benchmark::State& state) {
  const auto points = static_cast<size_t>(state.range(0));
  const bool save_wal = state.range(1) != 0;
  RealWorld& world = RealWorld::Get();
  auto shard = world.Shard(points);
  if (!shard.ok()) {
    Skip(state, shard.status().ToString());
    return;
  }
  const std::string path = RealWorld::ArchivePath(points, save_wal);
  uint64_t bytes = 0;
  for (auto _ : state) {
    auto info = CreateSnapshot(**shard, save_wal, path);
    if (!info.ok()) {
      Skip(state, info.status().ToString());
      return;
    }
    bytes = info->archive_bytes;
  }
  // The last archive stays for the restore benchmark.
  state.SetBytesProcessed(int64_t(bytes) * state.iterations());
  state.counters["points"] = double(points);
  state.counters["archive_bytes"] = double(bytes);
  state.counters["bytes_per_point"] = double(bytes) / double(points);
  state.SetLabel(save_wal ? "save_wal=true" : "save_wal=false");
}

// Args: points, save_wal (which archive). Timed: RestoreSnapshot (checksum,
// strict unpacking, manifest check, staging sync, swap, load with WAL replay).
// Not timed: shutting the restored shard down and removing it.
void BM_RestoreSnapshotReal(benchmark::State& state) {
  const auto points = static_cast<size_t>(state.range(0));
  const bool save_wal = state.range(1) != 0;
  RealWorld& world = RealWorld::Get();
  if (auto status = world.EnsureArchive(points, save_wal); !status.ok()) {
    Skip(state, status.ToString());
    return;
  }
  const std::string archive = RealWorld::ArchivePath(points, save_wal);
  int round = 0;
  size_t restored_points = 0;
  for (auto _ : state) {
    const std::string dir = fmt::format("restored-{}-{}", points, round++);
    auto restored = engine::RestoreSnapshot(world.env(), archive, dir, {.collection = kCollection});
    state.PauseTiming();
    if (!restored.ok()) {
      Skip(state, restored.status().ToString());
      state.ResumeTiming();
      return;
    }
    restored_points = (*restored)->Count(nullptr);
    (void)(*restored)->Shutdown();
    restored->reset();
    std::filesystem::remove_all(std::filesystem::path(world.root()) / dir);
    state.ResumeTiming();
  }
  if (restored_points != points) {
    Skip(state, fmt::format("restored {} points, expected {}", restored_points, points));
  }
  auto bytes = engine::ReadWholeFile(world.env().fs(), archive);
  const double archive_bytes = bytes.ok() ? double(bytes->size()) : 0.0;
  state.SetBytesProcessed(int64_t(archive_bytes) * state.iterations());
  state.counters["points"] = double(points);
  state.counters["archive_bytes"] = archive_bytes;
  state.SetLabel(save_wal ? "archive with WAL" : "archive without WAL");
}

// Args: points, save_wal. Each iteration: RestoreSnapshot from a trimmed
// heap, its memory read from /proc/self/status (the largest of the
// iterations reported).
void BM_RestoreMemoryReal(benchmark::State& state) {
  const auto points = static_cast<size_t>(state.range(0));
  const bool save_wal = state.range(1) != 0;
  RealWorld& world = RealWorld::Get();
  if (auto status = world.EnsureArchive(points, save_wal); !status.ok()) {
    Skip(state, status.ToString());
    return;
  }
  world.DropShards();
  const std::string archive = RealWorld::ArchivePath(points, save_wal);
  double peak_mb = 0, growth_mb = 0, held_mb = 0, trimmed_mb = 0;
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const Rss before = ResetPeakRss();
    state.ResumeTiming();
    const std::string dir = fmt::format("memory-{}-{}", points, round++);
    auto restored = engine::RestoreSnapshot(world.env(), archive, dir, {.collection = kCollection});
    state.PauseTiming();
    if (!restored.ok()) {
      Skip(state, restored.status().ToString());
      state.ResumeTiming();
      return;
    }
    const Rss after = ReadRss();
    peak_mb = std::max(peak_mb, after.peak_mb);
    growth_mb = std::max(growth_mb, after.peak_mb - before.now_mb);
    held_mb = std::max(held_mb, after.now_mb - before.now_mb);
    trimmed_mb = std::max(trimmed_mb, ResetPeakRss().now_mb - before.now_mb);
    (void)(*restored)->Shutdown();
    restored->reset();
    std::filesystem::remove_all(std::filesystem::path(world.root()) / dir);
    state.ResumeTiming();
  }
  state.counters["points"] = double(points);
  state.counters["peak_rss_mb"] = peak_mb;
  state.counters["restore_peak_growth_mb"] = growth_mb;
  state.counters["restored_shard_mb"] = held_mb;
  state.counters["restored_shard_trimmed_mb"] = trimmed_mb;
  state.SetLabel(save_wal ? "archive with WAL" : "archive without WAL");
}

// Args: points, save_wal. Timed: the archive part of RestoreSnapshot alone
// (ScanArchive, CheckListing, UnpackArchive into a staging directory).
void BM_UnpackSnapshotReal(benchmark::State& state) {
  const auto points = static_cast<size_t>(state.range(0));
  const bool save_wal = state.range(1) != 0;
  RealWorld& world = RealWorld::Get();
  if (auto status = world.EnsureArchive(points, save_wal); !status.ok()) {
    Skip(state, status.ToString());
    return;
  }
  world.DropShards();
  engine::FileSystem& fs = world.env().fs();
  const std::string archive = RealWorld::ArchivePath(points, save_wal);
  const std::string staging = fmt::format("unpacked-{}.staging", points);
  uint64_t archive_bytes = 0;
  double growth_mb = 0;
  Rss before = ResetPeakRss();
  for (auto _ : state) {
    auto scan = engine::ScanArchive(fs, archive, {});
    auto manifest = scan.ok() ? engine::CheckListing(*scan, true) : scan.status();
    absl::Status status = manifest.status();
    if (status.ok()) status = engine::UnpackArchive(fs, archive, staging, *scan, *manifest, {});
    state.PauseTiming();
    if (!status.ok()) {
      Skip(state, status.ToString());
      state.ResumeTiming();
      return;
    }
    growth_mb = std::max(growth_mb, ReadRss().peak_mb - before.now_mb);
    std::filesystem::remove_all(std::filesystem::path(world.root()) / staging);
    auto file = fs.Open(archive, engine::OpenMode::kRead);
    archive_bytes = file.ok() ? (*file)->Size().value_or(0) : 0;
    before = ResetPeakRss();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(int64_t(archive_bytes) * state.iterations());
  state.counters["archive_bytes"] = double(archive_bytes);
  state.counters["unpack_peak_growth_mb"] = growth_mb;
  state.SetLabel(save_wal ? "archive with WAL" : "archive without WAL");
}

// Both archive kinds (save_wal 0 and 1) of 1k and 10k points, five
// iterations each, and of 100k points, two iterations.
void RegisterForEveryShardSize(const char* name, void (*run)(benchmark::State&)) {
  struct Sizes {
    std::vector<int64_t> points;
    int64_t iterations;
  };
  for (const Sizes& sizes : {Sizes{{1000, 10000}, 5}, Sizes{{100000}, 2}}) {
    benchmark::internal::Benchmark* registered = benchmark::RegisterBenchmark(name, run);
    registered->ArgNames({"points", "save_wal"});
    for (const int64_t points : sizes.points) registered->Args({points, 0})->Args({points, 1});
    registered->Iterations(sizes.iterations)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
}

const bool kRegistered = [] {
  RegisterForEveryShardSize("BM_CreateSnapshotReal", BM_CreateSnapshotReal);
  RegisterForEveryShardSize("BM_RestoreSnapshotReal", BM_RestoreSnapshotReal);
  RegisterForEveryShardSize("BM_UnpackSnapshotReal", BM_UnpackSnapshotReal);
  RegisterForEveryShardSize("BM_RestoreMemoryReal", BM_RestoreMemoryReal);
  return true;
}();

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("simulated SSD model (cost=1): %s; cost=0: virtual time moves only by the scheduler's 1 us step quantum\n",
              bench::Describe(bench::kSsd).c_str());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  bench::RealWorld::Get().TearDown();
  return 0;
}
