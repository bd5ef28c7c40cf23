#include "sim/fs/fault_fs.h"

#include <gtest/gtest.h>

#include "sim/fs/sim_fs.h"

namespace sim {
namespace {

TEST(FaultFsTest, ZeroRatesDrawNothing) {
  SimFileSystem inner;
  PrngSource prng(1);
  TapeRecorder recorder(prng);
  FaultInjectingFileSystem fs(inner, FaultRates{}, recorder);
  auto file = fs.Open("f", engine::OpenMode::kCreate);
  ASSERT_TRUE((*file)->Append(std::span<const char>("abc", 3)).ok());
  ASSERT_TRUE((*file)->Sync().ok());
  char buffer[3];
  ASSERT_TRUE((*file)->ReadAt(0, std::span<char>(buffer, 3)).ok());
  EXPECT_EQ(recorder.draws(), 0u);
}

TEST(FaultFsTest, RateOneAlwaysFailsAndCounts) {
  SimFileSystem inner;
  PrngSource prng(1);
  FaultInjectingFileSystem fs(inner, FaultRates{.read_error = 1, .write_error = 1, .sync_error = 1},
                              prng);
  std::vector<std::string> faults;
  fs.set_on_fault([&](std::string_view what) { faults.emplace_back(what); });
  auto file = fs.Open("f", engine::OpenMode::kCreate);
  EXPECT_TRUE(absl::IsDataLoss((*file)->Append(std::span<const char>("abc", 3))));
  EXPECT_TRUE(absl::IsDataLoss((*file)->Sync()));
  char buffer[1];
  EXPECT_TRUE(absl::IsDataLoss((*file)->ReadAt(0, std::span<char>(buffer, 1)).status()));
  EXPECT_EQ(fs.counts().write_errors, 1u);
  EXPECT_EQ(fs.counts().sync_errors, 1u);
  EXPECT_EQ(fs.counts().read_errors, 1u);
  EXPECT_EQ(faults.size(), 3u);
  EXPECT_EQ(inner.total_bytes(), 0u);  // the failed write did not land
}

TEST(FaultFsTest, FailedSyncDropsDirtyPagesThroughTheHook) {
  SimFileSystem inner;
  PrngSource prng(1);
  FaultInjectingFileSystem fs(inner, FaultRates{}, prng);
  fs.set_sync_failure_hook([&](std::string_view path) { inner.DropDirtyPages(path); });
  auto file = fs.Open("f", engine::OpenMode::kCreate);
  ASSERT_TRUE(fs.SyncDir("").ok());
  ASSERT_TRUE((*file)->Append(std::span<const char>("abc", 3)).ok());
  fs.set_rates(FaultRates{.sync_error = 1});
  EXPECT_FALSE((*file)->Sync().ok());
  fs.set_rates(FaultRates{});
  EXPECT_TRUE((*file)->Sync().ok());  // reports success, as Linux does
  ASSERT_TRUE(inner.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, prng).ok());
  EXPECT_EQ(*inner.ReadDurable("f"), "");
}

TEST(FaultFsTest, BitFlipChangesOneBitOfTheReadOnly) {
  SimFileSystem inner;
  PrngSource prng(7);
  FaultInjectingFileSystem fs(inner, FaultRates{.bit_flip_on_read = 1}, prng);
  auto file = fs.Open("f", engine::OpenMode::kCreate);
  const std::string data(64, 'x');
  ASSERT_TRUE((*file)->Append(std::span<const char>(data.data(), data.size())).ok());
  std::string read(64, '\0');
  ASSERT_TRUE((*file)->ReadAt(0, std::span<char>(read.data(), read.size())).ok());
  int differing_bits = 0;
  for (size_t i = 0; i < data.size(); ++i) differing_bits += __builtin_popcount(uint8_t(data[i] ^ read[i]));
  EXPECT_EQ(differing_bits, 1);
  EXPECT_EQ(*inner.ReadDurable("f"), "");  // unsynced; stored bytes untouched either way
  EXPECT_EQ(fs.counts().bit_flips, 1u);
}

}  // namespace
}  // namespace sim
