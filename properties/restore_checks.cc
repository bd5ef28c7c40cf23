// The restore checks at the end of a run (docs/invariants.md I6-I11): each
// snapshot (or a drawn sample) restored into its own directory, sometimes
// crashed midway, must be its promised point in time, and again after a
// power loss; a damaged copy of an archive must be refused; a partial
// snapshot is recovered onto its base restored; a collection snapshot is
// restored as a collection. Under injected faults a restore may fail — an
// error returned is not a bug — but never half-change its target.
#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "engine/snapshot/collection_snapshot.h"
#include "engine/snapshot/restore.h"
#include "properties/run.h"

namespace properties {

void Run::CheckRestores() {
  for (size_t index : RestoresToCheck()) {
    if (stopping()) return;
    RestoreOne(index);
  }
}

std::vector<size_t> Run::RestoresToCheck() {
  std::vector<size_t> all(snapshots_.size());
  for (size_t index = 0; index < all.size(); ++index) all[index] = index;
  if (all.size() <= kRestoresChecked) return all;
  // The newest, and a sample of the others drawn from the world's decisions
  // (so a scenario replays the same sample).
  std::vector<size_t> chosen{all.back()};
  all.pop_back();
  while (chosen.size() < kRestoresChecked) {
    const size_t pick = world_.decisions().Draw(all.size());
    chosen.push_back(all[pick]);
    all.erase(all.begin() + static_cast<ptrdiff_t>(pick));
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

void Run::RestoreOne(size_t index) {
  const std::string dir = fmt::format("restored-{}", index);
  switch (snapshots_[index].kind) {
    case SnapshotKind::kShard:
      RestoreDamaged(index);
      if (stopping()) return;
      CrashDuringRestore(index, dir);
      if (stopping()) return;
      RestoreShardArchive(index, dir);
      break;
    case SnapshotKind::kCollection:
      CrashDuringRestore(index, dir);
      if (stopping()) return;
      RestoreShardArchive(index, dir);
      break;
    case SnapshotKind::kPartial:
      RestorePartial(index, dir);
      break;
  }
}

std::string Run::ShardDirOf(size_t index, const std::string& dir) const {
  return snapshots_[index].kind == SnapshotKind::kCollection ? dir + "/0" : dir;
}

absl::StatusOr<std::unique_ptr<engine::LocalShard>> Run::CallRestore(size_t index, const std::string& dir) {
  const TakenSnapshot& snapshot = snapshots_[index];
  switch (snapshot.kind) {
    case SnapshotKind::kShard:
      return engine::RestoreSnapshot(world_.env(), snapshot.path, dir, RestoreOptions());
    case SnapshotKind::kPartial:
      return engine::RecoverPartialSnapshot(world_.env(), snapshot.path, dir,
                                            {.shard = RestoreOptions(), .registry = &partial_registry_});
    case SnapshotKind::kCollection: {
      auto restored = engine::RestoreCollectionSnapshot(world_.env(), snapshot.path, dir, RestoreOptions());
      if (!restored.ok()) return restored.status();
      if (restored->size() != 1 || !restored->contains(0)) {
        for (auto& [id, shard] : *restored) (void)shard->Shutdown();
        return absl::InternalError(fmt::format("{} restored {} shards, not shard 0 alone", snapshot.path,
                                               restored->size()));
      }
      return std::move(restored->at(0));
    }
  }
  return absl::InternalError("unknown snapshot kind");
}

// Restores into `dir` (retrying while injected faults make the restore fail)
// and checks the result, then crashes and reloads it (I6-I8; I11 on failure).
void Run::RestoreShardArchive(size_t index, const std::string& dir) {
  const TakenSnapshot& snapshot = snapshots_[index];
  const std::string shard_dir = ShardDirOf(index, dir);
  for (int attempt = 0; attempt < kMaxRestoreAttempts && !stopping(); ++attempt) {
    const uint64_t started = TraceStep();
    const std::string before = TreeDigest(shard_dir);
    bool restored_ok = false;
    absl::Status error;
    const sim::ProcessId restorer = world_.StartProcess("restore", [&, index] {
      auto restored = CallRestore(index, dir);
      if (!restored.ok()) {
        error = restored.status();
        return;
      }
      restored_ok = true;
      ++(snapshot.kind == SnapshotKind::kCollection ? stats_.collection_restores : stats_.restores);
      CheckRestoredState(**restored, index);
      if (auto status = (*restored)->Shutdown(); !status.ok()) FailUnlessFaulty("restored shard shutdown", status, started);
    });
    world_.WaitProcess(restorer);
    if (restored_ok) {
      ReloadAfterPowerLoss(index, dir);
      return;
    }
    if (stopping()) return;
    NoteError(error);
    // An archive may hold a bad byte when a fault hit while it was written
    // (a bad read of a file it copied), or rot hit it since: then every
    // restore refuses it (detected), and retrying is pointless.
    const bool archive_damaged = ArchiveMayBeDamaged(snapshot);
    if (!ledger_.Any(started) && !archive_damaged) {
      Fail("snapshot-point-in-time", fmt::format("restore of {} failed: {}", snapshot.path, error.ToString()));
      return;
    }
    ++stats_.restores_failed;
    // A failed restore leaves its target as it was, or dirty (refusing to
    // load until a restore succeeds), or — failing only after it cleared
    // the flag — restored; never changed otherwise.
    // (Unjudged when every load of the outcome was refused under faults.)
    if (!Exists(engine::InitializingFlagPath(shard_dir)) && TreeDigest(shard_dir) != before &&
        HoldsSnapshot(index, shard_dir, started) == false) {
      Fail("fault-handling", fmt::format("a failed restore of {} changed {}: {}", snapshot.path, shard_dir,
                                         error.ToString()));
      return;
    }
    if (archive_damaged && !ledger_.Any(started)) return;  // refused for good: detected
  }
}

// docs/invariants.md I9: a crash during a restore leaves the old state (here an
// empty shard: the directory did not exist), the new state, or a shard that
// says it is dirty and refuses to load — never a mix. The crash point comes
// from the world's decisions, so a scenario replays it.
void Run::CrashDuringRestore(size_t index, const std::string& dir) {
  sim::DecisionSource& decisions = world_.decisions();
  if (!decisions.Chance(0.3)) return;
  const sim::CrashKind kind = decisions.Chance(0.5) ? sim::CrashKind::kPowerLoss : sim::CrashKind::kProcessCrash;
  const uint64_t started = TraceStep();
  // (A restore takes a few hundred to a few thousand steps: the two passes
  // over the archive, the swap, the load.)
  world_.CrashAtStep(TraceStep() + decisions.Between(2, 1500), kind);
  const sim::ProcessId restorer = world_.StartProcess("restore-crashing", [&, index] {
    auto restored = CallRestore(index, dir);
    if (restored.ok()) (void)(*restored)->Shutdown();
  });
  const bool crashed = world_.WaitProcess(restorer);
  world_.DisarmCrash();
  if (!crashed) return;  // it finished first; the restore below replaces it
  ++stats_.restore_crashes;
  const std::string shard_dir = ShardDirOf(index, dir);
  const sim::ProcessId checker = world_.StartProcess("restore-crash-check", [&, index] {
    auto shard = engine::LocalShard::Load(world_.env(), shard_dir, RestoreOptions());
    if (!shard.ok()) {
      if (absl::IsFailedPrecondition(shard.status())) return;  // dirty, says so
      // The old state of a collection's shard: no directory at all.
      if (absl::IsNotFound(shard.status()) && shard_dir != dir && !Exists(dir)) return;
      NoteError(shard.status());
      if (ledger_.Any(started)) return;  // a fault refused the load; the restore below replaces it
      Fail("restore-atomicity", fmt::format("after a crash during the restore of {}, the load failed: {}",
                                            snapshots_[index].path, shard.status().ToString()));
      return;
    }
    // The old state: nothing (the directory did not exist), or for a
    // partial snapshot its base, restored there before.
    const TakenSnapshot& snapshot = snapshots_[index];
    const bool old = snapshot.kind == SnapshotKind::kPartial
                         ? MatchRestored(**shard, snapshots_[*snapshot.base]).has_value()
                         : (*shard)->Scroll(nullptr, std::nullopt, SIZE_MAX).empty();
    if (!old && !MatchRestored(**shard, snapshot)) {
      Fail("restore-atomicity",
           fmt::format("after a crash during the restore of {}, {} holds neither the old state nor the snapshot: {}",
                       snapshot.path, shard_dir, DescribePoints((*shard)->Scroll(nullptr, std::nullopt, SIZE_MAX))));
    } else if (!old) {
      CheckRestoredState(**shard, index);
    }
    (void)(*shard)->Shutdown();
  });
  world_.WaitProcess(checker);
}

// I10, bad input loses nothing: an archive with one flipped byte (anywhere: file
// contents, tar headers, padding) is refused, whatever else it passes.
void Run::RestoreDamaged(size_t index) {
  sim::DecisionSource& decisions = world_.decisions();
  if (!decisions.Chance(0.25)) return;
  const sim::ProcessId restorer = world_.StartProcess("restore-damaged", [&, index] {
    engine::FileSystem& fs = world_.env().fs();
    const std::string& path = snapshots_[index].path;
    const uint64_t read_from_step = TraceStep();
    auto archive = engine::ReadWholeFile(fs, path);
    auto checksum = engine::ReadWholeFile(fs, path + ".checksum");
    if (!archive.ok() || !checksum.ok() || archive->empty()) return;  // a fault kept it from being read
    // A bit flipped in these reads may be the one drawn below, which would
    // flip it back and restore an intact archive (fuzz_shard found it).
    if (ledger_.Any(read_from_step, path)) return;
    const size_t position = decisions.Draw(archive->size());
    (*archive)[position] = static_cast<char>((*archive)[position] ^ (1u << decisions.Draw(8)));
    const std::string damaged = fmt::format("damaged-{}.tar", index);
    if (!engine::WriteFileAtomically(fs, damaged, *archive).ok()) return;
    if (!engine::WriteFileAtomically(fs, damaged + ".checksum", *checksum).ok()) return;
    auto restored = engine::RestoreSnapshot(world_.env(), damaged, fmt::format("damaged-restore-{}", index),
                                            RestoreOptions());
    if (restored.ok()) {
      (void)(*restored)->Shutdown();
      Fail("restore-integrity", fmt::format("{} with byte {} of {} flipped was restored", path, position,
                                            archive->size()));
    }
  });
  world_.WaitProcess(restorer);
}

// I6: the restored shard, crashed by a power loss and reloaded, is the
// same point in time again.
void Run::ReloadAfterPowerLoss(size_t index, const std::string& dir) {
  const std::string shard_dir = ShardDirOf(index, dir);
  const uint64_t started = TraceStep();
  const sim::ProcessId crasher = world_.StartProcess("restored-crash", [&] {
    auto shard = engine::LocalShard::Load(world_.env(), shard_dir, RestoreOptions());
    if (!shard.ok()) {
      NoteError(shard.status());
      if (!ledger_.Any(started)) {
        Fail("snapshot-point-in-time", fmt::format("reload of a restored shard failed: {}", shard.status().ToString()));
      }
      return;
    }
    world_.Crash(sim::CrashKind::kPowerLoss);
  });
  world_.WaitProcess(crasher);
  for (int attempt = 0; attempt < kMaxLoadAttempts && !stopping(); ++attempt) {
    bool loaded = false;
    const sim::ProcessId reloader = world_.StartProcess("restored-reload", [&, index] {
      auto shard = engine::LocalShard::Load(world_.env(), shard_dir, RestoreOptions());
      if (!shard.ok()) {
        NoteError(shard.status());
        if (!ledger_.Any(started)) {
          Fail("snapshot-point-in-time",
               fmt::format("reload of a restored shard after a power loss failed: {}", shard.status().ToString()));
        }
        return;
      }
      loaded = true;
      CheckRestoredState(**shard, index);
      (void)(*shard)->Shutdown();
    });
    world_.WaitProcess(reloader);
    if (loaded) return;
  }
}

// A partial snapshot's receiver is its base (a WAL-less shard snapshot)
// restored; recovering the partial snapshot onto it must give the partial
// snapshot's freeze. A crash in the middle leaves the base, the recovered
// shard, or a dirty one that recovering again repairs.
void Run::RestorePartial(size_t index, const std::string& dir) {
  const size_t base = *snapshots_[index].base;
  bool base_restored = false;
  for (int attempt = 0; attempt < kMaxRestoreAttempts && !base_restored && !stopping(); ++attempt) {
    const uint64_t started = TraceStep();
    const sim::ProcessId restorer = world_.StartProcess("restore-base", [&] {
      auto restored = CallRestore(base, dir);
      if (!restored.ok()) {
        NoteError(restored.status());
        if (!ledger_.Any(started) && !ArchiveMayBeDamaged(snapshots_[base])) {
          Fail("snapshot-point-in-time", fmt::format("restore of {} (the base of {}) failed: {}", snapshots_[base].path,
                                                     snapshots_[index].path, restored.status().ToString()));
        }
        return;
      }
      base_restored = CheckRestoredState(**restored, base);
      (void)(*restored)->Shutdown();
    });
    world_.WaitProcess(restorer);
  }
  if (!base_restored || stopping()) return;
  CrashDuringRestore(index, dir);  // (the "old" state is the base: checked below)
  if (stopping()) return;
  RestoreShardArchive(index, dir);
  if (!stopping()) ++stats_.partial_recoveries;
}

std::optional<bool> Run::HoldsSnapshot(size_t index, const std::string& shard_dir, uint64_t since_step) {
  for (int attempt = 0; attempt < kMaxLoadAttempts && !stopping(); ++attempt) {
    bool refused = false;
    bool holds = false;
    const sim::ProcessId checker = world_.StartProcess("restore-outcome-check", [&] {
      auto shard = engine::LocalShard::Load(world_.env(), shard_dir, RestoreOptions());
      if (!shard.ok()) {
        NoteError(shard.status());
        refused = ledger_.Any(since_step);  // else: not the snapshot, and not loadable either
        return;
      }
      // (Exactly: a restored WAL continues where the archived one did.)
      holds = !RestoredProblem(**shard, index).has_value() &&
              (*shard)->Summarize().wal_next_index == snapshots_[index].wal_next_index;
      (void)(*shard)->Shutdown();
    });
    world_.WaitProcess(checker);
    if (!refused) return holds;
  }
  // Every load refused under faults (a fuzzer's tape can fault each one):
  // nothing to judge.
  if (!stopping()) {
    ++stats_.restore_outcomes_unjudged;
    if (config_.verbose) {
      std::printf("every load of %s after the failed restore was refused under faults: not judged\n",
                  shard_dir.c_str());
    }
  }
  return std::nullopt;
}

bool Run::ArchiveMayBeDamaged(const TakenSnapshot& snapshot) const {
  // (A bad read, or rot in the shard it copied, are the only faults that
  // let a snapshot succeed with a bad byte: any other fails it. Seed
  // 300241332: rot in a payload index, read right by a load, archived.)
  return ledger_.AnyOfBetween(sim::FaultClass::kReadFlip, snapshot.started_at_step, snapshot.ended_at_step) ||
         ledger_.AnyOf(sim::FaultClass::kStoredRot, 0, snapshot.path) || snapshot.source_held_rot;
}

std::optional<size_t> Run::MatchRestored(engine::LocalShard& shard, const TakenSnapshot& snapshot) {
  return properties::MatchRestored(shard, snapshot, config_.collection);
}

bool Run::CheckRestoredState(engine::LocalShard& shard, size_t index) {
  if (config_.verbose) {
    const auto summary = shard.Summarize();
    std::printf("restored %s: WAL [%llu, %llu), segments:\n", snapshots_[index].path.c_str(),
                (unsigned long long)summary.wal_first_index, (unsigned long long)summary.wal_next_index);
    for (const auto& line : summary.segments) std::printf("  %s\n", line.c_str());
  }
  if (auto problem = RestoredProblem(shard, index)) {
    Fail(problem->invariant, problem->what);
    return false;
  }
  return true;
}

std::optional<Run::Problem> Run::RestoredProblem(engine::LocalShard& shard, size_t index) {
  std::optional<properties::RestoredProblem> problem = CheckRestored(shard, snapshots_[index], config_.collection);
  if (!problem) return std::nullopt;
  return Problem{std::move(problem->invariant), std::move(problem->what)};
}

}  // namespace properties
