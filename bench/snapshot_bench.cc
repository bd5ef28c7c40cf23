// Snapshot and restore cost, and the write stall a snapshot causes.
//
// 1. BM_CreateSnapshotReal: create_snapshot (with and without WAL) of a
//    flushed shard of 1k/10k/100k points (dense, dim 64) on the real world
//    (PosixEnv in a temporary directory under /tmp, removed at exit): wall
//    time per snapshot, archive bytes, bytes per point.
// 2. BM_RestoreSnapshotReal: RestoreSnapshot of those archives, including the
//    load of the restored shard (WAL replay).
// 3. BM_WriteStallDuringSnapshotSim: in the simulated world, a writer task
//    issues wait=true upserts in a loop while the supervisor takes a snapshot
//    of a 10k-point shard (dim 64). Each write's latency is measured on the
//    virtual clock and in scheduler steps; the maximum during the snapshot is
//    compared with the maximum before it, and with the snapshot's own
//    duration. The simulated file system has no cost setting: a file-system
//    call is one scheduling point and virtual time only moves by the
//    scheduler's step quantum (1 us per step) whatever the bytes. So the
//    benchmark runs twice: with that plain model (cost=0) and with a
//    bench-side cost layer (cost=1: each file call sleeps for a modelled
//    SSD's time on the virtual clock, see kSsd) so that archiving megabytes
//    takes realistic virtual time. For the worst write during the snapshot,
//    what it and the update worker waited on (lock names from the trace) and
//    what the snapshot task was doing meanwhile are printed.
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
#include <vector>

#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "engine/env/file_system_wrapper.h"
#include "engine/env/posix_env.h"
#include "engine/shard/forwarding_env.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/restore.h"
#include "engine/snapshot/snapshot_create.h"
#include "sim/world.h"

namespace {

constexpr uint32_t kDimension = 64;
const engine::CollectionConfig kCollection{.dimension = kDimension, .distance = engine::Distance::kDot};
constexpr size_t kBatch = 100;  // points per upsert while filling a shard

void Skip(benchmark::State& state, const std::string& why) { state.SkipWithError(why.c_str()); }

engine::Vector VectorFor(uint64_t id, uint64_t salt) {
  engine::Vector vector(kDimension);
  uint64_t x = id * 0x9E3779B97F4A7C15ull + salt * 0xBF58476D1CE4E5B9ull + 1;
  for (float& value : vector) {
    x ^= x >> 31;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 29;
    value = float(x % 20001) / 10000.0f - 1.0f;
  }
  return vector;
}

engine::WalRecord UpsertOf(engine::PointId first, size_t count, uint64_t salt) {
  engine::UpsertPoints upsert;
  for (engine::PointId id = first; id < first + count; ++id) {
    upsert.points.push_back({id, VectorFor(id, salt), engine::Payload{{"n", int64_t(id)}, {"salt", int64_t(salt)}}});
  }
  return {std::move(upsert), std::nullopt};
}

// Upserts points [0, points) in batches, then forces a flush so that the
// segment files hold every point and the WAL is acked.
absl::Status Fill(engine::LocalShard& shard, size_t points) {
  for (size_t first = 0; first < points; first += kBatch) {
    const size_t count = std::min(kBatch, points - first);
    const bool last = first + count >= points;
    auto result = shard.Update(UpsertOf(first, count, 0), /*wait=*/last);
    if (!result.ok()) return result.status();
  }
  return shard.FlushAndAck(/*force=*/true);
}

// ---------------------------------------------------------------------------
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
  state.counters["points"] = double(points);
  state.counters["archive_bytes"] = double(bytes);
  state.counters["bytes_per_point"] = double(bytes) / double(points);
  state.SetLabel(save_wal ? "save_wal=true" : "save_wal=false");
}
BENCHMARK(BM_CreateSnapshotReal)
    ->ArgNames({"points", "save_wal"})
    ->Args({1000, 0})->Args({1000, 1})
    ->Args({10000, 0})->Args({10000, 1})
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_CreateSnapshotReal)
    ->ArgNames({"points", "save_wal"})
    ->Args({100000, 0})->Args({100000, 1})
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

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
  state.counters["points"] = double(points);
  state.counters["archive_bytes"] = bytes.ok() ? double(bytes->size()) : 0.0;
  state.SetLabel(save_wal ? "archive with WAL" : "archive without WAL");
}
BENCHMARK(BM_RestoreSnapshotReal)
    ->ArgNames({"points", "save_wal"})
    ->Args({1000, 0})->Args({1000, 1})
    ->Args({10000, 0})->Args({10000, 1})
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_RestoreSnapshotReal)
    ->ArgNames({"points", "save_wal"})
    ->Args({100000, 0})->Args({100000, 1})
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---------------------------------------------------------------------------
// The simulated world.

