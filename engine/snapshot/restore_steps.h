// The steps of RestoreSnapshot (restore.cc), shared with partial recovery
// and collection restores so that every way of replacing a shard verifies
// archives and swaps directories the same way.
//
// Two ways through them. A shard archive streams (RestoreSnapshot): a first
// pass over the file hashes it for its `.checksum`, reads every header
// strictly and keeps only the manifests (ScanArchive), the listing is
// checked against manifest.json (CheckListing), and a second pass unpacks
// entry by entry, each file's SHA-256 checked as it is written
// (UnpackArchive); memory stays bounded whatever the archive's size. Partial
// and collection archives are read whole (ReadVerifiedTar, VerifyManifest,
// Unpack), through the same checks.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "engine/archive/tar_archive.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/manifest.h"

namespace engine {

// A verification failure of a snapshot archive.
inline absl::Status SnapshotRefused(std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("snapshot: {}", why));
}

// The entry at `path`, or null.
const TarEntry* FindEntry(const std::vector<TarEntry>& entries, std::string_view path);

// OK if `sha256_hex` (of the whole archive file) is what the sidecar
// `archive_path`.checksum holds; InvalidArgument naming the archive if not.
absl::Status CheckArchiveChecksum(FileSystem& fs, const std::string& archive_path, const std::string& sha256_hex);

// Reads the archive, checks it against its `.checksum` sidecar and reads
// the tar strictly (whole, in memory).
absl::StatusOr<std::vector<TarEntry>> ReadVerifiedTar(FileSystem& fs, const std::string& archive_path,
                                                      const TarLimits& limits);

// manifest.json of an archive: every file's size and SHA-256.
class ArchiveManifest {
 public:
  // InvalidArgument if malformed.
  static absl::StatusOr<ArchiveManifest> Parse(std::string_view json);
  // A file of the archive (neither manifest.json nor a directory) is listed
  // at `size_bytes`: else InvalidArgument naming it.
  absl::Status CheckListed(const std::string& path, uint64_t size_bytes) const;
  // Its contents hash to the listed SHA-256. REQUIRES: CheckListed passed.
  absl::Status CheckContents(const std::string& path, const std::string& sha256_hex) const;
  // Once every file passed CheckListed: nothing listed is missing, and wal/
  // (and segments/, if required) are there.
  absl::Status CheckComplete(const std::set<std::string>& files, bool require_segments) const;
  size_t size() const { return files_.size(); }

 private:
  struct Listed {
    uint64_t size_bytes = 0;
    std::string sha256_hex;
  };
  std::map<std::string, Listed> files_;
};

// Checks every entry against manifest.json (listed, size, SHA-256; nothing
// listed missing) and that wal/ (and segments/, if required) are there.
// Returns the files to unpack (manifest.json and directories dropped).
absl::StatusOr<std::vector<TarEntry>> VerifyManifest(std::vector<TarEntry> entries, bool require_segments);

// The first pass over a shard archive file: its whole-file SHA-256 matched
// the `.checksum` sidecar, every header passed the strict rules, and these
// are its entries (hidden ones skipped) in archive order, with the contents
// of the manifests (manifest.json, segments_manifest.json; each at most
// TarLimits::max_metadata_bytes).
struct ArchiveScan {
  std::vector<TarEntryHeader> entries;
  std::map<std::string, std::string> manifests;
};
absl::StatusOr<ArchiveScan> ScanArchive(FileSystem& fs, const std::string& archive_path, const TarLimits& limits);

// The scan's manifest.json, with every scanned file listed at its size and
// nothing listed missing (the SHA-256s are checked by UnpackArchive).
absl::StatusOr<ArchiveManifest> CheckListing(const ArchiveScan& scan, bool require_segments);

// segments_manifest.json of a verified archive.
struct ArchivedSegments {
  bool present = false;  // archives from before manifests have none
  bool partial = false;
  SnapshotManifest manifest;  // the full state of the archived segments
};
// From its contents (null: the archive has none).
absl::StatusOr<ArchivedSegments> ParseArchivedSegments(const std::string* contents);
absl::StatusOr<ArchivedSegments> ReadArchivedSegments(const std::vector<TarEntry>& files);

// Writes `files` into a fresh `staging` directory, every file and directory
// synced (deepest first), then staging's parent. On failure staging is
// removed.
absl::Status Unpack(FileSystem& fs, const std::string& staging, const std::vector<TarEntry>& files);

// The second pass: unpacks the scanned archive into a fresh `staging` the
// same way, streaming each file from the archive with its SHA-256 checked
// against `manifest` once written (before it is synced). The archive must
// read back as the scan saw it (else DataLoss naming it). On failure
// staging is removed; the live shard was never touched.
absl::Status UnpackArchive(FileSystem& fs, const std::string& archive_path, const std::string& staging,
                           const ArchiveScan& scan, const ArchiveManifest& manifest, const TarLimits& limits);

// The atomic part: writes the initializing flag, swaps `staging` in for
// `shard_dir` (the live directory kept as `<shard>.old`), loads the shard
// once, in place (WAL replay), then removes `.old` and the flag. A snapshot
// that does not load is swapped out again and the live shard put back
// (the error says "the live shard is untouched"; if putting it back fails,
// the shard stays dirty). A crash leaves the old shard, the new one, or a
// flagged (dirty) one.
absl::StatusOr<std::unique_ptr<LocalShard>> SwapInStaged(Env& env, const std::string& staging,
                                                         const std::string& shard_dir,
                                                         ShardOptions options);

// RestoreSnapshot after the checksum and tar reading (collection restores
// call it per shard). Refuses partial archives.
absl::StatusOr<std::unique_ptr<LocalShard>> RestoreFromEntries(Env& env, std::vector<TarEntry> entries,
                                                               const std::string& shard_dir,
                                                               ShardOptions options);

}  // namespace engine
