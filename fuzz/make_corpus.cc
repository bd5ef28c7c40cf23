// Regenerates the seed corpora: `make_corpus <fuzz/corpus dir>` writes
// <dir>/fuzz_wal/*, <dir>/fuzz_restore/* and <dir>/fuzz_segment/*, and the reproducers of open
// findings into <dir>/../findings/. Every seed is made by the
// engine itself in a seeded simulated world (so the output is the same on
// every run), then some are damaged or extended with hostile tar entries.
#include <archive.h>
#include <archive_entry.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"
#include "engine/shard/local_shard.h"
#include "engine/archive/sha256.h"
#include "engine/archive/tar_archive.h"
#include "engine/wal/wal.h"
#include "engine/snapshot/manifest.h"
#include "engine/snapshot/snapshot_create.h"
#include "fuzz/fuzz_common.h"
#include "fuzz/restore_input.h"
#include "fuzz/wal_input.h"
#include "sim/fs/sim_fs.h"
#include "sim/world.h"

namespace {

namespace fs = std::filesystem;
using engine::Wal;

void Check(const absl::Status& status, std::string_view what) {
  if (!status.ok()) fuzz::Fail("{}: {}", what, status.ToString());
}

void Save(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  if (bytes.size() >= 64 * 1024) fuzz::Fail("seed {} is {} bytes; keep seeds under 64 KiB", name, bytes.size());
  std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << bytes;
  std::printf("%s (%zu bytes)\n", (dir / name).c_str(), bytes.size());
}

// ---- fuzz_wal seeds ----

// The WAL directory `wal` of `fs` as a fuzz_wal input.
std::string WalSeed(sim::SimFileSystem& simfs, uint8_t flags) {
  fuzz::WalInput input{flags, {}};
  for (const auto& [path, contents] : fuzz::TreeOf(simfs, "wal")) {
    input.files.push_back({path.substr(4), contents});  // strip "wal/"
  }
  return fuzz::EncodeWalInput(input);
}

std::unique_ptr<Wal> OpenWal(sim::SimFileSystem& simfs, uint64_t capacity) {
  auto wal = Wal::Open(simfs, "wal", {.segment_capacity_bytes = capacity});
  Check(wal.status(), "open WAL");
  return std::move(*wal);
}

void Append(Wal& wal, int from, int to) {
  for (int i = from; i < to; ++i) Check(wal.Append(fmt::format("op-{}", i)).status(), "append");
}

void MakeWalSeeds(const fs::path& dir) {
  {  // one synced segment
    sim::SimFileSystem simfs;
    auto wal = OpenWal(simfs, 4096);
    Append(*wal, 0, 5);
    Check(wal->Sync(), "sync");
    Save(dir, "one-segment", WalSeed(simfs, 2));
  }
  {  // several segments, the first ones acknowledged (first-index, deleted segments)
    sim::SimFileSystem simfs;
    auto wal = OpenWal(simfs, 128);
    Append(*wal, 0, 12);
    Check(wal->Sync(), "sync");
    Check(wal->Ack(5), "ack");
    Save(dir, "rollover-acked", WalSeed(simfs, 1));
  }
  {  // entries past the synced length that are intact: kept and replayed
    sim::SimFileSystem simfs;
    auto wal = OpenWal(simfs, 4096);
    Append(*wal, 0, 2);
    Check(wal->Sync(), "sync");
    Append(*wal, 2, 4);
    Save(dir, "unsynced-tail", WalSeed(simfs, 2));
  }
  {  // a tail torn in the middle of an unsynced entry: cut
    sim::SimFileSystem simfs;
    auto wal = OpenWal(simfs, 4096);
    Append(*wal, 0, 3);
    Check(wal->Sync(), "sync");
    Append(*wal, 3, 5);
    wal.reset();
    const std::string segment = "wal/wal-00000000000000000000";
    auto file = simfs.Open(segment, engine::OpenMode::kReadWrite);
    Check(file.status(), "open segment");
    auto size = (*file)->Size();
    Check(size.status(), "size");
    Check((*file)->Truncate(*size - 5), "tear");
    Save(dir, "torn-tail", WalSeed(simfs, 2));
  }
  {  // an empty WAL continuing at 42 (what a WAL-less snapshot archives), then two entries
    sim::SimFileSystem simfs;
    Check(Wal::CreateEmpty(simfs, "wal", 42), "create empty");
    auto wal = OpenWal(simfs, 64 * 1024);
    Append(*wal, 0, 2);
    Check(wal->Sync(), "sync");
    Save(dir, "empty-continues-at-42", WalSeed(simfs, 3));
  }
  // Engine bugs fuzz_wal found, fixed; kept as regression seeds.
  {  // a segment name past 2^64 - 1 (stoull threw: an uncaught exception)
    sim::SimFileSystem simfs;
    Check(simfs.Mkdir("wal"), "mkdir");
    Check(simfs.Open("wal/wal-99999999999999999999", engine::OpenMode::kCreateTruncate).status(), "create");
    Save(dir, "segment-name-beyond-u64", WalSeed(simfs, 0));
  }
  {  // the only segment empty and no first-index (it was dropped and its start index lost)
    sim::SimFileSystem simfs;
    Check(simfs.Mkdir("wal"), "mkdir");
    Check(simfs.Open("wal/wal-00000000000000000005", engine::OpenMode::kCreateTruncate).status(), "create");
    Save(dir, "only-segment-empty", WalSeed(simfs, 0));
  }
}

// ---- fuzz_restore seeds ----

struct RawEntry {
  std::string path;
  mode_t type = AE_IFREG;
  std::string contents;
  std::string link;  // symlink target or hard link source
};

la_ssize_t AppendToString(struct archive*, void* out, const void* buffer, size_t length) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

// A tar with exactly these entries (libarchive writes what TarWriter would
// never: links, devices, absolute and '..' paths).
std::string RawTar(const std::vector<RawEntry>& entries) {
  std::string out;
  struct archive* archive = archive_write_new();
  archive_write_set_format_pax_restricted(archive);
  archive_write_set_bytes_per_block(archive, 512);
  archive_write_open2(archive, &out, nullptr, AppendToString, nullptr, nullptr);
  for (const RawEntry& raw : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, raw.path.c_str());
    archive_entry_set_filetype(entry, raw.type);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_mtime(entry, 0, 0);
    if (raw.type == AE_IFLNK) archive_entry_set_symlink(entry, raw.link.c_str());
    if (raw.type == AE_IFREG && !raw.link.empty()) archive_entry_set_hardlink(entry, raw.link.c_str());
    if (raw.type == AE_IFREG && raw.link.empty()) archive_entry_set_size(entry, la_int64_t(raw.contents.size()));
    if (archive_write_header(archive, entry) != ARCHIVE_OK) fuzz::Fail("tar header {}: {}", raw.path, archive_error_string(archive));
    if (!raw.contents.empty()) archive_write_data(archive, raw.contents.data(), raw.contents.size());
    archive_entry_free(entry);
  }
  archive_write_close(archive);
  archive_write_free(archive);
  return out;
}