// A modelled SSD, in virtual nanoseconds per call.
struct FsCost {
  int64_t metadata_ns;      // open, mkdir, rmdir, unlink, rename, list, stat, size, truncate
  int64_t data_call_ns;     // fixed part of a read / write / append
  double read_ns_per_byte;  // 1 / bandwidth
  double write_ns_per_byte;
  int64_t sync_ns;  // fdatasync, directory sync
};
constexpr FsCost kSsd{.metadata_ns = 10'000,
                      .data_call_ns = 5'000,
                      .read_ns_per_byte = 0.5,   // 2 GB/s
                      .write_ns_per_byte = 1.0,  // 1 GB/s
                      .sync_ns = 250'000};

// Sleeps on the environment's clock for each call's modelled cost, then
// calls the wrapped file system (the world's tracing one).
class CostFileSystem final : public engine::FileSystemWrapper {
 public:
  CostFileSystem(engine::Env& env, const FsCost& cost, engine::FileSystem& inner)
      : FileSystemWrapper(inner), env_(env), cost_(cost) {}
  absl::StatusOr<std::unique_ptr<engine::File>> Open(std::string_view path, engine::OpenMode mode) override {
    Pay(cost_.metadata_ns);
    auto file = FileSystemWrapper::Open(path, mode);
    if (!file.ok()) return file.status();
    return std::make_unique<CostFile>(*this, std::move(*file));
  }
  absl::Status Mkdir(std::string_view path) override {
    Pay(cost_.metadata_ns);
    return FileSystemWrapper::Mkdir(path);
  }
  absl::Status Rmdir(std::string_view path) override {
    Pay(cost_.metadata_ns);
    return FileSystemWrapper::Rmdir(path);
  }
  absl::Status Unlink(std::string_view path) override {
    Pay(cost_.metadata_ns);
    return FileSystemWrapper::Unlink(path);
  }
  absl::Status Rename(std::string_view from, std::string_view to) override {
    Pay(cost_.metadata_ns);
    return FileSystemWrapper::Rename(from, to);
  }
  absl::Status SyncDir(std::string_view path) override {
    Pay(cost_.sync_ns);
    return FileSystemWrapper::SyncDir(path);
  }
  absl::StatusOr<std::vector<engine::DirEntry>> ListDir(std::string_view path) override {
    Pay(cost_.metadata_ns);
    return FileSystemWrapper::ListDir(path);
  }
  absl::StatusOr<engine::EntryKind> Stat(std::string_view path) override {
    Pay(cost_.metadata_ns);
    return FileSystemWrapper::Stat(path);
  }

 private:
  class CostFile final : public engine::FileWrapper {
   public:
    CostFile(CostFileSystem& fs, std::unique_ptr<engine::File> inner) : FileWrapper(std::move(inner)), fs_(fs) {}
    absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
      fs_.Pay(fs_.cost_.data_call_ns + int64_t(fs_.cost_.read_ns_per_byte * double(out.size())));
      return FileWrapper::ReadAt(offset, out);
    }
    absl::Status WriteAt(uint64_t offset, std::span<const char> data) override {
      fs_.Pay(fs_.cost_.data_call_ns + int64_t(fs_.cost_.write_ns_per_byte * double(data.size())));
      return FileWrapper::WriteAt(offset, data);
    }
    absl::Status Append(std::span<const char> data) override {
      fs_.Pay(fs_.cost_.data_call_ns + int64_t(fs_.cost_.write_ns_per_byte * double(data.size())));
      return FileWrapper::Append(data);
    }
    absl::StatusOr<uint64_t> Size() override {
      fs_.Pay(fs_.cost_.metadata_ns);
      return FileWrapper::Size();
    }
    absl::Status Truncate(uint64_t size_bytes) override {
      fs_.Pay(fs_.cost_.metadata_ns);
      return FileWrapper::Truncate(size_bytes);
    }
    absl::Status Sync() override {
      fs_.Pay(fs_.cost_.sync_ns);
      return FileWrapper::Sync();
    }

   private:
    CostFileSystem& fs_;
  };

  void Pay(int64_t ns) {
    if (ns > 0) env_.SleepForNanos(ns);
  }
  engine::Env& env_;
  const FsCost& cost_;
};

