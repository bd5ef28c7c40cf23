// RestoreSnapshot's streaming path (restore_steps.h): the two passes over
// the archive file, the checks each makes, and that nothing of a refused
// archive reaches the live shard.
#include <gtest/gtest.h>

#include <map>

#include <fmt/format.h>

#include "engine/archive/sha256.h"
#include "engine/archive/snapshot_archive.h"
#include "engine/common/file_util.h"
#include "engine/shard/forwarding_env.h"
#include "engine/snapshot/restore.h"
#include "engine/snapshot/restore_steps.h"
#include "engine/snapshot/snapshot_create.h"
#include "engine/snapshot/snapshot_test_util.h"

namespace engine {
namespace {

using testing::InWorld;
using testing::kOptions;
using testing::PointsOf;
using testing::RepackUnloadable;

// Every file under `dir`, path → contents.
std::map<std::string, std::string> TreeOf(FileSystem& fs, const std::string& dir) {
  std::map<std::string, std::string> tree;
  std::vector<std::string> pending{dir};
  for (size_t i = 0; i < pending.size(); ++i) {
    auto entries = fs.ListDir(pending[i]);
    if (!entries.ok()) continue;
    for (const DirEntry& entry : *entries) {
      const std::string path = JoinPath(pending[i], entry.name);
      if (entry.kind == EntryKind::kDirectory) {
        tree[path + "/"] = "";
        pending.push_back(path);
      } else {
        tree[path] = *ReadWholeFile(fs, path);
      }
    }
  }
  return tree;
}

// A live shard of `points` points (written in batches), shut down, and a
// WAL-less snapshot of it in "snap.tar".
std::vector<Point> MakeShardAndSnapshot(sim::World& world, PointId points) {
  auto shard = LocalShard::Load(world.env(), "shard", kOptions);
  EXPECT_TRUE(shard.ok()) << shard.status();
  for (PointId first = 0; first < points; first += 500) {
    std::vector<Point> batch;
    for (PointId id = first; id < std::min<PointId>(points, first + 500); ++id) {
      batch.push_back({id, {1, float(id)}, Payload{{"value", int64_t(id)}}});
    }
    EXPECT_TRUE((*shard)->Update({UpsertPoints{std::move(batch)}, std::nullopt}, true).ok());
  }
  auto snapshot = CreateSnapshot(**shard, false, "snap.tar");
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  std::vector<Point> snapshot_points = PointsOf(**shard);
  // After the snapshot: the live shard differs from the archive.
  testing::Write(**shard, 0, -1);
  EXPECT_TRUE((*shard)->Shutdown().ok());
  return snapshot_points;
}

// Writes `entries` as an archive at `out` (with its checksum), in order,
// through the engine's writer: manifest.json is wherever it is in the list.
void WriteArchive(FileSystem& fs, const std::string& out, const std::vector<TarEntry>& entries) {
  auto pending = PendingArchive::Open(fs, out);
  ASSERT_TRUE(pending.ok());
  absl::Status status;
  for (const TarEntry& entry : entries) {
    if (status.ok() && !entry.directory) status = (*pending)->writer().AddFile(entry.path, entry.contents);
  }
  ASSERT_TRUE((*pending)->Finish(status).ok());
}

std::vector<TarEntry> EntriesOf(FileSystem& fs, const std::string& archive) {
  auto entries = ReadTar(*ReadWholeFile(fs, archive), {});
  EXPECT_TRUE(entries.ok()) << entries.status();
  return *entries;
}

// The snapshot loads once, after the swap; one that does not load is
// swapped out again and the live shard put back, byte for byte, clean.
TEST(RestoreStreamTest, ASnapshotThatDoesNotLoadIsSwappedBackOut) {
  InWorld(1, [](sim::World& world) {
    FileSystem& fs = world.env().fs();
    MakeShardAndSnapshot(world, 20);
    RepackUnloadable(fs, "snap.tar", "bad.tar");
    const auto live = TreeOf(fs, "shard");
    auto restored = RestoreSnapshot(world.env(), "bad.tar", "shard", kOptions);
    ASSERT_FALSE(restored.ok());
    EXPECT_NE(restored.status().message().find("does not load (the live shard is untouched)"), std::string::npos)
        << restored.status();
    EXPECT_EQ(TreeOf(fs, "shard"), live);
    for (const char* sibling : {"shard.staging", "shard.old", "shard.initializing"}) {
      EXPECT_FALSE(*Exists(fs, sibling)) << sibling;
    }
    auto reloaded = LocalShard::Load(world.env(), "shard", kOptions);
    ASSERT_TRUE(reloaded.ok()) << reloaded.status();
    ASSERT_TRUE((*reloaded)->Shutdown().ok());
  });
}

// A power loss anywhere in the restore of a snapshot that does not load
// leaves the live shard as it was or dirty, never the snapshot's files as a
// clean shard; a good restore then repairs a dirty one.
TEST(RestoreStreamTest, APowerLossWhileSwappingBackLeavesTheLiveShardOrADirtyOne) {
  int outcomes[2] = {0, 0};  // untouched, dirty
  for (uint64_t crash_offset = 1; crash_offset < 400; crash_offset += 3) {
    sim::World world(sim::WorldConfig{.seed = crash_offset, .profile = sim::PersistenceProfile::StrictPosix()});
    world.RunSupervisor([&] {
      std::vector<Point> live, points;
      world.WaitProcess(world.StartProcess("setup", [&] {
        points = MakeShardAndSnapshot(world, 20);
        RepackUnloadable(world.env().fs(), "snap.tar", "bad.tar");
        auto shard = LocalShard::Load(world.env(), "shard", kOptions);
        ASSERT_TRUE(shard.ok()) << shard.status();
        live = PointsOf(**shard);
        ASSERT_TRUE((*shard)->Shutdown().ok());
      }));
      ASSERT_NE(live, points);
      world.CrashAtStep(world.trace().steps() + crash_offset, sim::CrashKind::kPowerLoss);
      const bool died = world.WaitProcess(world.StartProcess("restore", [&] {
        EXPECT_FALSE(RestoreSnapshot(world.env(), "bad.tar", "shard", kOptions).ok());
      }));
      world.DisarmCrash();
      world.WaitProcess(world.StartProcess("check", [&] {
        FileSystem& fs = world.env().fs();
        const bool dirty = *Exists(fs, InitializingFlagPath("shard"));
        if (!dirty) {
          auto shard = LocalShard::Load(world.env(), "shard", kOptions);
          ASSERT_TRUE(shard.ok()) << shard.status();
          EXPECT_TRUE(PointsOf(**shard) == live) << "not the live shard after crash offset " << crash_offset;
          ASSERT_TRUE((*shard)->Shutdown().ok());
        }
        if (died) ++outcomes[dirty ? 1 : 0];
        auto again = RestoreSnapshot(world.env(), "snap.tar", "shard", kOptions);
        ASSERT_TRUE(again.ok()) << again.status();
        EXPECT_EQ(PointsOf(**again), points);
        (void)(*again)->Shutdown();
      }));
    });
  }
  std::printf("power losses restoring a snapshot that does not load: %d left the live shard, %d a dirty one\n",
              outcomes[0], outcomes[1]);
  EXPECT_GT(outcomes[0], 0);
  EXPECT_GT(outcomes[1], 0);
}

// Files bigger than the streaming chunk go through in many chunks, at
// creation (copy, CRC32C, SHA-256) and at both restore passes.
TEST(RestoreStreamTest, FilesLargerThanAChunkRoundTrip) {
  InWorld(1, [](sim::World& world) {
    const std::vector<Point> points = MakeShardAndSnapshot(world, 12000);
    uint64_t largest = 0;
    for (const TarEntry& entry : EntriesOf(world.env().fs(), "snap.tar")) {
      largest = std::max<uint64_t>(largest, entry.contents.size());
    }
    EXPECT_GT(largest, kArchiveChunkBytes);  // two chunks at least
    auto restored = RestoreSnapshot(world.env(), "snap.tar", "restored", kOptions);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(PointsOf(**restored), points);
    ASSERT_TRUE((*restored)->Shutdown().ok());
  });
}

// The writer puts manifest.json last; the first pass finds it wherever it
// is, so an archive with it first (or in the middle) restores the same.
TEST(RestoreStreamTest, TheManifestMayBeAnywhereInTheArchive) {
  InWorld(2, [](sim::World& world) {
    FileSystem& fs = world.env().fs();
    const std::vector<Point> points = MakeShardAndSnapshot(world, 20);
    std::vector<TarEntry> entries = EntriesOf(fs, "snap.tar");
    ASSERT_EQ(entries.back().path, "manifest.json");
    std::rotate(entries.rbegin(), entries.rbegin() + 1, entries.rend());
    WriteArchive(fs, "first.tar", entries);
    std::rotate(entries.begin(), entries.begin() + 1, entries.begin() + entries.size() / 2 + 1);
    WriteArchive(fs, "middle.tar", entries);
    for (const char* archive : {"first.tar", "middle.tar"}) {
      auto restored = RestoreSnapshot(world.env(), archive, fmt::format("restored-{}", archive), kOptions);
      ASSERT_TRUE(restored.ok()) << archive << ": " << restored.status();
      EXPECT_EQ(PointsOf(**restored), points);
      ASSERT_TRUE((*restored)->Shutdown().ok());
    }
  });
}

// A file whose bytes do not match its manifest record (same size) passes
// the first pass and is caught while the second writes it: staging goes,
// the live shard was never touched.
TEST(RestoreStreamTest, AFileNotMatchingItsManifestRemovesStagingAndSparesTheLiveShard) {
  InWorld(3, [](sim::World& world) {
    FileSystem& fs = world.env().fs();
    MakeShardAndSnapshot(world, 20);
    const auto live = TreeOf(fs, "shard");
    std::vector<TarEntry> entries = EntriesOf(fs, "snap.tar");
    for (TarEntry& entry : entries) {
      if (entry.path.starts_with("segments/") && !entry.contents.empty()) {
        entry.contents[entry.contents.size() / 2] ^= 1;
        break;
      }
    }
    WriteArchive(fs, "stale.tar", entries);
    auto restored = RestoreSnapshot(world.env(), "stale.tar", "shard", kOptions);
    ASSERT_FALSE(restored.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(restored.status())) << restored.status();
    EXPECT_NE(restored.status().message().find("does not match its manifest"), std::string::npos)
        << restored.status();
    EXPECT_FALSE(*Exists(fs, "shard.staging"));
    EXPECT_FALSE(*Exists(fs, InitializingFlagPath("shard")));
    EXPECT_EQ(TreeOf(fs, "shard"), live);
  });
}

// The checksum is compared first: a refused tar with a wrong checksum is
// reported as a damaged archive, one with its checksum by the rule.
TEST(RestoreStreamTest, TheChecksumIsJudgedBeforeTheTarRules) {
  InWorld(4, [](sim::World& world) {
    FileSystem& fs = world.env().fs();
    WriteArchive(fs, "dup.tar", {{.path = "wal/1", .contents = "a"}, {.path = "wal/1", .contents = "b"}});
    auto refused = RestoreSnapshot(world.env(), "dup.tar", "shard", kOptions);
    EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
    EXPECT_NE(refused.status().message().find("duplicate entry"), std::string::npos) << refused.status();
    ASSERT_TRUE(WriteFileAtomically(fs, "dup.tar.checksum", Sha256Hex("other")).ok());
    auto damaged = RestoreSnapshot(world.env(), "dup.tar", "shard", kOptions);
    EXPECT_TRUE(absl::IsInvalidArgument(damaged.status())) << damaged.status();
    EXPECT_NE(damaged.status().message().find("dup.tar does not match its .checksum"), std::string::npos)
        << damaged.status();
    EXPECT_FALSE(*Exists(fs, "shard.staging"));
    EXPECT_FALSE(*Exists(fs, "shard"));
  });
}

// A file system on which the archive's second open reads another file: the
// archive changed between the checksummed first pass and the unpacking.
class SwappingFs final : public FileSystem {
 public:
  SwappingFs(FileSystem& inner, std::string path, std::string second) : inner_(inner), path_(path), second_(second) {}
  absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, OpenMode mode) override {
    if (path == path_ && mode == OpenMode::kRead && ++opens_ == 2) return inner_.Open(second_, mode);
    return inner_.Open(path, mode);
  }
  absl::Status Mkdir(std::string_view path) override { return inner_.Mkdir(path); }
  absl::Status Rmdir(std::string_view path) override { return inner_.Rmdir(path); }
  absl::Status Unlink(std::string_view path) override { return inner_.Unlink(path); }
  absl::Status Rename(std::string_view from, std::string_view to) override { return inner_.Rename(from, to); }
  absl::Status SyncDir(std::string_view path) override { return inner_.SyncDir(path); }
  absl::StatusOr<std::vector<DirEntry>> ListDir(std::string_view path) override { return inner_.ListDir(path); }
  absl::StatusOr<EntryKind> Stat(std::string_view path) override { return inner_.Stat(path); }

