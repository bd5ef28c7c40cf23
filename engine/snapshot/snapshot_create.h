// Creating a snapshot archive of a shard, full or partial (docs/engine.md,
// "Snapshots and restore" and "Segment manifests, partial and collection
// snapshots"): both go through the same freeze (the shard's
// ProxyAllSegmentsAndApply with its forced flush) and differ only in which
// files of each frozen segment are archived. Built on LocalShard's snapshot
// API alone (local_shard.h).
//
// Thread safety: any task may call these on a live shard while others
// write to it; one ProxyAllSegmentsAndApply runs at a time per shard.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/archive/snapshot_archive.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/manifest.h"

namespace engine {

struct SnapshotInfo {
  // Every op through this one is in the archived segments, none after it
  // (nullopt: no op had been applied).
  std::optional<SeqNumber> frozen_through;
  // The archived WAL continues at this index.
  uint64_t wal_next_index = 0;
  uint64_t archive_bytes = 0;
  // The full state of the archived (frozen) segments, also stored in the
  // archive as segments_manifest.json.
  SnapshotManifest manifest;
  // Segments with at least one file in the archive.
  std::vector<std::string> archived_segments;
  bool partial = false;
  // A partial snapshot that holds no segment data: the receiver's manifest
  // was up to date (it may still have segments to delete).
  bool empty = false;
};

// Writes a snapshot archive (tar: segments/, wal/, clocks, shard_config.json,
// manifest.json with every file's size and SHA-256) to `archive_path` via a
// temporary name, synced, renamed, plus `archive_path`.checksum (SHA-256 of
// the archive). save_wal=false pins the clocks, plunges, and archives an
// empty WAL that continues after the live WAL's last index; save_wal=true
// archives the whole WAL and the persisted clock files, and keeps the WAL
// ack at or below the freeze while it runs. On failure no file of the
// archive is left.
absl::StatusOr<SnapshotInfo> CreateSnapshot(LocalShard& shard, bool save_wal, const std::string& archive_path);

// A WAL-less snapshot (same freeze path as CreateSnapshot) holding only the
// segment files the receiver lacks or has older, plus the manifest of the
// full frozen state, marked partial (RestoreSnapshot refuses it; see
// RecoverPartialSnapshot). REQUIRES: `receiver_manifest` lists each segment
// under its own id (as SnapshotManifestFromJson and GetSnapshotManifest make
// them).
absl::StatusOr<SnapshotInfo> CreatePartialSnapshot(LocalShard& shard, const SnapshotManifest& receiver_manifest,
                                                   const std::string& archive_path);

// Writes the snapshot's entries (manifest.json included) through `archive`
// without finishing the tar: CreateSnapshot and collection snapshots use it.
// REQUIRES: `receiver` null (a full snapshot) or save_wal false (partial).
absl::StatusOr<SnapshotInfo> WriteSnapshot(LocalShard& shard, ArchiveBuilder& archive, bool save_wal,
                                           const SnapshotManifest* receiver);

// The manifest of every segment in the shard, after a forced flush (so each
// segment's files are at its version), with no op or flush in between.
absl::StatusOr<SnapshotManifest> GetSnapshotManifest(LocalShard& shard);

}  // namespace engine
