// A fault planted on one kind of call to the files whose path contains a
// given part: the shard fault tests need an error at one exact place (the
// WAL's sync, the archive's writes, the optimizer's build), which the
// world's rate-based FaultInjectingFileSystem cannot aim. PlantedFaultEnv
// wraps the world's Env (its scheduling, clock and tracing file system stay
// as they are) and fails matching calls the way the simulated disk does:
// "EIO on <call> <path>" (DataLoss) or "ENOSPC on <call> <path>"
// (ResourceExhausted), writing nothing; a failed sync may drop the file's
// dirty pages (fsyncgate).
#pragma once

#include <fmt/format.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "engine/common/file_util.h"
#include "engine/env/env.h"
#include "engine/env/file_system_wrapper.h"
#include "engine/shard/forwarding_env.h"
#include "sim/world.h"

namespace engine::testing {

struct PlantedFault {
  enum class Call : uint8_t { kWrite, kSync, kSyncDir };  // kWrite: WriteAt, Append, Truncate
  Call call = Call::kWrite;
  std::string path_part;
  absl::StatusCode code = absl::StatusCode::kDataLoss;  // or kResourceExhausted
  bool drop_dirty_pages = false;                        // a failed sync forgets the unsynced writes
};

class PlantedFaultEnv final : public ForwardingEnv, private FileSystemWrapper {
 public:
  explicit PlantedFaultEnv(sim::World& world)
      : ForwardingEnv(world.env(), static_cast<FileSystem&>(*this)),
        FileSystemWrapper(world.env().fs()),
        world_(world) {}

  // Every matching call fails from now until Clear (a full disk stays full).
  void Plant(PlantedFault fault) { fault_ = std::move(fault); }
  void Clear() { fault_.reset(); }
  int fired() const { return fired_; }

 private:
  // OK, or the planted error (counted; dirty pages dropped if planted so).
  absl::Status Check(PlantedFault::Call call, std::string_view name, std::string_view path) {
    if (!fault_ || fault_->call != call || path.find(fault_->path_part) == std::string_view::npos) {
      return absl::OkStatus();
    }
    ++fired_;
    if (fault_->drop_dirty_pages) world_.fs().DropDirtyPages(path);
    const bool no_space = fault_->code == absl::StatusCode::kResourceExhausted;
    return absl::Status(fault_->code, fmt::format("{} on {} {}", no_space ? "ENOSPC" : "EIO", name, path));
  }

  // Fails the planted writes and syncs; reads and Size forward unchanged.
  class PlantedFile final : public FileWrapper {
   public:
    PlantedFile(PlantedFaultEnv& env, std::string path, std::unique_ptr<File> inner)
        : FileWrapper(std::move(inner)), env_(env), path_(std::move(path)) {}
    absl::Status WriteAt(uint64_t offset, std::span<const char> data) override {
      if (auto status = env_.Check(PlantedFault::Call::kWrite, "write", path_); !status.ok()) return status;
      return FileWrapper::WriteAt(offset, data);
    }
    absl::Status Append(std::span<const char> data) override {
      if (auto status = env_.Check(PlantedFault::Call::kWrite, "append", path_); !status.ok()) return status;
      return FileWrapper::Append(data);
    }
    absl::Status Truncate(uint64_t size_bytes) override {
      if (auto status = env_.Check(PlantedFault::Call::kWrite, "truncate", path_); !status.ok()) return status;
      return FileWrapper::Truncate(size_bytes);
    }
    absl::Status Sync() override {
      if (auto status = env_.Check(PlantedFault::Call::kSync, "sync", path_); !status.ok()) return status;
      return FileWrapper::Sync();
    }

   private:
    PlantedFaultEnv& env_;
    const std::string path_;
  };

  absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, OpenMode mode) override {
    auto file = FileSystemWrapper::Open(path, mode);
    if (!file.ok()) return file.status();
    return std::make_unique<PlantedFile>(*this, std::string(path), std::move(*file));
  }
  absl::Status SyncDir(std::string_view path) override {
    if (auto status = Check(PlantedFault::Call::kSyncDir, "syncdir", path); !status.ok()) return status;
    return FileSystemWrapper::SyncDir(path);
  }

  sim::World& world_;
  std::optional<PlantedFault> fault_;
  int fired_ = 0;
};

// Every file and directory under `dir` with its contents ("path/" for a
// directory): what a test compares to say that nothing on disk changed.
inline std::map<std::string, std::string> FileTree(FileSystem& fs, const std::string& dir) {
  std::map<std::string, std::string> files;
  const auto entries = fs.ListDir(dir);
  if (!entries.ok()) return files;
  for (const DirEntry& entry : *entries) {
    const std::string path = JoinPath(dir, entry.name);
    if (entry.kind == EntryKind::kDirectory) {
      files[path + "/"] = "";
      files.merge(FileTree(fs, path));
    } else {
      files[path] = ReadWholeFile(fs, path).value_or("<unreadable>");
    }
  }
  return files;
}

}  // namespace engine::testing
