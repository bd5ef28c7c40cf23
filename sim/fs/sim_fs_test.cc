#include "sim/fs/sim_fs.h"

#include <gtest/gtest.h>

#include <string>

#include "sim/fs/fs_test_util.h"

namespace sim {
namespace {

using engine::OpenMode;
using fs_test::BuildCrossDirectoryRename;
using fs_test::ReadFile;
using fs_test::WriteFile;

TEST(SimFsTest, ErrorCodes) {
  SimFileSystem fs;
  EXPECT_TRUE(absl::IsNotFound(fs.Open("missing", OpenMode::kRead).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(fs.Open("a/../b", OpenMode::kCreate).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(fs.Open("a//b", OpenMode::kCreate).status()));
  ASSERT_TRUE(fs.Mkdir("d").ok());
  EXPECT_TRUE(absl::IsAlreadyExists(fs.Mkdir("d")));
  EXPECT_TRUE(absl::IsNotFound(fs.Mkdir("x/y")));
  WriteFile(fs, "d/f", "x", false);
  EXPECT_TRUE(absl::IsAlreadyExists(fs.Open("d/f", OpenMode::kCreateExclusive).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(fs.Rmdir("d")));
  EXPECT_TRUE(absl::IsFailedPrecondition(fs.Unlink("d")));
  EXPECT_TRUE(absl::IsFailedPrecondition(fs.Open("d", OpenMode::kRead).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(fs.Open("d/f/g", OpenMode::kCreate).status()));
  EXPECT_TRUE(absl::IsNotFound(fs.Unlink("d/nope")));
  EXPECT_TRUE(absl::IsInvalidArgument(fs.Rename("d", "d/inside")));
  auto read_only = fs.Open("d/f", OpenMode::kRead);
  EXPECT_TRUE(absl::IsPermissionDenied((*read_only)->Append(std::span<const char>("y", 1))));
}

TEST(SimFsTest, WritesAtOffsetsZeroFillGaps) {
  SimFileSystem fs;
  auto file = fs.Open("f", OpenMode::kCreate);
  ASSERT_TRUE((*file)->WriteAt(4, std::span<const char>("ab", 2)).ok());
  EXPECT_EQ(ReadFile(fs, "f"), std::string("\0\0\0\0ab", 6));
  ASSERT_TRUE((*file)->Truncate(5).ok());
  EXPECT_EQ(ReadFile(fs, "f"), std::string("\0\0\0\0a", 5));
  char buffer[10];
  EXPECT_EQ(*(*file)->ReadAt(3, std::span<char>(buffer, 10)), 2u);
  EXPECT_EQ(*(*file)->ReadAt(9, std::span<char>(buffer, 10)), 0u);
}

TEST(SimFsTest, ListDirIsSortedWithKinds) {
  SimFileSystem fs;
  WriteFile(fs, "b", "", false);
  ASSERT_TRUE(fs.Mkdir("a").ok());
  WriteFile(fs, "c", "", false);
  auto entries = fs.ListDir("");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0], (engine::DirEntry{"a", engine::EntryKind::kDirectory}));
  EXPECT_EQ((*entries)[1], (engine::DirEntry{"b", engine::EntryKind::kFile}));
  EXPECT_EQ((*entries)[2], (engine::DirEntry{"c", engine::EntryKind::kFile}));
}

TEST(SimFsTest, RenameReplacesAFileAtomically) {
  SimFileSystem fs;
  WriteFile(fs, "old", "old contents", true);
  WriteFile(fs, "new.tmp", "new contents", true);
  ASSERT_TRUE(fs.Rename("new.tmp", "old").ok());
  EXPECT_EQ(ReadFile(fs, "old"), "new contents");
  EXPECT_TRUE(absl::IsNotFound(fs.Stat("new.tmp").status()));
}

TEST(SimFsTest, PowerLossKeepsOnlySyncedDataAndSyncedEntries) {
  SimFileSystem fs;
  PrngSource decisions(1);
  WriteFile(fs, "synced", "durable", true);
  WriteFile(fs, "unsynced", "volatile", false);
  ASSERT_TRUE(fs.SyncDir("").ok());
  WriteFile(fs, "late", "created after the dir sync", true);
  ASSERT_TRUE(fs.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, decisions).ok());
  EXPECT_EQ(ReadFile(fs, "synced"), "durable");
  EXPECT_EQ(ReadFile(fs, "unsynced"), "");  // the entry survived, the data did not
  EXPECT_TRUE(absl::IsNotFound(fs.Stat("late").status()));
}

TEST(SimFsTest, UnsyncedRenameIsUndoneByPowerLoss) {
  SimFileSystem fs;
  PrngSource decisions(1);
  WriteFile(fs, "a", "A", true);
  ASSERT_TRUE(fs.SyncDir("").ok());
  ASSERT_TRUE(fs.Rename("a", "b").ok());
  ASSERT_TRUE(fs.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, decisions).ok());
  EXPECT_EQ(ReadFile(fs, "a"), "A");
  EXPECT_TRUE(absl::IsNotFound(fs.Stat("b").status()));
}

TEST(SimFsTest, NewDirectoryNeedsItsParentSynced) {
  SimFileSystem fs;
  PrngSource decisions(1);
  ASSERT_TRUE(fs.Mkdir("d").ok());
  WriteFile(fs, "d/f", "F", true);
  ASSERT_TRUE(fs.SyncDir("d").ok());
  ASSERT_TRUE(fs.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, decisions).ok());
  EXPECT_TRUE(absl::IsNotFound(fs.Stat("d").status()));
}

TEST(SimFsTest, ProcessCrashKeepsEverythingButInvalidatesHandles) {
  SimFileSystem fs;
  PrngSource decisions(1);
  auto file = fs.Open("f", OpenMode::kCreate);
  ASSERT_TRUE((*file)->Append(std::span<const char>("abc", 3)).ok());
  ASSERT_TRUE(fs.Crash(CrashKind::kProcessCrash, CrashModel::kDropAllUnsynced, decisions).ok());
  EXPECT_EQ(ReadFile(fs, "f"), "abc");
  EXPECT_TRUE(absl::IsUnavailable((*file)->Append(std::span<const char>("d", 1))));
}

// A file whose contents and directory entry are durable, open for writing.
absl::StatusOr<std::unique_ptr<engine::File>> OpenDurableFile(SimFileSystem& fs, const std::string& path,
                                                              const std::string& contents) {
  WriteFile(fs, path, contents, true);
  EXPECT_TRUE(fs.SyncDir("").ok());
  return fs.Open(path, OpenMode::kReadWrite);
}

TEST(SimFsTest, FailedSyncLosesTheDroppedPagesEvenAfterALaterSync) {
  SimFileSystem fs;
  PrngSource decisions(1);
  auto file = OpenDurableFile(fs, "f", "base");
  ASSERT_TRUE((*file)->Append(std::span<const char>("-lost", 5)).ok());
  fs.DropDirtyPages("f");  // as the kernel does when fsync fails
  EXPECT_EQ(ReadFile(fs, "f"), "base-lost");  // still in the page cache
  ASSERT_TRUE((*file)->Append(std::span<const char>("-kept", 5)).ok());
  ASSERT_TRUE((*file)->Sync().ok());  // "succeeds"
  ASSERT_TRUE(fs.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, decisions).ok());
  EXPECT_EQ(ReadFile(fs, "f"), std::string("base\0\0\0\0\0-kept", 14));
}

