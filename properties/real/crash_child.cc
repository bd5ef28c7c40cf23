#include "properties/real/crash_child.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "engine/env/posix_env.h"
#include "engine/snapshot/collection_snapshot.h"
#include "engine/snapshot/restore.h"
#include "engine/snapshot/snapshot_create.h"
#include "properties/real/crash_protocol.h"
#include "properties/real/kill_in_write.h"
#include "properties/real/real_run.h"
#include "properties/workload.h"

namespace properties {

namespace {

// One write(2) per message, under a mutex: client threads and the engine's
// threads report concurrently, and a line must never interleave another.
class Reporter {
 public:
  explicit Reporter(int fd) : fd_(fd) {}
  void Send(const crash::Message& message) {
    const std::string line = crash::Encode(message);
    std::lock_guard lock(mutex_);
    size_t written = 0;
    // Bounded: a pipe write either progresses or fails.
    for (int attempt = 0; written < line.size() && attempt < 1000; ++attempt) {
      const ssize_t count = ::write(fd_, line.data() + written, line.size() - written);
      if (count < 0 && errno == EINTR) continue;
      if (count <= 0) _exit(2);  // the parent is gone: nothing to report to
      written += static_cast<size_t>(count);
    }
  }

 private:
  const int fd_;
  std::mutex mutex_;
};

class ReportingObserver final : public engine::ShardObserver {
 public:
  explicit ReportingObserver(Reporter& reporter) : reporter_(reporter) {}
  void OnWalAppend(engine::SeqNumber op_num, const engine::WalRecord& record) override {
    reporter_.Send(crash::Appended{op_num, record});
  }
  void OnWalSynced(uint64_t next_index) override { reporter_.Send(crash::Synced{next_index}); }

 private:
  Reporter& reporter_;
};

class CrashChild {
 public:
  explicit CrashChild(const CrashChildConfig& config)
      : config_(config), drawn_(RealDraw(config.seed, /*crash=*/true)), env_(config.dir), reporter_(config.report_fd) {
    if (config.kill_in_write) {
      kill_env_ = std::make_unique<KillInWriteEnv>(env_, *config.kill_in_write,
                                                   [this] { reporter_.Send(crash::Phase{"wal-write"}); });
    }
  }

  int Restore();
  int Run();

 private:
  engine::ShardOptions Options(bool observed) {
    engine::ShardOptions options = ShardOptionsOf(drawn_);
    if (observed) options.observer = &observer_;
    return options;
  }
  // Reports a failed call (`F`); returns false if it failed.
  bool Check(std::string_view what, const absl::Status& status) {
    if (status.ok()) return true;
    failed_ = true;
    reporter_.Send(crash::Failed{fmt::format("{}: {}", what, status.ToString())});
    return false;
  }
  void Client(engine::LocalShard& shard, int client);
  void Execute(engine::LocalShard& shard, int client, const Step& step);
  void Update(engine::LocalShard& shard, int client, const engine::WalRecord& record, bool wait);
  void Snapshot(engine::LocalShard& shard, Action action, bool save_wal);
  void NoteApplied(engine::SeqNumber op_num) {
    int64_t seen = applied_through_.load();
    while (static_cast<int64_t>(op_num) > seen && !applied_through_.compare_exchange_weak(seen, op_num)) {
    }
  }
  std::optional<engine::SeqNumber> AppliedThrough() const {
    const int64_t value = applied_through_.load();
    return value < 0 ? std::nullopt : std::optional<engine::SeqNumber>(value);
  }

