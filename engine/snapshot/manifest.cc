#include "engine/snapshot/manifest.h"

#include <fmt/format.h>

#include "engine/common/checksum.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"
#include "engine/segment/segment.h"

namespace engine {

namespace {

absl::Status Invalid(std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("segments manifest: {}", why));
}

nlohmann::json VersionJson(const Version& version) {
  return version ? nlohmann::json(*version) : nlohmann::json(nullptr);
}

absl::StatusOr<Version> VersionFromJson(const nlohmann::json& json) {
  if (json.is_null()) return Version();
  if (!json.is_number_unsigned()) return Invalid("a version is neither null nor an unsigned number");
  return Version(json.get<uint64_t>());
}

absl::StatusOr<SegmentManifest> SegmentFromJson(const std::string& key, const nlohmann::json& json) {
  if (!IsPlainName(key)) return Invalid(fmt::format("bad segment id '{}'", key));
  if (!json.is_object() || !json.contains("segment_id") || !json["segment_id"].is_string() ||
      json["segment_id"].get<std::string>() != key || !json.contains("segment_version") ||
      !json.contains("file_versions") || !json["file_versions"].is_object()) {
    return Invalid(fmt::format("segment '{}' is malformed", key));
  }
  SegmentManifest segment{.segment_id = key};
  auto version = VersionFromJson(json["segment_version"]);
  if (!version.ok()) return version.status();
  segment.segment_version = *version;
  for (const auto& [file, file_json] : json["file_versions"].items()) {
    if (!IsPlainName(file)) return Invalid(fmt::format("bad file name '{}' in segment '{}'", file, key));
    auto file_version = VersionFromJson(file_json);
    if (!file_version.ok()) return file_version.status();
    // A file cannot hold an op its segment has not applied.
    if (*file_version > segment.segment_version) {
      return Invalid(fmt::format("file {}/{} is newer than its segment", key, file));
    }
    segment.files[file] = *file_version;
  }
  if (!json.contains("file_checksums") || !json["file_checksums"].is_object()) {
    return Invalid(fmt::format("segment '{}' has no file checksums", key));
  }
  for (const auto& [file, checksum] : json["file_checksums"].items()) {
    if (!segment.files.contains(file) || !checksum.is_number_unsigned() || checksum.get<uint64_t>() > UINT32_MAX) {
      return Invalid(fmt::format("bad checksum of file {}/{}", key, file));
    }
    segment.checksums[file] = static_cast<uint32_t>(checksum.get<uint64_t>());
  }
  if (segment.checksums.size() != segment.files.size()) {
    return Invalid(fmt::format("segment '{}' lacks a file's checksum", key));
  }
  return segment;
}

}  // namespace

bool IsPlainName(std::string_view name) {
  return !name.empty() && name.find('/') == std::string_view::npos && name[0] != '.' &&
         name.find('\0') == std::string_view::npos;
}

nlohmann::json ToJson(const SegmentManifest& manifest) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [file, version] : manifest.files) files[file] = VersionJson(version);
  nlohmann::json checksums = nlohmann::json::object();
  for (const auto& [file, checksum] : manifest.checksums) checksums[file] = checksum;
  return {{"segment_id", manifest.segment_id},
          {"segment_version", VersionJson(manifest.segment_version)},
          {"file_versions", std::move(files)},
          {"file_checksums", std::move(checksums)}};
}

nlohmann::json ToJson(const SnapshotManifest& manifest) {
  nlohmann::json segments = nlohmann::json::object();
  for (const auto& [id, segment] : manifest.segments) segments[id] = ToJson(segment);
  return segments;
}

absl::StatusOr<SnapshotManifest> SnapshotManifestFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return Invalid("not an object");
  SnapshotManifest manifest;
  for (const auto& [id, segment_json] : json.items()) {
    auto segment = SegmentFromJson(id, segment_json);
    if (!segment.ok()) return segment.status();
    manifest.segments[id] = std::move(*segment);
  }
  return manifest;
}

absl::StatusOr<SegmentManifest> SegmentManifestFromDisk(FileSystem& fs, const std::string& dir,
                                                        const std::string& segment_id) {
  auto contents = ReadSealedFile(fs, JoinPath(dir, "segment.json"));
  if (!contents.ok()) return contents.status();
  const nlohmann::json json = nlohmann::json::parse(*contents, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("version")) {
    return absl::DataLossError(fmt::format("{}/segment.json is malformed", dir));
  }
  auto version = VersionFromJson(json["version"]);
  if (!version.ok()) return absl::DataLossError(fmt::format("{}/segment.json: bad version", dir));
  auto entries = fs.ListDir(dir);
  if (!entries.ok()) return entries.status();
  SegmentManifest manifest{.segment_id = segment_id, .segment_version = *version};
  for (const DirEntry& entry : *entries) {
    if (entry.kind != EntryKind::kFile || !IsPlainName(entry.name) || entry.name.ends_with(".tmp")) continue;
    auto file = ReadWholeFile(fs, JoinPath(dir, entry.name));
    if (!file.ok()) return file.status();
    manifest.files[entry.name] = *version;
    manifest.checksums[entry.name] = Crc32c(*file);
  }
  return manifest;
}

absl::StatusOr<SnapshotManifest> ShardManifestFromDisk(FileSystem& fs, const std::string& shard_dir) {
  const std::string segments = JoinPath(shard_dir, "segments");
  auto entries = fs.ListDir(segments);
  if (absl::IsNotFound(entries.status())) return SnapshotManifest{};
  if (!entries.ok()) return entries.status();
  SnapshotManifest manifest;
  for (const DirEntry& entry : *entries) {
    if (entry.kind != EntryKind::kDirectory || !IsPlainName(entry.name) || entry.name.ends_with(".deleted")) {
      continue;
    }
    const std::string dir = JoinPath(segments, entry.name);
    // Without its marker it is an interrupted creation: Load removes it.
    auto complete = Exists(fs, JoinPath(dir, Segment::kCompletionMarker));
    if (!complete.ok()) return complete.status();
    if (!*complete) continue;
    auto segment = SegmentManifestFromDisk(fs, dir, entry.name);
    if (!segment.ok()) return segment.status();
    manifest.segments[entry.name] = std::move(*segment);
  }
  return manifest;
}

std::set<std::string> UpdatedFiles(const SegmentManifest* old, const SegmentManifest& current) {
  std::set<std::string> updated;
  for (const auto& [file, version] : current.files) {
    if (old == nullptr) {
      updated.insert(file);
      continue;
    }
    const auto it = old->files.find(file);
    const auto old_checksum = old->checksums.find(file);
    const auto checksum = current.checksums.find(file);
    const bool same_bytes = old_checksum != old->checksums.end() && checksum != current.checksums.end() &&
                            old_checksum->second == checksum->second;
    if (it == old->files.end() || it->second < version || !same_bytes ||
        (it->second == Version(0) && version == Version(0))) {
      updated.insert(file);
    }
  }
  return updated;
}

}  // namespace engine
