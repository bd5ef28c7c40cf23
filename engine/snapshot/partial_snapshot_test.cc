// Segment manifests, partial snapshots and partial recovery, in the
// simulated world.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/partial_snapshot.h"
#include "engine/snapshot/restore.h"
#include "engine/archive/snapshot_archive.h"
#include "engine/snapshot/snapshot_test_util.h"
#include "engine/snapshot/snapshot_create.h"
#include "sim/world.h"

namespace engine {
namespace {

using testing::InWorld;
using testing::kCollection;
using testing::kOptions;
using testing::PointsOf;
using testing::Repack;
using testing::Write;

void Delete(LocalShard& shard, PointId id) {
  auto result = shard.Update({DeletePoints{{id}}, std::nullopt}, true);
  ASSERT_TRUE(result.ok()) << result.status();
}

// Adds a segment holding point `id`: a write during a freeze lands in the
// temporary segment, which is then kept.
void AddSegmentWith(LocalShard& shard, PointId id, int64_t value) {
  bool written = false;
  auto kept = shard.ProxyAllSegmentsAndApply([&](SegmentId, SegmentEntry&) {
    if (!written) Write(shard, id, value);
    written = true;
    return absl::OkStatus();
  });
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_TRUE(kept->has_value());
}

std::vector<std::string> SegmentPathsIn(FileSystem& fs, const std::string& archive) {
  auto entries = ReadTar(*ReadWholeFile(fs, archive), {});
  EXPECT_TRUE(entries.ok()) << entries.status();
  std::vector<std::string> paths;
  for (const TarEntry& entry : *entries) {
    if (entry.path.starts_with("segments/")) paths.push_back(entry.path);
  }
  return paths;
}

std::unique_ptr<LocalShard> Open(sim::World& world, const std::string& dir) {
  auto shard = LocalShard::Load(world.env(), dir, kOptions);
  EXPECT_TRUE(shard.ok()) << shard.status();
  return shard.ok() ? std::move(*shard) : nullptr;
}

// A sender with two segments ("A" holds 0..5, "B" holds 10) and a receiver
// restored from its full snapshot; returns the receiver's manifest.
SnapshotManifest SenderAndReceiver(sim::World& world, LocalShard& sender, const std::string& receiver_dir) {
  for (PointId id = 0; id < 6; ++id) Write(sender, id, int64_t(id));
  AddSegmentWith(sender, 10, 10);
  EXPECT_TRUE(CreateSnapshot(sender, false, "full.tar").ok());
  auto receiver = RestoreSnapshot(world.env(), "full.tar", receiver_dir, kOptions);
  EXPECT_TRUE(receiver.ok()) << receiver.status();
  EXPECT_EQ(PointsOf(**receiver), PointsOf(sender));
  auto manifest = GetSnapshotManifest(**receiver);
  EXPECT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_TRUE((*receiver)->Shutdown().ok());
  return *manifest;
}

absl::StatusOr<std::unique_ptr<LocalShard>> Recover(sim::World& world, const std::string& archive,
                                                    const std::string& dir) {
  PartialRecoveryRegistry registry;
  return RecoverPartialSnapshot(world.env(), archive, dir, {.shard = kOptions, .registry = &registry});
}

TEST(ManifestTest, FreshAndChangedShard) {
  InWorld(1, [](sim::World& world) {
    auto shard = Open(world, "shard");
    auto fresh = GetSnapshotManifest(*shard);
    ASSERT_TRUE(fresh.ok()) << fresh.status();
    ASSERT_EQ(fresh->segments.size(), 1u);
    const SegmentManifest& empty = fresh->segments.begin()->second;
    EXPECT_EQ(empty.segment_version, std::nullopt);
    EXPECT_TRUE(empty.files.contains("segment.json"));
    EXPECT_TRUE(empty.files.contains("COMPLETE"));
    for (PointId id = 0; id < 3; ++id) Write(*shard, id, 1);
    auto changed = GetSnapshotManifest(*shard);
    ASSERT_TRUE(changed.ok());
    ASSERT_EQ(changed->segments.size(), 1u);
    const SegmentManifest& written = changed->segments.begin()->second;
    EXPECT_EQ(written.segment_id, empty.segment_id);
    EXPECT_GT(written.segment_version, empty.segment_version);
    for (const auto& [file, version] : written.files) EXPECT_EQ(version, written.segment_version) << file;
    // JSON round trip, and the same manifest read off the closed shard.
    EXPECT_EQ(*SnapshotManifestFromJson(ToJson(*changed)), *changed);
    ASSERT_TRUE(shard->Shutdown().ok());
    EXPECT_EQ(*ShardManifestFromDisk(world.env().fs(), "shard"), *changed);
  });
}

TEST(ManifestTest, MalformedManifestsAreRefused) {
  const nlohmann::json good =
      nlohmann::json::parse(R"({"1": {"segment_id": "1", "segment_version": 4, "file_versions": {"a": 4},
                                      "file_checksums": {"a": 17}}})");
  EXPECT_TRUE(SnapshotManifestFromJson(good).ok());
  nlohmann::json newer_file = good;
  newer_file["1"]["file_versions"]["a"] = 5;
  nlohmann::json escaping = {{"..", good["1"]}};
  escaping[".."]["segment_id"] = "..";
  nlohmann::json bad_file = good;
  bad_file["1"]["file_versions"]["../x"] = 1;
  nlohmann::json mismatched_id = good;
  mismatched_id["1"]["segment_id"] = "2";
  nlohmann::json no_checksum = good;
  no_checksum["1"].erase("file_checksums");
  nlohmann::json stray_checksum = good;
  stray_checksum["1"]["file_checksums"]["b"] = 1;
  for (const nlohmann::json& bad :
       {newer_file, escaping, bad_file, mismatched_id, no_checksum, stray_checksum, nlohmann::json::array()}) {
    EXPECT_TRUE(absl::IsInvalidArgument(SnapshotManifestFromJson(bad).status())) << bad.dump();
  }
}

