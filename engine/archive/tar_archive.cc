#include "engine/archive/tar_archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <set>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace engine {

namespace {

// libarchive's output only goes to memory: the file I/O happens after each
// libarchive call returns, so nothing (a simulated crash unwinding a task)
// ever unwinds through libarchive's C frames.
la_ssize_t WriteCallback(struct archive*, void* client, const void* buffer, size_t length) {
  SS_ASSERT(client != nullptr && buffer != nullptr);
  static_cast<TarWriter*>(client)->Take(std::string_view(static_cast<const char*>(buffer), length));
  return static_cast<la_ssize_t>(length);
}

// A tar stream is made of 512-byte blocks, written in records of
// kBytesPerRecord (libarchive pads the last record).
constexpr uint64_t kTarBlockBytes = 512;
constexpr uint64_t kBytesPerRecord = 10240;

absl::Status Refused(std::string_view path, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("archive entry '{}': {}", path, why));
}

// Returns true if the path is acceptable; sets `hidden` if a component
// starts with '.'.
absl::Status CheckPath(std::string_view path, bool& hidden) {
  hidden = false;
  if (path.empty()) return Refused(path, "empty name");
  if (path.front() == '/') return Refused(path, "absolute path");
  std::string_view rest = path;
  if (rest.back() == '/') rest.remove_suffix(1);
  for (int depth = 0; !rest.empty(); ++depth) {
    if (depth > 64) return Refused(path, "too deep");
    const size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return Refused(path, "'.', '..' or empty component");
    if (part.front() == '.') hidden = true;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TarWriter>> TarWriter::Open(File& out) {
  std::unique_ptr<TarWriter> writer(new TarWriter(out));
  writer->archive_ = archive_write_new();
  SS_ASSERT(writer->archive_ != nullptr);
  archive_write_set_format_pax_restricted(writer->archive_);
  archive_write_set_bytes_per_block(writer->archive_, static_cast<int>(kBytesPerRecord));
  if (archive_write_open2(writer->archive_, writer.get(), nullptr, WriteCallback, nullptr, nullptr) !=
      ARCHIVE_OK) {
    return absl::InternalError(fmt::format("archive: {}", archive_error_string(writer->archive_)));
  }
  // Nothing reaches the file before the first entry: `out` keeps its end.
  SS_ASSERT(writer->stream_bytes_ == 0 && writer->pending_.empty());
  return writer;
}

TarWriter::~TarWriter() {
  if (archive_ != nullptr) archive_write_free(archive_);
}

absl::Status TarWriter::AddFile(const std::string& path, std::string_view contents) {
  SS_ASSERT(!finished_);
  // What the writer writes, the reader must take back: a path ReadTar
  // refused or skipped would make the archive unrestorable.
  bool hidden = false;
  SS_ASSERT(CheckPath(path, hidden).ok() && !hidden && path.back() != '/', "unreadable archive path '{}'", path);
  // Owned by a guard: a simulated crash can unwind through the write below.
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                      archive_entry_free);
  archive_entry_set_pathname(entry.get(), path.c_str());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(contents.size()));
  archive_entry_set_mtime(entry.get(), 0, 0);  // deterministic archives
  const int header = archive_write_header(archive_, entry.get());
  entry.reset();
  if (header != ARCHIVE_OK) {
    return absl::InternalError(fmt::format("archive header for {}: {}", path, archive_error_string(archive_)));
  }
  if (!contents.empty() &&
      archive_write_data(archive_, contents.data(), contents.size()) != static_cast<la_ssize_t>(contents.size())) {
    return absl::InternalError(fmt::format("archive data for {}: {}", path, archive_error_string(archive_)));
  }
  // A header block, then the contents padded to whole blocks.
  const uint64_t contents_blocks_bytes = (contents.size() + kTarBlockBytes - 1) / kTarBlockBytes * kTarBlockBytes;
  SS_ASSERT(contents_blocks_bytes >= contents.size() && contents_blocks_bytes - contents.size() < kTarBlockBytes);
  ++files_;
  contents_bytes_ += contents.size();
  least_stream_bytes_ += kTarBlockBytes + contents_blocks_bytes;
  return FlushPending();
}

void TarWriter::Take(std::string_view blocks) {
  // libarchive hands over whole records only.
  SS_ASSERT(blocks.size() % kBytesPerRecord == 0, "a tar write of {} bytes", blocks.size());
  pending_.append(blocks);
  stream_bytes_ += blocks.size();
}

absl::Status TarWriter::FlushPending() {
  if (pending_.empty()) return absl::OkStatus();
  // Nothing libarchive handed over is lost or handed to the file twice.
  SS_ASSERT(handed_bytes_ + pending_.size() == stream_bytes_);
  handed_bytes_ += pending_.size();
  absl::Status status = out_.Append(std::span<const char>(pending_.data(), pending_.size()));
  pending_.clear();
  return status;
}

