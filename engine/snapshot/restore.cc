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

static absl::Status TrialLoad(Env& env, const std::string& staging, ShardOptions options) {
  SS_ASSERT(staging.ends_with(".staging"), "trial load of '{}'", staging);
  options.ignore_initializing_flag = true;
  options.observer = nullptr;  // not the shard the caller observes
  auto shard = LocalShard::Load(env, staging, options);
  if (!shard.ok()) return shard.status();
  return (*shard)->Shutdown();
}

absl::StatusOr<std::unique_ptr<LocalShard>> SwapInStaged(Env& env, const std::string& staging,
                                                         const std::string& shard_dir,
                                                         ShardOptions options) {
  // Staged beside the shard: the swap is two renames within one directory.
  SS_ASSERT(!shard_dir.empty() && staging == shard_dir + ".staging", "staging '{}' for '{}'", staging, shard_dir);
  FileSystem& fs = env.fs();
  // A verified archive can still hold a shard that does not load (a
  // well-formed but wrong segment.json): find out on the staged copy, while
  // the live shard is still untouched.
  if (auto status = TrialLoad(env, staging, options); !status.ok()) {
    (void)RemoveTree(fs, staging);
    return absl::Status(status.code(), fmt::format("the snapshot does not load (the live shard is untouched): {}",
                                                   std::string(status.message())));
  }
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
  if (auto status = RemoveTree(fs, old); !status.ok()) return undo(status);
  auto exists = Exists(fs, shard_dir);
  if (!exists.ok()) return undo(exists.status());
  if (*exists) {
    if (auto status = fs.Rename(shard_dir, old); !status.ok()) return undo(status);
  }
  if (auto status = fs.Rename(staging, shard_dir); !status.ok()) {
    if (*exists) (void)fs.Rename(old, shard_dir);
    return undo(status);
  }
  live_moved = true;
  // From here a failure leaves the shard dirty (the flag refuses loads)
  // until the restore is run again.
  if (auto status = fs.SyncDir(ParentDir(shard_dir)); !status.ok()) return status;
  if (auto status = RemoveTree(fs, old); !status.ok()) return status;
  options.ignore_initializing_flag = true;
  auto shard = LocalShard::Load(env, shard_dir, options);
  if (!shard.ok()) return shard.status();
  // (Shut down explicitly on failure: a destructor must not do I/O.)
  absl::Status cleared = fs.Unlink(flag);
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
