// FileSystemWrapper and FileWrapper forward every call to a target file
// system or file (as LevelDB's EnvWrapper and RocksDB's FileSystemWrapper).
// A layer that changes a few calls (injects faults, traces, charges a cost,
// gates a test) derives from them and overrides only those calls, so adding
// a call to the interface means adding its forwarding here once, and a layer
// says in its overrides exactly what it changes.
//
// Contract:
// - REQUIRES: a FileSystemWrapper's target outlives the wrapper (it is held
//   by reference). A FileWrapper owns its target file.
// - Thread safety is the target's: the wrappers add no state and no locking.
// - A FileSystemWrapper that does not override Open returns the target's
//   files unwrapped; a layer that changes file calls overrides Open and wraps
//   what the target opened in its own FileWrapper.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/common/assert.h"
#include "engine/env/env.h"

namespace engine {

class FileWrapper : public File {
 public:
  // REQUIRES: `target` is not null.
  explicit FileWrapper(std::unique_ptr<File> target) : target_(std::move(target)) {
    SS_ASSERT(target_ != nullptr, "a file wrapper around nothing");
  }

  File& target() { return *target_; }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    return target_->ReadAt(offset, out);
  }
  absl::Status WriteAt(uint64_t offset, std::span<const char> data) override {
    return target_->WriteAt(offset, data);
  }
  absl::Status Append(std::span<const char> data) override { return target_->Append(data); }
  absl::StatusOr<uint64_t> Size() override { return target_->Size(); }
  absl::Status Truncate(uint64_t size_bytes) override { return target_->Truncate(size_bytes); }
  absl::Status Sync() override { return target_->Sync(); }

 private:
  std::unique_ptr<File> target_;
};

class FileSystemWrapper : public FileSystem {
 public:
  // REQUIRES: `target` outlives this (it may be a member of a derived class
  // constructed later: only its address is taken here).
  explicit FileSystemWrapper(FileSystem& target) : target_(target) {}

  FileSystem& target() { return target_; }

  absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, OpenMode mode) override {
    return target_.Open(path, mode);
  }
  absl::Status Mkdir(std::string_view path) override { return target_.Mkdir(path); }
  absl::Status Rmdir(std::string_view path) override { return target_.Rmdir(path); }
  absl::Status Unlink(std::string_view path) override { return target_.Unlink(path); }
  absl::Status Rename(std::string_view from, std::string_view to) override { return target_.Rename(from, to); }
  absl::Status SyncDir(std::string_view path) override { return target_.SyncDir(path); }
  absl::StatusOr<std::vector<DirEntry>> ListDir(std::string_view path) override { return target_.ListDir(path); }
  absl::StatusOr<EntryKind> Stat(std::string_view path) override { return target_.Stat(path); }

 private:
  FileSystem& target_;
};

}  // namespace engine
