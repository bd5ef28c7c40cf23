#include "engine/wal/wal.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>

#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "engine/env/file_system_wrapper.h"
#include "sim/fs/sim_fs.h"

namespace engine {
namespace {

constexpr WalOptions kSmallSegments{.segment_capacity_bytes = 128};

std::unique_ptr<Wal> OpenOrDie(FileSystem& fs, WalOptions options = kSmallSegments) {
  auto wal = Wal::Open(fs, "wal", options);
  EXPECT_TRUE(wal.ok()) << wal.status();
  return wal.ok() ? std::move(*wal) : nullptr;
}

std::map<std::string, std::string> Snapshot(sim::SimFileSystem& fs) {
  std::map<std::string, std::string> files;
  const auto entries = fs.ListDir("wal");
  for (const DirEntry& entry : *entries) files[entry.name] = *ReadWholeFile(fs, "wal/" + entry.name);
  return files;
}

TEST(WalTest, AppendReadAndRolloverAcrossSegments) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(*wal->Append(fmt::format("entry-{}", i)), uint64_t(i));
  EXPECT_GT(wal->FileNames().size(), 3u);  // several segments + first-index
  for (int i = 0; i < 20; ++i) EXPECT_EQ(*wal->Read(i), fmt::format("entry-{}", i));
  EXPECT_TRUE(absl::IsOutOfRange(wal->Read(20).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(wal->Append(std::string(200, 'x')).status()));
}

TEST(WalTest, SyncedEntriesSurvivePowerLossAndReopen) {
  sim::SimFileSystem fs;
  sim::PrngSource decisions(1);
  ASSERT_TRUE(fs.Mkdir("wal").ok());
  ASSERT_TRUE(fs.SyncDir("").ok());
  auto wal = OpenOrDie(fs, {.segment_capacity_bytes = 4096});
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(wal->Append(fmt::format("e{}", i)).ok());
  ASSERT_TRUE(wal->Sync().ok());
  for (int i = 10; i < 13; ++i) ASSERT_TRUE(wal->Append(fmt::format("e{}", i)).ok());
  wal.reset();
  ASSERT_TRUE(fs.Crash(sim::CrashKind::kPowerLoss, sim::CrashModel::kDropAllUnsynced, decisions).ok());
  wal = OpenOrDie(fs, {.segment_capacity_bytes = 4096});
  EXPECT_EQ(wal->next_index(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(*wal->Read(i), fmt::format("e{}", i));
  EXPECT_EQ(*wal->Append("after"), 10u);
}

TEST(WalTest, AckDeletesOnlyWholeClosedSegmentsAndSurvivesReopen) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(wal->Append(fmt::format("entry-{}", i)).ok());
  ASSERT_TRUE(wal->Sync().ok());
  const size_t files_before = wal->FileNames().size();
  ASSERT_TRUE(wal->Ack(9).ok());
  EXPECT_LT(wal->FileNames().size(), files_before);
  EXPECT_EQ(*wal->Read(9), "entry-9");  // the acked op is replayed again
  EXPECT_TRUE(absl::IsOutOfRange(wal->Read(8).status()));
  wal = OpenOrDie(fs);
  EXPECT_EQ(wal->first_index(), 9u);
  EXPECT_EQ(wal->next_index(), 20u);
  EXPECT_EQ(*wal->Read(9), "entry-9");
}

// Ack unlinks the segments below the new first index before one directory
// sync; a power loss may keep a later unlink and lose the oldest one. The
// leftover is below the first index: removed at load, not a gap.
TEST(WalTest, AnInterruptedTruncationsLeftoverSegmentIsRemovedAtLoad) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(wal->Append(fmt::format("entry-{}", i)).ok());
  ASSERT_TRUE(wal->Sync().ok());
  const std::map<std::string, std::string> before = Snapshot(fs);
  ASSERT_TRUE(wal->Ack(15).ok());
  const std::map<std::string, std::string> after = Snapshot(fs);
  ASSERT_GE(before.size(), after.size() + 2) << "the test wants two segments unlinked";
  // The oldest segment's unlink lost, a later one's kept.
  const auto& [oldest_name, oldest_bytes] = *before.begin();
  ASSERT_FALSE(after.contains(oldest_name));
  ASSERT_TRUE(WriteFileAtomically(fs, "wal/" + oldest_name, oldest_bytes).ok());
  wal.reset();
  wal = OpenOrDie(fs);
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->first_index(), 15u);
  EXPECT_EQ(wal->next_index(), 20u);
  EXPECT_EQ(*wal->Read(15), "entry-15");
  EXPECT_FALSE(Snapshot(fs).contains(oldest_name));
  ASSERT_EQ(wal->load_repairs().size(), 1u);
  EXPECT_NE(wal->load_repairs()[0].find("interrupted truncation"), std::string::npos);
}

// Forwards to a SimFileSystem; once an unlink went through, every directory
// sync fails: the process "dies" between a load's unlinks and its final sync.
class NoDirSyncAfterUnlink final : public FileSystemWrapper {
 public:
  explicit NoDirSyncAfterUnlink(FileSystem& inner) : FileSystemWrapper(inner) {}
  absl::Status Unlink(std::string_view path) override {
    unlinked_ = true;
    return FileSystemWrapper::Unlink(path);
  }
  absl::Status SyncDir(std::string_view path) override {
    if (unlinked_) return absl::InternalError("the process died before this directory sync");
    return FileSystemWrapper::SyncDir(path);
  }