 private:
  FileSystem& inner_;
  const std::string path_, second_;
  int opens_ = 0;
};

TEST(RestoreStreamTest, AnArchiveThatChangesBetweenThePassesIsRefused) {
  InWorld(5, [](sim::World& world) {
    FileSystem& fs = world.env().fs();
    MakeShardAndSnapshot(world, 20);
    const auto live = TreeOf(fs, "shard");
    std::vector<TarEntry> entries = EntriesOf(fs, "snap.tar");
    // Other entries (one more file), or the same entries with other bytes.
    std::vector<TarEntry> more = entries;
    more.insert(more.begin(), TarEntry{.path = "segments/extra", .contents = "x"});
    WriteArchive(fs, "more.tar", more);
    for (TarEntry& entry : entries) {
      if (entry.path.starts_with("wal/") && !entry.contents.empty()) entry.contents[0] ^= 1;
    }
    WriteArchive(fs, "flipped.tar", entries);
    for (const char* second : {"more.tar", "flipped.tar"}) {
      SwappingFs swapping(fs, "snap.tar", second);
      testing::ForwardingEnv env(world.env(), swapping);
      auto restored = RestoreSnapshot(env, "snap.tar", "shard", kOptions);
      ASSERT_FALSE(restored.ok()) << second;
      EXPECT_TRUE(absl::IsDataLoss(restored.status()) || absl::IsInvalidArgument(restored.status()))
          << restored.status();
      EXPECT_NE(restored.status().message().find("snap.tar"), std::string::npos) << restored.status();
      EXPECT_FALSE(*Exists(fs, "shard.staging"));
      EXPECT_EQ(TreeOf(fs, "shard"), live);
    }
  });
}

// A crash at any step of the two passes (a simulated crash unwinds the task
// by an exception thrown from inside libarchive's read callback) leaves the
// live shard as it was (or, past the swap, dirty or the snapshot), and the
// next restore succeeds.
TEST(RestoreStreamTest, ACrashAtAnyStepOfTheArchivePassesLeavesTheLiveShard) {
  int untouched = 0;
  for (uint64_t crash_offset = 1; crash_offset < 160; ++crash_offset) {
    sim::World world(sim::WorldConfig{.seed = crash_offset});
    world.RunSupervisor([&] {
      std::map<std::string, std::string> live;
      std::vector<Point> points;
      world.WaitProcess(world.StartProcess("setup", [&] {
        points = MakeShardAndSnapshot(world, 20);
        live = TreeOf(world.env().fs(), "shard");
      }));
      world.CrashAtStep(world.trace().steps() + crash_offset, sim::CrashKind::kProcessCrash);
      const bool died = world.WaitProcess(world.StartProcess("restore", [&] {
        auto restored = RestoreSnapshot(world.env(), "snap.tar", "shard", kOptions);
        ASSERT_TRUE(restored.ok()) << restored.status();
        (void)(*restored)->Shutdown();
      }));
      world.DisarmCrash();
      if (!died) return;  // past the restore
      world.WaitProcess(world.StartProcess("check", [&] {
        FileSystem& fs = world.env().fs();
        if (!*Exists(fs, InitializingFlagPath("shard"))) {
          if (TreeOf(fs, "shard") == live) {
            ++untouched;
          } else {
            // Only a complete restore changes the shard without a flag.
            auto shard = LocalShard::Load(world.env(), "shard", kOptions);
            ASSERT_TRUE(shard.ok()) << shard.status();
            EXPECT_EQ(PointsOf(**shard), points) << "a mix after crash offset " << crash_offset;
            ASSERT_TRUE((*shard)->Shutdown().ok());
          }
        }
        auto again = RestoreSnapshot(world.env(), "snap.tar", "shard", kOptions);
        ASSERT_TRUE(again.ok()) << again.status();
        EXPECT_EQ(PointsOf(**again), points);
        (void)(*again)->Shutdown();
      }));
    });
  }
  // The passes come first: the early crashes all left the live shard.
  EXPECT_GT(untouched, 50);
}

}  // namespace
}  // namespace engine
