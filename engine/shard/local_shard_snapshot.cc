// Creating a snapshot archive of a shard, full or partial (docs/engine.md,
// "Snapshots and restore" and "Segment manifests, partial and collection
// snapshots"): both go through the same freeze (ProxyAllSegmentsAndApply with
// its forced flush) and differ only in which files of each frozen segment are archived.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"
#include "engine/common/assert.h"
#include "engine/common/checksum.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"
#include "engine/shard/local_shard.h"
#include "engine/shard/snapshot_archive.h"

namespace engine {

namespace {

std::string BaseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// Archives one frozen segment: records its manifest in `info` and adds the
// files the receiver needs (all of them without a receiver).
absl::Status ArchiveFrozenSegment(FileSystem& fs, const SegmentEntry& frozen,
                                  const SnapshotManifest* receiver, ArchiveBuilder& archive,
                                  LocalShard::SnapshotInfo& info) {
  const std::string id = BaseName(frozen.directory());
  auto manifest = SegmentManifestFromDisk(fs, frozen.directory(), id);
  if (!manifest.ok()) return manifest.status();
  // The forced flush of the freeze made the files equal the frozen state.
  SS_ASSERT(manifest->segment_version == Innermost(frozen).persisted_version(),
            "segment {} files at another version than the frozen segment", id);
  const SegmentManifest* old = nullptr;
  if (receiver != nullptr) {
    const auto it = receiver->segments.find(id);
    if (it != receiver->segments.end()) old = &it->second;
  }
  const std::set<std::string> files =
      receiver == nullptr ? std::set<std::string>() : UpdatedFiles(old, *manifest);
  for (const auto& [file, version] : manifest->files) {
    if (receiver != nullptr && !files.contains(file)) continue;
    // The bytes archived must be those the manifest's checksum describes:
    // a bad read in either read would otherwise ship a file whose checksum
    // a receiver's copy can never match (seed 253240).
    const std::string source = JoinPath(frozen.directory(), file);
    auto contents = ReadWholeFile(fs, source);
    if (!contents.ok()) return contents.status();
    if (Crc32c(*contents) != manifest->checksums.at(file)) {
      SS_COVER(kDamageDetected);
      return absl::DataLossError(fmt::format("{}: read back with other bytes than its manifest checksum", source));
    }
    if (auto status = archive.Add(JoinPath(JoinPath("segments", id), file), *contents); !status.ok()) return status;
  }
  if (receiver == nullptr || !files.empty()) info.archived_segments.push_back(id);
  info.manifest.segments[id] = std::move(*manifest);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LocalShard::SnapshotInfo> LocalShard::CreateSnapshot(bool save_wal,
                                                                    const std::string& archive_path) {
  auto pending = PendingArchive::Open(env_.fs(), archive_path);
  if (!pending.ok()) return pending.status();
  ArchiveBuilder archive((*pending)->writer());
  auto info = WriteSnapshot(archive, save_wal, /*receiver=*/nullptr);
  auto bytes = (*pending)->Finish(info.status());
  if (!bytes.ok()) return bytes.status();
  info->archive_bytes = *bytes;
  return info;
}

absl::StatusOr<LocalShard::SnapshotInfo> LocalShard::CreatePartialSnapshot(
    const SnapshotManifest& receiver_manifest, const std::string& archive_path) {
  auto pending = PendingArchive::Open(env_.fs(), archive_path);
  if (!pending.ok()) return pending.status();
  ArchiveBuilder archive((*pending)->writer());
  auto info = WriteSnapshot(archive, /*save_wal=*/false, &receiver_manifest);
  auto bytes = (*pending)->Finish(info.status());
  if (!bytes.ok()) return bytes.status();
  info->archive_bytes = *bytes;
  return info;
}

absl::StatusOr<LocalShard::SnapshotInfo> LocalShard::WriteSnapshot(ArchiveBuilder& archive,
                                                                   bool save_wal,
                                                                   const SnapshotManifest* receiver) {
  // A partial snapshot replaces the receiver's WAL with an empty one.
  SS_ASSERT(receiver == nullptr || !save_wal, "partial snapshots carry no WAL");
  FileSystem& fs = env_.fs();
  ClockMap pinned_oldest, pinned_newest;
  if (!save_wal) {
    {
      // Under the WAL mutex: an update advances the clocks and enqueues its op
      // in one WAL-mutex section, so every tick pinned here belongs to an op
      // queued before the plunger below (seed 91511: a tick pinned while its
      // op was still being appended to the WAL, behind the plunger).
      MutexLock wal(*wal_mutex_);
      MutexLock clocks(*clocks_mutex_);
      pinned_oldest = oldest_clocks_;
      pinned_newest = newest_clocks_;
    }
    // Everything enqueued before the pin is applied before the freeze.
    if (auto status = Plunge(); !status.ok()) return status;
  }
  std::optional<uint64_t> ack_pin;
  if (save_wal) {
    MutexLock wal(*wal_mutex_);
    ack_pin = wal_->first_index();
    ack_pins_.insert(*ack_pin);
  }
  auto release_pin = absl::MakeCleanup([&] {
    if (!ack_pin) return;
    MutexLock wal(*wal_mutex_);
    ack_pins_.erase(ack_pins_.find(*ack_pin));
  });
  SnapshotInfo info;
  info.partial = receiver != nullptr;
  auto kept = ProxyAllSegmentsAndApply(
      [&](SegmentId, SegmentEntry& frozen) {
        return ArchiveFrozenSegment(fs, frozen, receiver, archive, info);
      },
      &info.frozen_through);
  absl::Status status = kept.status();
  if (status.ok() && save_wal) {
    MutexLock wal(*wal_mutex_);
    status = SyncWal();
    for (const std::string& name : wal_->FileNames()) {
      if (!status.ok()) break;
      auto exists = Exists(fs, JoinPath(paths_.wal(), name));
      if (exists.ok() && !*exists) {
        // A WAL never acked has no first-index file yet: archive its value.
        const auto [first_name, contents] = Wal::EmptyWalFile(wal_->first_index());
        status = archive.Add(JoinPath("wal", first_name), contents);
        continue;
      }
      status = archive.AddFileFrom(fs, JoinPath(paths_.wal(), name), JoinPath("wal", name));
    }
    info.wal_next_index = wal_->next_index();
    // The clocks as of the WAL sync above (what the flush persists), copied
    // under the same WAL-mutex section: the clock files could already hold
    // ticks of ops appended after the archived WAL's end (seed 8508).
    ClockMap synced_newest, oldest;
    {
      MutexLock clocks(*clocks_mutex_);
      synced_newest = synced_newest_clocks_;
      oldest = oldest_clocks_;
    }
    if (status.ok()) status = archive.Add("newest_clocks.json", Seal(synced_newest.ToJson().dump()));
    if (status.ok()) status = archive.Add("oldest_clocks.json", Seal(oldest.ToJson().dump()));
  } else if (status.ok()) {
    {
      MutexLock wal(*wal_mutex_);
      info.wal_next_index = wal_->next_index();
    }
    const auto [name, contents] = Wal::EmptyWalFile(info.wal_next_index);
    status = archive.Add(JoinPath("wal", name), contents);
    if (status.ok()) status = archive.Add("newest_clocks.json", Seal(pinned_newest.ToJson().dump()));
    if (status.ok()) status = archive.Add("oldest_clocks.json", Seal(pinned_oldest.ToJson().dump()));
  }
  std::move(release_pin).Invoke();
  if (status.ok()) {
    status = archive.Add("shard_config.json",
                         nlohmann::json{{"dimension", options_.collection.dimension},
                                        {"distance", DistanceName(options_.collection.distance)}}
                             .dump());
  }
  info.empty = info.partial && info.archived_segments.empty();
  if (status.ok()) {
    status = archive.Add(kSegmentsManifestName,
                         nlohmann::json{{"partial", info.partial}, {"segments", ToJson(info.manifest)}}.dump());
  }
  if (status.ok()) status = archive.WriteManifest();
  if (!status.ok()) return status;
  return info;
}

absl::StatusOr<SnapshotManifest> LocalShard::GetSnapshotManifest() {
  if (auto status = health(); !status.ok()) return status;
  ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  // Flushed, every segment's files hold its version: a receiver compares
  // versions, and the sender archives files, as they are on disk.
  if (auto flushed = FlushSegmentsWalFirst(/*force=*/true); !flushed.ok()) return Escalate(flushed.status());
  SnapshotManifest manifest;
  for (SegmentId id : holder_.Ids()) {
    const SegmentEntry& segment = *holder_.Get(id)->segment;
    const std::string name = BaseName(segment.directory());
    auto segment_manifest = SegmentManifestFromDisk(env_.fs(), segment.directory(), name);
    if (!segment_manifest.ok()) return segment_manifest.status();
    SS_ASSERT(segment_manifest->segment_version == Innermost(segment).persisted_version(),
              "segment {} files at another version after a forced flush", name);
    manifest.segments[name] = std::move(*segment_manifest);
  }
  return manifest;
}

}  // namespace engine
