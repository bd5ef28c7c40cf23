// Restores of a real-world run: over the live shard between epochs, and
// every snapshot at the end into a directory of its own, each checked as
// in a simulated run (docs/invariants.md I6-I8).
#include <cstdio>

#include <fmt/format.h>

#include "engine/snapshot/collection_snapshot.h"
#include "engine/snapshot/partial_snapshot.h"
#include "engine/snapshot/restore.h"
#include "properties/real/real_run_internal.h"
#include "properties/workload.h"

namespace properties {

namespace {
constexpr char kShardDir[] = "shard";
}  // namespace

void RealRun::MaybeRestoreOverLive() {
  std::vector<std::string> archives;
  {
    std::lock_guard lock(mutex_);
    for (const TakenSnapshot& snapshot : snapshots_) {
      if (snapshot.kind == SnapshotKind::kShard) archives.push_back(snapshot.path);
    }
  }
  Workload supervisor(supervisor_decisions_, drawn_);
  const std::optional<std::string> archive = supervisor.NextRestore(archives);
  if (!archive) return;
  if (config_.verbose) std::printf("restore %s over the live shard\n", archive->c_str());
  size_t index = 0;
  while (WithHistory([&](History&) { return snapshots_[index].path != *archive; })) ++index;
  const TakenSnapshot snapshot = WithHistory([&](History&) { return snapshots_[index]; });
  auto restored = engine::RestoreSnapshot(env_, *archive, kShardDir, RestoreOptions());
  FailOnError(fmt::format("restore of {} over the live shard", *archive), restored.status());
  if (!restored.ok()) return;
  Count(&ShardRunStats::restores_over_live);
  if (auto problem = CheckRestored(**restored, snapshot, drawn_.collection)) {
    Fail(problem->invariant, fmt::format("over the live shard: {}", problem->what));
  } else {
    const size_t length = *MatchRestored(**restored, snapshot, drawn_.collection);
    const uint64_t next_index = (*restored)->Summarize().wal_next_index;
    std::lock_guard lock(mutex_);
    history_.ResetToRestored(snapshot.history, length, next_index);
    lineage_start_ = snapshots_.size();
  }
  FailOnError("restored shard shutdown", (*restored)->Shutdown());
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