struct Archives {
  std::string without_wal;
  std::string with_wal;
};

Archives MakeArchives() {
  Archives out;
  sim::World world(sim::WorldConfig{.seed = 7});
  world.RunSupervisor([&] {
    engine::FileSystem& efs = world.env().fs();
    auto shard = engine::LocalShard::Load(world.env(), "shard", fuzz::RestoreShardOptions());
    Check(shard.status(), "load");
    Check(fuzz::Populate(**shard, 3, 0), "populate");
    Check(CreateSnapshot(**shard, false, "nowal.tar").status(), "snapshot without WAL");
    Check(fuzz::Populate(**shard, 2, 50), "populate");
    Check(CreateSnapshot(**shard, true, "wal.tar").status(), "snapshot with WAL");
    Check((*shard)->Shutdown(), "shutdown");
    out.without_wal = *engine::ReadWholeFile(efs, "nowal.tar");
    out.with_wal = *engine::ReadWholeFile(efs, "wal.tar");
  });
  return out;
}

std::vector<RawEntry> EntriesOf(const std::string& archive) {
  auto entries = engine::ReadTar(archive, {});
  Check(entries.status(), "read archive");
  std::vector<RawEntry> raw;
  for (const engine::TarEntry& entry : *entries) {
    raw.push_back({entry.path, entry.directory ? mode_t(AE_IFDIR) : mode_t(AE_IFREG), entry.contents, ""});
  }
  return raw;
}

