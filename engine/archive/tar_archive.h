// Tar archives written and read with libarchive, through engine::File so
// that snapshots live in the simulated file system too.
//
// Reading is strict, because an archive is untrusted input: only regular
// files and directories; no absolute paths, "." or ".." components, links,
// devices or duplicate names; entry and total sizes bounded. Entries with a
// hidden component (".name") are skipped, not refused.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/env/env.h"

struct archive;  // libarchive's handle

namespace engine {

class TarWriter {
 public:
  // Writes to `out` from its current end. REQUIRES: `out` outlives the writer.
  static absl::StatusOr<std::unique_ptr<TarWriter>> Open(File& out);
  ~TarWriter();

  // REQUIRES: not finished; `path` is one ReadTar accepts and keeps
  // (relative, no '.', '..' or empty component, no hidden component).
  absl::Status AddFile(const std::string& path, std::string_view contents);
  // Completes the archive (trailer blocks); the file is not synced.
  // REQUIRES: not finished.
  absl::Status Finish();

  // Used by libarchive's write callback: whole tar blocks not yet written
  // to the file.
  void Take(std::string_view blocks);
  // The contents bytes of every file added so far (what a manifest of the
  // archive lists).
  uint64_t contents_bytes() const { return contents_bytes_; }

 private:
  explicit TarWriter(File& out) : out_(out) {}
  absl::Status FlushPending();

  File& out_;
  ::archive* archive_ = nullptr;
  std::string pending_;
  uint64_t files_ = 0;
  uint64_t contents_bytes_ = 0;
  // Every file's blocks (header, contents rounded up to whole blocks): the
  // least the tar stream can hold.
  uint64_t least_stream_bytes_ = 0;
  uint64_t stream_bytes_ = 0;  // handed over by libarchive
  uint64_t handed_bytes_ = 0;  // handed on to `out_`
  bool finished_ = false;
};

struct TarEntry {
  std::string path;
  bool directory = false;
  std::string contents;
};

struct TarLimits {
  uint64_t max_entry_bytes = uint64_t{1} << 30;
  uint64_t max_total_bytes = uint64_t{4} << 30;
  uint64_t max_entries = 100'000;
};

// InvalidArgument (naming the entry and the rule) for anything refused,
// DataLoss for a truncated or corrupt archive.
absl::StatusOr<std::vector<TarEntry>> ReadTar(std::string_view bytes, const TarLimits& limits);

}  // namespace engine
