#include "sim/fs/fault_fs.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/fs/sim_fs.h"

namespace sim {
namespace {

// An empty SimFileSystem under a FaultInjectingFileSystem that draws from a
// seeded PrngSource through a TapeRecorder (which counts the draws), with
// every injection collected.
struct FaultyFs {
  explicit FaultyFs(FaultRates rates = {}, uint64_t seed = 1)
      : prng(seed), recorder(prng), fs(inner, rates, recorder) {
    fs.set_injection_sink([this](Injection injection) { injected.push_back(std::move(injection)); });
  }

  // Wires the sync-failure hook as the world does (the dirty pages are
  // dropped) and returns "f" holding "abc" unsynced, its entry synced.
  std::unique_ptr<engine::File> DirtyFileWithDropHook() {
    fs.set_sync_failure_hook([this](std::string_view path) { inner.DropDirtyPages(path); });
    auto file = fs.Open("f", engine::OpenMode::kCreate);
    EXPECT_TRUE(file.ok()) << file.status();
    if (!file.ok()) return nullptr;
    EXPECT_TRUE(fs.SyncDir("").ok());
    EXPECT_TRUE((*file)->Append(std::span<const char>("abc", 3)).ok());
    return std::move(*file);
  }

  SimFileSystem inner;
  PrngSource prng;
  TapeRecorder recorder;
  FaultInjectingFileSystem fs;
  std::vector<Injection> injected;
};

TEST(FaultFsTest, ZeroRatesDrawNothing) {
  FaultyFs faulty;
  auto file = faulty.fs.Open("f", engine::OpenMode::kCreate);
  ASSERT_TRUE((*file)->Append(std::span<const char>("abc", 3)).ok());
  ASSERT_TRUE((*file)->Sync().ok());
  char buffer[3];
  ASSERT_TRUE((*file)->ReadAt(0, std::span<char>(buffer, 3)).ok());
  EXPECT_EQ(faulty.recorder.draws(), 0u);
}

TEST(FaultFsTest, RateOneAlwaysFailsAndCounts) {
  FaultyFs faulty(FaultRates{.read_error = 1, .write_error = 1, .sync_error = 1});
  auto file = faulty.fs.Open("f", engine::OpenMode::kCreate);
  EXPECT_TRUE(absl::IsDataLoss((*file)->Append(std::span<const char>("abc", 3))));
  EXPECT_TRUE(absl::IsDataLoss((*file)->Sync()));
  char buffer[1];
  EXPECT_TRUE(absl::IsDataLoss((*file)->ReadAt(0, std::span<char>(buffer, 1)).status()));
  EXPECT_EQ(faulty.fs.counts().write_errors, 1u);
  EXPECT_EQ(faulty.fs.counts().sync_errors, 1u);
  EXPECT_EQ(faulty.fs.counts().read_errors, 1u);
  const std::vector<Injection>& faults = faulty.injected;
  ASSERT_EQ(faults.size(), 3u);
  EXPECT_EQ(faults[0].fault, FaultClass::kWriteError);
  EXPECT_EQ(faults[1].fault, FaultClass::kSyncError);
  EXPECT_EQ(faults[2].fault, FaultClass::kReadError);
  for (const Injection& fault : faults) EXPECT_EQ(fault.path, "f");
  EXPECT_EQ(faulty.inner.total_bytes(), 0u);  // the failed write did not land
}

TEST(FaultFsTest, FailedSyncDropsDirtyPagesThroughTheHook) {
  FaultyFs faulty;
  const std::unique_ptr<engine::File> file = faulty.DirtyFileWithDropHook();
  ASSERT_NE(file, nullptr);
  faulty.fs.set_rates(FaultRates{.fsync_failure = 1});
  EXPECT_FALSE(file->Sync().ok());
  faulty.fs.set_rates(FaultRates{});
  EXPECT_TRUE(file->Sync().ok());  // reports success, as Linux does
  ASSERT_TRUE(faulty.inner.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, faulty.prng).ok());
  // The data is lost; the size, inode metadata, was persisted by the later sync.
  EXPECT_EQ(*faulty.inner.ReadDurable("f"), std::string(3, '\0'));
}

TEST(FaultFsTest, BitFlipChangesOneBitOfTheReadOnly) {
  FaultyFs faulty(FaultRates{.bit_flip_on_read = 1}, 7);
  auto file = faulty.fs.Open("f", engine::OpenMode::kCreate);
  const std::string data(64, 'x');
  ASSERT_TRUE((*file)->Append(std::span<const char>(data.data(), data.size())).ok());
  std::string read(64, '\0');
  ASSERT_TRUE((*file)->ReadAt(0, std::span<char>(read.data(), read.size())).ok());
  int differing_bits = 0;
  for (size_t i = 0; i < data.size(); ++i) differing_bits += __builtin_popcount(uint8_t(data[i] ^ read[i]));
  EXPECT_EQ(differing_bits, 1);
  EXPECT_EQ(*faulty.inner.ReadDurable("f"), "");  // unsynced; stored bytes untouched either way
  EXPECT_EQ(faulty.fs.counts().bit_flips, 1u);
}

// Makes `calls` calls of each kind and returns the injections, by class.
std::map<FaultClass, int> InjectionsOver(FaultRates rates, int calls, uint64_t seed) {
  FaultyFs faulty(FaultRates{}, seed);
  FaultInjectingFileSystem& fs = faulty.fs;
  std::map<FaultClass, int> injected;
  fs.set_injection_sink([&](Injection injection) {
    EXPECT_EQ(injection.path, injection.fault == FaultClass::kDirSyncError ? "" : "f");
    ++injected[injection.fault];
  });
  auto file = fs.Open("f", engine::OpenMode::kCreate);
  EXPECT_TRUE((*file)->Append(std::span<const char>("abcd", 4)).ok());
  fs.set_rates(rates);
  char buffer[4];
  for (int i = 0; i < calls; ++i) {
    (void)(*file)->ReadAt(0, std::span<char>(buffer, 4));
    (void)(*file)->WriteAt(0, std::span<const char>("wxyz", 4));
    (void)(*file)->Sync();
    (void)fs.SyncDir("");
  }
  return injected;
}

TEST(FaultFsTest, EachClassFiresAtItsRate) {
  constexpr int kCalls = 4000;
  constexpr double kRate = 0.1;  // expect 400 +- 19 (one sd)
  const std::pair<FaultRates, FaultClass> cases[] = {
      {{.read_error = kRate}, FaultClass::kReadError},
      {{.write_error = kRate}, FaultClass::kWriteError},
      {{.sync_error = kRate}, FaultClass::kSyncError},
      {{.fsync_failure = kRate}, FaultClass::kFsyncFailure},
      {{.dir_sync_error = kRate}, FaultClass::kDirSyncError},
      {{.bit_flip_on_read = kRate}, FaultClass::kReadFlip},
  };
  for (const auto& [rates, fault] : cases) {
    const std::map<FaultClass, int> injected = InjectionsOver(rates, kCalls, 11);
    ASSERT_EQ(injected.size(), 1u) << FaultClassName(fault) << " fired with others";
    ASSERT_TRUE(injected.contains(fault)) << FaultClassName(fault);
    EXPECT_NEAR(injected.at(fault), kCalls * kRate, 100) << FaultClassName(fault);
  }
}

TEST(FaultFsTest, ACallWhoseClassIsOffDrawsNothingSoOtherDecisionsDoNotShift) {
  // The reads that fail must not depend on the writes, syncs and directory
  // syncs in between when their classes are off.
  const auto failing_reads = [](bool other_calls) {
    FaultyFs faulty(FaultRates{}, 5);
    FaultInjectingFileSystem& fs = faulty.fs;
    auto file = fs.Open("f", engine::OpenMode::kCreate);
    EXPECT_TRUE((*file)->Append(std::span<const char>("abcd", 4)).ok());
    fs.set_rates(FaultRates{.read_error = 0.3});
    std::vector<int> failed;
    char buffer[4];
    for (int i = 0; i < 200; ++i) {
      if (other_calls) {
        EXPECT_TRUE((*file)->WriteAt(0, std::span<const char>("wxyz", 4)).ok());
        EXPECT_TRUE((*file)->Sync().ok());
        EXPECT_TRUE(fs.SyncDir("").ok());
        EXPECT_TRUE((*file)->Truncate(4).ok());
      }
      if (!(*file)->ReadAt(0, std::span<char>(buffer, 4)).ok()) failed.push_back(i);
    }
    EXPECT_EQ(faulty.recorder.draws(), 200u);  // one draw per read, none for the rest
    return failed;
  };
  const std::vector<int> alone = failing_reads(false);
  EXPECT_FALSE(alone.empty());
  EXPECT_EQ(failing_reads(true), alone);
}

TEST(FaultFsTest, SyncErrorKeepsDirtyPagesFsyncFailureDropsThem) {
  // Both return EIO; only the retry after a sync error persists the data.
  for (const bool drop : {false, true}) {
    FaultyFs faulty;
    const std::unique_ptr<engine::File> file = faulty.DirtyFileWithDropHook();
    ASSERT_NE(file, nullptr);
    faulty.fs.set_rates(drop ? FaultRates{.fsync_failure = 1} : FaultRates{.sync_error = 1});
    const absl::Status failed = file->Sync();
    EXPECT_TRUE(absl::IsDataLoss(failed));
    EXPECT_EQ(failed.message(), "EIO on sync f");
    faulty.fs.set_rates(FaultRates{});
    ASSERT_TRUE(file->Sync().ok());  // the retry "succeeds" either way
    ASSERT_TRUE(faulty.inner.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, faulty.prng).ok());
    EXPECT_EQ(*faulty.inner.ReadDurable("f"), drop ? std::string(3, '\0') : "abc") << (drop ? "fsync failure" : "sync error");
  }
}