// The archive's entries plus one hostile entry at the end.
std::string WithExtra(const std::string& archive, RawEntry extra) {
  std::vector<RawEntry> entries = EntriesOf(archive);
  entries.push_back(std::move(extra));
  return RawTar(entries);
}

// The archive's first 2 KiB with the first header declaring a ~1 GiB entry
// (under the default bound; ReadTar allocated it before reading).
std::string WithHugeFirstEntry(const std::string& archive) {
  std::string tar = archive.substr(0, 2048);
  tar.replace(124, 12, std::string("07777777777") + '\0');  // ustar size field, octal
  tar.replace(148, 8, 8, ' ');                             // checksum counts itself as spaces
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += static_cast<uint8_t>(tar[i]);
  tar.replace(148, 8, fmt::format("{:06o}", sum) + '\0' + ' ');
  return tar;
}

void MakeRestoreSeeds(const fs::path& dir) {
  const Archives archives = MakeArchives();
  const std::string& base = archives.with_wal;
  Save(dir, "without-wal", fuzz::EncodeRestoreInput(0, archives.without_wal));
  Save(dir, "with-wal", fuzz::EncodeRestoreInput(0, base));
  Save(dir, "with-wal-over-live-shard", fuzz::EncodeRestoreInput(fuzz::kOverLiveShard, base));
  Save(dir, "without-wal-over-live-shard",
       fuzz::EncodeRestoreInput(fuzz::kOverLiveShard, archives.without_wal));
  Save(dir, "wrong-checksum", fuzz::EncodeRestoreInput(fuzz::kWrongChecksum, archives.without_wal));
  Save(dir, "truncated", fuzz::EncodeRestoreInput(0, base.substr(0, base.size() / 2 + 100)));
  // Hidden entries are skipped, not refused: this one restores.
  Save(dir, "hidden-entry", fuzz::EncodeRestoreInput(0, WithExtra(base, {".hidden", AE_IFREG, "x", ""})));
  const std::vector<std::pair<std::string, RawEntry>> hostile = {
      {"dotdot", {"segments/../../evil", AE_IFREG, "evil", ""}},
      {"absolute", {"/tmp/evil", AE_IFREG, "evil", ""}},
      {"symlink", {"segments/link", AE_IFLNK, "", "/etc/passwd"}},
      {"hardlink", {"wal/link", AE_IFREG, "", "shard_config.json"}},
      {"device", {"segments/dev", AE_IFCHR, "", ""}},
      {"duplicate", {"shard_config.json", AE_IFREG, "{}", ""}},
      {"not-in-manifest", {"segments/extra", AE_IFREG, "extra", ""}},
  };
  for (const auto& [name, entry] : hostile) {
    Save(dir, name, fuzz::EncodeRestoreInput(fuzz::kOverLiveShard, WithExtra(base, entry)));
  }
  Save(dir, "declared-size-1gib", fuzz::EncodeRestoreInput(0, WithHugeFirstEntry(archives.without_wal)));
  std::vector<RawEntry> no_manifest = EntriesOf(base);
  std::erase_if(no_manifest, [](const RawEntry& e) { return e.path == "manifest.json"; });
  Save(dir, "no-manifest", fuzz::EncodeRestoreInput(0, RawTar(no_manifest)));
}