// The size is inode metadata: a failed fsync loses the dirty data, not an
// unsynced truncate, which the next successful sync persists.
TEST(SimFsTest, FailedSyncKeepsAnUnsyncedTruncateForTheNextSync) {
  SimFileSystem fs;
  PrngSource decisions(1);
  auto file = OpenDurableFile(fs, "f", "valid-torn");
  ASSERT_TRUE((*file)->Truncate(5).ok());
  fs.DropDirtyPages("f");
  EXPECT_EQ(ReadFile(fs, "f"), "valid");
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE(fs.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, decisions).ok());
  EXPECT_EQ(ReadFile(fs, "f"), "valid");
}

TEST(SimFsTest, CapacityFailsWritesWithoutChangingAnything) {
  SimFileSystem fs;
  fs.set_capacity_bytes(10);
  WriteFile(fs, "f", "12345678", false);
  auto file = fs.Open("f", OpenMode::kReadWrite);
  const absl::Status status = (*file)->Append(std::span<const char>("abc", 3));
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_EQ(ReadFile(fs, "f"), "12345678");
  EXPECT_EQ(fs.total_bytes(), 8u);
  EXPECT_TRUE((*file)->Append(std::span<const char>("ab", 2)).ok());
}

// Block-granular allocation: a file's first byte takes a whole unit, a write
// inside its last unit takes nothing, and the error counts the units.
TEST(SimFsTest, AllocationUnitsChargeWholeUnitsPerFile) {
  SimFileSystem fs;
  fs.set_allocation_unit_bytes(512);
  WriteFile(fs, "a", std::string(100, 'a'), false);
  EXPECT_EQ(fs.total_bytes(), 512u);
  fs.set_capacity_bytes(1000);
  auto created = fs.Open("b", OpenMode::kCreate);
  const absl::Status refused = (*created)->Append(std::span<const char>("b", 1));
  ASSERT_TRUE(absl::IsResourceExhausted(refused)) << refused;
  EXPECT_EQ(refused.message(), "ENOSPC writing b: 512 more bytes do not fit in 1000 bytes");
  auto grown = fs.Open("a", OpenMode::kReadWrite);
  EXPECT_TRUE((*grown)->Append(std::span<const char>(std::string(412, 'x').data(), 412)).ok());
  EXPECT_EQ(fs.total_bytes(), 512u);
  EXPECT_TRUE(absl::IsResourceExhausted((*grown)->Append(std::span<const char>("y", 1))));
  EXPECT_TRUE((*grown)->Truncate(0).ok());
  EXPECT_EQ(fs.total_bytes(), 0u);
  EXPECT_TRUE((*created)->Append(std::span<const char>("b", 1)).ok());
}

