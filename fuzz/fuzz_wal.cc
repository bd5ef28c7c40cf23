// fuzz_wal: the input is a WAL directory (see wal_input.h), written durably
// into a simulated file system; then the WAL is opened and read.
//
// An error status from Open is always acceptable (the bytes are arbitrary);
// what must hold:
// - a failed Open changes nothing on disk (wal.h promises it);
// - after a successful Open every index in [first_index, next_index) reads
//   back (Read checks each entry's stored index, so the entries read have
//   consecutive indexes) and nothing outside that range does;
// - a second Open finds the same entries and changes nothing on disk (the
//   repair of a torn tail is done once), except that it may remove a
//   segment holding no entry;
// - entries appended and synced after the repair survive a power loss that
//   drops everything unsynced, after the old ones.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/wal/wal.h"
#include "fuzz/fuzz_common.h"
#include "fuzz/wal_input.h"
#include "sim/decision.h"
#include "sim/fs/sim_fs.h"

namespace {

constexpr char kDir[] = "wal";
constexpr uint64_t kCapacities[] = {32, 128, 4096, 64 * 1024};
constexpr int kAppends = 3;

// Writes the input's entries durably; entries the file system refuses
// (names with '/', ".", duplicates of another kind) are left out.
void WriteInput(sim::SimFileSystem& fs, const fuzz::WalInput& input) {
  if (!fs.Mkdir(kDir).ok() || !fs.SyncDir("").ok()) fuzz::Fail("cannot create the WAL directory");
  for (const fuzz::WalFile& file : input.files) {
    // No directory entry has such a name (and JoinPath asserts on one).
    if (file.name.empty() || file.name.front() == '/') continue;
    const std::string path = engine::JoinPath(kDir, file.name);
    if (file.name.ends_with('/')) {
      (void)fs.Mkdir(path.substr(0, path.size() - 1));
      continue;
    }
    auto out = fs.Open(path, engine::OpenMode::kCreateTruncate);
    if (!out.ok()) continue;
    if (!(*out)->WriteAt(0, std::span<const char>(file.contents.data(), file.contents.size())).ok() ||
        !(*out)->Sync().ok()) {
      fuzz::Fail("cannot write {}", path);
    }
  }
  if (!fs.SyncDir(kDir).ok()) fuzz::Fail("cannot sync the WAL directory");
}

struct Contents {
  uint64_t first = 0;
  std::vector<std::string> entries;  // from `first` on
};

// Reads every entry; each one must read back after a successful Open.
Contents ReadAll(engine::Wal& wal) {
  Contents contents{wal.first_index(), {}};
  if (wal.first_index() > wal.next_index()) {
    fuzz::Fail("first index {} is past the next index {}", wal.first_index(), wal.next_index());
  }
  for (uint64_t index = wal.first_index(); index < wal.next_index(); ++index) {
    auto entry = wal.Read(index);
    if (!entry.ok()) fuzz::Fail("entry {} of an opened WAL does not read back: {}", index, entry.status().ToString());
    contents.entries.push_back(std::move(*entry));
  }
  if (!absl::IsOutOfRange(wal.Read(wal.next_index()).status())) {
    fuzz::Fail("index {} (the next index) is readable", wal.next_index());
  }
  if (wal.first_index() > 0 && !absl::IsOutOfRange(wal.Read(wal.first_index() - 1).status())) {
    fuzz::Fail("index {} (below the first index) is readable", wal.first_index() - 1);
  }
  return contents;
}

void ExpectSame(const Contents& expected, const Contents& actual, std::string_view when) {
  if (expected.first != actual.first || expected.entries.size() != actual.entries.size()) {
    fuzz::Fail("{}: entries [{}, {}) became [{}, {})", when, expected.first,
               expected.first + expected.entries.size(), actual.first,
               actual.first + actual.entries.size());
  }
  for (size_t i = 0; i < expected.entries.size(); ++i) {
    if (expected.entries[i] != actual.entries[i]) fuzz::Fail("{}: entry {} changed", when, expected.first + i);
  }
}

// A second Open repairs nothing more, except that it may drop a segment
// that holds no entry (the first Open keeps a torn segment it cut down to
// its header; the second sees a segment never written and removes it).
void ExpectOnlyEmptySegmentsDropped(const fuzz::Tree& before, const fuzz::Tree& after) {
  fuzz::Tree kept = before;
  std::erase_if(kept, [&](const auto& file) {
    return !after.contains(file.first) && file.second.size() <= engine::Wal::kHeaderBytes;
  });
  if (after != kept) fuzz::Fail("a second Open changed the disk: {}", fuzz::FirstDifference(kept, after));
}

std::unique_ptr<engine::Wal> OpenOrFail(sim::SimFileSystem& fs, engine::WalOptions options, std::string_view when) {
  auto wal = engine::Wal::Open(fs, kDir, options);
  if (!wal.ok()) fuzz::Fail("{}: Open failed: {}", when, wal.status().ToString());
  return std::move(*wal);
}

// Appends and syncs a few entries, loses power, and checks that the WAL is
// the old entries followed by the new ones. Append errors are acceptable
// (a directory squatting on the next segment's name, say).
void AppendSyncAndLosePower(sim::SimFileSystem& fs, engine::WalOptions options, Contents expected) {
  auto wal = OpenOrFail(fs, options, "before appending");
  for (int i = 0; i < kAppends; ++i) {
    const std::string payload = fmt::format("append-{}", i);
    const uint64_t next = wal->next_index();
    auto index = wal->Append(payload);
    if (!index.ok()) return;
    if (*index != next) fuzz::Fail("Append returned index {}, expected {}", *index, next);
    expected.entries.push_back(payload);
  }
  if (!wal->Sync().ok()) return;
  wal.reset();
  sim::PrngSource decisions(0);
  if (!fs.Crash(sim::CrashKind::kPowerLoss, sim::CrashModel::kDropAllUnsynced, decisions).ok()) {
    fuzz::Fail("simulated power loss failed");
  }
  wal = OpenOrFail(fs, options, "after appends, a sync and a power loss");
  ExpectSame(expected, ReadAll(*wal), "after appends, a sync and a power loss");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::WalInput input = fuzz::DecodeWalInput({reinterpret_cast<const char*>(data), size});
  const engine::WalOptions options{.segment_capacity_bytes = kCapacities[input.flags & 3]};
  sim::SimFileSystem fs;
  WriteInput(fs, input);
  const fuzz::Tree before = fuzz::TreeOf(fs, kDir);
  auto wal = engine::Wal::Open(fs, kDir, options);
  if (!wal.ok()) {
    fuzz::Note("open failed: {}", wal.status().ToString());
    const fuzz::Tree after = fuzz::TreeOf(fs, kDir);
    if (after != before) {
      fuzz::Fail("a failed Open ({}) changed the WAL directory: {}", wal.status().ToString(),
                 fuzz::FirstDifference(before, after));
    }
    return 0;
  }
  const Contents contents = ReadAll(**wal);
  fuzz::Note("opened: entries [{}, {})", contents.first, contents.first + contents.entries.size());
  wal->reset();
  const fuzz::Tree repaired = fuzz::TreeOf(fs, kDir);
  auto again = OpenOrFail(fs, options, "reopening");
  ExpectSame(contents, ReadAll(*again), "reopening");
  again.reset();
  ExpectOnlyEmptySegmentsDropped(repaired, fuzz::TreeOf(fs, kDir));
  AppendSyncAndLosePower(fs, options, contents);
  return 0;
}
