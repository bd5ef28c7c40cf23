#include "engine/archive/snapshot_archive.h"

#include "engine/common/assert.h"
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

absl::Status ArchiveBuilder::AddFileFrom(FileSystem& fs, const std::string& source,
                                         const std::string& path) {
  auto contents = ReadWholeFile(fs, source);
  if (!contents.ok()) return contents.status();
  return Add(path, *contents);
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
  writer_.reset();
  file_.reset();
  if (auto status = fs_.Rename(temporary(), path_); !status.ok()) return status;
  committed_ = true;
  auto bytes = WriteSidecar();
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

absl::StatusOr<uint64_t> PendingArchive::WriteSidecar() {
  // The checksum is of the renamed, closed archive: nothing is written to
  // it any more.
  SS_ASSERT(committed_ && writer_ == nullptr && file_ == nullptr, "{}: sidecar before the commit", path_);
  if (auto status = fs_.SyncDir(ParentDir(path_)); !status.ok()) return status;
  auto bytes = ReadWholeFile(fs_, path_);
  if (!bytes.ok()) return bytes.status();
  if (auto status = WriteFileAtomically(fs_, path_ + ".checksum", Sha256Hex(*bytes)); !status.ok()) {
    return status;
  }
  return bytes->size();
}

}  // namespace engine
