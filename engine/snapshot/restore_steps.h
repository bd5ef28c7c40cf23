// The steps of RestoreSnapshot (restore.cc), shared with partial recovery
// and collection restores so that every way of replacing a shard verifies
// archives and swaps directories the same way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/manifest.h"
#include "engine/archive/tar_archive.h"

namespace engine {

// The entry at `path`, or null.
const TarEntry* FindEntry(const std::vector<TarEntry>& entries, std::string_view path);

// Reads the archive, checks it against its `.checksum` sidecar and reads
// the tar strictly.
absl::StatusOr<std::vector<TarEntry>> ReadVerifiedTar(FileSystem& fs, const std::string& archive_path,
                                                      const TarLimits& limits);

// Checks every entry against manifest.json (listed, size, SHA-256; nothing
// listed missing) and that wal/ (and segments/, if required) are there.
// Returns the files to unpack (manifest.json and directories dropped).
absl::StatusOr<std::vector<TarEntry>> VerifyManifest(std::vector<TarEntry> entries, bool require_segments);

// segments_manifest.json of a verified archive.
struct ArchivedSegments {
  bool present = false;  // archives from before manifests have none
  bool partial = false;
  SnapshotManifest manifest;  // the full state of the archived segments
};
absl::StatusOr<ArchivedSegments> ReadArchivedSegments(const std::vector<TarEntry>& files);

// Writes `files` into a fresh `staging` directory, every file and directory
// synced (deepest first), then staging's parent.
absl::Status Unpack(FileSystem& fs, const std::string& staging, const std::vector<TarEntry>& files);

// The atomic part: writes the initializing flag, swaps `staging` in for
// `shard_dir`, loads the shard (WAL replay) and removes the flag. A crash
// leaves the old shard, the new one, or a flagged (dirty) one.
absl::StatusOr<std::unique_ptr<LocalShard>> SwapInStaged(Env& env, const std::string& staging,
                                                         const std::string& shard_dir,
                                                         ShardOptions options);

// RestoreSnapshot after the checksum and tar reading (collection restores
// call it per shard). Refuses partial archives.
absl::StatusOr<std::unique_ptr<LocalShard>> RestoreFromEntries(Env& env, std::vector<TarEntry> entries,
                                                               const std::string& shard_dir,
                                                               ShardOptions options);

}  // namespace engine