 private:
  bool unlinked_ = false;
};

// A process crash right after Ack's rename of first-index, before its
// directory sync: the reload reads the new first index from the page cache
// and removes the segments below it. The rename must be durable before those
// unlinks: a power loss that keeps only the unlinks (each directory entry on
// its own) must still leave a WAL that loads (faulty seed 425331).
TEST(WalTest, ALoadMakesTheFirstIndexDurableBeforeRemovingWhatItTruncates) {
  sim::SimFileSystem fs;
  ASSERT_TRUE(fs.Mkdir("wal").ok());
  ASSERT_TRUE(fs.SyncDir("").ok());
  auto wal = OpenOrDie(fs);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(wal->Append(fmt::format("entry-{}", i)).ok());
  ASSERT_TRUE(wal->Sync().ok());
  wal.reset();
  ASSERT_TRUE(fs.SyncDir("wal").ok());
  // Ack(15) as far as its rename: the new first index synced, not its entry.
  auto tmp = fs.Open("wal/first-index.tmp", OpenMode::kCreateTruncate);
  ASSERT_TRUE(tmp.ok());
  const std::string sealed = Wal::EmptyWalFile(15).second;
  ASSERT_TRUE((*tmp)->Append(std::span<const char>(sealed.data(), sealed.size())).ok());
  ASSERT_TRUE((*tmp)->Sync().ok());
  ASSERT_TRUE(fs.Rename("wal/first-index.tmp", "wal/first-index").ok());
  NoDirSyncAfterUnlink dying(fs);
  EXPECT_FALSE(Wal::Open(dying, "wal", kSmallSegments).ok());  // unlinked, then died
  std::vector<bool> keep;
  bool unlink_pending = false;
  for (const sim::PendingOperation& op : fs.PendingOperations()) {
    keep.push_back(op.kind == sim::PendingOperation::Kind::kUnlink);
    unlink_pending |= keep.back();
  }
  ASSERT_TRUE(unlink_pending) << "the test wants the load to have removed a segment";
  ASSERT_TRUE(fs.PowerLossKeeping(keep).ok());
  wal = OpenOrDie(fs);
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->first_index(), 15u);
  EXPECT_EQ(*wal->Read(15), "entry-15");
  EXPECT_EQ(wal->next_index(), 20u);
}

TEST(WalTest, CreateEmptyContinuesAtTheGivenIndex) {
  sim::SimFileSystem fs;
  ASSERT_TRUE(Wal::CreateEmpty(fs, "wal", 42).ok());
  auto wal = OpenOrDie(fs);
  EXPECT_EQ(wal->first_index(), 42u);
  EXPECT_EQ(*wal->Append("x"), 42u);
}

