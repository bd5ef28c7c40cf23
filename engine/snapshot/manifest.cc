#include "engine/snapshot/manifest.h"

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"
#include "engine/segment/segment.h"

namespace engine {

namespace {

absl::Status InvalidManifest(std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("segments manifest: {}", why));
}

nlohmann::json VersionJson(const Version& version) {
  return version ? nlohmann::json(*version) : nlohmann::json(nullptr);
}

absl::StatusOr<Version> VersionFromJson(const nlohmann::json& json) {
  if (json.is_null()) return Version();
  if (!json.is_number_unsigned()) return InvalidManifest("a version is neither null nor an unsigned number");
  return Version(json.get<uint64_t>());
}

// What every manifest this layer builds satisfies (SnapshotManifestFromJson
// refuses any other): plain names, no file newer than its segment, and a
// checksum for each file and no other.
void AssertWellFormed(const SegmentManifest& manifest) {
  SS_ASSERT(IsPlainName(manifest.segment_id), "segment id '{}'", manifest.segment_id);
  SS_ASSERT(manifest.checksums.size() == manifest.files.size(), "segment {}: {} checksums for {} files",
            manifest.segment_id, manifest.checksums.size(), manifest.files.size());
  for (const auto& [file, version] : manifest.files) {
    SS_ASSERT(IsPlainName(file), "segment {}: file name '{}'", manifest.segment_id, file);
    SS_ASSERT(version <= manifest.segment_version, "file {}/{} newer than its segment", manifest.segment_id, file);
    SS_ASSERT(manifest.checksums.contains(file), "file {}/{} has no checksum", manifest.segment_id, file);
  }
}

absl::StatusOr<SegmentManifest> SegmentFromJson(const std::string& key, const nlohmann::json& json) {
  if (!IsPlainName(key)) return InvalidManifest(fmt::format("bad segment id '{}'", key));
  if (!json.is_object() || !json.contains("segment_id") || !json["segment_id"].is_string() ||
      json["segment_id"].get<std::string>() != key || !json.contains("segment_version") ||
      !json.contains("file_versions") || !json["file_versions"].is_object()) {
    return InvalidManifest(fmt::format("segment '{}' is malformed", key));
  }
  SegmentManifest segment{.segment_id = key};
  auto version = VersionFromJson(json["segment_version"]);
  if (!version.ok()) return version.status();
  segment.segment_version = *version;
  for (const auto& [file, file_json] : json["file_versions"].items()) {
    if (!IsPlainName(file)) return InvalidManifest(fmt::format("bad file name '{}' in segment '{}'", file, key));
    auto file_version = VersionFromJson(file_json);
    if (!file_version.ok()) return file_version.status();
    // A file cannot hold an op its segment has not applied.
    if (*file_version > segment.segment_version) {
      return InvalidManifest(fmt::format("file {}/{} is newer than its segment", key, file));
    }
    segment.files[file] = *file_version;
  }
  if (!json.contains("file_checksums") || !json["file_checksums"].is_object()) {
    return InvalidManifest(fmt::format("segment '{}' has no file checksums", key));
  }
  for (const auto& [file, checksum] : json["file_checksums"].items()) {
    if (!segment.files.contains(file) || !checksum.is_number_unsigned() || checksum.get<uint64_t>() > UINT32_MAX) {
      return InvalidManifest(fmt::format("bad checksum of file {}/{}", key, file));
    }
    segment.checksums[file] = static_cast<uint32_t>(checksum.get<uint64_t>());
  }
  if (segment.checksums.size() != segment.files.size()) {
    return InvalidManifest(fmt::format("segment '{}' lacks a file's checksum", key));
  }
  AssertWellFormed(segment);
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
  nlohmann::json json = {{"segment_id", manifest.segment_id},
                         {"segment_version", VersionJson(manifest.segment_version)},
                         {"file_versions", std::move(files)},
                         {"file_checksums", std::move(checksums)}};
  // A receiver parses what is written here: a well-formed manifest reads
  // back as itself.
  if (IsPlainName(manifest.segment_id) && manifest.checksums.size() == manifest.files.size()) {
    const auto parsed = SegmentFromJson(manifest.segment_id, json);
    SS_ASSERT(!parsed.ok() || *parsed == manifest, "segment {}: the manifest does not read back as written",
              manifest.segment_id);
  }
  return json;
}

nlohmann::json ToJson(const SnapshotManifest& manifest) {
  nlohmann::json segments = nlohmann::json::object();
  for (const auto& [id, segment] : manifest.segments) {
    // A segment is listed under its own id (the receiver checks that too).
    SS_ASSERT(id == segment.segment_id, "segment {} listed as {}", segment.segment_id, id);
    segments[id] = ToJson(segment);
  }
  SS_ASSERT(segments.size() == manifest.segments.size());
  return segments;
}

absl::StatusOr<SnapshotManifest> SnapshotManifestFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return InvalidManifest("not an object");
  SnapshotManifest manifest;
  for (const auto& [id, segment_json] : json.items()) {
    auto segment = SegmentFromJson(id, segment_json);
    if (!segment.ok()) return segment.status();
    manifest.segments[id] = std::move(*segment);
  }
  SS_ASSERT(manifest.segments.size() == json.size(), "a listed segment was dropped");
  return manifest;
}

absl::StatusOr<SegmentManifest> SegmentManifestFromDisk(FileSystem& fs, const std::string& dir,
                                                        const std::string& segment_id) {
  // A segment's id is its directory's name under segments/.
  SS_ASSERT(IsPlainName(segment_id) && JoinPath(ParentDir(dir), segment_id) == dir,
            "segment id '{}' for directory '{}'", segment_id, dir);
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
    // In chunks: a segment's vectors can be most of the shard.
    auto crc = FileCrc32c(fs, JoinPath(dir, entry.name));
    if (!crc.ok()) return crc.status();
    manifest.files[entry.name] = *version;
    manifest.checksums[entry.name] = *crc;
  }
  AssertWellFormed(manifest);
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
    SS_ASSERT(segment->segment_id == entry.name && !manifest.segments.contains(entry.name));
    manifest.segments[entry.name] = std::move(*segment);
  }
  return manifest;
}

std::set<std::string> UpdatedFiles(const SegmentManifest* old, const SegmentManifest& current) {
  // `old` is the receiver's copy of the same segment, whatever it holds.
  SS_ASSERT(old == nullptr || old->segment_id == current.segment_id, "segment {} compared with {}",
            current.segment_id, old->segment_id);
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
  // Only files of the segment are sent, and all of them to a receiver
  // without it.
  SS_ASSERT(updated.size() <= current.files.size());
  SS_ASSERT(old != nullptr || updated.size() == current.files.size());
  return updated;
}

}  // namespace engine
