#include "engine/archive/tar_archive.h"

#include <gtest/gtest.h>

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include <random>

#include "engine/common/assert.h"
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

// A file of `bytes` in a scratch simulated file system, open for reading.
struct FileOf {
  explicit FileOf(std::string_view bytes) {
    auto out = fs.Open("a.tar", OpenMode::kCreateTruncate);
    SS_ASSERT(out.ok() && (*out)->Append(std::span<const char>(bytes.data(), bytes.size())).ok());
    file = *fs.Open("a.tar", OpenMode::kRead);
  }
  sim::SimFileSystem fs;
  std::unique_ptr<File> file;
};

// Every kept entry through a TarReader over a file, contents read in
// chunks of `chunk` bytes.
absl::StatusOr<std::vector<TarEntry>> ReadTarFile(File& file, const TarLimits& limits, size_t chunk,
                                                  Sha256* whole_file = nullptr) {
  auto reader = TarReader::Open(file, limits, whole_file);
  if (!reader.ok()) return reader.status();
  std::vector<TarEntry> entries;
  std::string buffer(chunk, '\0');
  for (;;) {
    auto header = (*reader)->Next();
    if (!header.ok()) return header.status();
    if (!header->has_value()) break;
    TarEntry entry{.path = (*header)->path, .directory = (*header)->directory};
    for (;;) {
      auto read = (*reader)->Read(std::span<char>(buffer.data(), buffer.size()));
      if (!read.ok()) return read.status();
      if (*read == 0) break;
      entry.contents.append(buffer.data(), *read);
    }
    EXPECT_EQ(entry.contents.size(), (*header)->size_bytes);
    entries.push_back(std::move(entry));
  }
  if (auto status = (*reader)->ReadToEnd(); !status.ok()) return status;
  return entries;
}

TEST(Sha256Test, IncrementalEqualsWhole) {
  std::string data(300000, '\0');
  std::minstd_rand rng(7);
  for (char& c : data) c = static_cast<char>(rng());
  Sha256 hasher;
  for (size_t at = 0; at < data.size();) {
    const size_t piece = std::min<size_t>(rng() % 70000, data.size() - at);
    hasher.Update(std::string_view(data).substr(at, piece));
    at += piece;
  }
  EXPECT_EQ(hasher.bytes(), data.size());
  EXPECT_EQ(hasher.FinishHex(), Sha256Hex(data));
  EXPECT_EQ(Sha256().FinishHex(), Sha256Hex(""));
}

// A file streamed in pieces makes the same archive as one added whole, and
// the writer's checksum is the archive file's.
TEST(TarArchiveTest, StreamedFilesWriteTheSameArchiveAndItsChecksum) {
  const std::string big(700001, 'v');
  sim::SimFileSystem fs;
  for (const char* name : {"whole.tar", "pieces.tar"}) {
    auto file = fs.Open(name, OpenMode::kCreate);
    auto writer = TarWriter::Open(**file);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->AddFile("wal/first-index", "7").ok());
    if (std::string_view(name) == "whole.tar") {
      ASSERT_TRUE((*writer)->AddFile("segments/1/vectors", big).ok());
    } else {
      ASSERT_TRUE((*writer)->BeginFile("segments/1/vectors", big.size()).ok());
      for (size_t at = 0; at < big.size(); at += 65536) {
        ASSERT_TRUE((*writer)->AppendData(std::string_view(big).substr(at, 65536)).ok());
      }
      ASSERT_TRUE((*writer)->EndFile().ok());
    }
    ASSERT_TRUE((*writer)->Finish().ok());
    const std::string bytes = *ReadWholeFile(fs, name);
    EXPECT_EQ((*writer)->archive_bytes(), bytes.size());
    EXPECT_EQ((*writer)->sha256_hex(), Sha256Hex(bytes));
  }
  EXPECT_EQ(*ReadWholeFile(fs, "whole.tar"), *ReadWholeFile(fs, "pieces.tar"));
}

TEST(TarArchiveDeathTest, AStreamedFileMustBeExactlyItsDeclaredSize) {
  sim::SimFileSystem fs;
  auto file = fs.Open("short.tar", OpenMode::kCreate);
  auto writer = TarWriter::Open(**file);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->BeginFile("wal/1", 10).ok());
  EXPECT_DEATH((void)(*writer)->AppendData(std::string(11, 'x')), "past its size");
  ASSERT_TRUE((*writer)->AppendData("12345").ok());
  EXPECT_DEATH((void)(*writer)->EndFile(), "5 of 10 bytes");
  EXPECT_DEATH((void)(*writer)->Finish(), "open");
}

