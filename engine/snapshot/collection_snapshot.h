// Collection snapshots: one archive holding a snapshot of every shard of a
// collection under `shards/<id>/` (each with its own manifest.json, exactly
// what a shard archive holds) plus `collection_manifest.json`, committed
// like a shard archive (temporary name, sync, rename, `.checksum`).
//
// As in Qdrant, shards are frozen one after the other, not at one instant:
// each shard's part is a point-in-time snapshot of that shard.
//
// Restoring verifies the whole archive (checksum, strict tar, the collection
// manifest, every shard's manifest) before any shard is touched, then
// restores each shard into `<collection_dir>/<id>` with RestoreSnapshot's
// atomic swap: a crash leaves each shard old, new or dirty, never a mix
// within a shard.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/env/env.h"
#include "engine/shard/local_shard.h"
#include "engine/archive/tar_archive.h"
#include "engine/snapshot/snapshot_create.h"

namespace engine {

using ShardId = uint32_t;

struct CollectionShard {
  ShardId id = 0;
  LocalShard* shard = nullptr;  // not owned
};

struct CollectionSnapshotInfo {
  std::map<ShardId, SnapshotInfo> shards;
  uint64_t archive_bytes = 0;
};

inline constexpr char kCollectionManifestName[] = "collection_manifest.json";

absl::StatusOr<CollectionSnapshotInfo> CreateCollectionSnapshot(Env& env,
                                                                const std::vector<CollectionShard>& shards,
                                                                const std::string& archive_path,
                                                                bool save_wal = false);

// REQUIRES: no LocalShard is open on any `<collection_dir>/<id>`.
absl::StatusOr<std::map<ShardId, std::unique_ptr<LocalShard>>> RestoreCollectionSnapshot(
    Env& env, const std::string& archive_path, const std::string& collection_dir, ShardOptions options,
    const TarLimits& limits = {});

}  // namespace engine