TEST(ManifestTest, UpdatedFilesFollowsQdrantsRules) {
  const SegmentManifest current{"1", 7, {{"a", 7}, {"b", 7}}, {{"a", 1}, {"b", 2}}};
  EXPECT_EQ(UpdatedFiles(nullptr, current), (std::set<std::string>{"a", "b"}));
  EXPECT_TRUE(UpdatedFiles(&current, current).empty());
  const SegmentManifest older{"1", 5, {{"a", 5}, {"b", 7}}, {{"a", 9}, {"b", 2}}};
  EXPECT_EQ(UpdatedFiles(&older, current), (std::set<std::string>{"a"}));
  const SegmentManifest lacking{"1", 7, {{"a", 7}}, {{"a", 1}}};
  EXPECT_EQ(UpdatedFiles(&lacking, current), (std::set<std::string>{"b"}));
  // Version 0 on both sides is ambiguous: always sent. No version at all is not.
  const SegmentManifest zero{"1", 0, {{"a", 0}}, {{"a", 3}}};
  EXPECT_EQ(UpdatedFiles(&zero, zero), (std::set<std::string>{"a"}));
  const SegmentManifest none{"1", std::nullopt, {{"a", std::nullopt}}, {{"a", 3}}};
  EXPECT_TRUE(UpdatedFiles(&none, none).empty());
  // The same version with other bytes (de-duplication at load deletes an
  // older copy at its own version): sent.
  const SegmentManifest deduplicated{"1", 7, {{"a", 7}, {"b", 7}}, {{"a", 1}, {"b", 5}}};
  EXPECT_EQ(UpdatedFiles(&deduplicated, current), (std::set<std::string>{"b"}));
}

