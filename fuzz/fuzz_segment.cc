// fuzz_segment: the input is one segment directory in fuzz_wal's record
// format (wal_input.h: flags, then name/contents records), written durably
// into `seg/` of a simulated file system. A record named
// segments_manifest.json is not written there: it is a snapshot's segments
// manifest, parsed on its own. Flag bit 0 (kSealBodies): the records of
// the sealed files (segment.json, payload_index.json) are bodies, sealed
// (engine/common/sealed_file.h) as they are written, so that mutations reach
// the JSON decoders behind the CRC; without it they are written as given
// and the seal check itself is fuzzed.
//
// What must hold (an error status is always acceptable):
// - Segment::Load returns a segment or a status, never crashes; a loaded
//   segment counts exactly its live ids, holds each of them, and a second
//   load of the directory sees the same ids;
// - SegmentManifestFromDisk of the directory returns a manifest or a status;
// - a segments manifest that parses (SnapshotManifestFromJson) is written
//   back by ToJson to one that parses to the same manifest.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/common/sealed_file.h"
#include "engine/segment/segment.h"
#include "engine/segment/segment_format.h"
#include "engine/snapshot/manifest.h"
#include "fuzz/fuzz_common.h"
#include "fuzz/wal_input.h"
#include "sim/fs/sim_fs.h"
#include "sim/world.h"

namespace {

constexpr char kDir[] = "seg";
constexpr uint8_t kSealBodies = 1;

bool IsSealed(std::string_view name) {
  return name == engine::segment_format::kSegmentJson || name == engine::segment_format::kPayloadIndexJson;
}

// Writes the segment's files durably; entries the file system refuses
// (names with '/', ".", duplicates of another kind) are left out.
void WriteSegment(sim::SimFileSystem& fs, const fuzz::WalInput& input) {
  if (!fs.Mkdir(kDir).ok() || !fs.SyncDir("").ok()) fuzz::Fail("cannot create the segment directory");
  for (const fuzz::WalFile& file : input.files) {
    // (JoinPath asserts on a name that is absolute.)
    if (file.name == engine::kSegmentsManifestName || file.name.empty() || file.name.front() == '/') continue;
    const std::string path = engine::JoinPath(kDir, file.name);
    if (file.name.ends_with('/')) {
      (void)fs.Mkdir(path.substr(0, path.size() - 1));
      continue;
    }
    auto out = fs.Open(path, engine::OpenMode::kCreateTruncate);
    if (!out.ok()) continue;
    const std::string contents =
        (input.flags & kSealBodies) && IsSealed(file.name) ? engine::Seal(file.contents) : file.contents;
    if (!(*out)->WriteAt(0, std::span<const char>(contents.data(), contents.size())).ok() ||
        !(*out)->Sync().ok()) {
      fuzz::Fail("cannot write {}", path);
    }
  }
  if (!fs.SyncDir(kDir).ok()) fuzz::Fail("cannot sync the segment directory");
}

// The live ids of a loaded segment, checked against its counts.
std::vector<engine::PointId> CheckedIds(const engine::Segment& segment, std::string_view when) {
  const std::vector<engine::PointId> ids = segment.LiveIds();
  if (segment.Count(nullptr) != ids.size()) {
    fuzz::Fail("{}: Count() is {} for {} live ids", when, segment.Count(nullptr), ids.size());
  }
  for (engine::PointId id : ids) {
    if (!segment.has_point(id)) fuzz::Fail("{}: live id {} is not held", when, id);
  }
  return ids;
}

void CheckSegment(sim::SimFileSystem& fs) {
  auto segment = engine::Segment::Load(fs, kDir);
  if (!segment.ok()) {
    fuzz::Note("load refused: {}", segment.status().ToString());
    return;
  }
  const std::vector<engine::PointId> ids = CheckedIds(**segment, "loaded");
  segment->reset();
  auto again = engine::Segment::Load(fs, kDir);
  if (!again.ok()) fuzz::Fail("a segment that loaded does not load again: {}", again.status().ToString());
  if (CheckedIds(**again, "loaded again") != ids) fuzz::Fail("the second load sees other live ids");
  fuzz::Note("loaded {} points", ids.size());
}

void CheckManifest(const fuzz::WalInput& input) {
  for (const fuzz::WalFile& file : input.files) {
    if (file.name != engine::kSegmentsManifestName) continue;
    // As a restore reads it: {"partial": bool, "segments": {...}}.
    const nlohmann::json json = nlohmann::json::parse(file.contents, nullptr, false);
    if (json.is_discarded() || !json.is_object() || !json.contains("segments")) continue;
    auto manifest = engine::SnapshotManifestFromJson(json["segments"]);
    if (!manifest.ok()) {
      fuzz::Note("manifest refused: {}", manifest.status().ToString());
      continue;
    }
    auto reread = engine::SnapshotManifestFromJson(nlohmann::json::parse(engine::ToJson(*manifest).dump()));
    if (!reread.ok()) fuzz::Fail("a written manifest does not parse: {}", reread.status().ToString());
    if (*reread != *manifest) fuzz::Fail("a manifest does not read back as written");
    fuzz::Note("manifest of {} segments", manifest->segments.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::WalInput input = fuzz::DecodeWalInput(std::string_view(reinterpret_cast<const char*>(data), size));
  // A world's file system (no task runs: Segment::Load needs none). A bare
  // SimFileSystem would do, but this binary's static libraries link only in
  // the order a world pulls them in.
  sim::World world(sim::WorldConfig{.seed = 0});
  sim::SimFileSystem& fs = world.fs();
  WriteSegment(fs, input);
  CheckSegment(fs);
  if (auto manifest = engine::SegmentManifestFromDisk(fs, kDir, kDir); !manifest.ok()) {
    fuzz::Note("segment manifest refused: {}", manifest.status().ToString());
  }
  CheckManifest(input);
  return 0;
}
