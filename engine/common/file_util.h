// Whole-file helpers on engine::FileSystem used by every component that
// keeps small metadata files (segment.json, clocks, first-index, manifests).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/env/env.h"

namespace engine {

// The parent directory of a path ("" for a top-level name).
std::string_view ParentDir(std::string_view path);
// Joins two path parts with '/', skipping an empty part.
std::string JoinPath(std::string_view left, std::string_view right);

// Reads a whole file. REQUIRES: the file fits in memory.
absl::StatusOr<std::string> ReadWholeFile(FileSystem& fs, std::string_view path);

// A whole file's bytes in a buffer the read fills without zeroing it first
// (a std::string of the size would be: a tenth of a segment load's time
// for logs of many megabytes). The same file-system calls as ReadWholeFile.
struct FileBytes {
  std::unique_ptr<char[]> data;
  size_t size = 0;
  std::string_view view() const { return std::string_view(data.get(), size); }
};
absl::StatusOr<FileBytes> ReadWholeFileBytes(FileSystem& fs, std::string_view path);

// Reads a file front to back through one buffer of `chunk_bytes`, so that
// memory does not grow with the file (archiving, checksumming segment
// files). The size is the file's at open; a file that turns out shorter is
// DataLoss, as a short ReadWholeFile is.
class ChunkedFileReader {
 public:
  static constexpr size_t kDefaultChunkBytes = 256 * 1024;
  static absl::StatusOr<ChunkedFileReader> Open(FileSystem& fs, std::string_view path,
                                                size_t chunk_bytes = kDefaultChunkBytes);
  uint64_t size() const { return size_; }
  // The next chunk, empty once the whole file was read; valid until the
  // next call.
  absl::StatusOr<std::string_view> Next();

 private:
  ChunkedFileReader(std::string path, std::unique_ptr<File> file, uint64_t size, size_t chunk_bytes);
  std::string path_;
  std::unique_ptr<File> file_;
  uint64_t size_ = 0;
  uint64_t offset_ = 0;
  std::unique_ptr<char[]> buffer_;
  size_t chunk_bytes_ = 0;
};

// The CRC32C of a whole file, read in chunks.
absl::StatusOr<uint32_t> FileCrc32c(FileSystem& fs, std::string_view path);

// Replaces `path` atomically and durably: writes `path`.tmp, syncs it,
// renames it over `path`, syncs the parent directory. After a crash at any
// point the path holds either the old or the new contents.
absl::Status WriteFileAtomically(FileSystem& fs, std::string_view path, std::string_view contents);

// NotFound is false; other errors are errors.
absl::StatusOr<bool> Exists(FileSystem& fs, std::string_view path);

// Creates a directory if it is missing (the parent must exist).
absl::Status EnsureDir(FileSystem& fs, std::string_view path);

// Deletes a directory tree, children first, in sorted order. A missing path
// is not an error. Bounded by `max_entries`.
absl::Status RemoveTree(FileSystem& fs, std::string_view path, int max_entries = 1'000'000);

}  // namespace engine
