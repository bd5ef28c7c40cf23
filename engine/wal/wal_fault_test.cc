// The WAL under disk faults (docs/faults.md): out of space an append is
// refused and the WAL stays usable; a failed sync stops it for good.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "engine/wal/wal.h"
#include "sim/decision.h"
#include "sim/fs/fault_fs.h"
#include "sim/fs/sim_fs.h"

namespace engine {
namespace {

constexpr WalOptions kSmallSegments{.segment_capacity_bytes = 128};

std::unique_ptr<Wal> OpenOrDie(FileSystem& fs) {
  auto wal = Wal::Open(fs, "wal", kSmallSegments);
  EXPECT_TRUE(wal.ok()) << wal.status();
  EXPECT_TRUE(fs.SyncDir("").ok());  // the WAL directory's own entry (the shard syncs it at load)
  return wal.ok() ? std::move(*wal) : nullptr;
}

TEST(WalFaultTest, OutOfSpaceRefusesTheAppendAndTheWalGoesOnOnceSpaceIsFreed) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs);
  ASSERT_EQ(*wal->Append("first"), 0u);
  ASSERT_TRUE(wal->Sync().ok());
  fs.set_capacity_bytes(fs.total_bytes());  // full
  auto refused = wal->Append("second");
  ASSERT_TRUE(absl::IsResourceExhausted(refused.status())) << refused.status();
  EXPECT_EQ(wal->next_index(), 1u);
  EXPECT_TRUE(wal->stopped().ok());
  fs.set_capacity_bytes(0);  // space freed
  EXPECT_EQ(*wal->Append("second"), 1u);
  ASSERT_TRUE(wal->Sync().ok());
  wal.reset();
  auto reopened = OpenOrDie(fs);
  ASSERT_EQ(reopened->next_index(), 2u);
  EXPECT_EQ(*reopened->Read(1), "second");
}

// A rollover refused for space leaves the next segment's file half made; a
// smaller entry may then still fit the current segment and take the index
// that file is named after. Found by a small-disk campaign (seed 9069): the
// next load refused the WAL as having a gap.
TEST(WalFaultTest, AFailedRolloverLeavesAWalThatLoads) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs);
  ASSERT_TRUE(wal->Append(std::string(60, 'a')).ok());
  ASSERT_TRUE(wal->Sync().ok());
  fs.set_capacity_bytes(fs.total_bytes() + 8);  // not even a new segment's header fits
  const auto rolled = wal->Append(std::string(60, 'b'));
  ASSERT_TRUE(absl::IsResourceExhausted(rolled.status())) << rolled.status();
  fs.set_capacity_bytes(0);  // space freed
  ASSERT_EQ(*wal->Append("tiny"), 1u);  // fits the first segment
  ASSERT_TRUE(wal->Sync().ok());
  wal.reset();
  // A leftover named after index 1 (as an unlink lost to a crash leaves it).
  ASSERT_TRUE(fs.Open("wal/wal-00000000000000000001", OpenMode::kCreateTruncate).ok());
  auto reopened = Wal::Open(fs, "wal", kSmallSegments);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ASSERT_EQ((*reopened)->next_index(), 2u);
  EXPECT_EQ(*(*reopened)->Read(1), "tiny");
}