// Reproducers of engine bugs not fixed yet: outside the corpora, so the
// fuzz-smoke tests stay green until they are fixed (then move them in).
void MakeFindings(const fs::path& dir) {
  // Checksum and manifest verify, but the shard does not load: the restore
  // fails after it has already replaced (and deleted) the live shard.
  std::vector<RawEntry> entries = EntriesOf(MakeArchives().with_wal);
  nlohmann::json manifest;
  for (const RawEntry& entry : entries) {
    if (entry.path == "manifest.json") manifest = nlohmann::json::parse(entry.contents);
  }
  for (RawEntry& entry : entries) {
    if (entry.path.ends_with("/segment.json")) {
      entry.contents = "{}";
      manifest["files"][entry.path] = {{"size", 2}, {"sha256", engine::Sha256Hex("{}")}};
    }
  }
  for (RawEntry& entry : entries) {
    if (entry.path == "manifest.json") entry.contents = manifest.dump();
  }
  Save(dir / "fuzz_restore", "verified-but-unloadable-over-live-shard",
       fuzz::EncodeRestoreInput(fuzz::kOverLiveShard, RawTar(entries)));
}

// ---- fuzz_segment seeds ----

// Every segment directory of a populated shard (closed cleanly), each as a
// fuzz_segment input; the first also carries the segments manifest of a
// snapshot of that shard.
void MakeSegmentSeeds(const fs::path& dir) {
  sim::World world(sim::WorldConfig{.seed = 7});
  world.RunSupervisor([&] {
    engine::FileSystem& efs = world.env().fs();
    auto shard = engine::LocalShard::Load(world.env(), "shard", fuzz::RestoreShardOptions());
    Check(shard.status(), "load");
    Check(fuzz::Populate(**shard, 4, 0), "populate");
    Check(CreateSnapshot(**shard, false, "nowal.tar").status(), "snapshot");
    Check((*shard)->Shutdown(), "shutdown");
    std::string manifest;
    for (const RawEntry& entry : EntriesOf(*engine::ReadWholeFile(efs, "nowal.tar"))) {
      if (entry.path.ends_with(engine::kSegmentsManifestName)) manifest = entry.contents;
    }
    std::map<std::string, fuzz::WalInput> segments;  // by segment directory
    for (const auto& [path, contents] : fuzz::TreeOf(efs, "shard/segments")) {
      const std::string relative = path.substr(std::string("shard/segments/").size());
      const size_t slash = relative.find('/');
      if (slash == std::string::npos || slash + 1 == relative.size()) continue;  // a directory itself
      segments[relative.substr(0, slash)].files.push_back({relative.substr(slash + 1), contents});
    }
    int index = 0;
    for (auto& [name, input] : segments) {
      if (index == 0) input.files.push_back({engine::kSegmentsManifestName, manifest});
      Save(dir, fmt::format("segment-{}-sealed", index), fuzz::EncodeWalInput(input));
      // Flag 1 (fuzz_segment.cc): the sealed files as bodies.
      input.flags = 1;
      for (fuzz::WalFile& file : input.files) {
        if (file.name == "segment.json" || file.name == "payload_index.json") {
          auto body = engine::Unseal(file.contents, file.name);
          Check(body.status(), "unseal");
          file.contents = *body;
        }
      }
      Save(dir, fmt::format("segment-{}", index++), fuzz::EncodeWalInput(input));
    }
    if (index == 0) fuzz::Fail("the shard has no segment");
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <fuzz/corpus directory>\n", argv[0]);
    return 2;
  }
  fs::path corpus(argv[1]);
  if (!corpus.has_filename()) corpus = corpus.parent_path();  // "fuzz/corpus/"
  MakeWalSeeds(corpus / "fuzz_wal");
  MakeRestoreSeeds(corpus / "fuzz_restore");
  MakeSegmentSeeds(corpus / "fuzz_segment");
  MakeFindings(corpus.parent_path() / "findings");
  return 0;
}
