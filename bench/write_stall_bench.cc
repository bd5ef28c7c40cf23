// BM_WriteStallDuringSnapshotSim: in the simulated world, a writer task
// issues wait=true upserts in a loop while the supervisor takes a snapshot of
// a 10k-point shard (dim 64). Each write's latency is measured on the virtual
// clock and in scheduler steps; the maximum during the snapshot is compared
// with the maximum before it, and with the snapshot's own duration. The
// simulated file system has no cost setting (bench/ssd_cost_env.h), so the
// benchmark runs with that plain model (cost=0) and with the modelled SSD
// (cost=1). For the worst write during the snapshot, what it and the update
// worker waited on (lock names from the trace) and what the snapshot task
// was doing meanwhile are printed.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench/snapshot_bench_util.h"
#include "bench/ssd_cost_env.h"
#include "bench/stall_explanation.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/snapshot_create.h"
#include "sim/world.h"

namespace bench {
namespace {

constexpr size_t kStallPoints = 10'000;
constexpr int64_t kBaselineNs = 50'000'000;  // 50 ms of writes before the snapshot

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

// The snapshot, as the snapshot task saw it.
struct SnapshotWindow {
  uint32_t task;
  int64_t start_ns, end_ns;
  // The archiving of the frozen segments: from the snapshot task's first
  // file read after the swap (the swap and the force flush that follows it
  // only write) to the last segment archived (the engine's marks).
  int64_t archiving_from_ns = -1, archiving_to_ns = -1;
};

void FindArchiving(const BlockLog& log, SnapshotWindow& window) {
  bool swapped = false;
  for (const BlockLog::Activity& activity : log.activity()) {
    if (activity.task != window.task || activity.at_ns < window.start_ns) continue;
    if (activity.what == "proxy_all.swapped") swapped = true;
    if (swapped && window.archiving_from_ns < 0 && activity.what.starts_with("read ")) {
      window.archiving_from_ns = activity.at_ns;
    }
    if (activity.what == "proxy_all.applied") window.archiving_to_ns = activity.at_ns;
  }
}

// Sorts the writes into before and during the snapshot, and explains the
// worst during it and the worst that began during the archiving.
void Summarize(const std::vector<WriteSample>& samples, const SnapshotWindow& window, const BlockLog& log,
               sim::Scheduler& scheduler, StallRun& run) {
  run.archiving_ns = window.archiving_to_ns - window.archiving_from_ns;
  const WriteSample* worst = nullptr;
  const WriteSample* worst_archiving = nullptr;
  for (const WriteSample& sample : samples) {
    const int64_t ns = sample.end_ns - sample.start_ns;
    const uint64_t steps = sample.end_step - sample.start_step;
    if (sample.end_ns <= window.start_ns) {
      ++run.baseline_writes;
      run.baseline_max_ns = std::max(run.baseline_max_ns, ns);
      run.baseline_max_steps = std::max(run.baseline_max_steps, steps);
    } else if (sample.start_ns < window.end_ns) {
      ++run.during_writes;
      if (worst == nullptr || ns > worst->end_ns - worst->start_ns) worst = &sample;
      run.during_max_ns = std::max(run.during_max_ns, ns);
      run.during_max_steps = std::max(run.during_max_steps, steps);
      if (sample.start_ns >= window.archiving_from_ns && sample.start_ns < window.archiving_to_ns &&
          ns > run.archiving_max_ns) {
        run.archiving_max_ns = ns;
        worst_archiving = &sample;
      }
    }
  }
  if (worst != nullptr) run.explanation = Explain(log, scheduler, *worst, window.start_ns, window.end_ns);
  if (worst_archiving != nullptr && worst_archiving != worst) {
    run.archiving_explanation = Explain(log, scheduler, *worst_archiving, window.start_ns, window.end_ns);
  }
}

// On a filled shard: writes for kBaselineNs, then a snapshot while writing.
void WriteAcrossASnapshot(engine::Env& env, sim::Scheduler& scheduler, engine::LocalShard& shard, bool save_wal,
                          BlockLog& log, StallRun& run) {
  log.set_on(true);
  std::vector<WriteSample> samples;
  bool stop = false;
  auto writer = env.Spawn("writer", [&] {
    for (uint64_t i = 1; !stop; ++i) {
      const engine::PointId id = (i * 7919) % kStallPoints;
      WriteSample sample{env.NowNanos(), 0, scheduler.decisions(), 0};
      auto written = shard.Update(UpsertOf(id, 1, i), /*wait=*/true);
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
  SnapshotWindow window{.task = scheduler.current(), .start_ns = env.NowNanos(), .end_ns = 0};
  const uint64_t start_step = scheduler.decisions();
  auto info = CreateSnapshot(shard, save_wal, "snap.tar");
  window.end_ns = env.NowNanos();
  const uint64_t end_step = scheduler.decisions();
  stop = true;
  writer->Join();
  log.set_on(false);
  if (!info.ok()) {
    run.error = info.status().ToString();
    return;
  }
  run.archive_bytes = info->archive_bytes;
  run.snapshot_ns = window.end_ns - window.start_ns;
  run.snapshot_steps = end_step - start_step;
  FindArchiving(log, window);
  Summarize(samples, window, log, scheduler, run);
}

StallRun RunStall(uint64_t seed, bool save_wal, bool with_cost) {
  StallRun run;
  sim::World world(sim::WorldConfig{.seed = seed});
  BlockLog log;
  log.Attach(world);
  std::unique_ptr<SsdCostEnv> cost_env;
  if (with_cost) cost_env = std::make_unique<SsdCostEnv>(world.env(), kSsd);
  engine::Env& env = with_cost ? static_cast<engine::Env&>(*cost_env) : world.env();
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
    WriteAcrossASnapshot(env, world.scheduler(), **shard, save_wal, log, run);
    (void)(*shard)->Shutdown();
  });
  if (result.outcome != sim::RunOutcome::kCompleted && run.error.empty()) run.error = result.report;
  return run;
}

// The maxima over all runs; the snapshot figures are means.
void ReportCounters(benchmark::State& state, const std::vector<StallRun>& runs) {
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
}

void PrintRuns(const std::vector<StallRun>& runs, bool save_wal, bool with_cost) {
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

// Args: save_wal, cost (0: the plain world, 1: the modelled SSD). One seed
// per iteration.
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
  ReportCounters(state, runs);
  state.SetLabel(fmt::format("save_wal={} fs={}", save_wal, with_cost ? "ssd-model" : "step-quantum-only"));
  PrintRuns(runs, save_wal, with_cost);
}
BENCHMARK(BM_WriteStallDuringSnapshotSim)
    ->ArgNames({"save_wal", "cost"})
    ->Args({0, 0})->Args({1, 0})->Args({0, 1})->Args({1, 1})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace bench