// Two rollovers refused for space, each leaving a file a crash kept (its
// unlink undone): the first leftover is no longer last, and it is named after
// the index the first segment went on to hold, which the first index now
// points at. Both are dropped; the first segment is not taken for a
// truncation leftover (seed 597 of small-disk with 512-byte allocation).
TEST(WalFaultTest, SeveralFailedRolloversLeftoversAreDroppedBeforeTruncation) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs);
  ASSERT_EQ(*wal->Append(std::string(30, 'a')), 0u);
  ASSERT_EQ(*wal->Append("tiny-1"), 1u);
  ASSERT_EQ(*wal->Append("tiny-2"), 2u);
  ASSERT_TRUE(wal->Sync().ok());
  ASSERT_EQ(wal->FileNames().size(), 2u) << "the test wants one segment";
  ASSERT_TRUE(wal->Ack(2).ok());  // entry 2 is the first to replay
  wal.reset();
  ASSERT_TRUE(fs.Open("wal/wal-00000000000000000002", OpenMode::kCreateTruncate).ok());
  ASSERT_TRUE(fs.Open("wal/wal-00000000000000000003", OpenMode::kCreateTruncate).ok());
  auto reopened = Wal::Open(fs, "wal", kSmallSegments);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->first_index(), 2u);
  EXPECT_EQ((*reopened)->next_index(), 3u);
  EXPECT_EQ(*(*reopened)->Read(2), "tiny-2");
  EXPECT_EQ((*reopened)->load_repairs().size(), 2u);
  EXPECT_FALSE(fs.Stat("wal/wal-00000000000000000002").ok());
  EXPECT_FALSE(fs.Stat("wal/wal-00000000000000000003").ok());
}

TEST(WalFaultTest, AFailedSyncStopsTheWalUntilItIsReopened) {
  sim::SimFileSystem fs;
  sim::PrngSource decisions(1);
  sim::FaultInjectingFileSystem faulty(fs, {}, decisions);
  faulty.set_sync_failure_hook([&](std::string_view path) { fs.DropDirtyPages(path); });
  auto wal = OpenOrDie(faulty);
  ASSERT_EQ(*wal->Append("durable"), 0u);
  ASSERT_TRUE(wal->Sync().ok());
  ASSERT_EQ(*wal->Append("lost pages"), 1u);
  faulty.set_rates({.fsync_failure = 1.0});
  const absl::Status failed = wal->Sync();
  ASSERT_FALSE(failed.ok());
  faulty.set_rates({});
  // Retrying would report success for pages the kernel dropped: everything
  // fails with the first error now.
  EXPECT_FALSE(wal->Sync().ok());
  EXPECT_FALSE(wal->Append("after").ok());
  EXPECT_FALSE(wal->Ack(1).ok());
  EXPECT_NE(wal->stopped().message().find("EIO on sync"), std::string_view::npos) << wal->stopped();
  EXPECT_EQ(wal->synced_next_index(), 1u);
  wal.reset();
  // A power loss keeps what the last good sync made durable.
  sim::PrngSource crash_decisions(2);
  ASSERT_TRUE(fs.Crash(sim::CrashKind::kPowerLoss, sim::CrashModel::kDropAllUnsynced, crash_decisions).ok());
  auto reopened = OpenOrDie(fs);
  EXPECT_EQ(reopened->next_index(), 1u);
  EXPECT_EQ(*reopened->Append("again"), 1u);
  EXPECT_TRUE(reopened->Sync().ok());
}

// A new WAL's entry "one", whose first sync fails (fsync drops the dirty
// pages, which stay readable), then a process crash.
void AppendFailTheSyncAndCrash(sim::SimFileSystem& fs, sim::PrngSource& crash_decisions) {
  sim::PrngSource decisions(1);
  sim::FaultInjectingFileSystem faulty(fs, {}, decisions);
  faulty.set_sync_failure_hook([&](std::string_view path) { fs.DropDirtyPages(path); });
  auto wal = OpenOrDie(faulty);
  ASSERT_TRUE(wal->Append("one").ok());
  faulty.set_rates({.fsync_failure = 1.0});
  ASSERT_FALSE(wal->Sync().ok());
  wal.reset();
  ASSERT_TRUE(fs.Crash(sim::CrashKind::kProcessCrash, sim::CrashModel::kDropAllUnsynced, crash_decisions).ok());
}

