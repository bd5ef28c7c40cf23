// Tar archives written and read with libarchive, through engine::File so
// that snapshots live in the simulated file system too.
//
// Reading is strict, because an archive is untrusted input: only regular
// files and directories; no absolute paths, "." or ".." components, links,
// devices or duplicate names; entry and total sizes bounded. Entries with a
// hidden component (".name") are skipped, not refused.
//
// Both directions stream: a file's contents go into the tar chunk by chunk
// (TarWriter::BeginFile/AppendData/EndFile), and TarReader gives an
// archive's entries one by one with their contents in chunks, through
// buffers of a fixed size, so memory does not grow with the archive.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/archive/sha256.h"
#include "engine/env/env.h"

struct archive;        // libarchive's handle
struct archive_entry;  // and one entry of it

namespace engine {

// The chunk in which archive contents are copied, hashed and read: big
// enough that per-call costs vanish, small enough to be a constant.
inline constexpr size_t kArchiveChunkBytes = 256 * 1024;

class TarWriter {
 public:
  // Writes to `out` from its current end. REQUIRES: `out` outlives the writer.
  static absl::StatusOr<std::unique_ptr<TarWriter>> Open(File& out);
  ~TarWriter();

  // REQUIRES: not finished, no file open; `path` is one TarReader accepts
  // and keeps (relative, no '.', '..' or empty component, no hidden
  // component).
  absl::Status AddFile(const std::string& path, std::string_view contents);
  // The same in pieces: a header for a file of `size_bytes`, then its
  // contents in any number of AppendData calls (together exactly
  // `size_bytes`), then EndFile. After a failure the writer is unusable
  // (the caller abandons the archive).
  absl::Status BeginFile(const std::string& path, uint64_t size_bytes);
  absl::Status AppendData(std::string_view chunk);
  absl::Status EndFile();
  // Completes the archive (trailer blocks); the file is not synced.
  // REQUIRES: not finished, no file open.
  absl::Status Finish();

  // Used by libarchive's write callback: whole tar blocks not yet written
  // to the file.
  void Take(std::string_view blocks);
  // The contents bytes of every file added so far (what a manifest of the
  // archive lists).
  uint64_t contents_bytes() const { return contents_bytes_; }
  // The bytes written to `out` and their SHA-256 (what the archive's
  // `.checksum` sidecar holds). REQUIRES: Finish succeeded.
  uint64_t archive_bytes() const;
  const std::string& sha256_hex() const;

 private:
  explicit TarWriter(File& out) : out_(out) {}
  absl::Status FlushPending();

  struct OpenFile {
    std::string path;
    uint64_t size_bytes = 0;
    uint64_t written_bytes = 0;
  };