// Found by fuzz_wal: std::stoull threw on 20 digits past 2^64 - 1.
TEST(WalTest, SegmentNamePastTheLargestIndexIsDataLossNotAnException) {
  sim::SimFileSystem fs;
  ASSERT_TRUE(fs.Mkdir("wal").ok());
  ASSERT_TRUE(fs.Open("wal/wal-99999999999999999999", OpenMode::kCreateTruncate).ok());
  auto wal = Wal::Open(fs, "wal", kSmallSegments);
  EXPECT_TRUE(absl::IsDataLoss(wal.status())) << wal.status();
}

// Found by fuzz_wal: the only segment, empty, with no first-index file, was
// dropped as never written, so the next Open started the log at 0 again.
TEST(WalTest, AnEmptyOnlySegmentKeepsItsStartIndexAcrossReopens) {
  sim::SimFileSystem fs;
  ASSERT_TRUE(fs.Mkdir("wal").ok());
  ASSERT_TRUE(fs.Open("wal/wal-00000000000000000005", OpenMode::kCreateTruncate).ok());
  for (int open = 0; open < 2; ++open) {
    auto wal = OpenOrDie(fs);
    EXPECT_EQ(wal->first_index(), 5u);
    EXPECT_EQ(wal->next_index(), 5u);
  }
  EXPECT_EQ(*OpenOrDie(fs)->Append("x"), 5u);
}

// A rollover from a segment holding no entry (the only segment kept empty
// at load, or one an out-of-space append left empty) named the new segment
// after the same index: FileNames listed it twice and Ack unlinked the file
// the live segment was in.
TEST(WalTest, ABigEntryAfterAnEmptySegmentGoesIntoIt) {
  sim::SimFileSystem fs;
  ASSERT_TRUE(fs.Mkdir("wal").ok());
  ASSERT_TRUE(fs.Open("wal/wal-00000000000000000005", OpenMode::kCreateTruncate).ok());
  auto wal = OpenOrDie(fs);
  // 16 + 100 bytes fit the 128-byte capacity, but not behind a 32-byte header.
  ASSERT_EQ(*wal->Append(std::string(100, 'x')), 5u);
  ASSERT_EQ(*wal->Append("y"), 6u);
  ASSERT_EQ(*wal->Append(std::string(100, 'z')), 7u);
  ASSERT_TRUE(wal->Sync().ok());
  const std::vector<std::string> names = wal->FileNames();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  ASSERT_TRUE(wal->Ack(6).ok());
  EXPECT_EQ(*wal->Read(6), "y");
  wal = OpenOrDie(fs);
  EXPECT_EQ(wal->first_index(), 6u);
  EXPECT_EQ(*wal->Read(6), "y");
  EXPECT_EQ(*wal->Read(7), std::string(100, 'z'));
}

// Found by fuzz_wal: appends after a first index of 2^64 - 1 wrapped to 0.
TEST(WalTest, IndexesNeverWrapAround) {
  sim::SimFileSystem fs;
  ASSERT_TRUE(Wal::CreateEmpty(fs, "wal", UINT64_MAX).ok());
  EXPECT_TRUE(absl::IsOutOfRange(OpenOrDie(fs)->Append("x").status()));
}

TEST(WalTest, CorruptFirstIndexIsAClearError) {
  sim::SimFileSystem fs;
  ASSERT_TRUE(fs.Mkdir("wal").ok());
  ASSERT_TRUE(WriteFileAtomically(fs, "wal/first-index", "{nonsense").ok());
  auto wal = Wal::Open(fs, "wal", kSmallSegments);
  EXPECT_TRUE(absl::IsDataLoss(wal.status())) << wal.status();
}

void FlipBit(sim::SimFileSystem& fs, const std::string& path, uint64_t bit) {
  std::string contents = *ReadWholeFile(fs, path);
  contents[bit / 8] = static_cast<char>(contents[bit / 8] ^ (1 << (bit % 8)));
  ASSERT_TRUE(WriteFileAtomically(fs, path, contents).ok());
}