// The world's Env with the cost layer in front of its file system.
class CostEnv final : public engine::testing::ForwardingEnv {
 public:
  CostEnv(engine::Env& inner, const FsCost& cost) : ForwardingEnv(inner, fs_), fs_(inner, cost, inner.fs()) {}

 private:
  CostFileSystem fs_;
};

// What the trace says about blocking: every block of a task, with what it
// waited for and when it ran again; every file call and engine mark.
class BlockLog {
 public:
  struct Block {
    uint32_t task;
    std::string on;
    int64_t from_ns, to_ns;
  };
  struct Activity {
    uint32_t task;
    int64_t at_ns;
    std::string what;
  };

  void Attach(sim::World& world) {
    world.trace().set_listener([this](const sim::TraceEvent& event) {
      if (!on_) return;
      switch (event.kind) {
        case sim::EventKind::kBlock:
          open_[event.task] = {event.task, event.note, event.time_ns, -1};
          break;
        case sim::EventKind::kSchedule: {
          auto it = open_.find(event.task);
          if (it == open_.end()) break;
          it->second.to_ns = event.time_ns;
          blocks_.push_back(std::move(it->second));
          open_.erase(it);
          break;
        }
        case sim::EventKind::kFsCall:
        case sim::EventKind::kMark:
          activity_.push_back({event.task, event.time_ns, event.detail});
          break;
        default:
          break;
      }
    });
  }
  void set_on(bool on) { on_ = on; }
  const std::vector<Block>& blocks() const { return blocks_; }
  const std::vector<Activity>& activity() const { return activity_; }

 private:
  bool on_ = false;
  std::map<uint32_t, Block> open_;
  std::vector<Block> blocks_;
  std::vector<Activity> activity_;
};

struct WriteSample {
  int64_t start_ns, end_ns;
  uint64_t start_step, end_step;
};

struct StallRun {
  int64_t baseline_max_ns = 0, during_max_ns = 0, snapshot_ns = 0;
  // Writes that began while the frozen segments were being archived (from
  // the first segment file read to the last segment archived).
  int64_t archiving_max_ns = 0, archiving_ns = 0;
  uint64_t baseline_max_steps = 0, during_max_steps = 0, snapshot_steps = 0;
  size_t baseline_writes = 0, during_writes = 0;
  uint64_t archive_bytes = 0;
  std::string explanation;            // of the worst write during the snapshot
  std::string archiving_explanation;  // of the worst write during the archiving
  std::string error;
};

constexpr size_t kStallPoints = 10'000;
constexpr int64_t kBaselineNs = 50'000'000;  // 50 ms of writes before the snapshot

std::string Us(int64_t ns) { return fmt::format("{:.1f} us", double(ns) / 1000.0); }

