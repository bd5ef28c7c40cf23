#include "sim/fs/before_call_fs.h"

#include <span>
#include <string>
#include <utility>

namespace sim {

std::string_view FsCallName(FsCallKind kind) {
  switch (kind) {
    case FsCallKind::kOpen: return "open";
    case FsCallKind::kMkdir: return "mkdir";
    case FsCallKind::kRmdir: return "rmdir";
    case FsCallKind::kUnlink: return "unlink";
    case FsCallKind::kRename: return "rename";
    case FsCallKind::kSyncDir: return "syncdir";
    case FsCallKind::kListDir: return "list";
    case FsCallKind::kStat: return "stat";
    case FsCallKind::kRead: return "read";
    case FsCallKind::kWrite: return "write";
    case FsCallKind::kAppend: return "append";
    case FsCallKind::kSize: return "size";
    case FsCallKind::kTruncate: return "truncate";
    case FsCallKind::kSync: return "sync";
  }
  return "?";
}

class BeforeCallFileSystem::BeforeCallFile final : public engine::FileWrapper {
 public:
  BeforeCallFile(BeforeCallFileSystem& fs, std::string path, std::unique_ptr<engine::File> target)
      : FileWrapper(std::move(target)), fs_(fs), path_(std::move(path)) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    if (auto status = Before(FsCallKind::kRead, offset, out.size()); !status.ok()) return status;
    return FileWrapper::ReadAt(offset, out);
  }
  absl::Status WriteAt(uint64_t offset, std::span<const char> data) override {
    if (auto status = Before(FsCallKind::kWrite, offset, data.size()); !status.ok()) return status;
    return FileWrapper::WriteAt(offset, data);
  }
  absl::Status Append(std::span<const char> data) override {
    if (auto status = Before(FsCallKind::kAppend, data.size(), data.size()); !status.ok()) return status;
    return FileWrapper::Append(data);
  }
  absl::StatusOr<uint64_t> Size() override {
    if (auto status = Before(FsCallKind::kSize); !status.ok()) return status;
    return FileWrapper::Size();
  }
  absl::Status Truncate(uint64_t size_bytes) override {
    if (auto status = Before(FsCallKind::kTruncate, size_bytes); !status.ok()) return status;
    return FileWrapper::Truncate(size_bytes);
  }
  absl::Status Sync() override {
    if (auto status = Before(FsCallKind::kSync); !status.ok()) return status;
    return FileWrapper::Sync();
  }

 private:
  absl::Status Before(FsCallKind kind, uint64_t arg = 0, uint64_t bytes = 0) {
    return fs_.BeforeCall({.kind = kind, .path = path_, .arg = arg, .bytes = bytes});
  }

  BeforeCallFileSystem& fs_;
  std::string path_;
};

absl::StatusOr<std::unique_ptr<engine::File>> BeforeCallFileSystem::Open(std::string_view path,
                                                                         engine::OpenMode mode) {
  const FsCall call{.kind = FsCallKind::kOpen, .path = path, .arg = static_cast<uint64_t>(mode)};
  if (auto status = BeforeCall(call); !status.ok()) return status;
  auto file = FileSystemWrapper::Open(path, mode);
  if (!file.ok()) return file.status();
  return std::make_unique<BeforeCallFile>(*this, std::string(path), std::move(*file));
}

absl::Status BeforeCallFileSystem::Mkdir(std::string_view path) {
  if (auto status = BeforeCall({.kind = FsCallKind::kMkdir, .path = path}); !status.ok()) return status;
  return FileSystemWrapper::Mkdir(path);
}

absl::Status BeforeCallFileSystem::Rmdir(std::string_view path) {
  if (auto status = BeforeCall({.kind = FsCallKind::kRmdir, .path = path}); !status.ok()) return status;
  return FileSystemWrapper::Rmdir(path);
}

absl::Status BeforeCallFileSystem::Unlink(std::string_view path) {
  if (auto status = BeforeCall({.kind = FsCallKind::kUnlink, .path = path}); !status.ok()) return status;
  return FileSystemWrapper::Unlink(path);
}

absl::Status BeforeCallFileSystem::Rename(std::string_view from, std::string_view to) {
  const FsCall call{.kind = FsCallKind::kRename, .path = from, .to_path = to};
  if (auto status = BeforeCall(call); !status.ok()) return status;
  return FileSystemWrapper::Rename(from, to);
}

absl::Status BeforeCallFileSystem::SyncDir(std::string_view path) {
  if (auto status = BeforeCall({.kind = FsCallKind::kSyncDir, .path = path}); !status.ok()) return status;
  return FileSystemWrapper::SyncDir(path);
}

absl::StatusOr<std::vector<engine::DirEntry>> BeforeCallFileSystem::ListDir(std::string_view path) {
  if (auto status = BeforeCall({.kind = FsCallKind::kListDir, .path = path}); !status.ok()) return status;
  return FileSystemWrapper::ListDir(path);
}

absl::StatusOr<engine::EntryKind> BeforeCallFileSystem::Stat(std::string_view path) {
  if (auto status = BeforeCall({.kind = FsCallKind::kStat, .path = path}); !status.ok()) return status;
  return FileSystemWrapper::Stat(path);
}

}  // namespace sim