TEST(FaultFsTest, DirSyncErrorKeepsTheEntriesPending) {
  FaultyFs faulty(FaultRates{.dir_sync_error = 1});
  ASSERT_TRUE(faulty.fs.Mkdir("d").ok());
  ASSERT_TRUE(faulty.fs.Open("d/f", engine::OpenMode::kCreate).ok());
  const absl::Status failed = faulty.fs.SyncDir("d");
  EXPECT_TRUE(absl::IsDataLoss(failed));
  EXPECT_EQ(failed.message(), "EIO on syncdir d");
  ASSERT_EQ(faulty.injected.size(), 1u);
  EXPECT_EQ(faulty.injected[0].fault, FaultClass::kDirSyncError);
  EXPECT_EQ(faulty.injected[0].path, "d");
  // Both creates are still pending.
  SimFileSystem& inner = faulty.inner;
  EXPECT_EQ(inner.PendingOperations().size(), 2u);
  ASSERT_TRUE(inner.SyncDir("").ok());
  ASSERT_TRUE(inner.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, faulty.prng).ok());
  EXPECT_EQ(inner.Stat("d").value(), engine::EntryKind::kDirectory);
  EXPECT_TRUE(absl::IsNotFound(inner.Stat("d/f").status()));
}

TEST(FaultFsTest, NoSpaceIsReportedWithThePath) {
  FaultyFs faulty;
  faulty.inner.set_capacity_bytes(4);
  auto file = faulty.fs.Open("dir/../x", engine::OpenMode::kCreate);
  EXPECT_FALSE(file.ok());
  file = faulty.fs.Open("x", engine::OpenMode::kCreate);
  ASSERT_TRUE((*file)->Append(std::span<const char>("abc", 3)).ok());
  EXPECT_TRUE(absl::IsResourceExhausted((*file)->Append(std::span<const char>("de", 2))));
  EXPECT_TRUE(absl::IsResourceExhausted((*file)->WriteAt(3, std::span<const char>("de", 2))));
  EXPECT_TRUE(absl::IsResourceExhausted((*file)->Truncate(9)));
  ASSERT_EQ(faulty.injected.size(), 3u);
  for (const Injection& injection : faulty.injected) {
    EXPECT_EQ(injection.fault, FaultClass::kNoSpace);
    EXPECT_EQ(injection.path, "x");
    EXPECT_NE(injection.detail.find("ENOSPC writing x"), std::string::npos) << injection.detail;
  }
  EXPECT_EQ(faulty.fs.counts().no_space, 3u);
}

