// TarReader and ReadTar (tar_archive.h): strict, streaming reading.
#include <archive.h>
#include <archive_entry.h>

#include <algorithm>

#include <fmt/format.h>

#include "engine/archive/tar_archive.h"
#include "engine/common/assert.h"

namespace engine {

namespace {

la_ssize_t ReadCallback(struct archive*, void* client, const void** chunk) {
  SS_ASSERT(client != nullptr && chunk != nullptr);
  return static_cast<la_ssize_t>(static_cast<TarReader*>(client)->Fill(chunk));
}

absl::Status RefusedEntry(std::string_view path, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("archive entry '{}': {}", path, why));
}

}  // namespace

TarReader::TarReader(const TarLimits& limits, File* in, uint64_t archive_bytes, Sha256* whole_file)
    : limits_(limits), in_(in), archive_bytes_(archive_bytes), whole_file_(whole_file) {}

absl::StatusOr<std::unique_ptr<TarReader>> TarReader::Open(File& in, const TarLimits& limits, Sha256* whole_file) {
  auto size = in.Size();
  if (!size.ok()) return size.status();
  std::unique_ptr<TarReader> reader(new TarReader(limits, &in, *size, whole_file));
  // Not zero-filled (a read overwrites what it uses), and no bigger than
  // the archive: reads never ask for more than its bytes.
  reader->buffer_ = std::make_unique_for_overwrite<char[]>(
      static_cast<size_t>(std::min<uint64_t>(kArchiveChunkBytes, std::max<uint64_t>(*size, 1))));
  reader->Start({});
  return reader;
}

absl::StatusOr<std::unique_ptr<TarReader>> TarReader::OpenMemory(std::string_view bytes, const TarLimits& limits) {
  std::unique_ptr<TarReader> reader(new TarReader(limits, nullptr, bytes.size(), nullptr));
  reader->Start(bytes);
  if (!reader->open_status_.ok()) return reader->open_status_;
  return reader;
}

void TarReader::Start(std::string_view memory) {
  archive_ = archive_read_new();
  SS_ASSERT(archive_ != nullptr);
  archive_read_support_format_tar(archive_);
  // Opening reads the first chunk already (to find the format).
  const int opened = in_ != nullptr ? archive_read_open(archive_, this, nullptr, ReadCallback, nullptr)
                                    : archive_read_open_memory(archive_, memory.data(), memory.size());
  if (opened != ARCHIVE_OK) open_status_ = Failed("archive");
}

TarReader::~TarReader() {
  // Closing a read archive calls no read callback: no I/O here.
  if (archive_ != nullptr) archive_read_free(archive_);
}

int64_t TarReader::Fill(const void** chunk) {
  SS_ASSERT(in_ != nullptr && buffer_ != nullptr && offset_ <= archive_bytes_);
  // The end of the file as it was at open: a tar cut short reads as
  // truncated, never as a different archive.
  const uint64_t want = std::min<uint64_t>(kArchiveChunkBytes, archive_bytes_ - offset_);
  if (!io_status_.ok() || caught_) return ARCHIVE_FATAL;  // libarchive gave up already
  if (want == 0) return 0;
  // A simulated crash unwinds the task by an exception from the read:
  // caught here and rethrown by RethrowCaught once libarchive returned,
  // never through its frames (which could not release what they hold).
  try {
    auto read = in_->ReadAt(offset_, std::span<char>(buffer_.get(), want));
    if (!read.ok()) {
      io_status_ = read.status();
      return ARCHIVE_FATAL;
    }
    SS_ASSERT(*read <= want, "read {} bytes into {}", *read, want);
    if (whole_file_ != nullptr) whole_file_->Update(std::string_view(buffer_.get(), *read));
    offset_ += *read;
    *chunk = buffer_.get();
    return static_cast<int64_t>(*read);
  } catch (...) {
    caught_ = std::current_exception();
    return ARCHIVE_FATAL;
  }
}

void TarReader::RethrowCaught() {
  if (caught_) {
    broken_ = true;
    std::rethrow_exception(std::exchange(caught_, nullptr));
  }
}

absl::Status TarReader::Failed(std::string_view what) {
  RethrowCaught();
  broken_ = true;
  if (!io_status_.ok()) return io_status_;
  return absl::DataLossError(fmt::format("{} is truncated or corrupt: {}", what, archive_error_string(archive_)));
}

absl::StatusOr<TarEntryHeader> TarReader::CheckedHeader(archive_entry* entry, bool& hidden) {
  SS_ASSERT(entry != nullptr && total_bytes_ <= limits_.max_total_bytes);
  const char* raw_path = archive_entry_pathname(entry);
  const std::string path = raw_path ? raw_path : "";
  if (auto status = CheckArchivePath(path, hidden); !status.ok()) return status;
  const mode_t type = archive_entry_filetype(entry);
  if (archive_entry_hardlink(entry) != nullptr || archive_entry_symlink(entry) != nullptr) {
    return RefusedEntry(path, "links are not allowed");
  }
  if (type != AE_IFREG && type != AE_IFDIR) return RefusedEntry(path, "only regular files and directories are allowed");
  TarEntryHeader header{.path = path, .directory = type == AE_IFDIR};
  if (header.path.back() == '/') header.path.pop_back();
  if (!names_.insert(header.path).second) return RefusedEntry(path, "duplicate entry");
  const la_int64_t size = archive_entry_size(entry);
  if (size < 0 || uint64_t(size) > limits_.max_entry_bytes ||
      total_bytes_ + uint64_t(size) > limits_.max_total_bytes) {
    return RefusedEntry(path, "larger than the size bound");
  }
  // The size field is untrusted: an entry cannot hold more than the whole
  // archive (a reader of its contents may size a buffer by it).
  if (uint64_t(size) > archive_bytes_) {
    return absl::DataLossError(fmt::format("archive entry '{}' is truncated", path));
  }
  header.size_bytes = uint64_t(size);
  SS_ASSERT(!header.path.empty() && header.path.back() != '/' && header.path.front() != '/');
  return header;
}

