#include "engine/archive/snapshot_archive.h"

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/checksum.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"
#include "engine/archive/sha256.h"

namespace engine {

ArchiveBuilder::ArchiveBuilder(TarWriter& writer, std::string prefix) : writer_(writer), prefix_(std::move(prefix)) {
  SS_ASSERT(prefix_.empty() || (prefix_.front() != '/' && prefix_.back() != '/'), "archive prefix '{}'", prefix_);
}

absl::Status ArchiveBuilder::Add(const std::string& path, std::string_view contents) {
  SS_ASSERT(!manifest_written_, "{} added after the manifest", path);
  // The manifest lists each file once: a second copy would replace the
  // first one's size and checksum while the tar kept both.
  SS_ASSERT(!manifest_.contains(path) && path != "manifest.json", "{} archived twice", path);
  manifest_[path] = {{"size", contents.size()}, {"sha256", Sha256Hex(contents)}};
  const uint64_t archived_before = writer_.contents_bytes();
  absl::Status status = writer_.AddFile(JoinPath(prefix_, path), contents);
  // The size and SHA-256 listed describe exactly the bytes the tar took.
  SS_ASSERT(!status.ok() || writer_.contents_bytes() - archived_before == contents.size(),
            "{}: {} bytes listed, {} archived", path, contents.size(), writer_.contents_bytes() - archived_before);
  return status;
}

absl::Status ArchiveBuilder::AddFileFrom(FileSystem& fs, const std::string& source, const std::string& path,
                                         std::optional<uint32_t> expected_crc32c) {
  SS_ASSERT(!manifest_written_, "{} added after the manifest", path);
  SS_ASSERT(!manifest_.contains(path) && path != "manifest.json", "{} archived twice", path);
  auto reader = ChunkedFileReader::Open(fs, source);
  if (!reader.ok()) return reader.status();
  const uint64_t size = reader->size();
  const uint64_t archived_before = writer_.contents_bytes();
  if (auto status = writer_.BeginFile(JoinPath(prefix_, path), size); !status.ok()) return status;
  Sha256 sha256;
  Crc32cHasher crc;
  // One chunk per round at least: bounded by the file's size.
  for (uint64_t copied = 0; copied < size;) {
    auto chunk = reader->Next();
    if (!chunk.ok()) return chunk.status();
    SS_ASSERT(!chunk->empty(), "{}: no progress at {} of {} bytes", source, copied, size);
    sha256.Update(*chunk);
    if (expected_crc32c) crc.process_bytes(chunk->data(), chunk->size());
    if (auto status = writer_.AppendData(*chunk); !status.ok()) return status;
    copied += chunk->size();
  }
  // The bytes archived must be those the segment manifest's checksum
  // describes: a bad read here or in the manifest's read would otherwise
  // ship a file whose checksum a receiver's copy can never match (seed
  // 253240).
  if (expected_crc32c && crc.checksum() != *expected_crc32c) {
    SS_COVER(kDamageDetected);
    return absl::DataLossError(fmt::format("{}: read back with other bytes than its manifest checksum", source));
  }
  if (auto status = writer_.EndFile(); !status.ok()) return status;
  // The size and SHA-256 listed describe exactly the bytes the tar took.
  SS_ASSERT(writer_.contents_bytes() - archived_before == size, "{}: {} bytes listed, {} archived", path, size,
            writer_.contents_bytes() - archived_before);
  manifest_[path] = {{"size", size}, {"sha256", sha256.FinishHex()}};
  return absl::OkStatus();
}

absl::Status ArchiveBuilder::WriteManifest() {
  SS_ASSERT(!manifest_written_, "manifest.json of '{}' written twice", prefix_);
  manifest_written_ = true;
  const std::string manifest = nlohmann::json{{"files", manifest_}}.dump();
  const uint64_t archived_before = writer_.contents_bytes();
  absl::Status status = writer_.AddFile(JoinPath(prefix_, "manifest.json"), manifest);
  SS_ASSERT(!status.ok() || writer_.contents_bytes() - archived_before == manifest.size());
  return status;
}

absl::StatusOr<std::unique_ptr<PendingArchive>> PendingArchive::Open(FileSystem& fs, std::string path) {
  std::unique_ptr<PendingArchive> archive(new PendingArchive(fs, std::move(path)));
  auto file = fs.Open(archive->temporary(), OpenMode::kCreateTruncate);
  if (!file.ok()) return file.status();
  archive->file_ = std::move(*file);
  auto writer = TarWriter::Open(*archive->file_);
  if (!writer.ok()) return archive->Finish(writer.status()).status();
  archive->writer_ = std::move(*writer);
  // What writer() and Finish rely on.
  SS_ASSERT(archive->file_ != nullptr && archive->writer_ != nullptr && !archive->committed_);
  return archive;
}

PendingArchive::~PendingArchive() {
  writer_.reset();  // before the file it writes to
  file_.reset();
}

TarWriter& PendingArchive::writer() {
  SS_ASSERT(writer_ != nullptr && !committed_, "{}: written after Finish", path_);
  return *writer_;
}

absl::StatusOr<uint64_t> PendingArchive::Finish(absl::Status written) {
  SS_ASSERT(!committed_, "{}: finished twice", path_);
  // Only an open archive can be committed (Open finishes a failed one).
  SS_ASSERT(!written.ok() || (writer_ != nullptr && file_ != nullptr), "{}: committed unopened", path_);
  if (written.ok()) {
    auto bytes = Commit();
    if (bytes.ok() || committed_) return bytes;
    written = bytes.status();
  }
  SS_ASSERT(!written.ok() && !committed_);
  writer_.reset();
  file_.reset();
  (void)fs_.Unlink(temporary());
  SS_COVER(kSnapshotFilesRemoved);
  return written;
}

absl::StatusOr<uint64_t> PendingArchive::Commit() {
  SS_ASSERT(!committed_ && writer_ != nullptr && file_ != nullptr);
  if (auto status = writer_->Finish(); !status.ok()) return status;
  if (auto status = file_->Sync(); !status.ok()) return status;
  // Taken before the writer goes: the archive is never read back for it.
  const std::string sha256_hex = writer_->sha256_hex();
  const uint64_t archive_bytes = writer_->archive_bytes();
  writer_.reset();
  file_.reset();
  if (auto status = fs_.Rename(temporary(), path_); !status.ok()) return status;
  committed_ = true;
  auto bytes = WriteSidecar(sha256_hex, archive_bytes);
  if (!bytes.ok()) {
    // No half-committed archive stays: without its sidecar it could never
    // be restored, and it holds disk space (the failure may be ENOSPC).
    for (const std::string& leftover : {path_, path_ + ".checksum", path_ + ".checksum.tmp"}) {
      (void)fs_.Unlink(leftover);
    }
    (void)fs_.SyncDir(ParentDir(path_));
  }
  return bytes;
}

absl::StatusOr<uint64_t> PendingArchive::WriteSidecar(const std::string& sha256_hex, uint64_t archive_bytes) {
  // The checksum is of the renamed, closed archive: nothing is written to
  // it any more. It was computed from the bytes the writer handed to the
  // file (TarWriter::FlushPending), so damage the disk did to them shows at
  // restore instead of being sealed in by a read-back.
  SS_ASSERT(committed_ && writer_ == nullptr && file_ == nullptr, "{}: sidecar before the commit", path_);
  SS_ASSERT(sha256_hex.size() == 64 && archive_bytes > 0, "{}: checksum '{}' of {} bytes", path_, sha256_hex,
            archive_bytes);
  if (auto status = fs_.SyncDir(ParentDir(path_)); !status.ok()) return status;
  if (auto status = WriteFileAtomically(fs_, path_ + ".checksum", sha256_hex); !status.ok()) return status;
  return archive_bytes;
}

}  // namespace engine