TEST(WalTest, FlippedBitInSyncedDataIsRefusedAndNothingChanges) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs, {.segment_capacity_bytes = 4096});
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(wal->Append(fmt::format("entry-{}", i)).ok());
  ASSERT_TRUE(wal->Sync().ok());
  wal.reset();
  const std::string segment = "wal/wal-00000000000000000000";
  FlipBit(fs, segment, 8 * 62);  // inside the second entry (32-byte header, 23-byte entries)
  const auto before = Snapshot(fs);
  auto reopened = Wal::Open(fs, "wal", {.segment_capacity_bytes = 4096});
  EXPECT_TRUE(absl::IsDataLoss(reopened.status())) << reopened.status();
  EXPECT_NE(std::string(reopened.status().message()).find("offset"), std::string::npos);
  EXPECT_EQ(Snapshot(fs), before);
}

// Faulty seed 24651: a Sync's header write failed (EIO) and the power loss
// tore it; rot then damaged an entry the previous Sync had vouched for.
// With one header slot nothing was vouched for any more, and the damaged
// entry was cut as a torn tail: a durable op silently lost.
TEST(WalTest, ATornHeaderSlotKeepsTheOtherSlotsVouching) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs, {.segment_capacity_bytes = 4096});
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(wal->Append(fmt::format("entry-{}", i)).ok());
  ASSERT_TRUE(wal->Sync().ok());  // slot 0 vouches for entries 0 and 1
  ASSERT_TRUE(wal->Append("entry-2").ok());
  ASSERT_TRUE(wal->Sync().ok());  // slot 1 for entries 0..2; slot 0 is next
  wal.reset();
  const std::string segment = "wal/wal-00000000000000000000";
  {  // the next Sync's slot write, torn
    auto file = fs.Open(segment, OpenMode::kReadWrite);
    ASSERT_TRUE((*file)->WriteAt(3, std::span<const char>("torn", 4)).ok());
  }
  FlipBit(fs, segment, 8 * (32 + 2 * 23 + 20));  // inside entry 2's payload
  auto reopened = Wal::Open(fs, "wal", {.segment_capacity_bytes = 4096});
  EXPECT_TRUE(absl::IsDataLoss(reopened.status())) << reopened.status();
  EXPECT_NE(std::string(reopened.status().message()).find("synced"), std::string::npos);
}

// Flips bit 0 of byte `byte` in the first read of `path` that covers it: a
// bad read, not damage on disk.
class FlipsTheFirstRead final : public FileSystemWrapper {
 public:
  FlipsTheFirstRead(FileSystem& inner, std::string path, uint64_t byte)
      : FileSystemWrapper(inner), path_(std::move(path)), byte_(byte) {}
  int flipped = 0;

  absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, OpenMode mode) override {
    auto file = FileSystemWrapper::Open(path, mode);
    if (!file.ok() || path != path_) return file;
    return std::unique_ptr<File>(std::make_unique<Flipping>(std::move(*file), *this));
  }

 private:
  class Flipping final : public FileWrapper {
   public:
    Flipping(std::unique_ptr<File> target, FlipsTheFirstRead& owner) : FileWrapper(std::move(target)), owner_(owner) {}
    absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
      auto read_bytes = FileWrapper::ReadAt(offset, out);
      const uint64_t byte = owner_.byte_;
      if (read_bytes.ok() && owner_.flipped == 0 && offset <= byte && byte < offset + *read_bytes) {
        out[byte - offset] ^= 1;
        ++owner_.flipped;
      }
      return read_bytes;
    }

   private:
    FlipsTheFirstRead& owner_;
  };
  std::string path_;
  uint64_t byte_;
};