absl::StatusOr<std::optional<TarEntryHeader>> TarReader::Next() {
  if (!open_status_.ok()) return open_status_;
  SS_ASSERT(!broken_ && !at_end_ && !read_to_end_, "archive read after {}", broken_ ? "an error" : "its end");
  // Hidden entries are skipped: bounded by the entry limit like the rest.
  for (uint64_t skipped = 0;; ++skipped) {
    SS_ASSERT(skipped <= limits_.max_entries && names_.size() == entries_);
    if (remaining_ > 0) {
      const int skip = archive_read_data_skip(archive_);
      if (skip != ARCHIVE_OK) return Failed(fmt::format("archive entry '{}'", current_));
      remaining_ = 0;
    }
    archive_entry* entry = nullptr;
    const int next = archive_read_next_header(archive_, &entry);
    if (next == ARCHIVE_EOF) {
      if (caught_ || !io_status_.ok()) return Failed("archive");
      at_end_ = true;
      return std::nullopt;
    }
    if (next != ARCHIVE_OK) return Failed("archive");
    if (entries_ >= limits_.max_entries) {
      broken_ = true;
      return absl::InvalidArgumentError(fmt::format("archive has more than {} entries", limits_.max_entries));
    }
    ++entries_;
    bool hidden = false;
    auto header = CheckedHeader(entry, hidden);
    if (!header.ok()) {
      broken_ = true;
      return header.status();
    }
    total_bytes_ += header->size_bytes;
    current_ = header->path;
    remaining_ = header->size_bytes;
    if (!hidden) return std::optional<TarEntryHeader>(*std::move(header));
  }
}

absl::StatusOr<size_t> TarReader::Read(std::span<char> out) {
  SS_ASSERT(!broken_ && !at_end_ && !read_to_end_, "archive read after {}", broken_ ? "an error" : "its end");
  const size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), remaining_));
  if (want == 0) return 0;
  // libarchive fills the whole request unless the archive ends early.
  const la_ssize_t read = archive_read_data(archive_, out.data(), want);
  if (read < 0) return Failed(fmt::format("archive entry '{}'", current_));
  RethrowCaught();
  if (size_t(read) != want) {
    broken_ = true;
    if (!io_status_.ok()) return io_status_;
    return absl::DataLossError(fmt::format("archive entry '{}' is truncated", current_));
  }
  remaining_ -= want;
  return want;
}

absl::Status TarReader::ReadToEnd() {
  // Exceptions caught in Fill were rethrown by the call that failed.
  SS_ASSERT(io_status_.ok() && !caught_ && offset_ <= archive_bytes_ && !read_to_end_);
  read_to_end_ = true;
  if (in_ == nullptr) return absl::OkStatus();
  // Outside libarchive: what it left of the file (the last record's padding).
  for (uint64_t reads = 0; offset_ < archive_bytes_; ++reads) {
    SS_ASSERT(reads <= archive_bytes_ / kArchiveChunkBytes + 1, "no progress at offset {}", offset_);
    const uint64_t want = std::min<uint64_t>(kArchiveChunkBytes, archive_bytes_ - offset_);
    auto read = in_->ReadAt(offset_, std::span<char>(buffer_.get(), want));
    if (!read.ok()) return read.status();
    if (*read != want) return absl::DataLossError(fmt::format("archive: short read at offset {}", offset_));
    if (whole_file_ != nullptr) whole_file_->Update(std::string_view(buffer_.get(), want));
    offset_ += want;
  }
  SS_ASSERT(offset_ == archive_bytes_);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TarEntry>> ReadTar(std::string_view bytes, const TarLimits& limits) {
  auto reader = TarReader::OpenMemory(bytes, limits);
  if (!reader.ok()) return reader.status();
  std::vector<TarEntry> entries;
  for (uint64_t count = 0;; ++count) {
    SS_ASSERT(count <= limits.max_entries && entries.size() == count);
    auto header = (*reader)->Next();
    if (!header.ok()) return header.status();
    if (!header->has_value()) break;
    TarEntry entry{.path = (*header)->path, .directory = (*header)->directory};
    // Bounded by the archive's size (TarReader checked it).
    entry.contents.resize((*header)->size_bytes);
    if (!entry.contents.empty()) {
      auto read = (*reader)->Read(std::span<char>(entry.contents.data(), entry.contents.size()));
      if (!read.ok()) return read.status();
      SS_ASSERT(*read == entry.contents.size());
    }
    entries.push_back(std::move(entry));
  }
  SS_ASSERT(entries.size() <= limits.max_entries);
  return entries;
}

}  // namespace engine