// "first | second ... (n) ... last" of a list of calls.
std::string Abbreviate(const std::vector<std::string>& calls) {
  std::string out;
  if (calls.size() <= 4) {
    for (const std::string& call : calls) out += (out.empty() ? "" : " | ") + call;
    return out;
  }
  return fmt::format("{} | {} ... ({} calls) ... {} | {}", calls[0], calls[1], calls.size(), calls[calls.size() - 2],
                     calls.back());
}

// Why the worst write during the snapshot took long: what the writer and the
// update worker waited on (summed per lock), the longest single wait of each
// on each lock during the whole snapshot, and every task's file calls while
// the worst write ran.
std::string Explain(const BlockLog& log, sim::Scheduler& scheduler, const WriteSample& worst, int64_t snap_start,
                    int64_t snap_end) {
  std::map<std::string, int64_t> waited, longest;
  for (const BlockLog::Block& block : log.blocks()) {
    const std::string_view name = scheduler.TaskName(block.task);
    if (name != "writer" && name != "update_worker") continue;
    if (block.on.starts_with("condition shard.update_channel.not_empty")) continue;  // idle
    const std::string what = fmt::format("{} on {}", name, block.on);
    if (block.to_ns > snap_start && block.from_ns < snap_end) {
      longest[what] = std::max(longest[what], block.to_ns - block.from_ns);
    }
    if (block.to_ns <= worst.start_ns || block.from_ns >= worst.end_ns) continue;
    waited[what] += std::min(block.to_ns, worst.end_ns) - std::max(block.from_ns, worst.start_ns);
  }
  auto top = [](const std::map<std::string, int64_t>& by_what) {
    std::vector<std::pair<int64_t, std::string>> sorted;
    for (const auto& [what, ns] : by_what) sorted.emplace_back(ns, what);
    std::sort(sorted.rbegin(), sorted.rend());
    std::string out;
    for (size_t i = 0; i < sorted.size() && i < 4; ++i) {
      out += fmt::format("{}{} {}", i ? "; " : "", sorted[i].second, Us(sorted[i].first));
    }
    return out.empty() ? std::string("none") : out;
  };
  std::map<std::string, std::vector<std::string>> calls;
  for (const BlockLog::Activity& activity : log.activity()) {
    if (activity.at_ns < worst.start_ns || activity.at_ns > worst.end_ns) continue;
    std::vector<std::string>& list = calls[std::string(scheduler.TaskName(activity.task))];
    if (list.empty() || list.back() != activity.what) list.push_back(activity.what);
  }
  std::string doing;
  for (const auto& [task, list] : calls) doing += fmt::format("\n      {}: {}", task, Abbreviate(list));
  return fmt::format(
      "worst write during the snapshot: {} ({} steps), began {} after the snapshot began\n"
      "    its waits: {}\n    longest single waits during the snapshot: {}\n    file calls meanwhile:{}",
      Us(worst.end_ns - worst.start_ns), worst.end_step - worst.start_step, Us(worst.start_ns - snap_start),
      top(waited), top(longest), doing);
}

