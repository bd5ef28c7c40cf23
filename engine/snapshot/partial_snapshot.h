// Recovering a shard from a partial snapshot (docs/engine.md, "Segment
// manifests, partial and collection snapshots"; Qdrant's recover with
// RecoveryType::Partial and its partial_snapshot_merge_plan).
//
// The archive is verified exactly as RestoreSnapshot does (checksum, strict
// tar, manifest.json), and its segments_manifest.json (the sender's full
// frozen state) drives a merge plan against the closed local shard:
// segments with files in the archive take those files (replacing the local
// ones), the other listed segments are kept as they are locally, local
// segments the sender no longer has are removed, and the WAL, clocks and
// config come from the archive (an empty WAL after the sender's last op).
//
// Differences from Qdrant, on purpose: the merged shard is built in a
// staging directory (kept local files are copied, not moved) and swapped in
// like a restore, so a crash leaves the old shard, the merged one, or a
// dirty one that a new recovery of the same archive repairs — Qdrant merges
// in place. And a kept segment must be at the version the sender's manifest
// says (the receiver may not have changed since it sent its manifest);
// otherwise the recovery is refused before anything is touched.
#pragma once

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/env/env.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/manifest.h"
#include "engine/archive/tar_archive.h"

namespace engine {

// One partial recovery at a time per shard directory (Qdrant's
// PartialSnapshotMeta recovery lock): a second one fails fast. Shared by
// everything that recovers shards of one process.
//
// Guarded by a spin flag, not an Env mutex: Release runs from a cleanup
// (a destructor), and every Env blocking call is a point where the
// simulation may kill the task, which must not throw out of a destructor.
// The critical sections never block, so in the simulated world (one OS
// thread) the flag is never contended and nothing depends on timing.
class PartialRecoveryRegistry {
 public:
  // Unavailable if a recovery of `shard_dir` is running.
  absl::Status TryAcquire(const std::string& shard_dir);
  void Release(const std::string& shard_dir);
  bool Busy(const std::string& shard_dir);

 private:
  class SpinGuard;
  std::atomic_flag locked_ = ATOMIC_FLAG_INIT;
  std::set<std::string> busy_;  // guarded by locked_
};

struct PartialRecoveryOptions {
  ShardOptions shard;
  PartialRecoveryRegistry* registry = nullptr;  // required, not owned
  TarLimits limits;
};

// What the merge does to each segment (ids).
struct PartialMergePlan {
  std::vector<std::string> replaced;  // files from the archive (plus kept local files)
  std::vector<std::string> kept;      // entirely the local copy
  std::vector<std::string> removed;   // local segments the sender no longer has
  // Local files copied into the merged shard: "segments/<id>/<file>", and
  // the CRC32C each must have (the sender's, which the local one matched).
  std::vector<std::string> local_files;
  std::vector<uint32_t> local_checksums;
};

// The plan for merging an archive holding `archived_files` (paths
// "segments/<id>/<file>") and the sender's full manifest into a local shard
// with manifest `local`. FailedPrecondition if a file the archive lacks is
// missing locally or at another version than the sender's.
absl::StatusOr<PartialMergePlan> PlanPartialMerge(const SnapshotManifest& local,
                                                  const SnapshotManifest& full,
                                                  const std::set<std::string>& archived_files);

// REQUIRES: no LocalShard is open on `shard_dir`. Returns the loaded shard.
absl::StatusOr<std::unique_ptr<LocalShard>> RecoverPartialSnapshot(Env& env, const std::string& archive_path,
                                                                   const std::string& shard_dir,
                                                                   PartialRecoveryOptions options);

}  // namespace engine