  const CrashChildConfig& config_;
  const ShardRunConfig drawn_;
  engine::PosixEnv env_;
  std::unique_ptr<KillInWriteEnv> kill_env_;  // with a kill inside a write
  engine::Env& env() { return kill_env_ ? static_cast<engine::Env&>(*kill_env_) : env_; }
  Reporter reporter_;
  ReportingObserver observer_{reporter_};
  std::atomic<bool> failed_{false};
  std::atomic<int64_t> acknowledged_through_{-1};
  std::atomic<int64_t> applied_through_{-1};
  std::mutex bases_mutex_;
  // WAL-less shard snapshots of this process: a partial snapshot's receiver.
  std::vector<std::pair<std::string, engine::SnapshotManifest>> bases_;
  int snapshot_counter_ = 0;
};

int CrashChild::Restore() {
  reporter_.Send(crash::Phase{"restore"});
  auto restored = engine::RestoreSnapshot(env(), *config_.restore_archive, kRealShardDir, Options(false));
  if (!Check("restore over the live shard", restored.status())) return 1;
  reporter_.Send(crash::RestoreDone{});
  if (!Check("restored shard shutdown", (*restored)->Shutdown())) return 1;
  reporter_.Send(crash::Ended{});
  return 0;
}

int CrashChild::Run() {
  // A load repairs what the last kill left (torn WAL tails, half-made
  // segments): killed midway, the next load must still recover.
  reporter_.Send(crash::Phase{"load"});
  auto loaded = engine::LocalShard::Load(env(), kRealShardDir, Options(true));
  if (!Check("shard load", loaded.status())) return 1;
  engine::LocalShard& shard = **loaded;
  reporter_.Send(crash::Loaded{shard.Summarize().wal_next_index});
  std::vector<std::thread> clients;
  for (int client = 0; client < drawn_.clients; ++client) {
    clients.emplace_back([this, &shard, client] { Client(shard, client); });
  }
  for (std::thread& client : clients) client.join();
  if (!Check("shutdown", shard.Shutdown()) || failed_) return 1;
  reporter_.Send(crash::Ended{});
  return 0;
}

void CrashChild::Client(engine::LocalShard& shard, int client) {
  sim::PrngSource decisions(RealClientStreamSeed(config_.seed, config_.epoch, client));
  Workload workload(decisions, drawn_);
  for (int count = 0; count < drawn_.ops_per_client && !failed_; ++count) {
    Execute(shard, client, workload.NextStep(client));
  }
}

void CrashChild::Execute(engine::LocalShard& shard, int client, const Step& step) {
  switch (step.action) {
    case Action::kUpdate: Update(shard, client, *step.record, step.wait); break;
    case Action::kDeleteByFilter: {
      // As LocalShard::DeleteByFilter does it, with the record known before
      // the call (its `I` line).
      std::vector<engine::PointId> ids;
      for (const engine::Point& point : shard.Scroll(&step.filter, std::nullopt, SIZE_MAX)) ids.push_back(point.id);
      Update(shard, client, engine::WalRecord{engine::DeletePoints{std::move(ids)}, std::nullopt}, step.wait);
      break;
    }
    case Action::kRetrieve: (void)shard.Retrieve(step.id); break;
    case Action::kScroll: (void)shard.Scroll(&step.filter, std::nullopt, SIZE_MAX); break;
    case Action::kCount: (void)shard.Count(&step.filter); break;
    case Action::kSearch: (void)shard.Search(step.vector, nullptr, step.k); break;
    case Action::kPlunge: {
      const int64_t queued = acknowledged_through_.load();
      if (Check("plunger", shard.Plunge()) && queued >= 0) {
        NoteApplied(static_cast<engine::SeqNumber>(queued));
        reporter_.Send(crash::Plunged{static_cast<engine::SeqNumber>(queued)});
      }
      break;
    }
    case Action::kFlush:
      reporter_.Send(crash::Phase{"flush"});
      Check("flush", shard.FlushAndAck(false));
      break;
    case Action::kFreeze: {
      reporter_.Send(crash::Phase{"freeze"});
      auto kept = shard.ProxyAllSegmentsAndApply([](engine::SegmentId, engine::SegmentEntry& frozen) {
        (void)frozen.LiveIds();
        return absl::OkStatus();
      });
      Check("proxy_all_segments_and_apply", kept.status());
      break;
    }
    case Action::kOptimize:
    case Action::kVacuum: {
      const bool vacuum = step.action == Action::kVacuum;
      reporter_.Send(crash::Phase{vacuum ? "vacuum" : "optimize"});
      auto optimized = vacuum ? shard.OptimizeVacuum() : shard.OptimizeMerge();
      if (!absl::IsCancelled(optimized.status())) Check(vacuum ? "vacuum" : "merge", optimized.status());
      break;
    }
    case Action::kCancelOptimize: shard.CancelOptimizations(); break;
    case Action::kSnapshot:
    case Action::kPartialSnapshot:
    case Action::kCollectionSnapshot: Snapshot(shard, step.action, step.save_wal); break;
  }
}

void CrashChild::Update(engine::LocalShard& shard, int client, const engine::WalRecord& record, bool wait) {
  reporter_.Send(crash::Phase{"update"});
  reporter_.Send(crash::Intent{client, record});
  auto result = shard.Update(record, wait);
  if (!Check("update", result.status())) return;
  if (result->op_num) {
    const bool completed = result->status == engine::UpdateStatus::kCompleted;
    int64_t seen = acknowledged_through_.load();
    while (static_cast<int64_t>(*result->op_num) > seen &&
           !acknowledged_through_.compare_exchange_weak(seen, *result->op_num)) {
    }
    if (completed) NoteApplied(*result->op_num);
    reporter_.Send(crash::Acked{client, *result->op_num, completed});
  }
  reporter_.Send(crash::Returned{client});
}

void CrashChild::Snapshot(engine::LocalShard& shard, Action action, bool save_wal) {
  const char* kind = action == Action::kSnapshot ? "shard" : action == Action::kPartialSnapshot ? "partial" : "collection";
  std::optional<std::pair<std::string, engine::SnapshotManifest>> base;
  std::string path;
  {
    std::lock_guard lock(bases_mutex_);
    if (action == Action::kPartialSnapshot) {
      if (bases_.empty()) return;
      base = bases_.back();
    }
    path = fmt::format("e{}-{}-{}.tar", config_.epoch, kind, snapshot_counter_++);
  }
  reporter_.Send(crash::Phase{"snapshot"});
  const std::optional<engine::SeqNumber> applied_before = AppliedThrough();
  absl::StatusOr<engine::SnapshotInfo> info = absl::UnknownError("unset");
  if (action == Action::kSnapshot) {
    info = CreateSnapshot(shard, save_wal, path);
  } else if (action == Action::kPartialSnapshot) {
    info = CreatePartialSnapshot(shard, base->second, path);
  } else {
    auto collection = engine::CreateCollectionSnapshot(env(), {{0, &shard}}, path, save_wal);
    info = collection.ok() ? absl::StatusOr<engine::SnapshotInfo>(collection->shards.at(0)) : collection.status();
  }
  if (!Check(fmt::format("snapshot {}", path), info.status())) return;
  if (action == Action::kSnapshot && !save_wal) {
    std::lock_guard lock(bases_mutex_);
    bases_.emplace_back(path, info->manifest);
  }
  reporter_.Send(crash::SnapshotMade{.kind = kind,
                                     .path = path,
                                     .save_wal = save_wal,
                                     .frozen_through = info->frozen_through,
                                     .wal_next_index = info->wal_next_index,
                                     .applied_before = applied_before,
                                     .base = base ? std::optional<std::string>(base->first) : std::nullopt});
}

}  // namespace

int RunCrashChild(const CrashChildConfig& config) {
  CrashChild child(config);
  return config.restore_archive ? child.Restore() : child.Run();
}

}  // namespace properties