// The streaming reader over a file gives what the in-memory one does, in
// any chunk size, and hashes the whole file (the tar's padding included).
TEST(TarArchiveTest, TheFileReaderStreamsEveryEntryAndHashesTheWholeFile) {
  const std::string tar = BuildTar({{"segments/1", AE_IFDIR, ""},
                                    {"segments/1/big", AE_IFREG, std::string(600000, 'b')},
                                    {"segments/.hidden", AE_IFREG, std::string(3000, 'h')},
                                    {"wal/1", AE_IFREG, "w"},
                                    {"empty", AE_IFREG, ""}});
  const auto expected = ReadTar(tar, {});
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_EQ(expected->size(), 4u);
  for (const size_t chunk : {size_t{1}, size_t{511}, size_t{4096}, size_t{1} << 20}) {
    FileOf in(tar + std::string(5000, '\0'));  // bytes past the tar's end count too
    Sha256 whole;
    auto entries = ReadTarFile(*in.file, {}, chunk, &whole);
    ASSERT_TRUE(entries.ok()) << entries.status();
    ASSERT_EQ(entries->size(), expected->size());
    for (size_t i = 0; i < entries->size(); ++i) {
      EXPECT_EQ((*entries)[i].path, (*expected)[i].path);
      EXPECT_EQ((*entries)[i].directory, (*expected)[i].directory);
      EXPECT_EQ((*entries)[i].contents, (*expected)[i].contents);
    }
    EXPECT_EQ(whole.FinishHex(), Sha256Hex(tar + std::string(5000, '\0')));
  }
}

TEST(TarArchiveTest, TheFileReaderRefusesWhatTheMemoryReaderRefuses) {
  const std::vector<RawEntry> hostile[] = {{{"/etc/passwd", AE_IFREG, "x"}},
                                           {{"segments/link", AE_IFLNK, "", "/etc/passwd"}},
                                           {{"a", AE_IFREG, "x"}, {"a", AE_IFREG, "y"}},
                                           {{"big", AE_IFREG, std::string(2000, 'x')}}};
  for (const auto& entries : hostile) {
    const std::string tar = BuildTar(entries);
    FileOf in(tar);
    Sha256 whole;
    auto reader = TarReader::Open(*in.file, TarLimits{.max_entry_bytes = 1000}, &whole);
    ASSERT_TRUE(reader.ok());
    absl::Status refused;
    for (int i = 0; i < 3 && refused.ok(); ++i) refused = (*reader)->Next().status();
    EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
    EXPECT_EQ(refused, ReadTar(tar, TarLimits{.max_entry_bytes = 1000}).status());
    // Stopped by an entry, the reader still hashes the rest of the file.
    ASSERT_FALSE((*reader)->read_failed());
    ASSERT_TRUE((*reader)->ReadToEnd().ok());
    EXPECT_EQ(whole.FinishHex(), Sha256Hex(tar));
  }
  const std::string tar = BuildTar({{"segments/1/f", AE_IFREG, std::string(5000, 'f')}});
  FileOf truncated(tar.substr(0, 2000));
  EXPECT_TRUE(absl::IsDataLoss(ReadTarFile(*truncated.file, {}, 4096).status()));
  FileOf garbage("not a tar at all");
  EXPECT_TRUE(absl::IsDataLoss(ReadTarFile(*garbage.file, {}, 4096).status()));
}

// A file whose reads fail, or throw, from `fail_at` on.
class FailingFile final : public File {
 public:
  struct Thrown {};
  FailingFile(std::string bytes, uint64_t fail_at, bool throws)
      : bytes_(std::move(bytes)), fail_at_(fail_at), throws_(throws) {}
  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    if (offset + out.size() > fail_at_) {
      if (throws_) throw Thrown{};
      return absl::DataLossError("a.tar: injected EIO");
    }
    const size_t n = std::min<size_t>(out.size(), bytes_.size() - std::min<size_t>(offset, bytes_.size()));
    std::copy_n(bytes_.data() + offset, n, out.data());
    return n;
  }
  absl::Status WriteAt(uint64_t, std::span<const char>) override { return absl::UnimplementedError("read only"); }
  absl::Status Append(std::span<const char>) override { return absl::UnimplementedError("read only"); }
  absl::StatusOr<uint64_t> Size() override { return bytes_.size(); }
  absl::Status Truncate(uint64_t) override { return absl::UnimplementedError("read only"); }
  absl::Status Sync() override { return absl::OkStatus(); }

 private:
  std::string bytes_;
  uint64_t fail_at_;
  bool throws_;
};

// A failed read is returned as the file's own status; an exception from a
// read (how a simulated crash unwinds a task) comes out of the reader's
// call, caught inside libarchive's callback and rethrown after it returned.
TEST(TarArchiveTest, FileErrorsAndExceptionsComeBackFromTheReadersCalls) {
  const std::string tar = BuildTar({{"wal/1", AE_IFREG, std::string(400000, 'w')}, {"wal/2", AE_IFREG, "x"}});
  for (const uint64_t fail_at : {uint64_t{0}, uint64_t{100}, uint64_t{300000}, uint64_t{tar.size() - 1}}) {
    FailingFile failing(tar, fail_at, /*throws=*/false);
    auto entries = ReadTarFile(failing, {}, 65536);
    EXPECT_EQ(entries.status(), absl::DataLossError("a.tar: injected EIO")) << fail_at;
    FailingFile throwing(tar, fail_at, /*throws=*/true);
    EXPECT_THROW((void)ReadTarFile(throwing, {}, 65536), FailingFile::Thrown) << fail_at;
  }
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
