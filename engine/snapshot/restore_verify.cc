// Verifying snapshot archives (restore_steps.h): the `.checksum`, the
// strict first pass over a shard archive, and manifest.json.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/archive/sha256.h"
#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "engine/snapshot/restore_steps.h"

namespace engine {

const TarEntry* FindEntry(const std::vector<TarEntry>& entries, std::string_view path) {
  for (const TarEntry& entry : entries) {
    if (entry.path == path) return &entry;
  }
  return nullptr;
}

absl::Status CheckArchiveChecksum(FileSystem& fs, const std::string& archive_path, const std::string& sha256_hex) {
  SS_ASSERT(!archive_path.empty() && sha256_hex.size() == 64, "checksum '{}' of '{}'", sha256_hex, archive_path);
  auto checksum = ReadWholeFile(fs, archive_path + ".checksum");
  if (!checksum.ok()) return checksum.status();
  if (*checksum != sha256_hex) return SnapshotRefused(fmt::format("{} does not match its .checksum", archive_path));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TarEntry>> ReadVerifiedTar(FileSystem& fs, const std::string& archive_path,
                                                      const TarLimits& limits) {
  SS_ASSERT(!archive_path.empty());
  auto bytes = ReadWholeFile(fs, archive_path);
  if (!bytes.ok()) return bytes.status();
  if (auto status = CheckArchiveChecksum(fs, archive_path, Sha256Hex(*bytes)); !status.ok()) return status;
  return ReadTar(*bytes, limits);
}

absl::StatusOr<ArchiveManifest> ArchiveManifest::Parse(std::string_view json_text) {
  const nlohmann::json json = nlohmann::json::parse(json_text, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("files") || !json["files"].is_object()) {
    return SnapshotRefused("manifest.json is malformed");
  }
  ArchiveManifest manifest;
  for (const auto& [path, record] : json["files"].items()) {
    // Typed before use: a field of another type would throw out of the
    // JSON library.
    if (!record.is_object() || !record.contains("size") || !record["size"].is_number_unsigned() ||
        !record.contains("sha256") || !record["sha256"].is_string()) {
      return SnapshotRefused(fmt::format("manifest.json lists '{}' without a size and checksum", path));
    }
    manifest.files_[path] = Listed{record["size"].get<uint64_t>(), record["sha256"].get<std::string>()};
  }
  SS_ASSERT(manifest.files_.size() == json["files"].size());
  return manifest;
}

absl::Status ArchiveManifest::CheckListed(const std::string& path, uint64_t size_bytes) const {
  // Relative names without a directory's trailing '/' (TarReader's).
  SS_ASSERT(!path.empty() && path.front() != '/' && path.back() != '/' && path != "manifest.json", "entry '{}'",
            path);
  const auto it = files_.find(path);
  if (it == files_.end()) return SnapshotRefused(fmt::format("'{}' is not in the manifest", path));
  if (it->second.size_bytes != size_bytes) {
    return SnapshotRefused(fmt::format("'{}' does not match its manifest size and checksum", path));
  }
  return absl::OkStatus();
}

absl::Status ArchiveManifest::CheckContents(const std::string& path, const std::string& sha256_hex) const {
  const auto it = files_.find(path);
  SS_ASSERT(it != files_.end(), "'{}' hashed before it was found listed", path);
  if (it->second.sha256_hex != sha256_hex) {
    return SnapshotRefused(fmt::format("'{}' does not match its manifest size and checksum", path));
  }
  return absl::OkStatus();
}

absl::Status ArchiveManifest::CheckComplete(const std::set<std::string>& files, bool require_segments) const {
  for (const std::string& file : files) SS_ASSERT(files_.contains(file), "'{}' unlisted", file);
  for (const auto& [path, unused] : files_) {
    if (!files.contains(path)) return SnapshotRefused(fmt::format("manifest lists missing '{}'", path));
  }
  // Exactly the listed files.
  SS_ASSERT(files.size() == files_.size(), "{} files, {} listed", files.size(), files_.size());
  // Sorted: the files under a prefix start at its lower bound.
  const auto has = [&](std::string_view prefix) {
    const auto it = files.lower_bound(std::string(prefix));
    return it != files.end() && it->starts_with(prefix);
  };
  if (!has("wal/") || (require_segments && !has("segments/"))) {
    return SnapshotRefused("the archive lacks wal/ or segments/");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TarEntry>> VerifyManifest(std::vector<TarEntry> entries, bool require_segments) {
  const TarEntry* manifest_entry = FindEntry(entries, "manifest.json");
  if (manifest_entry == nullptr) return SnapshotRefused("no manifest.json");
  auto manifest = ArchiveManifest::Parse(manifest_entry->contents);
  if (!manifest.ok()) return manifest.status();
  std::vector<TarEntry> files;
  std::set<std::string> seen;
  for (TarEntry& entry : entries) {
    if (entry.path == "manifest.json" || entry.directory) continue;
    if (auto status = manifest->CheckListed(entry.path, entry.contents.size()); !status.ok()) return status;
    if (auto status = manifest->CheckContents(entry.path, Sha256Hex(entry.contents)); !status.ok()) return status;
    // ReadTar refuses duplicate names: each file is checked once.
    SS_ASSERT(seen.insert(entry.path).second, "'{}' twice in the archive", entry.path);
    files.push_back(std::move(entry));
  }
  if (auto status = manifest->CheckComplete(seen, require_segments); !status.ok()) return status;
  SS_ASSERT(files.size() == manifest->size(), "{} files kept, {} listed", files.size(), manifest->size());
  return files;
}

namespace {

// The entries the first pass keeps in memory: small, and needed before the
// second pass starts.
bool KeptByScan(const TarEntryHeader& entry) {
  return !entry.directory && (entry.path == "manifest.json" || entry.path == kSegmentsManifestName);
}

// The strict pass itself; what it could not read past is `refused` (the
// checksum, checked first, takes precedence over it).
ArchiveScan ScanEntries(TarReader& reader, const TarLimits& limits, absl::Status& refused) {
  ArchiveScan scan;
  for (uint64_t count = 0;; ++count) {
    SS_ASSERT(count <= limits.max_entries && scan.entries.size() == count);
    auto header = reader.Next();
    if (!header.ok()) {
      refused = header.status();
      break;
    }
    if (!header->has_value()) break;
    const TarEntryHeader& entry = **header;
    if (KeptByScan(entry)) {
      if (entry.size_bytes > limits.max_metadata_bytes) {
        refused = SnapshotRefused(fmt::format("'{}' is larger than {} bytes", entry.path, limits.max_metadata_bytes));
        break;
      }
      std::string contents(entry.size_bytes, '\0');
      auto read = contents.empty() ? absl::StatusOr<size_t>(0)
                                   : reader.Read(std::span<char>(contents.data(), contents.size()));
      if (!read.ok()) {
        refused = read.status();
        break;
      }
      SS_ASSERT(*read == contents.size());
      scan.manifests[entry.path] = std::move(contents);
    }
    scan.entries.push_back(entry);
  }
  return scan;
}

}  // namespace

absl::StatusOr<ArchiveScan> ScanArchive(FileSystem& fs, const std::string& archive_path, const TarLimits& limits) {
  SS_ASSERT(!archive_path.empty());
  auto file = fs.Open(archive_path, OpenMode::kRead);
  if (!file.ok()) return file.status();
  Sha256 whole_file;
  auto reader = TarReader::Open(**file, limits, &whole_file);
  if (!reader.ok()) return reader.status();
  absl::Status refused;
  ArchiveScan scan = ScanEntries(**reader, limits, refused);
  // A failed read is the answer. A tar refused for its contents is hashed
  // to its end first, so that a damaged archive is refused as one (by its
  // checksum) whatever its damage looks like to the tar reader.
  if ((*reader)->read_failed()) return refused;
  if (auto status = (*reader)->ReadToEnd(); !status.ok()) return status;
  if (auto status = CheckArchiveChecksum(fs, archive_path, whole_file.FinishHex()); !status.ok()) return status;
  if (!refused.ok()) return refused;
  return scan;
}

absl::StatusOr<ArchiveManifest> CheckListing(const ArchiveScan& scan, bool require_segments) {
  const auto manifest_json = scan.manifests.find("manifest.json");
  if (manifest_json == scan.manifests.end()) return SnapshotRefused("no manifest.json");
  auto manifest = ArchiveManifest::Parse(manifest_json->second);
  if (!manifest.ok()) return manifest.status();
  std::set<std::string> files;
  for (const TarEntryHeader& entry : scan.entries) {
    if (entry.path == "manifest.json" || entry.directory) continue;
    if (auto status = manifest->CheckListed(entry.path, entry.size_bytes); !status.ok()) return status;
    // TarReader refuses duplicate names.
    SS_ASSERT(files.insert(entry.path).second, "'{}' twice in the archive", entry.path);
  }
  if (auto status = manifest->CheckComplete(files, require_segments); !status.ok()) return status;
  // The other kept manifests are used before the second pass: checked now.
  for (const auto& [path, contents] : scan.manifests) {
    if (path == "manifest.json") continue;
    if (auto status = manifest->CheckContents(path, Sha256Hex(contents)); !status.ok()) return status;
  }
  return manifest;
}

absl::StatusOr<ArchivedSegments> ParseArchivedSegments(const std::string* contents) {
  // Archives from before segment manifests are full snapshots.
  if (contents == nullptr) return ArchivedSegments{};
  const nlohmann::json json = nlohmann::json::parse(*contents, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("partial") ||
      !json["partial"].is_boolean() || !json.contains("segments")) {
    return SnapshotRefused(fmt::format("{} is malformed", kSegmentsManifestName));
  }
  auto manifest = SnapshotManifestFromJson(json["segments"]);
  if (!manifest.ok()) return manifest.status();
  return ArchivedSegments{.present = true, .partial = json["partial"].get<bool>(),
                          .manifest = std::move(*manifest)};
}

absl::StatusOr<ArchivedSegments> ReadArchivedSegments(const std::vector<TarEntry>& files) {
  // Verified files only (VerifyManifest's output): no manifest.json, no
  // directories.
  for (const TarEntry& file : files) {
    SS_ASSERT(!file.directory && file.path != "manifest.json", "'{}' is not a verified file", file.path);
  }
  const TarEntry* entry = FindEntry(files, kSegmentsManifestName);
  return ParseArchivedSegments(entry == nullptr ? nullptr : &entry->contents);
}

}  // namespace engine
