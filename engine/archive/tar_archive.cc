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
  static_cast<TarWriter*>(client)->pending().append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

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
  archive_write_set_bytes_per_block(writer->archive_, 10240);
  if (archive_write_open2(writer->archive_, writer.get(), nullptr, WriteCallback, nullptr, nullptr) !=
      ARCHIVE_OK) {
    return absl::InternalError(fmt::format("archive: {}", archive_error_string(writer->archive_)));
  }
  return writer;
}

TarWriter::~TarWriter() {
  if (archive_ != nullptr) archive_write_free(archive_);
}

absl::Status TarWriter::AddFile(const std::string& path, std::string_view contents) {
  SS_ASSERT(!finished_);
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
  return FlushPending();
}

absl::Status TarWriter::FlushPending() {
  if (pending_.empty()) return absl::OkStatus();
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
  return FlushPending();
}

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
    const char* raw_path = archive_entry_pathname(entry);
    const std::string path = raw_path ? raw_path : "";
    bool hidden = false;
    if (status = CheckPath(path, hidden); !status.ok()) break;
    const mode_t type = archive_entry_filetype(entry);
    if (archive_entry_hardlink(entry) != nullptr || archive_entry_symlink(entry) != nullptr) {
      status = Refused(path, "links are not allowed");
      break;
    }
    if (type != AE_IFREG && type != AE_IFDIR) {
      status = Refused(path, "only regular files and directories are allowed");
      break;
    }
    std::string name = path;
    if (!name.empty() && name.back() == '/') name.pop_back();
    if (!names.insert(name).second) {
      status = Refused(path, "duplicate entry");
      break;
    }
    const la_int64_t size = archive_entry_size(entry);
    if (size < 0 || uint64_t(size) > limits.max_entry_bytes || total_bytes + uint64_t(size) > limits.max_total_bytes) {
      status = Refused(path, "larger than the size bound");
      break;
    }
    // The size field is untrusted: an entry cannot hold more than the whole
    // archive, so check that before allocating its contents (else a 2 KiB
    // archive declaring a 1 GiB entry allocates 1 GiB).
    if (uint64_t(size) > bytes.size()) {
      status = absl::DataLossError(fmt::format("archive entry '{}' is truncated", path));
      break;
    }
    total_bytes += uint64_t(size);
    TarEntry out{name, type == AE_IFDIR, {}};
    out.contents.resize(static_cast<size_t>(size));
    if (size > 0 && archive_read_data(archive, out.contents.data(), out.contents.size()) != size) {
      status = absl::DataLossError(fmt::format("archive entry '{}' is truncated", path));
      break;
    }
    if (!hidden) entries.push_back(std::move(out));
  }
  archive_read_free(archive);
  if (!status.ok()) return status;
  return entries;
}

}  // namespace engine
