// Collection snapshots: one archive of several shards, restored shard by
// shard, in the simulated world.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "engine/snapshot/collection_snapshot.h"
#include "engine/archive/snapshot_archive.h"
#include "engine/snapshot/snapshot_test_util.h"
#include "sim/world.h"

namespace engine {
namespace {

using testing::InWorld;
using testing::kCollection;
using testing::kOptions;
using testing::PointsOf;
using testing::Write;

// Three shards with different points; returns each one's points at the
// snapshot. Writes after the snapshot must not be restored.
std::map<ShardId, std::vector<Point>> SnapshotThreeShards(sim::World& world, bool save_wal) {
  std::vector<std::unique_ptr<LocalShard>> shards;
  std::vector<CollectionShard> parts;
  EXPECT_TRUE(world.env().fs().Mkdir("collection").ok());
  for (ShardId id = 0; id < 3; ++id) {
    auto shard = LocalShard::Load(world.env(), fmt::format("collection/{}", id), kOptions);
    EXPECT_TRUE(shard.ok()) << shard.status();
    for (PointId point = 0; point < 3 + id; ++point) Write(**shard, 100 * id + point, int64_t(id));
    parts.push_back({id, shard->get()});
    shards.push_back(std::move(*shard));
  }
  auto info = CreateCollectionSnapshot(world.env(), parts, "collection.tar", save_wal);
  EXPECT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->shards.size(), 3u);
  std::map<ShardId, std::vector<Point>> expected;
  for (ShardId id = 0; id < 3; ++id) {
    expected[id] = PointsOf(*shards[id]);
    Write(*shards[id], 100 * id, 999);  // after the snapshot
    EXPECT_TRUE(shards[id]->Shutdown().ok());
  }
  return expected;
}

TEST(CollectionSnapshotTest, RestoresEveryShardToItsPoints) {
  for (bool save_wal : {false, true}) {
    InWorld(save_wal ? 2 : 1, [&](sim::World& world) {
      const auto expected = SnapshotThreeShards(world, save_wal);
      EXPECT_TRUE(Exists(world.env().fs(), "collection.tar.checksum").value());
      // Into a new directory, then over the live collection.
      for (const char* dir : {"restored", "collection"}) {
        auto restored = RestoreCollectionSnapshot(world.env(), "collection.tar", dir, kOptions);
        ASSERT_TRUE(restored.ok()) << restored.status();
        ASSERT_EQ(restored->size(), 3u);
        for (auto& [id, shard] : *restored) {
          EXPECT_EQ(PointsOf(*shard), expected.at(id)) << dir << " shard " << id;
          ASSERT_TRUE(shard->Shutdown().ok());
        }
      }
    });
  }
}

TEST(CollectionSnapshotTest, HostileArchivesChangeNoShard) {
  InWorld(3, [](sim::World& world) {
    FileSystem& fs = world.env().fs();
    SnapshotThreeShards(world, false);
    std::map<ShardId, std::vector<Point>> live;
    for (ShardId id = 0; id < 3; ++id) {
      auto shard = LocalShard::Load(world.env(), fmt::format("collection/{}", id), kOptions);
      live[id] = PointsOf(**shard);
      ASSERT_TRUE((*shard)->Shutdown().ok());
    }
    auto entries = ReadTar(*ReadWholeFile(fs, "collection.tar"), {});
    ASSERT_TRUE(entries.ok());
    const auto repack = [&](const std::string& name, const std::function<void(std::vector<TarEntry>&)>& edit) {
      std::vector<TarEntry> edited = *entries;
      edit(edited);
      auto pending = PendingArchive::Open(fs, name);
      ASSERT_TRUE(pending.ok());
      for (const TarEntry& entry : edited) ASSERT_TRUE((*pending)->writer().AddFile(entry.path, entry.contents).ok());
      ASSERT_TRUE((*pending)->Finish(absl::OkStatus()).ok());
    };
    // The last shard's data damaged (its manifest no longer matches): the
    // first shards must not be restored either.
    repack("damaged.tar", [](std::vector<TarEntry>& edited) {
      for (TarEntry& entry : edited) {
        if (entry.path.starts_with("shards/2/segments/")) entry.contents += "x";
      }
    });
    repack("stray.tar", [](std::vector<TarEntry>& edited) { edited.push_back({.path = "shards/7/x", .contents = "x"}); });
    repack("outside.tar", [](std::vector<TarEntry>& edited) { edited.push_back({.path = "evil", .contents = "x"}); });
    repack("no_manifest.tar", [](std::vector<TarEntry>& edited) {
      std::erase_if(edited, [](const TarEntry& e) { return e.path == kCollectionManifestName; });
    });
    std::string flipped = *ReadWholeFile(fs, "collection.tar");
    flipped[flipped.size() / 2] ^= 1;
    ASSERT_TRUE(WriteFileAtomically(fs, "flipped.tar", flipped).ok());
    ASSERT_TRUE(WriteFileAtomically(fs, "flipped.tar.checksum", *ReadWholeFile(fs, "collection.tar.checksum")).ok());
    for (const char* bad : {"damaged.tar", "stray.tar", "outside.tar", "no_manifest.tar", "flipped.tar"}) {
      auto restored = RestoreCollectionSnapshot(world.env(), bad, "collection", kOptions);
      EXPECT_TRUE(absl::IsInvalidArgument(restored.status()) || absl::IsDataLoss(restored.status()))
          << bad << ": " << restored.status();
      for (ShardId id = 0; id < 3; ++id) {
        auto shard = LocalShard::Load(world.env(), fmt::format("collection/{}", id), kOptions);
        ASSERT_TRUE(shard.ok()) << shard.status();
        EXPECT_EQ(PointsOf(**shard), live[id]) << bad << " shard " << id;
        ASSERT_TRUE((*shard)->Shutdown().ok());
      }
    }
  });
}

}  // namespace
}  // namespace engine