  File& out_;
  ::archive* archive_ = nullptr;
  std::string pending_;
  Sha256 hash_;  // of every byte handed to `out_`
  std::string sha256_hex_;
  std::optional<OpenFile> open_file_;
  uint64_t files_ = 0;
  uint64_t contents_bytes_ = 0;
  // Every file's blocks (header, contents rounded up to whole blocks): the
  // least the tar stream can hold.
  uint64_t least_stream_bytes_ = 0;
  uint64_t stream_bytes_ = 0;  // handed over by libarchive
  uint64_t handed_bytes_ = 0;  // handed on to `out_`
  bool finished_ = false;
  bool abandoned_ = false;  // destroyed unfinished: libarchive's output is dropped
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
  // Entries a restore keeps in memory while streaming the rest (manifests).
  uint64_t max_metadata_bytes = uint64_t{64} << 20;
};

// OK if `path` is one a reader accepts; sets `hidden` if a component starts
// with '.'. InvalidArgument naming the path and the rule otherwise.
absl::Status CheckArchivePath(std::string_view path, bool& hidden);

// One entry of an archive being read, as the rules accepted it.
struct TarEntryHeader {
  std::string path;  // without a directory's trailing '/'
  bool directory = false;
  uint64_t size_bytes = 0;
  friend bool operator==(const TarEntryHeader&, const TarEntryHeader&) = default;
};

// Reads a tar strictly, entry by entry: Next gives each kept entry's header
// (hidden entries are read through and skipped), Read its contents in
// chunks. Errors: InvalidArgument (naming the entry and the rule) for
// anything refused, DataLoss for a truncated or corrupt archive, and the
// file's own status when reading it fails. After an error the reader is
// unusable.
//
// The file is read through libarchive's read callback, so file I/O happens
// inside libarchive calls. A simulated crash unwinds a task by an exception
// from an I/O call; the callback catches it and rethrows it once libarchive
// has returned, so nothing ever unwinds through libarchive's C frames.
class TarReader {
 public:
  // Reads `in` from offset 0 to its size at open, kArchiveChunkBytes at a
  // time; `whole_file`, if set, gets every byte read, in order (see
  // ReadToEnd). REQUIRES: `in` and `whole_file` outlive the reader. Fails
  // only if the file's size cannot be read: an archive that cannot even be
  // opened as a tar fails at the first Next.
  static absl::StatusOr<std::unique_ptr<TarReader>> Open(File& in, const TarLimits& limits,
                                                         Sha256* whole_file = nullptr);
  // REQUIRES: `bytes` outlive the reader.
  static absl::StatusOr<std::unique_ptr<TarReader>> OpenMemory(std::string_view bytes, const TarLimits& limits);
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // The next kept entry, or nullopt at the end of the archive; whatever the
  // previous entry's contents had left is read through first.
  absl::StatusOr<std::optional<TarEntryHeader>> Next();
  // Up to out.size() bytes of the current entry's contents: 0 once all of
  // them were read (a shorter archive is DataLoss, never a short entry).
  absl::StatusOr<size_t> Read(std::span<char> out);
  // Reads the bytes of the file not read yet (past the tar's end, or past
  // where a refused entry stopped the reading), so that `whole_file` has
  // the whole file; after it the reader reads nothing more. REQUIRES: no
  // read of the file failed.
  absl::Status ReadToEnd();
  // Whether reading the file failed (the errors were the file's).
  bool read_failed() const { return !io_status_.ok(); }
  // The archive's size (of the file at open, or of the bytes).
  uint64_t archive_bytes() const { return archive_bytes_; }

  // libarchive's read callback: the next chunk of the file.
  int64_t Fill(const void** chunk);

 private:
  TarReader(const TarLimits& limits, File* in, uint64_t archive_bytes, Sha256* whole_file);
  void Start(std::string_view memory);
  // The status after a libarchive call failed: a caught exception is
  // rethrown, the file's own error returned, else DataLoss with `what`.
  absl::Status Failed(std::string_view what);
  void RethrowCaught();
  absl::StatusOr<TarEntryHeader> CheckedHeader(::archive_entry* entry, bool& hidden);

  const TarLimits limits_;
  File* const in_;  // null when reading memory
  const uint64_t archive_bytes_;
  Sha256* const whole_file_;
  ::archive* archive_ = nullptr;
  std::unique_ptr<char[]> buffer_;
  uint64_t offset_ = 0;  // of the file, handed to libarchive
  absl::Status io_status_;
  absl::Status open_status_;  // what the first Next returns if opening failed
  std::exception_ptr caught_;
  std::set<std::string> names_;  // every entry's name, for duplicates
  uint64_t entries_ = 0;
  uint64_t total_bytes_ = 0;
  std::string current_;    // the current entry's name
  uint64_t remaining_ = 0;  // of its contents, unread
  bool at_end_ = false;
  bool broken_ = false;
  bool read_to_end_ = false;
};

// The whole archive in memory (small archives: tests, the fuzz mutator,
// collection and partial restores): every kept entry with its contents.
absl::StatusOr<std::vector<TarEntry>> ReadTar(std::string_view bytes, const TarLimits& limits);

}  // namespace engine
