#include "engine/archive/tar_archive.h"

#include <gtest/gtest.h>

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "engine/archive/sha256.h"
#include "engine/archive/snapshot_archive.h"
#include "sim/fs/sim_fs.h"

namespace engine {
namespace {

struct RawEntry {
  std::string path;
  mode_t type = AE_IFREG;
  std::string contents;
  std::string link;  // symlink target or hard link
  bool hardlink = false;
};

// Builds a tar with libarchive directly, so that hostile entries can be made.
std::string BuildTar(const std::vector<RawEntry>& entries) {
  std::vector<char> buffer(1 << 20);
  size_t used = 0;
  struct archive* archive = archive_write_new();
  archive_write_set_format_pax_restricted(archive);
  archive_write_open_memory(archive, buffer.data(), buffer.size(), &used);
  for (const RawEntry& raw : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, raw.path.c_str());
    archive_entry_set_filetype(entry, raw.type);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_size(entry, static_cast<la_int64_t>(raw.contents.size()));
    if (!raw.link.empty()) {
      raw.hardlink ? archive_entry_set_hardlink(entry, raw.link.c_str())
                   : archive_entry_set_symlink(entry, raw.link.c_str());
    }
    archive_write_header(archive, entry);
    if (!raw.contents.empty()) archive_write_data(archive, raw.contents.data(), raw.contents.size());
    archive_entry_free(entry);
  }
  archive_write_close(archive);
  archive_write_free(archive);
  return std::string(buffer.data(), used);
}

TEST(TarArchiveTest, WriterRoundTripThroughTheSimulatedFileSystem) {
  sim::SimFileSystem fs;
  {
    auto file = fs.Open("snapshot.tar", OpenMode::kCreate);
    auto writer = TarWriter::Open(**file);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->AddFile("segments/1/segment.json", "{}").ok());
    ASSERT_TRUE((*writer)->AddFile("wal/first-index", std::string(100000, 'x')).ok());
    ASSERT_TRUE((*writer)->Finish().ok());
  }
  const std::string bytes = *ReadWholeFile(fs, "snapshot.tar");
  auto entries = ReadTar(bytes, {});
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].path, "segments/1/segment.json");
  EXPECT_EQ((*entries)[1].contents.size(), 100000u);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TarArchiveTest, HostileEntriesAreRefusedWithTheRuleNamed) {
  const std::vector<std::pair<std::vector<RawEntry>, std::string>> cases = {
      {{{"/etc/passwd", AE_IFREG, "x"}}, "absolute path"},
      {{{"segments/../../escape", AE_IFREG, "x"}}, "'..'"},
      {{{"segments/link", AE_IFLNK, "", "/etc/passwd"}}, "links"},
      {{{"a", AE_IFREG, "x"}, {"b", AE_IFREG, "", "a", true}}, "links"},
      {{{"segments/dev", AE_IFCHR, ""}}, "regular files and directories"},
      {{{"segments/fifo", AE_IFIFO, ""}}, "regular files and directories"},
      {{{"a", AE_IFREG, "x"}, {"a", AE_IFREG, "y"}}, "duplicate"},
      {{{"big", AE_IFREG, std::string(2000, 'x')}}, "size bound"},
  };
  for (const auto& [entries, rule] : cases) {
    auto read = ReadTar(BuildTar(entries), TarLimits{.max_entry_bytes = 1000});
    ASSERT_FALSE(read.ok()) << entries.front().path;
    EXPECT_TRUE(absl::IsInvalidArgument(read.status())) << read.status();
    EXPECT_NE(std::string(read.status().message()).find(rule), std::string::npos) << read.status();
  }
}

TEST(TarArchiveTest, HiddenEntriesAreSkippedAndTruncationIsAnError) {
  const std::string tar = BuildTar({{"segments/.hidden/x", AE_IFREG, "x"},
                                    {"segments/1/f", AE_IFREG, std::string(5000, 'f')}});
  auto entries = ReadTar(tar, {});
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].path, "segments/1/f");
  auto truncated = ReadTar(std::string_view(tar).substr(0, 2000), {});
  EXPECT_TRUE(absl::IsDataLoss(truncated.status())) << truncated.status();
  EXPECT_FALSE(ReadTar("not a tar at all", {}).ok());
}

// Sizes around the 512-byte block and the 10240-byte record: the writer's
// stream accounting (whole records, every file's blocks) holds for each.
TEST(TarArchiveTest, EntriesAtBlockBoundariesRoundTrip) {
  sim::SimFileSystem fs;
  const std::vector<size_t> sizes = {0, 1, 511, 512, 513, 1024, 10239, 10240, 10241, 30000};
  {
    auto file = fs.Open("blocks.tar", OpenMode::kCreate);
    auto writer = TarWriter::Open(**file);
    ASSERT_TRUE(writer.ok());
    for (size_t size : sizes) {
      ASSERT_TRUE((*writer)->AddFile(fmt::format("segments/1/f{}", size), std::string(size, 'b')).ok());
    }
    EXPECT_EQ((*writer)->contents_bytes(), 63281u);
    ASSERT_TRUE((*writer)->Finish().ok());
  }
  const std::string bytes = *ReadWholeFile(fs, "blocks.tar");
  EXPECT_EQ(bytes.size() % 10240, 0u);
  auto entries = ReadTar(bytes, {});
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) EXPECT_EQ((*entries)[i].contents.size(), sizes[i]);
}

TEST(ArchiveBuilderDeathTest, TheManifestListsEachFileOnce) {
  sim::SimFileSystem fs;
  auto file = fs.Open("builder.tar", OpenMode::kCreate);
  auto writer = TarWriter::Open(**file);
  ASSERT_TRUE(writer.ok());
  ArchiveBuilder builder(**writer);
  ASSERT_TRUE(builder.Add("wal/1", "x").ok());
  EXPECT_DEATH((void)builder.Add("wal/1", "y"), "archived twice");
  EXPECT_DEATH((void)(*writer)->AddFile(".hidden/x", "y"), "unreadable archive path");
  ASSERT_TRUE(builder.WriteManifest().ok());
  EXPECT_DEATH((void)builder.Add("wal/2", "y"), "after the manifest");
}

}  // namespace
}  // namespace engine
