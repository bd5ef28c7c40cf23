#include "engine/snapshot/restore.h"
#include "engine/snapshot/restore_steps.h"

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"

namespace engine {

std::string InitializingFlagPath(const std::string& shard_dir) {
  // The flag is beside the shard, not in it: the swap replaces the shard's
  // directory while the flag stays.
  SS_ASSERT(!shard_dir.empty(), "the root is no shard directory");
  return shard_dir + ".initializing";
}

// Puts the live directory back after the snapshot swapped in for it did not
// load. REQUIRES: the initializing flag is present (a crash meanwhile leaves
// the shard dirty); `had_live` says whether the live directory moved to
// `.old`. Ok only when the shard is back as it was, and clean again unless
// it was dirty before.
static absl::Status SwapBack(FileSystem& fs, const std::string& staging, const std::string& shard_dir,
                             bool had_live, bool was_dirty) {
  const std::string parent(ParentDir(shard_dir));
  if (auto status = fs.Rename(shard_dir, staging); !status.ok()) return status;
  if (had_live) {
    if (auto status = fs.Rename(shard_dir + ".old", shard_dir); !status.ok()) return status;
  }
  // Both renames are durable before the flag goes: a crash in between must
  // not leave a clean shard directory holding the snapshot's files.
  if (auto status = fs.SyncDir(parent); !status.ok()) return status;
  (void)RemoveTree(fs, staging);  // a leftover staging copy is cleared by the next restore
  if (!was_dirty) {
    if (auto status = fs.Unlink(InitializingFlagPath(shard_dir)); !status.ok()) return status;
  }
  return fs.SyncDir(parent);
}

absl::StatusOr<std::unique_ptr<LocalShard>> SwapInStaged(Env& env, const std::string& staging,
                                                         const std::string& shard_dir,
                                                         ShardOptions options) {
  // Staged beside the shard: the swap is two renames within one directory.
  SS_ASSERT(!shard_dir.empty() && staging == shard_dir + ".staging", "staging '{}' for '{}'", staging, shard_dir);
  FileSystem& fs = env.fs();
  const std::string old = shard_dir + ".old";
  const std::string flag = InitializingFlagPath(shard_dir);
  // Until the live directory moves, a failure leaves it exactly as it was:
  // the flag and the staged copy go again — unless an earlier interrupted
  // restore had left the shard dirty, which it stays (its directory may be
  // missing, with the data in `.old`).
  auto was_dirty = Exists(fs, flag);
  if (!was_dirty.ok()) {
    (void)RemoveTree(fs, staging);
    return was_dirty.status();
  }
  bool live_moved = false;
  const auto undo = [&](absl::Status status) {
    // Only while the live directory is where it was can it be left as it was.
    SS_ASSERT(!live_moved, "{}: undo after the swap", shard_dir);
    SS_COVER(kRestoreUndone);
    (void)RemoveTree(fs, staging);
    (void)fs.Unlink(flag + ".tmp");
    if (!*was_dirty) (void)fs.Unlink(flag);
    (void)fs.SyncDir(ParentDir(shard_dir));
    return status;
  };
  if (auto status = WriteFileAtomically(fs, flag, "restoring\n"); !status.ok()) return undo(status);
  absl::StatusOr<bool> exists;
  if (!*was_dirty) {
    if (auto status = RemoveTree(fs, old); !status.ok()) return undo(status);
    exists = Exists(fs, shard_dir);
    if (!exists.ok()) return undo(exists.status());
  } else {
    // A dirty shard may be left only as `.old` (a crash between the two
    // renames of an earlier restore): that is its data, and what a partial
    // recovery merged from. It goes only when the live directory takes its
    // place, or once this snapshot has loaded; removed first, a load that
    // then failed left nothing to recover onto (seed 110021848).
    exists = Exists(fs, shard_dir);
    if (!exists.ok()) return undo(exists.status());
    if (*exists) {
      if (auto status = RemoveTree(fs, old); !status.ok()) return undo(status);
    }
  }
  if (*exists) {
    if (auto status = fs.Rename(shard_dir, old); !status.ok()) return undo(status);
  }
  if (auto status = fs.Rename(staging, shard_dir); !status.ok()) {
    if (*exists) (void)fs.Rename(old, shard_dir);
    return undo(status);
  }
  live_moved = true;
  // From here a failure leaves the shard dirty (the flag refuses loads)
  // until the restore is run again; the old directory stays in `.old` until
  // the snapshot has loaded.
  if (auto status = fs.SyncDir(ParentDir(shard_dir)); !status.ok()) return status;
  options.ignore_initializing_flag = true;
  auto shard = LocalShard::Load(env, shard_dir, options);
  if (!shard.ok()) {
    // A verified archive can still hold a shard that does not load (a
    // well-formed but wrong segment.json): the live shard goes back. (Loaded
    // once, in place: a trial load of the staged copy doubled a restore's
    // time.)
    const absl::Status& failed = shard.status();
    if (auto back = SwapBack(fs, staging, shard_dir, *exists, *was_dirty); !back.ok()) {
      return absl::Status(failed.code(), fmt::format("the snapshot does not load ({}), and the live shard was "
                                                     "not put back, so it stays dirty: {}",
                                                     std::string(failed.message()), back.ToString()));
    }
    SS_COVER(kRestoreUndone);
    return absl::Status(failed.code(), fmt::format("the snapshot does not load (the live shard is untouched): {}",
                                                   std::string(failed.message())));
  }
  // (Shut down explicitly on failure: a destructor must not do I/O.)
  absl::Status cleared = RemoveTree(fs, old);
  if (cleared.ok()) cleared = fs.Unlink(flag);
  if (cleared.ok()) cleared = fs.SyncDir(ParentDir(shard_dir));
  if (!cleared.ok()) {
    (void)(*shard)->Shutdown();
    return cleared;
  }
  SS_ASSERT(*shard != nullptr);
  return shard;
}

absl::StatusOr<std::unique_ptr<LocalShard>> RestoreFromEntries(Env& env, std::vector<TarEntry> entries,
                                                               const std::string& shard_dir,
                                                               ShardOptions options) {
  // Staging goes beside the shard (shard_dir + ".staging"): a trailing slash
  // would put it inside the directory it replaces.
  SS_ASSERT(!shard_dir.empty() && !shard_dir.ends_with('/'), "restore into '{}'", shard_dir);
  auto files = VerifyManifest(std::move(entries), /*require_segments=*/true);
  if (!files.ok()) return files.status();
  auto segments = ReadArchivedSegments(*files);
  if (!segments.ok()) return segments.status();
  if (segments->partial) return SnapshotRefused("a partial snapshot: recover it with RecoverPartialSnapshot");
  // Verified: from here on the live shard is replaced.
  const std::string staging = shard_dir + ".staging";
  if (auto status = Unpack(env.fs(), staging, *files); !status.ok()) return status;
  return SwapInStaged(env, staging, shard_dir, std::move(options));
}

absl::StatusOr<std::unique_ptr<LocalShard>> RestoreSnapshot(Env& env, const std::string& archive_path,
                                                            const std::string& shard_dir,
                                                            ShardOptions options,
                                                            const TarLimits& limits) {
  SS_ASSERT(archive_path != shard_dir, "restoring '{}' over itself", archive_path);
  SS_ASSERT(!shard_dir.empty() && !shard_dir.ends_with('/'), "restore into '{}'", shard_dir);
  // First pass: the checksum over the whole file, every header, the listing
  // against manifest.json. Nothing is written until all of it holds.
  auto scan = ScanArchive(env.fs(), archive_path, limits);
  if (!scan.ok()) return scan.status();
  auto manifest = CheckListing(*scan, /*require_segments=*/true);
  if (!manifest.ok()) return manifest.status();
  const auto segments_json = scan->manifests.find(kSegmentsManifestName);
  auto segments =
      ParseArchivedSegments(segments_json == scan->manifests.end() ? nullptr : &segments_json->second);
  if (!segments.ok()) return segments.status();
  if (segments->partial) return SnapshotRefused("a partial snapshot: recover it with RecoverPartialSnapshot");
  // Second pass: unpacked beside the shard, each file checked against the
  // manifest as it is written; only a fully verified copy is swapped in.
  const std::string staging = shard_dir + ".staging";
  if (auto status = UnpackArchive(env.fs(), archive_path, staging, *scan, *manifest, limits); !status.ok()) {
    return status;
  }
  return SwapInStaged(env, staging, shard_dir, std::move(options));
}

}  // namespace engine
