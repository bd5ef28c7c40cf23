// Unpacking verified archive files into a restore's staging directory
// (restore_steps.h): from memory (Unpack) or streamed from the archive file
// (UnpackArchive), both through StagingDir so that every staged file and
// directory is created and synced the same way.
#include <fmt/format.h>

#include "engine/archive/sha256.h"
#include "engine/common/assert.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"
#include "engine/snapshot/restore_steps.h"

namespace engine {

namespace {

// A fresh staging directory being filled: files created with their parent
// directories, each path once; then everything synced, deepest first.
class StagingDir {
 public:
  StagingDir(FileSystem& fs, const std::string& staging) : fs_(fs), staging_(staging), directories_{staging} {
    SS_ASSERT(staging.ends_with(".staging"), "unpacking into '{}'", staging);
  }

  // Removes what an interrupted restore left, then makes it anew.
  absl::Status Create() {
    if (auto status = RemoveTree(fs_, staging_); !status.ok()) return status;
    return fs_.Mkdir(staging_);
  }

  absl::StatusOr<std::unique_ptr<File>> CreateFile(const std::string& relative) {
    // Each path once (verified archives, disjoint merge plans): a second
    // one would fail its exclusive create as if the disk had refused it.
    SS_ASSERT(files_.insert(relative).second, "'{}' unpacked twice", relative);
    // A relative path (the tar reader refuses others): everything lands in
    // staging.
    SS_ASSERT(!relative.empty() && relative.front() != '/', "archive path '{}'", relative);
    const std::string path = JoinPath(staging_, relative);
    // Create parent directories, outermost first.
    std::vector<std::string> parents;
    for (std::string_view dir = ParentDir(path); !directories_.contains(std::string(dir)); dir = ParentDir(dir)) {
      // Every walk up ends at staging, which is in `directories_`.
      SS_ASSERT(dir.size() > staging_.size() && dir.starts_with(staging_), "'{}' outside '{}'", dir, staging_);
      parents.emplace_back(dir);
    }
    for (auto it = parents.rbegin(); it != parents.rend(); ++it) {
      if (auto status = EnsureDir(fs_, *it); !status.ok()) return status;
      directories_.insert(*it);
    }
    return fs_.Open(path, OpenMode::kCreateExclusive);
  }

  // Every staged file's data is durable before the directories that name
  // it are synced.
  static absl::Status FinishFile(File& file) { return file.Sync(); }

  // Deepest first, so every entry is durable before its parent's entry is.
  absl::Status SyncAll() {
    for (auto it = directories_.rbegin(); it != directories_.rend(); ++it) {
      if (auto status = fs_.SyncDir(*it); !status.ok()) return status;
    }
    return fs_.SyncDir(ParentDir(staging_));
  }

  const std::set<std::string>& files() const { return files_; }

