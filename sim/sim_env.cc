#include "sim/sim_env.h"

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "sim/sync.h"

namespace sim {

class TracingFileSystem::TracingFile final : public engine::FileWrapper {
 public:
  TracingFile(TracingFileSystem& fs, std::string path, std::unique_ptr<engine::File> inner)
      : FileWrapper(std::move(inner)), fs_(fs), path_(std::move(path)) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    if (auto status = fs_.Enter("read", path_, offset); !status.ok()) return status;
    return FileWrapper::ReadAt(offset, out);
  }
  absl::Status WriteAt(uint64_t offset, std::span<const char> data) override {
    if (auto status = fs_.Enter("write", path_, offset); !status.ok()) return status;
    return FileWrapper::WriteAt(offset, data);
  }
  absl::Status Append(std::span<const char> data) override {
    if (auto status = fs_.Enter("append", path_, data.size()); !status.ok()) return status;
    return FileWrapper::Append(data);
  }
  absl::StatusOr<uint64_t> Size() override {
    if (auto status = fs_.Enter("size", path_); !status.ok()) return status;
    return FileWrapper::Size();
  }
  absl::Status Truncate(uint64_t size_bytes) override {
    if (auto status = fs_.Enter("truncate", path_, size_bytes); !status.ok()) return status;
    return FileWrapper::Truncate(size_bytes);
  }
  absl::Status Sync() override {
    if (auto status = fs_.Enter("sync", path_); !status.ok()) return status;
    return FileWrapper::Sync();
  }

 private:
  TracingFileSystem& fs_;
  std::string path_;
};

absl::Status TracingFileSystem::Enter(std::string_view call, std::string_view path, uint64_t arg) {
  if (scheduler_.in_task()) scheduler_.Yield();
  if (before_call_) before_call_();
  if (scheduler_.IsProcessDead(scheduler_.current_process())) {
    // Inside a task this switches away and unwinds the task for good.
    if (scheduler_.in_task()) scheduler_.Yield();
    return absl::UnavailableError(fmt::format("{} {}: the process has crashed", call, path));
  }
  ++calls_;
  scheduler_.trace().Record(EventKind::kFsCall, scheduler_.current(), arg, scheduler_.now_ns(),
                            fmt::format("{} {}", call, path));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<engine::File>> TracingFileSystem::Open(std::string_view path,
                                                                      engine::OpenMode mode) {
  if (auto status = Enter("open", path, static_cast<uint64_t>(mode)); !status.ok()) return status;
  auto file = FileSystemWrapper::Open(path, mode);
  if (!file.ok()) return file.status();
  return std::make_unique<TracingFile>(*this, std::string(path), std::move(*file));
}

absl::Status TracingFileSystem::Mkdir(std::string_view path) {
  if (auto status = Enter("mkdir", path); !status.ok()) return status;
  return FileSystemWrapper::Mkdir(path);
}

absl::Status TracingFileSystem::Rmdir(std::string_view path) {
  if (auto status = Enter("rmdir", path); !status.ok()) return status;
  return FileSystemWrapper::Rmdir(path);
}

absl::Status TracingFileSystem::Unlink(std::string_view path) {
  if (auto status = Enter("unlink", path); !status.ok()) return status;
  return FileSystemWrapper::Unlink(path);
}

absl::Status TracingFileSystem::Rename(std::string_view from, std::string_view to) {
  if (auto status = Enter("rename", fmt::format("{} -> {}", from, to)); !status.ok()) {
    return status;
  }
  return FileSystemWrapper::Rename(from, to);
}

absl::Status TracingFileSystem::SyncDir(std::string_view path) {
  if (auto status = Enter("syncdir", path); !status.ok()) return status;
  return FileSystemWrapper::SyncDir(path);
}

absl::StatusOr<std::vector<engine::DirEntry>> TracingFileSystem::ListDir(std::string_view path) {
  if (auto status = Enter("list", path); !status.ok()) return status;
  return FileSystemWrapper::ListDir(path);
}

absl::StatusOr<engine::EntryKind> TracingFileSystem::Stat(std::string_view path) {
  if (auto status = Enter("stat", path); !status.ok()) return status;
  return FileSystemWrapper::Stat(path);
}

void SimEnv::SleepForNanos(int64_t duration_ns) {
  SS_ASSERT(duration_ns >= 0);
  scheduler_.SleepUntil(scheduler_.now_ns() + duration_ns);
}

std::unique_ptr<engine::Task> SimEnv::Spawn(std::string name, std::function<void()> body) {
  const TaskId id = scheduler_.Spawn(std::move(name), std::move(body));
  return std::make_unique<SimTask>(scheduler_, id);
}

void SimEnv::YieldPoint(std::string_view label) {
  if (!scheduler_.in_task()) return;
  scheduler_.trace().Record(EventKind::kMark, scheduler_.current(), 0, scheduler_.now_ns(), label);
  scheduler_.Yield();
}

void SimEnv::Log(std::string_view line) {
  scheduler_.trace().Record(EventKind::kLog, scheduler_.current(), 0, scheduler_.now_ns(), line);
  if (log_listener_) log_listener_(line);
}

std::unique_ptr<engine::Mutex> SimEnv::NewMutex(std::string name) {
  return std::make_unique<SimMutex>(scheduler_, std::move(name));
}

std::unique_ptr<engine::RwLock> SimEnv::NewRwLock(std::string name) {
  return std::make_unique<SimRwLock>(scheduler_, std::move(name));
}

std::unique_ptr<engine::CondVar> SimEnv::NewCondVar(engine::Mutex& mutex, std::string name) {
  auto* sim_mutex = dynamic_cast<SimMutex*>(&mutex);
  SS_ASSERT(sim_mutex != nullptr, "condition {} bound to a mutex of another world", name);
  return std::make_unique<SimCondVar>(scheduler_, *sim_mutex, std::move(name));
}

}  // namespace sim