TEST(PartialSnapshotTest, EveryArchiveCarriesTheSegmentsManifest) {
  InWorld(2, [](sim::World& world) {
    auto shard = Open(world, "shard");
    for (PointId id = 0; id < 4; ++id) Write(*shard, id, 1);
    auto info = CreateSnapshot(*shard, false, "full.tar");
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_FALSE(info->partial);
    EXPECT_FALSE(info->empty);
    auto entries = ReadTar(*ReadWholeFile(world.env().fs(), "full.tar"), {});
    const auto it = std::find_if(entries->begin(), entries->end(),
                                 [](const TarEntry& e) { return e.path == kSegmentsManifestName; });
    ASSERT_NE(it, entries->end());
    const auto json = nlohmann::json::parse(it->contents);
    EXPECT_EQ(json["partial"], false);
    EXPECT_EQ(*SnapshotManifestFromJson(json["segments"]), info->manifest);
    EXPECT_EQ(info->manifest, *GetSnapshotManifest(*shard));
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

TEST(PartialSnapshotTest, AgainstAnUpToDateManifestIsEmpty) {
  InWorld(3, [](sim::World& world) {
    auto sender = Open(world, "sender");
    const SnapshotManifest receiver = SenderAndReceiver(world, *sender, "receiver");
    auto partial = CreatePartialSnapshot(*sender, receiver, "partial.tar");
    ASSERT_TRUE(partial.ok()) << partial.status();
    EXPECT_TRUE(partial->partial);
    EXPECT_TRUE(partial->empty);
    EXPECT_TRUE(partial->archived_segments.empty());
    EXPECT_TRUE(SegmentPathsIn(world.env().fs(), "partial.tar").empty());
    EXPECT_EQ(partial->manifest, receiver);
    // Recovering it changes no point.
    auto recovered = Recover(world, "partial.tar", "receiver");
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    EXPECT_EQ(PointsOf(**recovered), PointsOf(*sender));
    ASSERT_TRUE((*recovered)->Shutdown().ok());
    ASSERT_TRUE(sender->Shutdown().ok());
  });
}

TEST(PartialSnapshotTest, AfterWritesHoldsOnlyTheChangedSegments) {
  InWorld(4, [](sim::World& world) {
    auto sender = Open(world, "sender");
    const SnapshotManifest receiver = SenderAndReceiver(world, *sender, "receiver");
    ASSERT_EQ(receiver.segments.size(), 2u);
    Write(*sender, 10, 99);  // point 10 lives alone in the second segment
    auto partial = CreatePartialSnapshot(*sender, receiver, "partial.tar");
    ASSERT_TRUE(partial.ok()) << partial.status();
    EXPECT_FALSE(partial->empty);
    ASSERT_EQ(partial->archived_segments.size(), 1u);
    const std::string changed = partial->archived_segments.front();
    EXPECT_GT(partial->manifest.segments.at(changed).segment_version, receiver.segments.at(changed).segment_version);
    for (const std::string& path : SegmentPathsIn(world.env().fs(), "partial.tar")) {
      EXPECT_TRUE(path.starts_with("segments/" + changed + "/")) << path;
    }
    // A full restore refuses a partial archive.
    auto restored = RestoreSnapshot(world.env(), "partial.tar", "other", kOptions);
    EXPECT_TRUE(absl::IsInvalidArgument(restored.status())) << restored.status();
    auto recovered = Recover(world, "partial.tar", "receiver");
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    EXPECT_EQ(PointsOf(**recovered), PointsOf(*sender));
    ASSERT_TRUE((*recovered)->Shutdown().ok());
    ASSERT_TRUE(sender->Shutdown().ok());
  });
}

// Segments merged away on the sender after the receiver's manifest was
// taken are deleted on the receiver; the merge result and new writes arrive.
TEST(PartialSnapshotTest, RecoveryFollowsTheMergePlanAcrossAnOptimization) {
  for (uint64_t seed = 0; seed < 5; ++seed) {
    InWorld(10 + seed, [](sim::World& world) {
      auto sender = Open(world, "sender");
      const SnapshotManifest receiver = SenderAndReceiver(world, *sender, "receiver");
      auto merged = sender->OptimizeMerge();
      ASSERT_TRUE(merged.ok() && *merged) << merged.status();
      Write(*sender, 3, 33);
      Delete(*sender, 4);
      Write(*sender, 20, 20);
      ASSERT_TRUE(sender->FlushAndAck(true).ok());  // the merge inputs' directories go
      auto partial = CreatePartialSnapshot(*sender, receiver, "partial.tar");
      ASSERT_TRUE(partial.ok()) << partial.status();
      for (const auto& [id, unused] : receiver.segments) EXPECT_FALSE(partial->manifest.segments.contains(id)) << id;
      auto recovered = Recover(world, "partial.tar", "receiver");
      ASSERT_TRUE(recovered.ok()) << recovered.status();
      EXPECT_EQ(PointsOf(**recovered), PointsOf(*sender));
      ASSERT_TRUE((*recovered)->Shutdown().ok());
      auto on_disk = ShardManifestFromDisk(world.env().fs(), "receiver");
      std::set<std::string> ids, expected;
      for (const auto& [id, unused] : on_disk->segments) ids.insert(id);
      for (const auto& [id, unused] : partial->manifest.segments) expected.insert(id);
      EXPECT_EQ(ids, expected);
      // Ops continue after the sender's.
      auto reopened = Open(world, "receiver");
      auto next = reopened->Update({UpsertPoints{{{7, {1, 0}, Payload{{"value", 7}}}}}, std::nullopt}, true);
      ASSERT_TRUE(next.ok());
      EXPECT_EQ(*next->op_num, partial->wal_next_index);
      ASSERT_TRUE(reopened->Shutdown().ok());
      ASSERT_TRUE(sender->Shutdown().ok());
    });
  }
}

TEST(PartialSnapshotTest, ASecondConcurrentRecoveryOfTheSameShardIsRefused) {
  int overlaps = 0;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    InWorld(20 + seed, [&](sim::World& world) {
      auto sender = Open(world, "sender");
      const SnapshotManifest receiver = SenderAndReceiver(world, *sender, "receiver");
      Write(*sender, 0, 50);
      ASSERT_TRUE(CreatePartialSnapshot(*sender, receiver, "partial.tar").ok());
      PartialRecoveryRegistry registry;
      const PartialRecoveryOptions options{.shard = kOptions, .registry = &registry};
      bool first_done = false;
      absl::Status first_status, second_status;
      auto first = world.env().Spawn("first", [&] {
        auto shard = RecoverPartialSnapshot(world.env(), "partial.tar", "receiver", options);
        first_status = shard.status();
        if (shard.ok()) (void)(*shard)->Shutdown();
        first_done = true;
      });
      auto second = world.env().Spawn("second", [&] {
        while (!registry.Busy("receiver") && !first_done) world.env().YieldPoint("test.wait");
        if (first_done) return;
        ++overlaps;
        const uint64_t steps = world.trace().steps();
        auto shard = RecoverPartialSnapshot(world.env(), "partial.tar", "receiver/", options);
        second_status = shard.status();
        EXPECT_TRUE(absl::IsUnavailable(second_status)) << second_status;
        EXPECT_TRUE(registry.Busy("receiver"));  // refused while the first runs
        EXPECT_LT(world.trace().steps() - steps, 10u);  // fast: no archive read
      });
      first->Join();
      second->Join();
      EXPECT_TRUE(first_status.ok()) << first_status;
      EXPECT_FALSE(registry.Busy("receiver"));
      auto shard = Open(world, "receiver");
      EXPECT_EQ(PointsOf(*shard), PointsOf(*sender));
      ASSERT_TRUE(shard->Shutdown().ok());
      ASSERT_TRUE(sender->Shutdown().ok());
    });
  }
  EXPECT_GT(overlaps, 0);
}

nlohmann::json SegmentsManifestOf(const std::vector<TarEntry>& entries) {
  for (const TarEntry& entry : entries) {
    if (entry.path == kSegmentsManifestName) return nlohmann::json::parse(entry.contents);
  }
  return nullptr;
}

void SetSegmentsManifest(std::vector<TarEntry>& entries, const nlohmann::json& json) {
  for (TarEntry& entry : entries) {
    if (entry.path == kSegmentsManifestName) entry.contents = json.dump();
  }
}

TEST(PartialSnapshotTest, HostileArchivesLeaveTheLiveShardUntouched) {
  InWorld(30, [](sim::World& world) {
    FileSystem& fs = world.env().fs();
    auto sender = Open(world, "sender");
    const SnapshotManifest receiver = SenderAndReceiver(world, *sender, "receiver");
    Write(*sender, 10, 77);
    auto partial = CreatePartialSnapshot(*sender, receiver, "partial.tar");
    ASSERT_TRUE(partial.ok());
    const std::string changed = partial->archived_segments.at(0);
    std::string kept;
    for (const auto& [id, unused] : receiver.segments) {
      if (id != changed) kept = id;
    }
    std::vector<std::string> bad;
    // A flipped byte under the original checksum.
    std::string flipped = *ReadWholeFile(fs, "partial.tar");
    flipped[flipped.size() / 3] ^= 1;
    ASSERT_TRUE(WriteFileAtomically(fs, "flipped.tar", flipped).ok());
    ASSERT_TRUE(WriteFileAtomically(fs, "flipped.tar.checksum", *ReadWholeFile(fs, "partial.tar.checksum")).ok());
    bad.push_back("flipped.tar");
    bad.push_back("full.tar");  // not partial
    bad.push_back("missing.tar");
    Repack(fs, "partial.tar", "stray.tar", [](std::vector<TarEntry>& entries) {
      entries.push_back({.path = "segments/99/segment.json", .contents = "{}"});
    });
    bad.push_back("stray.tar");
    Repack(fs, "partial.tar", "outside.tar", [](std::vector<TarEntry>& entries) {
      entries.push_back({.path = "temp_segments/x", .contents = "x"});
    });
    bad.push_back("outside.tar");
    Repack(fs, "partial.tar", "escape.tar", [&](std::vector<TarEntry>& entries) {
      nlohmann::json json = SegmentsManifestOf(entries);
      json["segments"][".hidden"] = json["segments"][changed];
      json["segments"][".hidden"]["segment_id"] = ".hidden";
      SetSegmentsManifest(entries, json);
    });
    bad.push_back("escape.tar");
    // Claims a segment the receiver never had, without its files.
    Repack(fs, "partial.tar", "unknown.tar", [&](std::vector<TarEntry>& entries) {
      nlohmann::json json = SegmentsManifestOf(entries);
      json["segments"]["777"] = json["segments"][kept];
      json["segments"]["777"]["segment_id"] = "777";
      SetSegmentsManifest(entries, json);
    });
    bad.push_back("unknown.tar");
    // Claims the kept segment is newer than the receiver's copy.
    Repack(fs, "partial.tar", "newer.tar", [&](std::vector<TarEntry>& entries) {
      nlohmann::json json = SegmentsManifestOf(entries);
      json["segments"][kept]["segment_version"] = 1000;
      SetSegmentsManifest(entries, json);
    });
    bad.push_back("newer.tar");
    Repack(fs, "partial.tar", "config.tar", [](std::vector<TarEntry>& entries) {
      for (TarEntry& entry : entries) {
        if (entry.path == "shard_config.json") entry.contents = R"({"dimension":3,"distance":"dot"})";
      }
    });
    bad.push_back("config.tar");
    const std::vector<Point> before = [&] {
      auto shard = Open(world, "receiver");
      auto points = PointsOf(*shard);
      EXPECT_TRUE(shard->Shutdown().ok());
      return points;
    }();
    for (const std::string& archive : bad) {
      auto recovered = Recover(world, archive, "receiver");
      EXPECT_FALSE(recovered.ok()) << archive;
      auto live = Open(world, "receiver");
      ASSERT_NE(live, nullptr) << archive;
      EXPECT_EQ(PointsOf(*live), before) << archive;
      ASSERT_TRUE(live->Shutdown().ok());
    }
    // A receiver that changed since its manifest was taken is refused too.
    {
      auto live = Open(world, "receiver");
      Write(*live, 0, 1234);
      ASSERT_TRUE(live->Shutdown().ok());
    }
    auto recovered = Recover(world, "partial.tar", "receiver");
    EXPECT_TRUE(absl::IsFailedPrecondition(recovered.status())) << recovered.status();
    ASSERT_TRUE(sender->Shutdown().ok());
  });
}

// The partial recovery the crash test interrupts: a receiver restored from
// the sender's full snapshot; then the sender merges, writes and deletes,
// and takes a partial snapshot against the receiver's manifest.
struct CrashStates {
  std::vector<Point> old_state, new_state;
};
CrashStates PreparePartialRecovery(sim::World& world) {
  CrashStates states;
  auto sender = Open(world, "sender");
  const SnapshotManifest receiver = SenderAndReceiver(world, *sender, "receiver");
  states.old_state = PointsOf(*sender);
  EXPECT_TRUE(sender->OptimizeMerge().ok());
  Write(*sender, 1, 11);
  Delete(*sender, 2);
  Write(*sender, 30, 30);
  EXPECT_TRUE(CreatePartialSnapshot(*sender, receiver, "partial.tar").ok());
  states.new_state = PointsOf(*sender);
  EXPECT_TRUE(sender->Shutdown().ok());
  return states;
}

// Runs setup, then the recovery (crashed at `crash_step` steps into it, if
// given), then `check`. Returns the recovery's length in steps.
uint64_t RunCrashedRecovery(std::optional<uint64_t> crash_step, CrashStates& states,
                            const std::function<void(sim::World&)>& check) {
  sim::World world(sim::WorldConfig{.seed = 77, .profile = sim::PersistenceProfile::StrictPosix()});
  uint64_t length = 0;
  world.RunSupervisor([&] {
    world.WaitProcess(world.StartProcess("setup", [&] { states = PreparePartialRecovery(world); }));
    const uint64_t start = world.trace().steps();
    if (crash_step) world.CrashAtStep(start + *crash_step, sim::CrashKind::kPowerLoss);
    world.WaitProcess(world.StartProcess("recover", [&] {
      auto recovered = Recover(world, "partial.tar", "receiver");
      if (recovered.ok()) (void)(*recovered)->Shutdown();
    }));
    length = world.trace().steps() - start;
    world.DisarmCrash();
    world.WaitProcess(world.StartProcess("check", [&] { check(world); }));
  });
  return length;
}

// A crash at any step of a partial recovery leaves the receiver's old
// points, the sender's, or a shard that refuses to load until a new
// recovery of the same archive — never a mix.
TEST(PartialSnapshotTest, CrashDuringRecoveryNeverLeavesASilentMix) {
  CrashStates states;
  const uint64_t length = RunCrashedRecovery(std::nullopt, states, [&](sim::World& world) {
    auto shard = Open(world, "receiver");
    EXPECT_EQ(PointsOf(*shard), states.new_state);
    (void)shard->Shutdown();
  });
  ASSERT_GT(length, 10u);
  int outcomes[3] = {0, 0, 0};  // old, new, dirty
  const uint64_t stride = std::max<uint64_t>(1, length / 400);
  for (uint64_t step = 1; step <= length; step += stride) {
    RunCrashedRecovery(step, states, [&](sim::World& world) {
      auto shard = LocalShard::Load(world.env(), "receiver", kOptions);
      if (!shard.ok()) {
        EXPECT_TRUE(absl::IsFailedPrecondition(shard.status())) << "step " << step << ": " << shard.status();
        ++outcomes[2];
        auto again = Recover(world, "partial.tar", "receiver");
        ASSERT_TRUE(again.ok()) << "step " << step << ": " << again.status();
        EXPECT_EQ(PointsOf(**again), states.new_state) << "step " << step;
        (void)(*again)->Shutdown();
        return;
      }
      const auto points = PointsOf(**shard);
      EXPECT_TRUE(points == states.old_state || points == states.new_state) << "a mix after step " << step;
      ++outcomes[points == states.new_state ? 1 : 0];
      (void)(*shard)->Shutdown();
    });
  }
  std::printf("partial recovery: %llu steps; crashes left %d old, %d new, %d dirty\n",
              static_cast<unsigned long long>(length), outcomes[0], outcomes[1], outcomes[2]);
  EXPECT_GT(outcomes[0], 0);
  EXPECT_GT(outcomes[1], 0);
  EXPECT_GT(outcomes[2], 0);
}

// A receiver left dirty only as `receiver.old` (a crash between the two
// renames of an earlier recovery) keeps that data through a recovery whose
// merged shard does not load, so recovering the good archive still repairs
// it (seed 110021848: the first such recovery removed `.old` before the
// load, and every later one found no local shard to merge into).
TEST(PartialSnapshotTest, ARecoveryThatDoesNotLoadKeepsAShardLeftOnlyAsOld) {
  InWorld(5, [](sim::World& world) {
    FileSystem& fs = world.env().fs();
    const CrashStates states = PreparePartialRecovery(world);
    ASSERT_TRUE(WriteFileAtomically(fs, InitializingFlagPath("receiver"), "restoring\n").ok());
    ASSERT_TRUE(fs.Rename("receiver", "receiver.old").ok());
    testing::RepackUnloadable(fs, "partial.tar", "unloadable.tar");
    auto failed = Recover(world, "unloadable.tar", "receiver");
    ASSERT_FALSE(failed.ok());
    EXPECT_NE(failed.status().message().find("does not load"), std::string::npos) << failed.status();
    EXPECT_TRUE(*Exists(fs, "receiver.old"));
    EXPECT_TRUE(*Exists(fs, InitializingFlagPath("receiver")));
    auto repaired = Recover(world, "partial.tar", "receiver");
    ASSERT_TRUE(repaired.ok()) << repaired.status();
    EXPECT_EQ(PointsOf(**repaired), states.new_state);
    EXPECT_FALSE(*Exists(fs, "receiver.old"));
    ASSERT_TRUE((*repaired)->Shutdown().ok());
  });
}

}  // namespace
}  // namespace engine