// Faulty seed 300248756: rot damaged a synced entry, and the load's read of
// the segment returned the one slot vouching for it with a flipped bit. The
// other slot vouched for less, so the damaged entry looked like a torn
// unsynced tail and was cut: a synced op silently lost. The load reads the
// slots again before such a cut and refuses the damage instead.
TEST(WalTest, ABadReadOfAHeaderSlotDoesNotTurnDamageIntoATornTail) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs, {.segment_capacity_bytes = 4096});
  ASSERT_TRUE(wal->Append("entry-0").ok());
  ASSERT_TRUE(wal->Sync().ok());  // slot 0 vouches for entry 0; slot 1 for the header only
  wal.reset();
  const std::string segment = "wal/wal-00000000000000000000";
  FlipBit(fs, segment, 8 * (32 + 20));  // inside entry 0's payload, on disk
  FlipsTheFirstRead flipping(fs, segment, /*byte=*/0);  // slot 0's length
  auto reopened = Wal::Open(flipping, "wal", {.segment_capacity_bytes = 4096});
  EXPECT_EQ(flipping.flipped, 1);
  EXPECT_TRUE(absl::IsDataLoss(reopened.status())) << reopened.status();
  EXPECT_NE(std::string(reopened.status().message()).find("synced"), std::string::npos);
  // Nothing was cut: a later load, with good reads, refuses the same way.
  EXPECT_EQ(ReadWholeFile(fs, segment)->size(), 32u + 16 + 7);
}

// Faulty seed 600055124, the other way round: rot damaged the slot that
// vouched for a synced entry, and the load's read returned that entry with
// a flipped bit. Read again, the entry is intact: nothing is cut, and the
// log keeps every entry.
TEST(WalTest, ABadReadOfAnEntryBehindADamagedSlotIsNotCut) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs, {.segment_capacity_bytes = 4096});
  ASSERT_TRUE(wal->Append("entry-0").ok());
  ASSERT_TRUE(wal->Append("entry-1").ok());
  ASSERT_TRUE(wal->Sync().ok());  // slot 0 vouches for both entries
  wal.reset();
  const std::string segment = "wal/wal-00000000000000000000";
  const uint64_t size_bytes = ReadWholeFile(fs, segment)->size();
  FlipBit(fs, segment, 0);  // slot 0's length, on disk
  FlipsTheFirstRead flipping(fs, segment, /*byte=*/32 + 16 + 2);  // inside entry 0's payload
  auto reopened = Wal::Open(flipping, "wal", {.segment_capacity_bytes = 4096});
  EXPECT_EQ(flipping.flipped, 1);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ASSERT_EQ((*reopened)->next_index(), 2u);
  EXPECT_EQ(*(*reopened)->Read(0), "entry-0");
  EXPECT_EQ(ReadWholeFile(fs, segment)->size(), size_bytes);
}

// Seed 3200038201: rot in the slot vouching for the newest entries, and rot
// in one of those entries. The other slot vouched for less, so the entry
// looked like a torn tail, and the cut lost synced ops. A slot that does
// not decode beside one that does means every entry was synced.
TEST(WalTest, RotInTheSlotVouchingForARottenEntryIsRefusedNotCut) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs, {.segment_capacity_bytes = 4096});
  ASSERT_TRUE(wal->Append("entry-0").ok());
  ASSERT_TRUE(wal->Sync().ok());  // slot 0 vouches for entry 0
  ASSERT_TRUE(wal->Append("entry-1").ok());
  ASSERT_TRUE(wal->Sync().ok());  // slot 1 for entries 0 and 1
  wal.reset();
  const std::string segment = "wal/wal-00000000000000000000";
  FlipBit(fs, segment, 8 * (16 + 5));  // slot 1, on disk
  FlipBit(fs, segment, 8 * (32 + 23 + 20));  // inside entry 1's payload, on disk
  const auto before = Snapshot(fs);
  auto reopened = Wal::Open(fs, "wal", {.segment_capacity_bytes = 4096});
  EXPECT_TRUE(absl::IsDataLoss(reopened.status())) << reopened.status();
  EXPECT_NE(std::string(reopened.status().message()).find("slot 1"), std::string::npos) << reopened.status();
  EXPECT_EQ(Snapshot(fs), before);
}