TEST(FaultFsTest, EveryInjectedErrorNamesThePath) {
  FaultyFs faulty(FaultRates{.read_error = 1, .write_error = 1, .sync_error = 1, .dir_sync_error = 1});
  ASSERT_TRUE(faulty.inner.Mkdir("dir").ok());
  auto file = faulty.fs.Open("dir/file", engine::OpenMode::kCreate);
  char buffer[1];
  EXPECT_EQ((*file)->ReadAt(0, std::span<char>(buffer, 1)).status().message(), "EIO on read dir/file");
  EXPECT_EQ((*file)->WriteAt(0, std::span<const char>("a", 1)).message(), "EIO on write dir/file");
  EXPECT_EQ((*file)->Append(std::span<const char>("a", 1)).message(), "EIO on append dir/file");
  EXPECT_EQ((*file)->Sync().message(), "EIO on sync dir/file");
  EXPECT_EQ(faulty.fs.SyncDir("dir").message(), "EIO on syncdir dir");
}

TEST(FaultFsTest, FaultClassNames) {
  const std::vector<std::string_view> names{"eio-read", "eio-write", "eio-sync", "eio-dirsync",
                                            "fsync-failure", "enospc", "read-flip", "stored-rot",
                                            "torn-write", "lost-unsynced", "dir-entry-loss"};
  ASSERT_EQ(names.size(), kFaultClassCount);
  for (size_t i = 0; i < kFaultClassCount; ++i) {
    EXPECT_EQ(FaultClassName(static_cast<FaultClass>(i)), names[i]);
  }
}

}  // namespace
}  // namespace sim