absl::Status TarWriter::Finish() {
  SS_ASSERT(!finished_);
  finished_ = true;
  if (archive_write_close(archive_) != ARCHIVE_OK) {
    return absl::InternalError(fmt::format("archive close: {}", archive_error_string(archive_)));
  }
  // Every file's header and padded contents, then the two zero blocks that
  // end a tar, padded to whole records.
  SS_ASSERT(stream_bytes_ >= least_stream_bytes_ + 2 * kTarBlockBytes && stream_bytes_ % kBytesPerRecord == 0,
            "a tar of {} files ({} bytes of blocks at least) streamed {} bytes", files_, least_stream_bytes_,
            stream_bytes_);
  absl::Status status = FlushPending();
  // Finished, the whole stream went to the file.
  SS_ASSERT(!status.ok() || handed_bytes_ == stream_bytes_);
  return status;
}

namespace {

struct EntryHeader {
  std::string name;  // without a directory's trailing '/'
  bool directory = false;
  bool hidden = false;
  uint64_t size_bytes = 0;
};

// Checks one entry's header against the rules (tar_archive.h) and the size
// bounds, given the bytes read so far; `names` collects every name.
absl::StatusOr<EntryHeader> CheckedHeader(archive_entry* entry, const TarLimits& limits, uint64_t archive_bytes,
                                          uint64_t total_bytes, std::set<std::string>& names) {
  SS_ASSERT(entry != nullptr && total_bytes <= limits.max_total_bytes);
  const char* raw_path = archive_entry_pathname(entry);
  const std::string path = raw_path ? raw_path : "";
  EntryHeader header;
  if (auto status = CheckPath(path, header.hidden); !status.ok()) return status;
  const mode_t type = archive_entry_filetype(entry);
  if (archive_entry_hardlink(entry) != nullptr || archive_entry_symlink(entry) != nullptr) {
    return Refused(path, "links are not allowed");
  }
  if (type != AE_IFREG && type != AE_IFDIR) return Refused(path, "only regular files and directories are allowed");
  header.directory = type == AE_IFDIR;
  header.name = path;
  if (header.name.back() == '/') header.name.pop_back();
  if (!names.insert(header.name).second) return Refused(path, "duplicate entry");
  const la_int64_t size = archive_entry_size(entry);
  if (size < 0 || uint64_t(size) > limits.max_entry_bytes || total_bytes + uint64_t(size) > limits.max_total_bytes) {
    return Refused(path, "larger than the size bound");
  }
  // The size field is untrusted: an entry cannot hold more than the whole
  // archive, so check that before allocating its contents (else a 2 KiB
  // archive declaring a 1 GiB entry allocates 1 GiB).
  if (uint64_t(size) > archive_bytes) return absl::DataLossError(fmt::format("archive entry '{}' is truncated", path));
  header.size_bytes = uint64_t(size);
  SS_ASSERT(!header.name.empty() && header.name.back() != '/' && header.name.front() != '/');
  return header;
}

}  // namespace

absl::StatusOr<std::vector<TarEntry>> ReadTar(std::string_view bytes, const TarLimits& limits) {
  struct archive* archive = archive_read_new();
  SS_ASSERT(archive != nullptr);
  archive_read_support_format_tar(archive);
  std::vector<TarEntry> entries;
  std::set<std::string> names;
  uint64_t total_bytes = 0;
  absl::Status status;
  if (archive_read_open_memory(archive, bytes.data(), bytes.size()) != ARCHIVE_OK) {
    status = absl::DataLossError(fmt::format("archive: {}", archive_error_string(archive)));
  }
  for (uint64_t count = 0; status.ok(); ++count) {
    SS_ASSERT(names.size() == count && entries.size() <= count && total_bytes <= limits.max_total_bytes);
    archive_entry* entry = nullptr;
    const int next = archive_read_next_header(archive, &entry);
    if (next == ARCHIVE_EOF) break;
    if (next != ARCHIVE_OK) {
      status = absl::DataLossError(fmt::format("archive is truncated or corrupt: {}", archive_error_string(archive)));
      break;
    }
    if (count >= limits.max_entries) {
      status = absl::InvalidArgumentError(fmt::format("archive has more than {} entries", limits.max_entries));
      break;
    }
    auto header = CheckedHeader(entry, limits, bytes.size(), total_bytes, names);
    if (!header.ok()) {
      status = header.status();
      break;
    }
    total_bytes += header->size_bytes;
    TarEntry out{header->name, header->directory, {}};
    out.contents.resize(header->size_bytes);
    if (header->size_bytes > 0 &&
        archive_read_data(archive, out.contents.data(), out.contents.size()) != la_ssize_t(header->size_bytes)) {
      status = absl::DataLossError(fmt::format("archive entry '{}' is truncated", archive_entry_pathname(entry)));
      break;
    }
    if (!header->hidden) entries.push_back(std::move(out));
  }
  archive_read_free(archive);
  if (!status.ok()) return status;
  SS_ASSERT(entries.size() <= limits.max_entries && total_bytes <= limits.max_total_bytes);
  return entries;
}

}  // namespace engine
