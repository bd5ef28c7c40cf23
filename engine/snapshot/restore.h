// Restoring a shard from a snapshot archive (docs/engine.md, "Snapshots and restore").
//
// The archive is verified (its .checksum sidecar, strict tar reading, the
// manifest's sizes and SHA-256s, wal/ and segments/ present) and unpacked
// into a staging directory beside the shard, synced. It streams, in two
// passes over the file through fixed-size buffers: the first hashes the
// whole file and checks every header and the listing, the second unpacks
// entry by entry with each file's SHA-256 checked before it is synced (a
// mismatch removes staging); memory does not grow with the archive. Then the
// `<shard>.initializing` flag is written and synced, the shard's directory
// is swapped for the staged one, the shard is loaded (WAL replay included),
// and the flag is removed. A crash at any point leaves the old shard, the new
// one, or a shard whose flag makes LocalShard::Load refuse it (dirty) until a
// restore completes. An archive that fails verification changes nothing.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/shard/local_shard.h"
#include "engine/archive/tar_archive.h"

namespace engine {

// REQUIRES: no LocalShard is open on `shard_dir` (shut it down first).
absl::StatusOr<std::unique_ptr<LocalShard>> RestoreSnapshot(Env& env, const std::string& archive_path,
                                                            const std::string& shard_dir,
                                                            ShardOptions options,
                                                            const TarLimits& limits = {});

// The flag that marks a shard whose restore has not completed.
std::string InitializingFlagPath(const std::string& shard_dir);

}  // namespace engine