// Were the slot left as it is until the next Sync, a torn append before
// that Sync would make the next load refuse a shard that holds no damage.
TEST(WalTest, ALoadRewritesAHeaderSlotThatDoesNotDecode) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs, {.segment_capacity_bytes = 4096});
  ASSERT_TRUE(wal->Append("entry-0").ok());
  ASSERT_TRUE(wal->Sync().ok());
  ASSERT_TRUE(wal->Append("entry-1").ok());
  ASSERT_TRUE(wal->Sync().ok());
  wal.reset();
  const std::string segment = "wal/wal-00000000000000000000";
  FlipBit(fs, segment, 8 * (16 + 5));  // slot 1
  wal = OpenOrDie(fs, {.segment_capacity_bytes = 4096});
  ASSERT_EQ(wal->next_index(), 2u);
  const std::string header = ReadWholeFile(fs, segment)->substr(0, 32);
  EXPECT_TRUE(wal_format::DecodeSlot(std::string_view(header).substr(0, 16)).has_value());
  EXPECT_TRUE(wal_format::DecodeSlot(std::string_view(header).substr(16, 16)).has_value());
  ASSERT_TRUE(wal->Append("entry-2").ok());  // never synced, then damaged in place
  wal.reset();
  const uint64_t size = ReadWholeFile(fs, segment)->size();
  {
    auto file = fs.Open(segment, OpenMode::kReadWrite);
    ASSERT_TRUE((*file)->WriteAt(size - 2, std::span<const char>("??", 2)).ok());
  }
  wal = OpenOrDie(fs, {.segment_capacity_bytes = 4096});
  EXPECT_EQ(wal->next_index(), 2u);
}

TEST(WalTest, DamagedUnsyncedTailIsCut) {
  sim::SimFileSystem fs;
  auto wal = OpenOrDie(fs, {.segment_capacity_bytes = 4096});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(wal->Append(fmt::format("entry-{}", i)).ok());
  ASSERT_TRUE(wal->Sync().ok());
  for (int i = 3; i < 5; ++i) ASSERT_TRUE(wal->Append(fmt::format("entry-{}", i)).ok());
  wal.reset();
  const std::string segment = "wal/wal-00000000000000000000";
  const uint64_t size = ReadWholeFile(fs, segment)->size();
  {  // damage entry 4, which was never synced, in place
    auto file = fs.Open(segment, OpenMode::kReadWrite);
    ASSERT_TRUE((*file)->WriteAt(size - 2, std::span<const char>("??", 2)).ok());
  }
  wal = OpenOrDie(fs, {.segment_capacity_bytes = 4096});
  EXPECT_EQ(wal->next_index(), 4u);
  EXPECT_EQ(*wal->Append("replacement"), 4u);
}

RC_GTEST_PROP(WalProperty, TornTailLoadsExactlyTheWholeEntries, ()) {
  const auto entries = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(
      rc::gen::container<std::string>(*rc::gen::inRange(0, 40), rc::gen::character<char>())));
  sim::SimFileSystem fs;
  auto wal = Wal::Open(fs, "wal", {.segment_capacity_bytes = 1 << 20});
  RC_ASSERT(wal.ok());
  std::vector<uint64_t> ends;
  uint64_t end = 32;  // the segment header (two slots)
  const size_t synced = *rc::gen::inRange<size_t>(0, entries.size() + 1);
  uint64_t synced_end = end;
  for (size_t i = 0; i < entries.size(); ++i) {
    RC_ASSERT((*wal)->Append(entries[i]).ok());
    end += Wal::kHeaderBytes + entries[i].size();
    ends.push_back(end);
    if (i + 1 == synced) {
      RC_ASSERT((*wal)->Sync().ok());
      synced_end = end;
    }
  }
  wal->reset();
  // A power loss can only tear what was never synced.
  const uint64_t cut = *rc::gen::inRange<uint64_t>(synced_end, end + 1);
  {
    auto file = fs.Open("wal/wal-00000000000000000000", OpenMode::kReadWrite);
    RC_ASSERT((*file)->Truncate(cut).ok());
  }
  auto reopened = Wal::Open(fs, "wal", {.segment_capacity_bytes = 1 << 20});
  RC_ASSERT(reopened.ok());
  const uint64_t whole = std::upper_bound(ends.begin(), ends.end(), cut) - ends.begin();
  RC_ASSERT((*reopened)->next_index() == whole);
  for (uint64_t i = 0; i < whole; ++i) RC_ASSERT(*(*reopened)->Read(i) == entries[i]);
}

}  // namespace
}  // namespace engine