TEST(SimFsTest, NoSpaceNamesTheFile) {
  SimFileSystem fs;
  fs.set_capacity_bytes(4);
  auto file = fs.Open("dir-less-file", OpenMode::kCreate);
  const absl::Status status = (*file)->Append(std::span<const char>("12345", 5));
  ASSERT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_EQ(status.message(), "ENOSPC writing dir-less-file: 5 more bytes do not fit in 4 bytes");
  EXPECT_TRUE(absl::IsResourceExhausted((*file)->Truncate(10)));
}

TEST(SimFsTest, FlipStoredBitFlipsOneDurableBitAndWhatReadsSee) {
  SimFileSystem fs;
  PrngSource decisions(1);
  WriteFile(fs, "f", "abcd", true);
  ASSERT_TRUE(fs.SyncDir("").ok());
  ASSERT_TRUE(fs.FlipStoredBit("f", 8 * 2 + 1).ok());  // bit 1 of byte 2: 'c' ^ 2 = 'a'
  EXPECT_EQ(*fs.ReadDurable("f"), "abad");
  EXPECT_EQ(ReadFile(fs, "f"), "abad");
  EXPECT_TRUE(absl::IsOutOfRange(fs.FlipStoredBit("f", 32)));
  EXPECT_TRUE(absl::IsNotFound(fs.FlipStoredBit("g", 0)));
  ASSERT_TRUE(fs.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, decisions).ok());
  EXPECT_EQ(ReadFile(fs, "f"), "abad");  // rot is on the disk: it survives
}

TEST(SimFsTest, HoldsRotUntilTheRottenByteIsRewrittenOrItsFileGoes) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.Mkdir("d").ok());
  WriteFile(fs, "d/f", "abcd", true);
  WriteFile(fs, "d/g", "wxyz", true);
  ASSERT_TRUE(fs.SyncDir("d").ok());
  EXPECT_FALSE(fs.HoldsRot("d"));
  ASSERT_TRUE(fs.FlipStoredBit("d/f", 8 * 2 + 1).ok());
  EXPECT_TRUE(fs.HoldsRot("d"));
  EXPECT_TRUE(fs.HoldsRot(""));
  {  // the same byte written back as it was
    auto file = fs.Open("d/f", OpenMode::kReadWrite);
    ASSERT_TRUE((*file)->WriteAt(2, std::span<const char>("c", 1)).ok());
  }
  EXPECT_FALSE(fs.HoldsRot("d"));
  ASSERT_TRUE(fs.FlipStoredBit("d/g", 0).ok());
  EXPECT_TRUE(fs.HoldsRot("d"));
  ASSERT_TRUE(fs.Unlink("d/g").ok());
  EXPECT_FALSE(fs.HoldsRot("d"));
}

TEST(SimFsTest, StoredFilesListsFilesWithDurableDataUnderADirectory) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.Mkdir("d").ok());
  ASSERT_TRUE(fs.Mkdir("d/e").ok());
  WriteFile(fs, "d/e/z", "zz", true);
  WriteFile(fs, "d/a", "a", true);
  WriteFile(fs, "d/unsynced", "u", false);
  WriteFile(fs, "outside", "o", true);
  const auto files = fs.StoredFiles("d");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, "d/a");
  EXPECT_EQ(files[0].durable_bytes, 1u);
  EXPECT_EQ(files[1].path, "d/e/z");
  EXPECT_EQ(fs.StoredFiles("").size(), 3u);
  EXPECT_TRUE(fs.StoredFiles("missing").empty());
}

TEST(SimFsTest, SyncDirMakesOnlyThatDirectorysHalfOfARenameDurable) {
  SimFileSystem fs;
  PrngSource decisions(1);
  BuildCrossDirectoryRename(fs);
  ASSERT_TRUE(fs.SyncDir("a").ok());  // the unlink half is durable; the link half pending
  const auto pending = fs.PendingOperations();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].kind, PendingOperation::Kind::kRenameTo);
  EXPECT_FALSE(pending[0].partner.has_value());
  ASSERT_TRUE(fs.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, decisions).ok());
  EXPECT_TRUE(absl::IsNotFound(fs.Stat("a/f").status()));
  EXPECT_TRUE(absl::IsNotFound(fs.Stat("b/f").status()));  // and the file is gone
}

}  // namespace
}  // namespace sim
