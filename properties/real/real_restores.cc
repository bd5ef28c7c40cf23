// Restores of a real-world run: over the live shard between epochs, and
// every snapshot at the end into a directory of its own, each checked as
// in a simulated run (docs/invariants.md I6-I8).
#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/snapshot/collection_snapshot.h"
#include "engine/snapshot/partial_snapshot.h"
#include "engine/snapshot/restore.h"
#include "properties/real/real_run_internal.h"
#include "properties/workload.h"

namespace properties {

namespace {
}  // namespace

void RealRun::MaybeRestoreOverLive(size_t epoch) {
  std::vector<std::string> archives;
  std::vector<size_t> indexes;  // of each archive in snapshots_
  {
    std::lock_guard lock(mutex_);
    for (size_t index = 0; index < snapshots_.size(); ++index) {
      if (snapshots_[index].kind != SnapshotKind::kShard) continue;
      archives.push_back(snapshots_[index].path);
      indexes.push_back(index);
    }
  }
  Workload supervisor(supervisor_decisions_, drawn_);
  const std::optional<std::string> archive = supervisor.NextRestore(archives);
  if (!archive) return;
  if (config_.verbose) std::printf("restore %s over the live shard\n", archive->c_str());
  const auto position = std::find(archives.begin(), archives.end(), *archive);
  SS_ASSERT(position != archives.end(), "restore of {}, which this run never made", *archive);
  const size_t index = indexes[static_cast<size_t>(position - archives.begin())];
  if (config_.crash) {
    RestoreOverLiveInChild(index, epoch);
    return;
  }
  const TakenSnapshot snapshot = WithHistory([&](History&) { return snapshots_[index]; });
  auto restored = engine::RestoreSnapshot(env_, *archive, kRealShardDir, RestoreOptions());
  FailOnError(fmt::format("restore of {} over the live shard", *archive), restored.status());
  if (!restored.ok()) return;
  Count(&ShardRunStats::restores_over_live);
  if (auto problem = CheckRestored(**restored, snapshot, drawn_.collection)) {
    Fail(problem->invariant, fmt::format("over the live shard: {}", problem->what));
  } else {
    const size_t length = *MatchRestored(**restored, snapshot, drawn_.collection);
    const uint64_t next_index = (*restored)->Summarize().wal_next_index;
    std::lock_guard lock(mutex_);
    history_.ResetToRestored(snapshot.history, length, next_index, snapshot.clocks_bound);
    lineage_start_ = snapshots_.size();
  }
  FailOnError("restored shard shutdown", (*restored)->Shutdown());
}

void RealRun::RestoreOverLiveInChild(size_t index, size_t epoch) {
  const TakenSnapshot snapshot = WithHistory([&](History&) { return snapshots_[index]; });
  // Bounded: a dirty shard is restored again, and only the first try is killed.
  constexpr int kMaxAttempts = 5;
  for (int attempt = 0; attempt < kMaxAttempts && !failed(); ++attempt) {
    const KillPlan plan = attempt == 0 ? DrawKillPlan(epoch, /*restore=*/true) : KillPlan{.never = true};
    const ChildOutcome outcome = RunChild(ChildArguments(epoch, snapshot.path), plan);
    log_.push_back(fmt::format("epoch {}: restore {} over the live shard: {}; the engine process {}", epoch,
                               snapshot.path, plan.Describe(), outcome.status));
    if (config_.verbose) std::printf("%s\n", log_.back().c_str());
    if (failed()) return;
    if (outcome.killed) {
      ++crash_stats_.kills;
      ++crash_stats_.kills_by_phase["restore"];
      ++crash_stats_.restores_crashed;
    }
    auto loaded = engine::LocalShard::Load(env_, kRealShardDir, RestoreOptions());
    if (!loaded.ok()) {
      // Dirty, and says so: the operator restores again.
      if (outcome.killed && absl::IsFailedPrecondition(loaded.status())) {
        ++crash_stats_.restores_left_dirty;
        continue;
      }
      Fail("restore-atomicity", fmt::format("after the restore of {} over the live shard ({}), the shard did not "
                                            "load: {}", snapshot.path, outcome.status, loaded.status().ToString()));
      return;
    }
    // The snapshot in full (state, clocks, WAL), or else the old shard.
    auto problem = CheckRestored(**loaded, snapshot, drawn_.collection);
    const uint64_t next_index = (*loaded)->Summarize().wal_next_index;
    if (!problem && next_index != snapshot.wal_next_index) {
      problem = RestoredProblem{"restore-atomicity", fmt::format("its WAL continues at {}, the archive's at {}",
                                                                  next_index, snapshot.wal_next_index)};
    }
    if (!problem) {
      const size_t length = *MatchRestored(**loaded, snapshot, drawn_.collection);
      std::lock_guard lock(mutex_);
      history_.ResetToRestored(snapshot.history, length, next_index, snapshot.clocks_bound);
      lineage_start_ = snapshots_.size();
      ++stats_.restores_over_live;
    } else if (outcome.restore_done) {
      Fail(problem->invariant, fmt::format("the restore of {} over the live shard returned, but: {}", snapshot.path,
                                           problem->what));
    } else if (CheckRecovered(**loaded, fmt::format("after a kill during the restore of {} over the live shard "
                                                    "(not the snapshot: {})", snapshot.path, problem->what))) {
      WithHistory([](History& history) { history.NoteCleanStop(); });
    }
    FailOnError("shutdown after the restore check", (*loaded)->Shutdown());
    return;
  }
  if (!failed()) Fail("restore-atomicity", fmt::format("the restore of {} left the shard dirty {} times", snapshot.path,
                                                       kMaxAttempts));
}

void RealRun::CheckRestores() {
  const size_t count = WithHistory([this](History&) { return snapshots_.size(); });
  for (size_t index = 0; index < count && !failed(); ++index) CheckRestore(index);
}

absl::StatusOr<std::unique_ptr<engine::LocalShard>> RealRun::CallRestore(const TakenSnapshot& snapshot,
                                                                         const std::string& dir) {
  switch (snapshot.kind) {
    case SnapshotKind::kShard: return engine::RestoreSnapshot(env_, snapshot.path, dir, RestoreOptions());
    case SnapshotKind::kPartial:
      return engine::RecoverPartialSnapshot(env_, snapshot.path, dir,
                                            {.shard = RestoreOptions(), .registry = &partial_registry_});
    case SnapshotKind::kCollection: {
      auto restored = engine::RestoreCollectionSnapshot(env_, snapshot.path, dir, RestoreOptions());
      if (!restored.ok()) return restored.status();
      if (restored->size() != 1 || !restored->contains(0)) {
        for (auto& [id, shard] : *restored) (void)shard->Shutdown();
        return absl::InternalError(
            fmt::format("{} restored {} shards, not shard 0 alone", snapshot.path, restored->size()));
      }
      return std::move(restored->at(0));
    }
  }
  return absl::InternalError("unknown snapshot kind");
}

// Into restore-<index>/ (a collection's shard is restore-<index>/0); a
// partial snapshot onto its base restored there first.
void RealRun::CheckRestore(size_t index) {
  const TakenSnapshot snapshot = WithHistory([&](History&) { return snapshots_[index]; });
  const std::string dir = fmt::format("restore-{}", index);
  if (snapshot.kind == SnapshotKind::kPartial) {
    const TakenSnapshot base = WithHistory([&](History&) { return snapshots_[*snapshot.base]; });
    auto restored = CallRestore(base, dir);
    FailOnError(fmt::format("restore of {} (the base of {})", base.path, snapshot.path), restored.status());
    if (!restored.ok()) return;
    if (auto problem = CheckRestored(**restored, base, drawn_.collection)) Fail(problem->invariant, problem->what);
    FailOnError("restored shard shutdown", (*restored)->Shutdown());
    if (failed()) return;
  }
  auto restored = CallRestore(snapshot, dir);
  FailOnError(fmt::format("restore of {}", snapshot.path), restored.status());
  if (!restored.ok()) return;
  Count(snapshot.kind == SnapshotKind::kPartial      ? &ShardRunStats::partial_recoveries
        : snapshot.kind == SnapshotKind::kCollection ? &ShardRunStats::collection_restores
                                                     : &ShardRunStats::restores);
  if (config_.verbose) std::printf("restored %s into %s\n", snapshot.path.c_str(), dir.c_str());
  if (auto problem = CheckRestored(**restored, snapshot, drawn_.collection)) Fail(problem->invariant, problem->what);
  FailOnError("restored shard shutdown", (*restored)->Shutdown());
}

}  // namespace properties