StallRun RunStall(uint64_t seed, bool save_wal, bool with_cost) {
  StallRun run;
  sim::World world(sim::WorldConfig{.seed = seed});
  BlockLog log;
  log.Attach(world);
  std::unique_ptr<CostEnv> cost_env;
  if (with_cost) cost_env = std::make_unique<CostEnv>(world.env(), kSsd);
  engine::Env& env = with_cost ? static_cast<engine::Env&>(*cost_env) : world.env();
  sim::Scheduler& scheduler = world.scheduler();
  const sim::RunResult result = world.RunSupervisor([&] {
    auto shard = engine::LocalShard::Load(env, "shard", {.collection = kCollection});
    if (!shard.ok()) {
      run.error = shard.status().ToString();
      return;
    }
    if (auto status = Fill(**shard, kStallPoints); !status.ok()) {
      run.error = status.ToString();
      return;
    }
    log.set_on(true);
    std::vector<WriteSample> samples;
    bool stop = false;
    auto writer = env.Spawn("writer", [&] {
      for (uint64_t i = 1; !stop; ++i) {
        const engine::PointId id = (i * 7919) % kStallPoints;
        WriteSample sample{env.NowNanos(), 0, scheduler.decisions(), 0};
        auto written = (*shard)->Update(UpsertOf(id, 1, i), /*wait=*/true);
        sample.end_ns = env.NowNanos();
        sample.end_step = scheduler.decisions();
        if (!written.ok()) {
          run.error = written.status().ToString();
          return;
        }
        samples.push_back(sample);
      }
    });
    env.SleepForNanos(kBaselineNs);
    const uint32_t snapshot_task = scheduler.current();
    const int64_t snap_start = env.NowNanos();
    const uint64_t snap_start_step = scheduler.decisions();
    auto info = CreateSnapshot(**shard, save_wal, "snap.tar");
    const int64_t snap_end = env.NowNanos();
    const uint64_t snap_end_step = scheduler.decisions();
    stop = true;
    writer->Join();
    log.set_on(false);
    if (!info.ok()) {
      run.error = info.status().ToString();
      return;
    }
    run.archive_bytes = info->archive_bytes;
    run.snapshot_ns = snap_end - snap_start;
    run.snapshot_steps = snap_end_step - snap_start_step;
    // The archiving of the frozen segments: from the snapshot task's first
    // file read after the swap (the swap and the force flush that follows it
    // only write) to the last segment archived (the engine's marks).
    int64_t archiving_from = -1, archiving_to = -1;
    bool swapped = false;
    for (const BlockLog::Activity& activity : log.activity()) {
      if (activity.task != snapshot_task || activity.at_ns < snap_start) continue;
      if (activity.what == "proxy_all.swapped") swapped = true;
      if (swapped && archiving_from < 0 && activity.what.starts_with("read ")) archiving_from = activity.at_ns;
      if (activity.what == "proxy_all.applied") archiving_to = activity.at_ns;
    }
    run.archiving_ns = archiving_to - archiving_from;
    const WriteSample* worst = nullptr;
    const WriteSample* worst_archiving = nullptr;
    for (const WriteSample& sample : samples) {
      const int64_t ns = sample.end_ns - sample.start_ns;
      const uint64_t steps = sample.end_step - sample.start_step;
      if (sample.end_ns <= snap_start) {
        ++run.baseline_writes;
        run.baseline_max_ns = std::max(run.baseline_max_ns, ns);
        run.baseline_max_steps = std::max(run.baseline_max_steps, steps);
      } else if (sample.start_ns < snap_end) {
        ++run.during_writes;
        if (worst == nullptr || ns > worst->end_ns - worst->start_ns) worst = &sample;
        run.during_max_ns = std::max(run.during_max_ns, ns);
        run.during_max_steps = std::max(run.during_max_steps, steps);
        if (sample.start_ns >= archiving_from && sample.start_ns < archiving_to && ns > run.archiving_max_ns) {
          run.archiving_max_ns = ns;
          worst_archiving = &sample;
        }
      }
    }
    if (worst != nullptr) run.explanation = Explain(log, scheduler, *worst, snap_start, snap_end);
    if (worst_archiving != nullptr && worst_archiving != worst) {
      run.archiving_explanation = Explain(log, scheduler, *worst_archiving, snap_start, snap_end);
    }
    (void)(*shard)->Shutdown();
  });
  if (result.outcome != sim::RunOutcome::kCompleted && run.error.empty()) run.error = result.report;
  return run;
}