 private:
  FileSystem& fs_;
  const std::string staging_;
  std::set<std::string> directories_;
  std::set<std::string> files_;
};

absl::Status UnpackFiles(FileSystem& fs, const std::string& staging, const std::vector<TarEntry>& files) {
  StagingDir dir(fs, staging);
  if (auto status = dir.Create(); !status.ok()) return status;
  for (const TarEntry& file : files) {
    auto out = dir.CreateFile(file.path);
    if (!out.ok()) return out.status();
    if (auto status = (*out)->Append(std::span<const char>(file.contents.data(), file.contents.size()));
        !status.ok()) {
      return status;
    }
    if (auto status = StagingDir::FinishFile(**out); !status.ok()) return status;
  }
  return dir.SyncAll();
}

// One file of the archive, from the reader into staging, hashed on the way.
absl::Status StreamFile(TarReader& reader, const TarEntryHeader& entry, const ArchiveManifest& manifest,
                        const std::string& archive_path, StagingDir& dir, std::span<char> buffer) {
  auto out = dir.CreateFile(entry.path);
  if (!out.ok()) return out.status();
  Sha256 sha256;
  // One chunk per round at least: bounded by the entry's size.
  for (uint64_t copied = 0; copied < entry.size_bytes;) {
    auto read = reader.Read(buffer);
    if (!read.ok()) return read.status();
    SS_ASSERT(*read > 0, "'{}': no progress at {} of {} bytes", entry.path, copied, entry.size_bytes);
    const std::string_view chunk(buffer.data(), *read);
    sha256.Update(chunk);
    if (auto status = (*out)->Append(std::span<const char>(chunk.data(), chunk.size())); !status.ok()) return status;
    copied += *read;
  }
  SS_ASSERT(sha256.bytes() == entry.size_bytes, "'{}': {} of {} bytes", entry.path, sha256.bytes(), entry.size_bytes);
  // Refused before it is synced: staging goes, the live shard was never
  // touched.
  if (!manifest.CheckContents(entry.path, sha256.FinishHex()).ok()) {
    return SnapshotRefused(
        fmt::format("'{}' in {} does not match its manifest size and checksum", entry.path, archive_path));
  }
  return StagingDir::FinishFile(**out);
}

absl::Status StreamFiles(FileSystem& fs, const std::string& archive_path, const std::string& staging,
                         const ArchiveScan& scan, const ArchiveManifest& manifest, const TarLimits& limits) {
  StagingDir dir(fs, staging);
  if (auto status = dir.Create(); !status.ok()) return status;
  auto file = fs.Open(archive_path, OpenMode::kRead);
  if (!file.ok()) return file.status();
  auto reader = TarReader::Open(**file, limits);
  if (!reader.ok()) return reader.status();
  const auto changed = [&](size_t index) {
    return absl::DataLossError(
        fmt::format("{}: entry {} reads back other than in the checksummed first pass", archive_path, index));
  };
  std::unique_ptr<char[]> buffer = std::make_unique_for_overwrite<char[]>(kArchiveChunkBytes);
  size_t index = 0;
  for (;; ++index) {
    SS_ASSERT(index <= scan.entries.size());
    auto header = (*reader)->Next();
    if (!header.ok()) return header.status();
    if (!header->has_value()) break;
    // The first pass's checks hold for this pass only if it reads the same
    // entries (the file could have changed, or a read returned other bytes).
    if (index == scan.entries.size() || **header != scan.entries[index]) return changed(index);
    const TarEntryHeader& entry = **header;
    // Directories are implied by the files' paths; manifest.json was read
    // by the first pass (Next reads through both).
    if (entry.directory || entry.path == "manifest.json") continue;
    const std::span<char> chunk(buffer.get(), kArchiveChunkBytes);
    if (auto status = StreamFile(**reader, entry, manifest, archive_path, dir, chunk); !status.ok()) return status;
  }
  if (index != scan.entries.size()) return changed(index);
  // Exactly the listed files (CheckListing), among them the WAL.
  SS_ASSERT(dir.files().size() == manifest.size(), "{} files unpacked, {} listed", dir.files().size(),
            manifest.size());
  return dir.SyncAll();
}

}  // namespace

absl::Status Unpack(FileSystem& fs, const std::string& staging, const std::vector<TarEntry>& files) {
  // VerifyManifest's output (or a merge plan's): no manifest.json, no
  // directories, and the WAL among them.
  for (const TarEntry& file : files) {
    SS_ASSERT(!file.directory && file.path != "manifest.json", "'{}' is not a verified file", file.path);
  }
  SS_ASSERT(std::any_of(files.begin(), files.end(), [](const TarEntry& file) { return file.path.starts_with("wal/"); }),
            "a shard unpacked without its WAL");
  absl::Status status = UnpackFiles(fs, staging, files);
  // A failed unpack (out of space, an I/O error) leaves no partial copy.
  if (!status.ok()) {
    SS_COVER(kRestoreUndone);
    (void)RemoveTree(fs, staging);
  }
  return status;
}

absl::Status UnpackArchive(FileSystem& fs, const std::string& archive_path, const std::string& staging,
                           const ArchiveScan& scan, const ArchiveManifest& manifest, const TarLimits& limits) {
  SS_ASSERT(archive_path != staging && !scan.entries.empty(), "unpacking '{}' into '{}'", archive_path, staging);
  absl::Status status = StreamFiles(fs, archive_path, staging, scan, manifest, limits);
  // A failed unpack (a file not matching the manifest, out of space, an I/O
  // error) leaves no partial copy.
  if (!status.ok()) {
    SS_COVER(kRestoreUndone);
    (void)RemoveTree(fs, staging);
  }
  return status;
}

}  // namespace engine
