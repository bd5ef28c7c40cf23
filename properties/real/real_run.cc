#include "properties/real/real_run.h"

#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/snapshot/collection_snapshot.h"
#include "engine/snapshot/snapshot_create.h"
#include "properties/read_check.h"
#include "properties/real/real_run_internal.h"
#include "properties/run_config.h"
#include "properties/workload.h"

namespace properties {

namespace {

// Streams of the seed of their own, apart from the simulated run's.
constexpr uint64_t kRealClientStream = 0x5245'414c'434c'4e54ull;      // "REALCLNT"
constexpr uint64_t kRealSupervisorStream = 0x5245'414c'5355'5056ull;  // "REALSUPV"
constexpr uint64_t kRealWideStream = 0x5245'414c'5749'4445ull;        // "REALWIDE"

}  // namespace

uint64_t RealClientStreamSeed(uint64_t seed, size_t epoch, int client) {
  return seed ^ kRealClientStream ^ ((uint64_t{epoch} << 32 | static_cast<uint32_t>(client)) * 0x9e37'79b9'7f4a'7c15ull);
}

void RealRun::Observer::OnWalAppend(engine::SeqNumber op_num, const engine::WalRecord& record) {
  std::lock_guard lock(run_.mutex_);
  run_.history_.OnWalAppend(op_num, record);
}

void RealRun::Observer::OnWalSynced(uint64_t next_index) {
  std::lock_guard lock(run_.mutex_);
  run_.history_.OnWalSynced(next_index);
}

RealRun::RealRun(const RealRunConfig& config)
    : config_(config),
      drawn_(RealDraw(config.seed, config.crash)),
      log_file_(std::fopen(fmt::format("{}/run.log", config.dir).c_str(), "w")),
      env_(config.dir, [this](std::string_view line) { LogLine(line); }),
      supervisor_decisions_(config.seed ^ kRealSupervisorStream) {
  history_.set_verbose(config.verbose);
}

RealRun::~RealRun() {
  if (log_file_ != nullptr) std::fclose(log_file_);
}

void RealRun::LogLine(std::string_view line) {
  std::lock_guard lock(log_mutex_);
  if (log_file_ != nullptr) std::fprintf(log_file_, "%.*s\n", static_cast<int>(line.size()), line.data());
  if (config_.verbose) std::printf("log: %.*s\n", static_cast<int>(line.size()), line.data());
}

engine::ShardOptions RealRun::RestoreOptions() { return ShardOptionsOf(drawn_); }

engine::ShardOptions RealRun::Options() {
  engine::ShardOptions options = RestoreOptions();
  options.observer = &observer_;
  return options;
}

void RealRun::Fail(std::string invariant, std::string what) {
  std::lock_guard lock(mutex_);
  if (!failure_.empty()) return;
  if (config_.verbose) std::printf("FAILURE %s: %s\n", invariant.c_str(), what.c_str());
  invariant_ = std::move(invariant);
  failure_ = std::move(what);
}

bool RealRun::failed() {
  std::lock_guard lock(mutex_);
  return !failure_.empty();
}

void RealRun::FailOnError(std::string_view what, const absl::Status& status) {
  if (status.ok()) return;
  Fail("unexpected-error", fmt::format("{} failed with no fault injected: {}", what, status.ToString()));
}

RealRunResult RealRun::Execute() {
  // Kill -9 mode: at least two engine processes, each killed at times.
  const size_t epochs = static_cast<size_t>(std::max(drawn_.crashes, 0)) + (config_.crash ? 2 : 1);
  if (config_.crash && drawn_.collection.dimension == kWideDimension) crash_stats_.wide_runs = 1;
  if (config_.verbose) std::printf("config: %s\n", ConfigLine(drawn_).c_str());
  for (size_t epoch = 0; epoch < epochs && !failed(); ++epoch) RunEpoch(epoch);
  // The final reload: everything written is back after the last clean stop.
  if (!failed()) {
    if (auto shard = LoadAndCheck()) FailOnError("final shutdown", shard->Shutdown());
  }
  if (!failed()) CheckRestores();
  std::lock_guard lock(mutex_);
  RealRunResult result{.passed = failure_.empty(), .invariant = invariant_, .failure = failure_, .drawn = drawn_,
                       .stats = stats_, .crash = crash_stats_, .log = log_};
  for (const TakenSnapshot& snapshot : snapshots_) result.archives.push_back(snapshot.path);
  return result;
}

void RealRun::RunEpoch(size_t epoch) {
  if (epoch > 0) MaybeRestoreOverLive(epoch);
  if (failed()) return;
  if (config_.crash) {
    RunChildEpoch(epoch);
    return;
  }
  std::unique_ptr<engine::LocalShard> shard = LoadAndCheck();
  if (shard == nullptr) return;
  if (config_.verbose) std::printf("epoch %zu: %d clients\n", epoch, drawn_.clients);
  std::vector<std::thread> clients;
  for (int client = 0; client < drawn_.clients; ++client) {
    clients.emplace_back([this, &shard, epoch, client] { Client(*shard, epoch, client); });
  }
  for (std::thread& client : clients) client.join();
  CheckAfterClients(*shard);
  FailOnError("shutdown", shard->Shutdown());
  // (The drawn crash of a simulated epoch is a clean stop here.)
  WithHistory([](History& history) { history.NoteCleanStop(); });
}

std::unique_ptr<engine::LocalShard> RealRun::LoadAndCheck() {
  auto loaded = engine::LocalShard::Load(env_, kRealShardDir, Options());
  if (!loaded.ok()) {
    Fail("recovery", fmt::format("shard load failed with no fault injected: {}", loaded.status().ToString()));
    return nullptr;
  }
  Count(&ShardRunStats::reloads);
  if (!CheckRecovered(**loaded)) {
    (void)(*loaded)->Shutdown();
    return nullptr;
  }
  return std::move(*loaded);
}

bool RealRun::CheckRecovered(engine::LocalShard& shard, std::string_view context) {
  const std::string invariant = context.empty() ? "recovery" : "restore-atomicity";
  const std::string prefix = context.empty() ? "" : fmt::format("{}: ", context);
  const engine::LocalShard::Summary summary = shard.Summarize();
  std::optional<std::string> failure;
  ReferenceModel model;
  {
    std::lock_guard lock(mutex_);
    failure = history_.NoteRecovered(summary.wal_next_index);
    if (!failure) model = history_.ModelBelow(summary.wal_next_index);
  }
  if (failure) {
    Fail(invariant, prefix + *failure);
    return false;
  }
  const std::vector<engine::Point> actual = shard.Scroll(nullptr, std::nullopt, SIZE_MAX);
  const std::vector<engine::Point> expected = ExpectedPoints(model, drawn_.collection);
  if (actual != expected) {
    Fail(invariant, prefix + fmt::format("reloaded shard (WAL continues at {}) holds {}, the model holds {}",
                                         summary.wal_next_index, DescribePoints(actual), DescribePoints(expected)));
    return false;
  }
  if (auto broken = shard.CheckStructure()) {
    Fail("structure", prefix + fmt::format("reloaded shard: {}", *broken));
    return false;
  }
  return true;
}

void RealRun::Client(engine::LocalShard& shard, size_t epoch, int client) {
  sim::PrngSource decisions(RealClientStreamSeed(config_.seed, epoch, client));
  Workload workload(decisions, drawn_);
  for (int count = 0; count < drawn_.ops_per_client && !failed(); ++count) {
    const Step step = workload.NextStep(client);
    Execute(shard, step);
  }
}

void RealRun::Execute(engine::LocalShard& shard, const Step& step) {
  switch (step.action) {
    case Action::kUpdate: DoUpdate(shard, step); break;
    case Action::kDeleteByFilter: {
      const auto applied_before = WithHistory([](const History& history) { return history.applied_through(); });
      auto result = shard.DeleteByFilter(step.filter, step.wait);
      if (result.ok()) {
        NoteUpdateResult(*result);
        SS_ASSERT(result->op_num.has_value(), "a delete-by-filter without an op");
        const auto with_history = [this](const auto& fn) { return WithHistory(fn); };
        const std::optional<std::string> failure =
            CheckDeleteByFilterIds(step.filter, applied_before, *result->op_num, with_history);
        Count(&ShardRunStats::reads_checked);
        if (failure) Fail("read", *failure);
      }
      FailOnError("delete by filter", result.status());
      break;
    }
    case Action::kRetrieve:
    case Action::kScroll:
    case Action::kCount:
    case Action::kSearch: {
      const auto with_history = [this](const auto& fn) { return WithHistory(fn); };
      const std::optional<std::string> failure = CheckReadStep(shard, step, drawn_.collection, with_history);
      Count(&ShardRunStats::reads_checked);
      if (failure) Fail("read", *failure);
      break;
    }
    case Action::kPlunge: Plunge(shard); break;
    case Action::kFlush: FailOnError("flush", shard.FlushAndAck(false)); break;
    case Action::kFreeze: {
      auto kept = shard.ProxyAllSegmentsAndApply([](engine::SegmentId, engine::SegmentEntry& frozen) {
        (void)frozen.LiveIds();
        return absl::OkStatus();
      });
      Count(&ShardRunStats::freezes);
      FailOnError("proxy_all_segments_and_apply", kept.status());
      break;
    }
    case Action::kSnapshot: Snapshot(shard, SnapshotKind::kShard, step.save_wal); break;
    case Action::kOptimize: Optimize(shard, /*vacuum=*/false); break;
    case Action::kVacuum: Optimize(shard, /*vacuum=*/true); break;
    case Action::kCancelOptimize: shard.CancelOptimizations(); break;
    case Action::kPartialSnapshot: Snapshot(shard, SnapshotKind::kPartial, false); break;
    case Action::kCollectionSnapshot: Snapshot(shard, SnapshotKind::kCollection, step.save_wal); break;
  }
}

void RealRun::DoUpdate(engine::LocalShard& shard, const Step& step) {
  SS_ASSERT(step.record.has_value(), "an update step carries its record");
  auto result = shard.Update(*step.record, step.wait);
  if (!result.ok() && step.record->clock_tag) {
    WithHistory([&](History& history) { history.NoteClockAdvancedWithoutWrite(*step.record->clock_tag); });
  }
  FailOnError("update", result.status());
  if (result.ok()) NoteUpdateResult(*result);
}

void RealRun::NoteUpdateResult(const engine::UpdateResult& result) {
  std::lock_guard lock(mutex_);
  NoteUpdateOutcome(result, history_, stats_);
}

void RealRun::Plunge(engine::LocalShard& shard) {
  // Only ops whose update call returned are surely queued before it.
  const auto queued = WithHistory([](History& history) { return history.acknowledged_through(); });
  const absl::Status plunged = shard.Plunge();
  FailOnError("plunger", plunged);
  if (plunged.ok() && queued) WithHistory([&](History& history) { history.NoteApplied(*queued); });
}

void RealRun::Optimize(engine::LocalShard& shard, bool vacuum) {
  auto optimized = vacuum ? shard.OptimizeVacuum() : shard.OptimizeMerge();
  if (optimized.ok() && *optimized) Count(&ShardRunStats::optimizations);
  // Another client may cancel it (cancel-optimize): nothing may be lost then.
  if (!optimized.ok() && !absl::IsCancelled(optimized.status())) {
    FailOnError(vacuum ? "vacuum optimization" : "merge optimization", optimized.status());
  }
}

void RealRun::Snapshot(engine::LocalShard& shard, SnapshotKind kind, bool save_wal) {
  std::optional<size_t> base;
  std::string path;
  {
    std::lock_guard lock(mutex_);
    if (kind == SnapshotKind::kPartial) {
      // Against the newest WAL-less full snapshot of this lineage (the
      // receiver is that snapshot restored).
      for (size_t index = lineage_start_; index < snapshots_.size(); ++index) {
        if (snapshots_[index].kind == SnapshotKind::kShard && !snapshots_[index].save_wal) base = index;
      }
      if (!base) return;
    }
    const char* prefix = kind == SnapshotKind::kShard ? "snapshot" : kind == SnapshotKind::kPartial ? "partial"
                                                                                                    : "collection";
    path = fmt::format("{}-{}.tar", prefix, snapshot_counter_++);
  }
  const auto applied_before = WithHistory([](History& history) { return history.applied_through(); });
  absl::StatusOr<engine::SnapshotInfo> info = absl::UnknownError("unset");
  if (kind == SnapshotKind::kShard) {
    info = CreateSnapshot(shard, save_wal, path);
  } else if (kind == SnapshotKind::kPartial) {
    // (A copy: other clients' snapshots grow snapshots_ meanwhile.)
    const engine::SnapshotManifest receiver = WithHistory([&](History&) { return snapshots_[*base].manifest; });
    info = CreatePartialSnapshot(shard, receiver, path);
  } else {
    auto collection = engine::CreateCollectionSnapshot(env_, {{0, &shard}}, path, save_wal);
    info = collection.ok() ? absl::StatusOr<engine::SnapshotInfo>(collection->shards.at(0)) : collection.status();
  }
  FailOnError(fmt::format("snapshot {}", path), info.status());
  if (!info.ok()) return;
  std::lock_guard lock(mutex_);
  ++(kind == SnapshotKind::kPartial      ? stats_.partial_snapshots
     : kind == SnapshotKind::kCollection ? stats_.collection_snapshots
     : save_wal                          ? stats_.snapshots_with_wal
                                         : stats_.snapshots_without_wal);
  TakenSnapshot taken = MakeTakenSnapshot(kind, path, save_wal, *info, applied_before, history_);
  taken.base = base;
  snapshots_.push_back(std::move(taken));
}

void RealRun::CheckAfterClients(engine::LocalShard& shard) {
  if (failed()) return;
  if (const size_t proxies = shard.ProxyCount(); proxies != 0) {
    Fail("structure", fmt::format("{} proxies left in the holder after every client finished", proxies));
  }
  for (const auto& [id, segments] : shard.LiveCopies()) {
    if (segments.size() != 1) {
      Fail("structure", fmt::format("point {} has {} live copies", id, segments.size()));
      break;
    }
  }
}

ShardRunConfig RealDraw(uint64_t seed, bool crash) {
  ShardRunConfig config = ShardRunConfig::Draw(seed);
  if (crash && sim::PrngSource(seed ^ kRealWideStream).Chance(0.25)) {
    config.collection.dimension = kWideDimension;
    config.wal_segment_capacity_bytes = kWideWalSegmentCapacityBytes;
  }
  return config;
}

RealRunResult RunRealShard(const RealRunConfig& config) {
  RealRun run(config);
  return run.Execute();
}

}  // namespace properties