// Args: save_wal, cost (0: the plain world, 1: the modelled SSD). Three
// seeds; the maxima are over all seeds, the snapshot duration is the mean.
void BM_WriteStallDuringSnapshotSim(benchmark::State& state) {
  const bool save_wal = state.range(0) != 0;
  const bool with_cost = state.range(1) != 0;
  std::vector<StallRun> runs;
  uint64_t seed = 1;
  for (auto _ : state) {
    runs.push_back(RunStall(seed++, save_wal, with_cost));
    if (!runs.back().error.empty()) {
      Skip(state, runs.back().error);
      return;
    }
  }
  StallRun total;
  double snapshot_ns = 0, snapshot_steps = 0, archiving_ns = 0;
  for (const StallRun& run : runs) {
    total.baseline_max_ns = std::max(total.baseline_max_ns, run.baseline_max_ns);
    total.during_max_ns = std::max(total.during_max_ns, run.during_max_ns);
    total.baseline_max_steps = std::max(total.baseline_max_steps, run.baseline_max_steps);
    total.during_max_steps = std::max(total.during_max_steps, run.during_max_steps);
    total.baseline_writes += run.baseline_writes;
    total.during_writes += run.during_writes;
    snapshot_ns += double(run.snapshot_ns);
    archiving_ns += double(run.archiving_ns);
    total.archiving_max_ns = std::max(total.archiving_max_ns, run.archiving_max_ns);
    snapshot_steps += double(run.snapshot_steps);
  }
  const double n = double(runs.size());
  state.counters["max_write_us_no_snap"] = double(total.baseline_max_ns) / 1000.0;
  state.counters["max_write_us_snap"] = double(total.during_max_ns) / 1000.0;
  state.counters["snapshot_us"] = snapshot_ns / n / 1000.0;
  state.counters["archiving_us"] = archiving_ns / n / 1000.0;
  state.counters["max_write_us_archiving"] = double(total.archiving_max_ns) / 1000.0;
  state.counters["max_write_steps_no_snap"] = double(total.baseline_max_steps);
  state.counters["max_write_steps_snap"] = double(total.during_max_steps);
  state.counters["snapshot_steps"] = snapshot_steps / n;
  state.counters["writes_during_snap"] = double(total.during_writes) / n;
  state.counters["archive_bytes"] = double(runs.front().archive_bytes);
  state.SetLabel(fmt::format("save_wal={} fs={}", save_wal, with_cost ? "ssd-model" : "step-quantum-only"));
  for (size_t i = 0; i < runs.size(); ++i) {
    const StallRun& run = runs[i];
    std::printf(
        "  [stall save_wal=%d fs=%s seed=%zu] snapshot %s (%llu steps), of which archiving the frozen segments %s; "
        "max write: no snapshot %s (%llu steps, %zu writes), during snapshot %s (%llu steps, %zu writes), "
        "began during the archiving %s\n",
        int(save_wal), with_cost ? "ssd-model" : "step-quantum-only", i + 1, Us(run.snapshot_ns).c_str(),
        (unsigned long long)run.snapshot_steps, Us(run.archiving_ns).c_str(), Us(run.baseline_max_ns).c_str(),
        (unsigned long long)run.baseline_max_steps, run.baseline_writes, Us(run.during_max_ns).c_str(),
        (unsigned long long)run.during_max_steps, run.during_writes, Us(run.archiving_max_ns).c_str());
    if (i == 0) std::printf("    %s\n", run.explanation.c_str());
    if (i == 0 && !run.archiving_explanation.empty()) {
      std::printf("    during the archiving, the %s\n", run.archiving_explanation.c_str());
    }
  }
  std::fflush(stdout);
}
BENCHMARK(BM_WriteStallDuringSnapshotSim)
    ->ArgNames({"save_wal", "cost"})
    ->Args({0, 0})->Args({1, 0})->Args({0, 1})->Args({1, 1})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("simulated SSD model (cost=1): metadata %lld ns, data call %lld ns + %.1f ns/B read, %.1f ns/B write, "
              "sync %lld ns; cost=0: virtual time moves only by the scheduler's 1 us step quantum\n",
              (long long)kSsd.metadata_ns, (long long)kSsd.data_call_ns, kSsd.read_ns_per_byte,
              kSsd.write_ns_per_byte, (long long)kSsd.sync_ns);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  RealWorld::Get().TearDown();
  return 0;
}
