#include "engine/snapshot/collection_snapshot.h"

#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "engine/snapshot/restore_steps.h"
#include "engine/archive/snapshot_archive.h"

namespace engine {

namespace {

absl::Status InvalidCollectionSnapshot(std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("collection snapshot: {}", why));
}

nlohmann::json ShardJson(const SnapshotInfo& info) {
  return {{"frozen_through", info.frozen_through ? nlohmann::json(*info.frozen_through) : nlohmann::json(nullptr)},
          {"wal_next_index", info.wal_next_index}};
}

// The shard ids collection_manifest.json lists.
absl::StatusOr<std::set<ShardId>> ListedShards(const std::vector<TarEntry>& entries) {
  const TarEntry* entry = FindEntry(entries, kCollectionManifestName);
  if (entry == nullptr) return InvalidCollectionSnapshot("no collection_manifest.json");
  const nlohmann::json json = nlohmann::json::parse(entry->contents, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("shards") || !json["shards"].is_object() ||
      json["shards"].empty()) {
    return InvalidCollectionSnapshot("collection_manifest.json is malformed");
  }
  std::set<ShardId> ids;
  for (const auto& [key, unused] : json["shards"].items()) {
    // Canonical decimal only, so that one id has one directory name.
    if (key.empty() || key.size() > 9 || key.find_first_not_of("0123456789") != std::string::npos ||
        (key.size() > 1 && key[0] == '0')) {
      return InvalidCollectionSnapshot(fmt::format("bad shard id '{}'", key));
    }
    const unsigned long id = std::stoul(key);
    SS_ASSERT(id <= UINT32_MAX, "shard id {} does not fit", id);  // nine digits at most
    ids.insert(static_cast<ShardId>(id));
  }
  // Canonical decimals: distinct keys are distinct ids.
  SS_ASSERT(!ids.empty() && ids.size() == json["shards"].size());
  return ids;
}

// Splits the archive into each listed shard's entries (paths made relative
// to the shard); anything else is refused.
absl::StatusOr<std::map<ShardId, std::vector<TarEntry>>> SplitByShard(std::vector<TarEntry> entries,
                                                                      const std::set<ShardId>& ids) {
  std::map<ShardId, std::vector<TarEntry>> shards;
  for (ShardId id : ids) shards[id];
  for (TarEntry& entry : entries) {
    if (entry.path == kCollectionManifestName) continue;
    if (entry.directory && entry.path == "shards") continue;
    constexpr std::string_view kPrefix = "shards/";
    const size_t slash = entry.path.find('/', kPrefix.size());
    std::optional<ShardId> id;
    if (entry.path.starts_with(kPrefix) && slash != std::string::npos) {
      const std::string name = entry.path.substr(kPrefix.size(), slash - kPrefix.size());
      for (ShardId listed : ids) {
        if (fmt::format("{}", listed) == name) id = listed;
      }
    }
    if (!id) return InvalidCollectionSnapshot(fmt::format("unexpected entry '{}'", entry.path));
    entry.path = entry.path.substr(slash + 1);
    if (entry.path.empty()) continue;  // the shard's own directory entry
    // What a shard archive would hold: a relative path (ReadTar refused
    // empty components).
    SS_ASSERT(entry.path.front() != '/', "'{}' in shard {}", entry.path, *id);
    shards[*id].push_back(std::move(entry));
  }
  // One part per listed shard, none other.
  SS_ASSERT(shards.size() == ids.size());
  return shards;
}

}  // namespace

absl::StatusOr<CollectionSnapshotInfo> CreateCollectionSnapshot(Env& env,
                                                                const std::vector<CollectionShard>& shards,
                                                                const std::string& archive_path,
                                                                bool save_wal) {
  std::set<ShardId> ids;
  for (const CollectionShard& shard : shards) {
    if (shard.shard == nullptr || !ids.insert(shard.id).second) {
      return absl::InvalidArgumentError(fmt::format("collection snapshot: bad or duplicate shard {}", shard.id));
    }
  }
  auto pending = PendingArchive::Open(env.fs(), archive_path);
  if (!pending.ok()) return pending.status();
  CollectionSnapshotInfo info;
  const auto write = [&]() -> absl::Status {
    nlohmann::json listed = nlohmann::json::object();
    for (const CollectionShard& shard : shards) {
      SS_ASSERT(!info.shards.contains(shard.id) && !listed.contains(fmt::format("{}", shard.id)));
      ArchiveBuilder archive((*pending)->writer(), fmt::format("shards/{}", shard.id));
      auto shard_info = WriteSnapshot(*shard.shard, archive, save_wal, /*receiver=*/nullptr);
      if (!shard_info.ok()) return shard_info.status();
      // Restores refuse partial shard archives: each part is a full one.
      SS_ASSERT(!shard_info->partial && !shard_info->empty, "shard {} archived partially", shard.id);
      listed[fmt::format("{}", shard.id)] = ShardJson(*shard_info);
      info.shards[shard.id] = std::move(*shard_info);
    }
    TarEntry manifest{.path = kCollectionManifestName, .contents = nlohmann::json{{"shards", std::move(listed)}}.dump()};
    // A restore reads back exactly the shards written (an empty collection
    // is refused there).
    const auto read_back = ListedShards({manifest});
    SS_ASSERT(ids.empty() || (read_back.ok() && *read_back == ids), "collection_manifest.json does not read back");
    return (*pending)->writer().AddFile(manifest.path, manifest.contents);
  };
  auto bytes = (*pending)->Finish(write());
  if (!bytes.ok()) return bytes.status();
  SS_ASSERT(info.shards.size() == shards.size(), "{} of {} shards archived", info.shards.size(), shards.size());
  info.archive_bytes = *bytes;
  return info;
}

absl::StatusOr<std::map<ShardId, std::unique_ptr<LocalShard>>> RestoreCollectionSnapshot(
    Env& env, const std::string& archive_path, const std::string& collection_dir, ShardOptions options,
    const TarLimits& limits) {
  FileSystem& fs = env.fs();
  auto entries = ReadVerifiedTar(fs, archive_path, limits);
  if (!entries.ok()) return entries.status();
  auto ids = ListedShards(*entries);
  if (!ids.ok()) return ids.status();
  auto shards = SplitByShard(std::move(*entries), *ids);
  if (!shards.ok()) return shards.status();
  // Every shard verified before the first one is replaced.
  for (const auto& [id, shard_entries] : *shards) {
    auto verified = VerifyManifest(shard_entries, /*require_segments=*/true);
    if (!verified.ok()) return verified.status();
  }
  if (auto status = EnsureDir(fs, collection_dir); !status.ok()) return status;
  std::map<ShardId, std::unique_ptr<LocalShard>> restored;
  for (auto& [id, shard_entries] : *shards) {
    auto shard = RestoreFromEntries(env, std::move(shard_entries), JoinPath(collection_dir, fmt::format("{}", id)),
                                    options);
    if (!shard.ok()) {
      for (auto& [unused, open] : restored) (void)open->Shutdown();
      return shard.status();
    }
    restored[id] = std::move(*shard);
  }
  SS_ASSERT(restored.size() == shards->size(), "{} of {} shards restored", restored.size(), shards->size());
  return restored;
}

}  // namespace engine
