// What the simulated file system's tests share: writing and reading a whole
// file, a cross-directory rename, and the scenario of pending operations
// that the power-loss tests enumerate.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sim/fs/sim_fs.h"

namespace sim::fs_test {

inline void AppendToFile(SimFileSystem& fs, const std::string& path, const std::string& data,
                         engine::OpenMode mode) {
  auto file = fs.Open(path, mode);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append(std::span<const char>(data.data(), data.size())).ok());
}

// Replaces the contents of `path` (created if missing) with `data`, synced
// if `sync`; the directory entry is not synced.
inline void WriteFile(SimFileSystem& fs, const std::string& path, const std::string& data, bool sync) {
  auto file = fs.Open(path, engine::OpenMode::kCreateTruncate);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append(std::span<const char>(data.data(), data.size())).ok());
  if (sync) {
    ASSERT_TRUE((*file)->Sync().ok());
  }
}

// The contents of `path`, or "<why it cannot be opened>".
inline std::string ReadFile(SimFileSystem& fs, const std::string& path) {
  auto file = fs.Open(path, engine::OpenMode::kRead);
  if (!file.ok()) return "<" + std::string(file.status().message()) + ">";
  std::string data(*(*file)->Size(), '\0');
  EXPECT_EQ(*(*file)->ReadAt(0, std::span<char>(data.data(), data.size())), data.size());
  return data;
}

// Durable directories a and b and a durable file a/f holding "F"; then a
// rename of a/f to b/f, both halves pending.
inline void BuildCrossDirectoryRename(SimFileSystem& fs) {
  ASSERT_TRUE(fs.Mkdir("a").ok());
  ASSERT_TRUE(fs.Mkdir("b").ok());
  ASSERT_TRUE(fs.SyncDir("").ok());
  WriteFile(fs, "a/f", "F", true);
  ASSERT_TRUE(fs.SyncDir("a").ok());
  ASSERT_TRUE(fs.Rename("a/f", "b/f").ok());
}

// Durable "a"; then pending: create b, write b, unlink a, rename b -> c
// (two halves), create a, write a. Of the 128 subsets of these seven
// pending operations, 36 are legal to keep at a power loss.
inline void BuildPendingScenario(SimFileSystem& fs) {
  AppendToFile(fs, "a", "A", engine::OpenMode::kCreate);
  ASSERT_TRUE((*fs.Open("a", engine::OpenMode::kReadWrite))->Sync().ok());
  ASSERT_TRUE(fs.SyncDir("").ok());
  AppendToFile(fs, "b", "B", engine::OpenMode::kCreate);
  ASSERT_TRUE(fs.Unlink("a").ok());
  ASSERT_TRUE(fs.Rename("b", "c").ok());
  AppendToFile(fs, "a", "2", engine::OpenMode::kCreate);
}

// The subset of `count` operations that bit i of `mask` keeps.
inline std::vector<bool> KeepMask(uint32_t mask, size_t count) {
  std::vector<bool> keep(count);
  for (size_t i = 0; i < count; ++i) keep[i] = (mask >> i) & 1;
  return keep;
}

// The seven pending operations of BuildPendingScenario.
inline std::vector<PendingOperation> PendingScenarioOperations() {
  SimFileSystem probe;
  BuildPendingScenario(probe);
  return probe.PendingOperations();
}

}  // namespace sim::fs_test