TEST(WalFaultTest, AfterAFailedSyncAReopenWritesThePageCacheAgain) {
  sim::SimFileSystem fs;
  sim::PrngSource crash_decisions(2);
  AppendFailTheSyncAndCrash(fs, crash_decisions);
  // A process crash keeps the page cache: the reopened WAL still reads the
  // entry, rewrites it, and its next sync makes it durable for real.
  auto reopened = OpenOrDie(fs);
  ASSERT_EQ(reopened->next_index(), 1u);
  ASSERT_TRUE(reopened->Sync().ok());
  reopened.reset();
  ASSERT_TRUE(fs.Crash(sim::CrashKind::kPowerLoss, sim::CrashModel::kDropAllUnsynced, crash_decisions).ok());
  EXPECT_EQ(OpenOrDie(fs)->next_index(), 1u);
}

// Seed 3400131593: the failed sync dropped the new segment's header too, and
// the reopened WAL rewrote only the entry; its next Sync wrote slot 0 alone,
// so after a power loss slot 1 was zeros beside a good slot 0, and a torn
// append behind them read as damage to synced data (a load refused for good).
// The first Sync of a segment writes the whole header.
TEST(WalFaultTest, AfterAFailedSyncTheNextSyncMakesTheWholeHeaderDurable) {
  sim::SimFileSystem fs;
  sim::PrngSource crash_decisions(2);
  AppendFailTheSyncAndCrash(fs, crash_decisions);
  auto reopened = OpenOrDie(fs);
  ASSERT_TRUE(reopened->Sync().ok());
  reopened.reset();
  ASSERT_TRUE(fs.Crash(sim::CrashKind::kPowerLoss, sim::CrashModel::kDropAllUnsynced, crash_decisions).ok());
  const std::string header = ReadWholeFile(fs, "wal/wal-00000000000000000000")->substr(0, 32);
  EXPECT_TRUE(wal_format::DecodeSlot(std::string_view(header).substr(0, 16)).has_value());
  EXPECT_TRUE(wal_format::DecodeSlot(std::string_view(header).substr(16, 16)).has_value());
}

// Seed 4400142436: a load repaired a header slot that did not decode, and
// the fsync after the repair failed, so the repair stayed readable but not
// durable. Later loads took it for a good slot, and after a power loss the
// damaged slot was back beside a torn append, which a load refuses as
// damage. The failed load puts the bytes it read back; the next load sees
// the damage and repairs it again, durably.
TEST(WalFaultTest, ARepairWhoseFsyncFailedIsMadeAgainByTheNextLoad) {
  sim::SimFileSystem fs;
  const std::string segment = "wal/wal-00000000000000000000";
  {
    auto wal = OpenOrDie(fs);
    ASSERT_TRUE(wal->Append("one").ok());
    ASSERT_TRUE(wal->Sync().ok());
  }
  {
    auto file = fs.Open(segment, OpenMode::kReadWrite);
    ASSERT_TRUE(file.ok()) << file.status();
    ASSERT_TRUE((*file)->WriteAt(16, std::span<const char>("torn slot write!", 16)).ok());
    ASSERT_TRUE((*file)->Sync().ok());
  }
  // Two draws of two bytes: the load's first fsync passes, the second fails.
  const std::vector<uint8_t> tape = {0x00, 0x00, 0xff, 0xff};
  sim::TapeSource decisions(tape);
  sim::FaultInjectingFileSystem faulty(fs, {.fsync_failure = 0.5}, decisions);
  faulty.set_sync_failure_hook([&](std::string_view path) { fs.DropDirtyPages(path); });
  ASSERT_FALSE(Wal::Open(faulty, "wal", kSmallSegments).ok());
  ASSERT_EQ(faulty.counts().fsync_failures, 1u);
  auto reopened = Wal::Open(fs, "wal", kSmallSegments);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->load_repairs().size(), 1u);
  reopened->reset();
  sim::PrngSource crash_decisions(2);
  ASSERT_TRUE(fs.Crash(sim::CrashKind::kPowerLoss, sim::CrashModel::kDropAllUnsynced, crash_decisions).ok());
  const std::string header = ReadWholeFile(fs, segment)->substr(0, 32);
  EXPECT_TRUE(wal_format::DecodeSlot(std::string_view(header).substr(16, 16)).has_value());
}

}  // namespace
}  // namespace engine
