// TarWriter and the path rules shared by the writer and the reader
// (tar_reader.cc).
#include "engine/archive/tar_archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

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

absl::Status RefusedPath(std::string_view path, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("archive entry '{}': {}", path, why));
}

}  // namespace

absl::Status CheckArchivePath(std::string_view path, bool& hidden) {
  hidden = false;
  if (path.empty()) return RefusedPath(path, "empty name");
  if (path.front() == '/') return RefusedPath(path, "absolute path");
  std::string_view rest = path;
  if (rest.back() == '/') rest.remove_suffix(1);
  for (int depth = 0; !rest.empty(); ++depth) {
    if (depth > 64) return RefusedPath(path, "too deep");
    const size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return RefusedPath(path, "'.', '..' or empty component");
    if (part.front() == '.') hidden = true;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return absl::OkStatus();
}

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
  if (archive_ == nullptr) return;
  // An abandoned archive is closed too, its output dropped (Take): libarchive
  // 3.6 frees its output buffer only in close, and archive_write_fail would
  // skip that and leak it. Close pads a file cut short up to its declared
  // size, which costs CPU only.
  if (!finished_) {
    abandoned_ = true;
    archive_write_close(archive_);
  }
  archive_write_free(archive_);
}

absl::Status TarWriter::AddFile(const std::string& path, std::string_view contents) {
  if (auto status = BeginFile(path, contents.size()); !status.ok()) return status;
  if (auto status = AppendData(contents); !status.ok()) return status;
  return EndFile();
}

absl::Status TarWriter::BeginFile(const std::string& path, uint64_t size_bytes) {
  SS_ASSERT(!finished_ && !open_file_, "{} begun while {} is open", path, open_file_ ? open_file_->path : "");
  // What the writer writes, the reader must take back: a path the reader
  // refused or skipped would make the archive unrestorable.
  bool hidden = false;
  SS_ASSERT(CheckArchivePath(path, hidden).ok() && !hidden && path.back() != '/', "unreadable archive path '{}'",
            path);
  // Owned by a guard: a simulated crash can unwind through the write below.
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                      archive_entry_free);
  archive_entry_set_pathname(entry.get(), path.c_str());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size_bytes));
  archive_entry_set_mtime(entry.get(), 0, 0);  // deterministic archives
  const int header = archive_write_header(archive_, entry.get());
  entry.reset();
  if (header != ARCHIVE_OK) {
    return absl::InternalError(fmt::format("archive header for {}: {}", path, archive_error_string(archive_)));
  }
  open_file_ = OpenFile{.path = path, .size_bytes = size_bytes};
  return FlushPending();
}

absl::Status TarWriter::AppendData(std::string_view chunk) {
  SS_ASSERT(!finished_ && open_file_, "data appended with no file open");
  // A header declared the size: more would be cut by libarchive, silently.
  SS_ASSERT(chunk.size() <= open_file_->size_bytes - open_file_->written_bytes, "{}: {} bytes past its size {}",
            open_file_->path, open_file_->written_bytes + chunk.size() - open_file_->size_bytes,
            open_file_->size_bytes);
  if (chunk.empty()) return absl::OkStatus();
  if (archive_write_data(archive_, chunk.data(), chunk.size()) != static_cast<la_ssize_t>(chunk.size())) {
    return absl::InternalError(
        fmt::format("archive data for {}: {}", open_file_->path, archive_error_string(archive_)));
  }
  open_file_->written_bytes += chunk.size();
  contents_bytes_ += chunk.size();
  // libarchive keeps less than a record: what it handed over goes to the
  // file now, so memory stays bounded by the chunk.
  return FlushPending();
}

absl::Status TarWriter::EndFile() {
  SS_ASSERT(!finished_ && open_file_, "no file open to end");
  // A short file would leave the tar's blocks misaligned with its headers.
  SS_ASSERT(open_file_->written_bytes == open_file_->size_bytes, "{}: {} of {} bytes written", open_file_->path,
            open_file_->written_bytes, open_file_->size_bytes);
  // A header block, then the contents padded to whole blocks.
  const uint64_t size = open_file_->size_bytes;
  const uint64_t contents_blocks_bytes = (size + kTarBlockBytes - 1) / kTarBlockBytes * kTarBlockBytes;
  SS_ASSERT(contents_blocks_bytes >= size && contents_blocks_bytes - size < kTarBlockBytes);
  ++files_;
  least_stream_bytes_ += kTarBlockBytes + contents_blocks_bytes;
  open_file_.reset();
  return absl::OkStatus();
}

void TarWriter::Take(std::string_view blocks) {
  // libarchive hands over whole records only.
  SS_ASSERT(blocks.size() % kBytesPerRecord == 0, "a tar write of {} bytes", blocks.size());
  if (abandoned_) return;
  pending_.append(blocks);
  stream_bytes_ += blocks.size();
}

absl::Status TarWriter::FlushPending() {
  if (pending_.empty()) return absl::OkStatus();
  // Nothing libarchive handed over is lost or handed to the file twice.
  SS_ASSERT(handed_bytes_ + pending_.size() == stream_bytes_);
  handed_bytes_ += pending_.size();
  // Hashed as written, so the `.checksum` describes the bytes meant for the
  // file: damage on the way to the disk, or later, is caught at restore
  // instead of being sealed into the checksum by a read-back.
  hash_.Update(pending_);
  absl::Status status = out_.Append(std::span<const char>(pending_.data(), pending_.size()));
  pending_.clear();
  return status;
}

absl::Status TarWriter::Finish() {
  SS_ASSERT(!finished_ && !open_file_, "finished with {} open", open_file_ ? open_file_->path : "");
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
  if (status.ok()) sha256_hex_ = hash_.FinishHex();
  return status;
}

uint64_t TarWriter::archive_bytes() const {
  SS_ASSERT(finished_ && !sha256_hex_.empty(), "the archive's size asked before it was finished");
  return handed_bytes_;
}

const std::string& TarWriter::sha256_hex() const {
  SS_ASSERT(finished_ && sha256_hex_.size() == 64, "the archive's checksum asked before it was finished");
  return sha256_hex_;
}

}  // namespace engine
