// Restores as users do them: a snapshot restored over the live shard that
// holds data (RestoreSnapshot's replace path) between two engine
// processes, sometimes crashed midway or failed by an injected fault. The
// outcome is the old shard (its recovery is checked as usual), the
// snapshot's state (the history continues from there, so every write after
// the restore is checked), or a dirty shard that the operator restores again
// — never a mix (docs/invariants.md I9; a failed one: I11).
//
// And the operator's answer to a shard that refuses to load for good after
// rot of its files was detected: restore the newest snapshot over it, or
// start an empty shard.
#include <cstdio>

#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "engine/snapshot/restore.h"
#include "properties/run.h"

namespace properties {

std::optional<size_t> Run::SnapshotIndexOf(const std::string& path) const {
  for (size_t index = 0; index < snapshots_.size(); ++index) {
    if (snapshots_[index].path == path && snapshots_[index].kind == SnapshotKind::kShard) return index;
  }
  return std::nullopt;
}

std::vector<std::string> Run::RestorableArchives() const {
  std::vector<std::string> archives;
  for (const TakenSnapshot& snapshot : snapshots_) {
    if (snapshot.kind == SnapshotKind::kShard) archives.push_back(snapshot.path);
  }
  return archives;
}

void Run::RestoreOverLive(const std::string& archive) {
  last_restore_replaced_ = false;
  const std::optional<size_t> index = SnapshotIndexOf(archive);
  if (!index) {
    // (A hand-written scenario may name an archive this run never made.)
    if (config_.verbose) std::printf("restore over the live shard: no snapshot %s in this run\n", archive.c_str());
    return;
  }
  const TakenSnapshot& snapshot = snapshots_[*index];
  ++stats_.restores_over_live;
  if (config_.verbose) std::printf("restore %s over the live shard\n", archive.c_str());
  sim::DecisionSource& decisions = world_.decisions();
  const bool crash = decisions.Chance(0.3);
  const std::string flag = engine::InitializingFlagPath(kShardDir);
  for (int attempt = 0; attempt < kMaxRestoreAttempts && !stopping(); ++attempt) {
    const uint64_t started = TraceStep();
    const std::string before = TreeDigest(kShardDir);
    const bool started_dirty = Exists(flag);
    if (attempt == 0 && crash) {
      const sim::CrashKind kind = decisions.Chance(0.5) ? sim::CrashKind::kPowerLoss : sim::CrashKind::kProcessCrash;
      world_.CrashAtStep(TraceStep() + decisions.Between(2, 1500), kind);
    }
    bool replaced = false;
    absl::Status error;
    const sim::ProcessId restorer = world_.StartProcess("restore-over-live", [&] {
      auto restored = engine::RestoreSnapshot(world_.env(), archive, kShardDir, RestoreOptions());
      if (!restored.ok()) {
        error = restored.status();
        return;
      }
      replaced = true;
      if (CheckRestoredState(**restored, *index)) {
        const size_t length = *MatchRestored(**restored, snapshot);
        history_.ResetToRestored(snapshot.history, length, (*restored)->Summarize().wal_next_index,
                                 snapshot.clocks_bound);
        last_restore_replaced_ = true;
        lineage_start_ = snapshots_.size();
      }
      if (auto status = (*restored)->Shutdown(); !status.ok()) FailUnlessFaulty("restored shard shutdown", status, started);
    });
    const bool crashed = world_.WaitProcess(restorer);
    world_.DisarmCrash();
    if (stopping() || (replaced && !crashed)) return;
    if (crashed) {
      ++stats_.restore_over_live_crashes;
      // Old, new or dirty: a dirty shard is restored again (the loop).
      bool settled = false;
      const sim::ProcessId checker = world_.StartProcess("restore-over-live-check", [&] {
        auto shard = engine::LocalShard::Load(world_.env(), kShardDir, RestoreOptions());
        if (!shard.ok()) {
          if (absl::IsFailedPrecondition(shard.status())) return;  // dirty, says so
          NoteError(shard.status());
          // (The old shard may be rotten since before the restore.)
          if (!ledger_.Any(std::min(started, last_good_load_step_))) {
            Fail("restore-atomicity", fmt::format("after a crash during the restore of {} over the live shard, the "
                                                  "load failed: {}", archive, shard.status().ToString()));
          }
          return;  // a fault refused the load: restored again below
        }
        settled = true;
        // The snapshot in full (state, clocks, WAL), or else the old shard:
        // their points alone can be the same, and so can clocks within the
        // snapshot's bound. A restored WAL continues exactly where the
        // archived one did (seed 528032: the old shard, one clock-only op
        // past a WAL snapshot of nothing, was taken for the snapshot).
        auto problem = RestoredProblem(**shard, *index);
        const uint64_t wal_next_index = (*shard)->Summarize().wal_next_index;
        if (!problem && wal_next_index != snapshot.wal_next_index) {
          problem = Problem{"restore-atomicity", fmt::format("its WAL continues at {}, the archive's at {}",
                                                             wal_next_index, snapshot.wal_next_index)};
        }
        if (!problem) {
          const size_t length = *MatchRestored(**shard, snapshot);
          history_.ResetToRestored(snapshot.history, length, (*shard)->Summarize().wal_next_index,
                                   snapshot.clocks_bound);
          last_restore_replaced_ = true;
          lineage_start_ = snapshots_.size();
        } else {
          // Not the snapshot: it must be the old shard, recovered as after
          // the crash that ended its process (or a clean stop).
          recovery_context_ = fmt::format("after a crash during the restore of {} over the live shard (not the "
                                          "snapshot: {})", archive, problem->what);
          if (CheckRecovered(**shard)) history_.NoteCleanStop();
          recovery_context_.clear();
        }
        (void)(*shard)->Shutdown();
      });
      world_.WaitProcess(checker);
      if (settled || stopping()) return;
      continue;
    }
    // The restore returned an error: only a fault excuses it, and it leaves
    // the live shard exactly as it was, or dirty (restored again).
    NoteError(error);
    if (!ledger_.Any(started) && !ArchiveMayBeDamaged(snapshot)) {
      Fail("unexpected-error", fmt::format("the restore of {} over the live shard failed without injected faults: {}",
                                           archive, error.ToString()));
      return;
    }
    ++stats_.restores_failed;
    if (Exists(flag)) continue;
    // A restore of a dirty shard clears the flag only once the snapshot has
    // loaded in place, and the shard it found may already hold the same
    // files (seed 600255583: an earlier attempt swapped them in and failed
    // before clearing the flag; this one failed after), so the digest
    // alone does not say it replaced the shard.
    if (TreeDigest(kShardDir) != before || started_dirty) {
      // Failing only after it cleared the flag, the restore did replace the
      // shard; anything else is a changed live shard.
      bool replaced_anyway = false;
      bool load_refused = false;
      const auto load_outcome = [&] {
        auto shard = engine::LocalShard::Load(world_.env(), kShardDir, RestoreOptions());
        if (!shard.ok()) {
          NoteError(shard.status());
          load_refused = true;
          return;
        }
        if (!RestoredProblem(**shard, *index)) {
          replaced_anyway = true;
          history_.ResetToRestored(snapshot.history, *MatchRestored(**shard, snapshot),
                                   (*shard)->Summarize().wal_next_index, snapshot.clocks_bound);
          last_restore_replaced_ = true;
          lineage_start_ = snapshots_.size();
        }
        (void)(*shard)->Shutdown();
      };
      // A fault injected into the checking load itself refuses it (seed
      // 906091: EIO on a directory sync while loading); only a load that
      // ran without one judges the outcome.
      bool judged = false;
      for (int attempt = 0; attempt < kMaxLoadAttempts && !judged && !stopping(); ++attempt) {
        load_refused = false;
        const uint64_t attempt_start = TraceStep();
        world_.WaitProcess(world_.StartProcess("restore-over-live-outcome", load_outcome));
        judged = !load_refused || !ledger_.Any(attempt_start);
      }
      if (!judged) return;  // never loaded without a fault: nothing to judge
      if (!replaced_anyway) {
        Fail("fault-handling", fmt::format("a failed restore of {} changed the live shard: {}", archive, error.ToString()));
      }
      return;
    }
    if (ArchiveMayBeDamaged(snapshot) && !ledger_.Any(started)) return;  // refused for good; the old shard stays
  }
  // Still dirty after every attempt: each one failed under a fault injected
  // in it, or on an archive that may be damaged (an attempt failing without
  // either failed the run above). A dirty shard refusing to load is what the
  // engine owes then, and nothing after it can be judged (a fuzzer's tape
  // can fault every attempt: issue 14's fuzz_shard run).
  if (Exists(flag) && !stopping()) {
    ++stats_.live_restores_given_up;
    if (config_.verbose) {
      std::printf("the restore of %s over the live shard failed under faults %d times\n", archive.c_str(),
                  kMaxRestoreAttempts);
    }
    EndByFaults();
  }
}

void Run::ReplaceDamagedShard() {
  ++stats_.damaged_shards_replaced;
  refusals_without_fault_in_attempt_ = 0;
  // The old shard's rot goes with it: a replacement that refuses to load is
  // judged by what is on its own disk (else the replacing never ends).
  rot_counts_from_step_ = TraceStep();
  if (config_.verbose) std::printf("the shard refuses to load for good (rot detected): replacing it\n");
  const std::vector<std::string> archives = RestorableArchives();
  if (!archives.empty()) {
    RestoreOverLive(archives.back());
    if (stopping()) return;
    // Replaced if the restore reset the history to its state.
    if (!Exists(engine::InitializingFlagPath(kShardDir)) && last_restore_replaced_) return;
  }
  // No snapshot to fall back on (or it failed too): start an empty shard.
  engine::FileSystem& fs = world_.fs();
  (void)engine::RemoveTree(fs, kShardDir);
  (void)fs.Unlink(engine::InitializingFlagPath(kShardDir));
  (void)fs.SyncDir("");
  history_.ResetToRestored(History::Saved{}, 0, 0, std::nullopt);
  lineage_start_ = snapshots_.size();
}

}  // namespace properties
