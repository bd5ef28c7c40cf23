// Writing snapshot archives: the builder that records every file's size and
// SHA-256 in a manifest.json, and the commit protocol every archive follows
// (temporary name, sync, rename, directory sync, `.checksum` sidecar).
//
// A builder may write under a prefix ("shards/3"), so that one tar holds
// several shards' snapshots (a collection snapshot), each with its own
// manifest.json that RestoreSnapshot's checks apply to unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "engine/env/env.h"
#include "engine/archive/tar_archive.h"

namespace engine {

class ArchiveBuilder {
 public:
  // REQUIRES: `prefix` is empty or a relative path without a trailing '/'.
  ArchiveBuilder(TarWriter& writer, std::string prefix = "");
  // `path` is relative to the prefix. REQUIRES: the manifest is not written
  // yet, and `path` is not in it (each file is archived once).
  absl::Status Add(const std::string& path, std::string_view contents);
  // The same for the file at `source`, copied in bounded chunks (hashed
  // on the way, never held whole). With `expected_crc32c`, the bytes copied
  // must have that CRC32C (a segment manifest's), else DataLoss naming
  // `source`: the caller then abandons the archive, which would otherwise
  // ship bytes its segment manifest does not describe.
  absl::Status AddFileFrom(FileSystem& fs, const std::string& source, const std::string& path,
                           std::optional<uint32_t> expected_crc32c = std::nullopt);
  // Writes manifest.json (under the prefix); the tar itself stays open.
  // REQUIRES: not written before.
  absl::Status WriteManifest();

 private:
  TarWriter& writer_;
  const std::string prefix_;
  nlohmann::json manifest_ = nlohmann::json::object();
  bool manifest_written_ = false;
};

// An archive being written to `path`.tmp; Finish(OK) commits it: finishes
// the tar, syncs, renames it to `path`, syncs the directory and writes
// `path`.checksum. Finish(error) removes the temporary file. The destructor
// does no I/O (a crashed process unwinds through it, and every file-system
// call may be where the simulation kills a task); a crash leaves at most the
// temporary file.
class PendingArchive {
 public:
  static absl::StatusOr<std::unique_ptr<PendingArchive>> Open(FileSystem& fs, std::string path);
  ~PendingArchive();
  // REQUIRES: not finished.
  TarWriter& writer();
  // `written` is how writing the entries went. Returns the archive's size in
  // bytes, or the first failure; on failure nothing of the archive is left
  // (neither the temporary file, nor the archive, nor its sidecar).
  absl::StatusOr<uint64_t> Finish(absl::Status written);

 private:
  PendingArchive(FileSystem& fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  std::string temporary() const { return path_ + ".tmp"; }
  absl::StatusOr<uint64_t> Commit();
  // After the rename: syncs the directory, writes the `.checksum` sidecar
  // (the SHA-256 the writer computed as it wrote).
  absl::StatusOr<uint64_t> WriteSidecar(const std::string& sha256_hex, uint64_t archive_bytes);

  FileSystem& fs_;
  const std::string path_;
  std::unique_ptr<File> file_;
  std::unique_ptr<TarWriter> writer_;
  bool committed_ = false;
};

}  // namespace engine
