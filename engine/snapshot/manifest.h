// Segment manifests (Qdrant's SegmentManifest / SnapshotManifest): for each
// segment, its version and a version per file. A partial snapshot is built
// against a receiver's manifest and holds only what the receiver lacks or
// has older (docs/engine.md, "Segment manifests, partial and collection snapshots").
//
// Versions are optional: nullopt means no op was ever applied (an empty
// segment), and orders below every op_num. A segment id is its directory's
// name under segments/.
//
// File versions: this project's segment files form one consistent set
// (segment.json records each log's flushed length), so every file carries the
// segment's persisted version; a file can never be replaced without the
// others. The comparison (UpdatedFiles) is per file all the same, as in
// Qdrant, so independently versioned components would work unchanged.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "engine/env/env.h"
#include "engine/model/types.h"

namespace engine {

using Version = std::optional<SeqNumber>;

struct SegmentManifest {
  std::string segment_id;
  Version segment_version;
  std::map<std::string, Version> files;  // file name inside the segment -> version
  // The CRC32C of each file's contents. A version names the ops a segment
  // applied, not its bytes: de-duplication at load deletes an older copy of
  // a point at that copy's own version, changing the files but not the
  // segment's version (seed 1439: a receiver kept a copy the sender had
  // deleted so). Files at equal versions with other contents are sent too.
  std::map<std::string, uint32_t> checksums;
  friend bool operator==(const SegmentManifest&, const SegmentManifest&) = default;
};

struct SnapshotManifest {
  std::map<std::string, SegmentManifest> segments;  // segment id -> manifest
  friend bool operator==(const SnapshotManifest&, const SnapshotManifest&) = default;
};

// The name of the manifest every snapshot archive holds (the full state of
// the archived segments) and whether the archive is partial.
inline constexpr char kSegmentsManifestName[] = "segments_manifest.json";

nlohmann::json ToJson(const SegmentManifest& manifest);
nlohmann::json ToJson(const SnapshotManifest& manifest);
// Strict: InvalidArgument for anything malformed, for segment ids or file
// names that are not one plain path component, or for a file newer than its
// segment (Qdrant's SnapshotManifest::validate).
absl::StatusOr<SnapshotManifest> SnapshotManifestFromJson(const nlohmann::json& json);

// A plain name: non-empty, no '/', not hidden ("." first), not "." or "..".
bool IsPlainName(std::string_view name);

// The manifest of one segment directory as it is on disk: the version in
// its segment.json and every regular, non-hidden file (".tmp" leftovers of
// an atomic write are skipped), each read for its checksum.
absl::StatusOr<SegmentManifest> SegmentManifestFromDisk(FileSystem& fs, const std::string& dir,
                                                        const std::string& segment_id);
// The manifest of a closed shard's segments/ (complete segments only, as
// LocalShard::Load would keep them).
absl::StatusOr<SnapshotManifest> ShardManifestFromDisk(FileSystem& fs, const std::string& shard_dir);

// Files of `current` that a receiver holding `old` must be sent: those it
// lacks, those newer than its copy, those whose contents differ from its
// copy's, and those at version 0 on both sides (op 0 cannot be told apart
// from a segment created with an index at 0, so, as Qdrant does, such files
// are always sent).
std::set<std::string> UpdatedFiles(const SegmentManifest* old, const SegmentManifest& current);

}  // namespace engine
