// Creating a snapshot archive of a shard (snapshot_create.h).
#include "engine/snapshot/snapshot_create.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"
#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"
#include "engine/snapshot/restore_steps.h"

namespace engine {

namespace {

// A segment's id: its directory's name.
std::string BaseName(std::string_view path) {
  SS_ASSERT(!path.empty() && path.back() != '/', "segment directory '{}'", path);
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// Archives one frozen segment: records its manifest in `info` and adds the
// files the receiver needs (all of them without a receiver).
absl::Status ArchiveFrozenSegment(FileSystem& fs, const SegmentEntry& frozen,
                                  const SnapshotManifest* receiver, ArchiveBuilder& archive,
                                  SnapshotInfo& info) {
  const std::string id = BaseName(frozen.directory());
  // Each segment is frozen, listed and archived once.
  SS_ASSERT(!info.manifest.segments.contains(id), "segment {} archived twice", id);
  auto manifest = SegmentManifestFromDisk(fs, frozen.directory(), id);
  if (!manifest.ok()) return manifest.status();
  // The forced flush of the freeze made the files equal the frozen state.
  SS_ASSERT(manifest->segment_version == Innermost(frozen).persisted_version(),
            "segment {} files at another version than the frozen segment", id);
  // The freeze (which set frozen_through before any segment is archived)
  // left no later op in a frozen segment.
  SS_ASSERT(manifest->segment_version <= info.frozen_through, "segment {} at version {} past the freeze at {}", id,
            manifest->segment_version.value_or(0), info.frozen_through.value_or(0));
  const SegmentManifest* old = nullptr;
  if (receiver != nullptr) {
    const auto it = receiver->segments.find(id);
    if (it != receiver->segments.end()) old = &it->second;
  }
  const std::set<std::string> files =
      receiver == nullptr ? std::set<std::string>() : UpdatedFiles(old, *manifest);
  size_t archived = 0;
  for (const auto& [file, version] : manifest->files) {
    if (receiver != nullptr && !files.contains(file)) continue;
    // Copied in chunks, checked against the manifest's CRC32C as it goes
    // (a bad read fails the snapshot: seed 253240).
    const std::string source = JoinPath(frozen.directory(), file);
    const std::string archived_path = JoinPath(JoinPath("segments", id), file);
    if (auto status = archive.AddFileFrom(fs, source, archived_path, manifest->checksums.at(file)); !status.ok()) {
      return status;
    }
    ++archived;
  }
  // A full snapshot holds every file of the segment, a partial one exactly
  // those the receiver needs.
  SS_ASSERT(archived == (receiver == nullptr ? manifest->files.size() : files.size()),
            "segment {}: {} files archived", id, archived);
  if (receiver == nullptr || !files.empty()) info.archived_segments.push_back(id);
  info.manifest.segments[id] = std::move(*manifest);
  return absl::OkStatus();
}


// The WAL part of a snapshot that archives the WAL: the WAL files after a
// sync, and the clocks as of that sync (seed 8508: the clock files could
// already hold ticks of ops appended after the archived WAL's end).
absl::Status ArchiveSyncedWal(LocalShard& shard, uint64_t pinned_first_index, ArchiveBuilder& archive,
                              SnapshotInfo& info) {
  FileSystem& fs = shard.env().fs();
  return shard.WithSyncedWal([&](const LocalShard::SyncedWal& wal) {
    // The archive's wal/ is the shard's.
    SS_ASSERT(wal.directory == shard.paths().wal(), "WAL in '{}'", wal.directory);
    // The ack stayed pinned since before the freeze: no entry the archive
    // needs was acked away (only an ack moves the WAL's first index).
    SS_ASSERT(wal.first_index == pinned_first_index, "the WAL's first index moved from {} to {} while pinned",
              pinned_first_index, wal.first_index);
    SS_ASSERT(wal.first_index <= wal.next_index, "WAL [{}, {})", wal.first_index, wal.next_index);
    absl::Status status = wal.sync_status;
    for (const std::string& name : wal.file_names) {
      // wal/<plain name> is what a restore takes as a WAL file.
      SS_ASSERT(IsPlainName(name), "WAL file name '{}'", name);
      if (!status.ok()) break;
      auto exists = Exists(fs, JoinPath(wal.directory, name));
      if (exists.ok() && !*exists) {
        // A WAL never acked has no first-index file yet: archive its value.
        const auto [first_name, contents] = Wal::EmptyWalFile(wal.first_index);
        status = archive.Add(JoinPath("wal", first_name), contents);
        continue;
      }
      status = archive.AddFileFrom(fs, JoinPath(wal.directory, name), JoinPath("wal", name));
    }
    info.wal_next_index = wal.next_index;
    const LocalShard::PinnedClocks clocks = wal.synced_clocks();
    if (status.ok()) status = archive.Add("newest_clocks.json", Seal(clocks.newest.ToJson().dump()));
    if (status.ok()) status = archive.Add("oldest_clocks.json", Seal(clocks.oldest.ToJson().dump()));
    return status;
  });
}

// The WAL part of a WAL-less snapshot: an empty WAL continuing after the
// live one, and the clocks pinned before the freeze.
absl::Status ArchiveEmptyWal(LocalShard& shard, const LocalShard::PinnedClocks& pinned, ArchiveBuilder& archive,
                             SnapshotInfo& info) {
  info.wal_next_index = shard.WalNextIndex();
  const auto [name, contents] = Wal::EmptyWalFile(info.wal_next_index);
  SS_ASSERT(IsPlainName(name), "WAL file name '{}'", name);
  absl::Status status = archive.Add(JoinPath("wal", name), contents);
  if (status.ok()) status = archive.Add("newest_clocks.json", Seal(pinned.newest.ToJson().dump()));
  if (status.ok()) status = archive.Add("oldest_clocks.json", Seal(pinned.oldest.ToJson().dump()));
  return status;
}

// The shard's config, the segment manifest and the archive's manifest.json.
absl::Status ArchiveShardFiles(const LocalShard& shard, ArchiveBuilder& archive, const SnapshotInfo& info) {
  // segments_manifest.json lists every archived segment; only a partial
  // snapshot may leave some of them out.
  for (const std::string& id : info.archived_segments) {
    SS_ASSERT(info.manifest.segments.contains(id), "archived segment {} is not in the manifest", id);
  }
  SS_ASSERT(info.partial || info.archived_segments.size() == info.manifest.segments.size());
  SS_ASSERT(!info.empty || info.partial, "only a partial snapshot can be empty");
  // A shard always has a segment, and a restore refuses a full archive
  // without segments/.
  SS_ASSERT(info.partial || !info.archived_segments.empty(), "a full snapshot without segments");
  const CollectionConfig& collection = shard.options().collection;
  absl::Status status = archive.Add(
      "shard_config.json",
      nlohmann::json{{"dimension", collection.dimension}, {"distance", DistanceName(collection.distance)}}.dump());
  if (status.ok()) {
    TarEntry segments{.path = kSegmentsManifestName,
                      .contents = nlohmann::json{{"partial", info.partial}, {"segments", ToJson(info.manifest)}}.dump()};
    // What a restore or a partial recovery reads back is what was frozen.
    const auto read_back = ReadArchivedSegments({segments});
    SS_ASSERT(read_back.ok() && read_back->present, "{} does not read back", kSegmentsManifestName);
    SS_ASSERT(read_back->partial == info.partial && read_back->manifest == info.manifest,
              "{} reads back as another manifest", kSegmentsManifestName);
    status = archive.Add(segments.path, segments.contents);
  }
  if (status.ok()) status = archive.WriteManifest();
  return status;
}

absl::StatusOr<SnapshotInfo> CreateArchive(LocalShard& shard, bool save_wal, const SnapshotManifest* receiver,
                                           const std::string& archive_path) {
  auto pending = PendingArchive::Open(shard.env().fs(), archive_path);
  if (!pending.ok()) return pending.status();
  ArchiveBuilder archive((*pending)->writer());
  auto info = WriteSnapshot(shard, archive, save_wal, receiver);
  auto bytes = (*pending)->Finish(info.status());
  if (!bytes.ok()) return bytes.status();
  // A committed archive is whole tar blocks (its end-of-archive blocks included).
  SS_ASSERT(*bytes > 0 && *bytes % 512 == 0, "archive {} of {} bytes", archive_path, *bytes);
  info->archive_bytes = *bytes;
  return info;
}

}  // namespace

absl::StatusOr<SnapshotInfo> CreateSnapshot(LocalShard& shard, bool save_wal, const std::string& archive_path) {
  return CreateArchive(shard, save_wal, /*receiver=*/nullptr, archive_path);
}

absl::StatusOr<SnapshotInfo> CreatePartialSnapshot(LocalShard& shard, const SnapshotManifest& receiver_manifest,
                                                   const std::string& archive_path) {
  return CreateArchive(shard, /*save_wal=*/false, &receiver_manifest, archive_path);
}

absl::StatusOr<SnapshotInfo> WriteSnapshot(LocalShard& shard, ArchiveBuilder& archive, bool save_wal,
                                           const SnapshotManifest* receiver) {
  // A partial snapshot replaces the receiver's WAL with an empty one.
  SS_ASSERT(receiver == nullptr || !save_wal, "partial snapshots carry no WAL");
  LocalShard::PinnedClocks pinned;
  if (!save_wal) {
    // Everything enqueued before the pin is applied before the freeze.
    auto clocks = shard.PinClocksAndPlunge();
    if (!clocks.ok()) return clocks.status();
    pinned = std::move(*clocks);
  }
  std::optional<uint64_t> ack_pin;
  if (save_wal) ack_pin = shard.PinAck();
  // Unpinned by hand on the normal path (a crash may unwind the task there),
  // by the cleanup when an error or a crash unwinds earlier.
  auto release_pin = absl::MakeCleanup([&] {
    if (ack_pin) shard.UnpinAck(*ack_pin);
  });
  SnapshotInfo info;
  info.partial = receiver != nullptr;
  FileSystem& fs = shard.env().fs();
  auto kept = shard.ProxyAllSegmentsAndApply(
      [&](SegmentId, SegmentEntry& frozen) {
        // The archive's segments/<id> mirrors the shard's segments/.
        SS_ASSERT(ParentDir(frozen.directory()) == shard.paths().segments(), "frozen '{}'", frozen.directory());
        return ArchiveFrozenSegment(fs, frozen, receiver, archive, info);
      },
      &info.frozen_through);
  absl::Status status = kept.status();
  if (status.ok() && save_wal) {
    status = ArchiveSyncedWal(shard, *ack_pin, archive, info);
  } else if (status.ok()) {
    status = ArchiveEmptyWal(shard, pinned, archive, info);
  }
  std::move(release_pin).Invoke();
  info.empty = info.partial && info.archived_segments.empty();
  if (status.ok()) status = ArchiveShardFiles(shard, archive, info);
  if (!status.ok()) return status;
  return info;
}

absl::StatusOr<SnapshotManifest> GetSnapshotManifest(LocalShard& shard) {
  SnapshotManifest manifest;
  absl::Status status = shard.ForEachSegmentFlushed([&](const SegmentEntry& segment) -> absl::Status {
    SS_ASSERT(ParentDir(segment.directory()) == shard.paths().segments(), "segment in '{}'", segment.directory());
    const std::string name = BaseName(segment.directory());
    SS_ASSERT(!manifest.segments.contains(name), "two segments in directory {}", name);
    auto segment_manifest = SegmentManifestFromDisk(shard.env().fs(), segment.directory(), name);
    if (!segment_manifest.ok()) return segment_manifest.status();
    SS_ASSERT(segment_manifest->segment_version == Innermost(segment).persisted_version(),
              "segment {} files at another version after a forced flush", name);
    manifest.segments[name] = std::move(*segment_manifest);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return manifest;
}

}  // namespace engine
