#include <cstdio>
#include "engine/env/posix_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace engine {

void PosixEnv::Log(std::string_view line) {
  std::fprintf(stderr, "shardsim: %.*s\n", static_cast<int>(line.size()), line.data());
}


namespace {

absl::Status ErrnoStatus(int error, std::string_view call, std::string_view path) {
  const std::string message = fmt::format("{} {}: {}", call, path, std::strerror(error));
  switch (error) {
    case ENOENT: return absl::NotFoundError(message);
    case EEXIST: return absl::AlreadyExistsError(message);
    case ENOTEMPTY: return absl::FailedPreconditionError(message);
    case ENOTDIR: return absl::FailedPreconditionError(message);
    case EISDIR: return absl::FailedPreconditionError(message);
    case ENOSPC: return absl::ResourceExhaustedError(message);
    case EIO: return absl::DataLossError(message);
    case EBADF: return absl::PermissionDeniedError(message);
    default: return absl::InternalError(message);
  }
}

absl::Status ValidatePath(std::string_view path) {
  size_t start = 0;
  while (!path.empty() && start <= path.size()) {
    const size_t slash = path.find('/', start);
    const std::string_view part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == "..") {
      return absl::InvalidArgumentError(fmt::format("path '{}': empty, '.' or '..' component", path));
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return absl::OkStatus();
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { close(fd_); }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    size_t done = 0;
    for (int attempt = 0; done < out.size(); ++attempt) {
      SS_ASSERT(attempt < 1'000'000);
      const ssize_t got = pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return ErrnoStatus(errno, "read", path_);
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }
  absl::Status WriteAt(uint64_t offset, std::span<const char> data) override {
    size_t done = 0;
    for (int attempt = 0; done < data.size(); ++attempt) {
      SS_ASSERT(attempt < 1'000'000);
      const ssize_t put = pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) return ErrnoStatus(errno, "write", path_);
      done += static_cast<size_t>(put);
    }
    return absl::OkStatus();
  }
  absl::Status Append(std::span<const char> data) override {
    auto size = Size();
    if (!size.ok()) return size.status();
    return WriteAt(*size, data);
  }
  absl::StatusOr<uint64_t> Size() override {
    struct stat info;
    if (fstat(fd_, &info) != 0) return ErrnoStatus(errno, "fstat", path_);
    return static_cast<uint64_t>(info.st_size);
  }
  absl::Status Truncate(uint64_t size_bytes) override {
    if (ftruncate(fd_, static_cast<off_t>(size_bytes)) != 0) return ErrnoStatus(errno, "ftruncate", path_);
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    if (fsync(fd_) != 0) return ErrnoStatus(errno, "fsync", path_);
    return absl::OkStatus();
  }

 private:
  int fd_;
  std::string path_;
};

class PosixFileSystem final : public FileSystem {
 public:
  explicit PosixFileSystem(std::string root) : root_(std::move(root)) {}

  absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, OpenMode mode) override {
    if (auto status = ValidatePath(path); !status.ok()) return status;
    if (path.empty()) return absl::InvalidArgumentError("the root is not a file");
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kRead: flags |= O_RDONLY; break;
      case OpenMode::kReadWrite: flags |= O_RDWR; break;
      case OpenMode::kCreate: flags |= O_RDWR | O_CREAT; break;
      case OpenMode::kCreateTruncate: flags |= O_RDWR | O_CREAT | O_TRUNC; break;
      case OpenMode::kCreateExclusive: flags |= O_RDWR | O_CREAT | O_EXCL; break;
    }
    const std::string full = Full(path);
    struct stat info;
    if (stat(full.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      return absl::FailedPreconditionError(fmt::format("open {}: a directory", path));
    }
    const int fd = open(full.c_str(), flags, 0644);
    if (fd < 0) return ErrnoStatus(errno, "open", path);
    return std::make_unique<PosixFile>(fd, std::string(path));
  }
  absl::Status Mkdir(std::string_view path) override {
    return Call(path, "mkdir", [](const char* full) { return mkdir(full, 0755); });
  }
  absl::Status Rmdir(std::string_view path) override {
    return Call(path, "rmdir", [](const char* full) { return rmdir(full); });
  }
  absl::Status Unlink(std::string_view path) override {
    auto kind = Stat(path);
    if (kind.ok() && *kind == EntryKind::kDirectory) {
      return absl::FailedPreconditionError(fmt::format("unlink {}: a directory", path));
    }
    return Call(path, "unlink", [](const char* full) { return unlink(full); });
  }
  absl::Status Rename(std::string_view from, std::string_view to) override {
    if (auto status = ValidatePath(from); !status.ok()) return status;
    if (auto status = ValidatePath(to); !status.ok()) return status;
    if (rename(Full(from).c_str(), Full(to).c_str()) != 0) {
      return ErrnoStatus(errno == EINVAL ? EINVAL : errno, "rename", fmt::format("{} -> {}", from, to));
    }
    return absl::OkStatus();
  }
  absl::Status SyncDir(std::string_view path) override {
    if (auto status = ValidatePath(path); !status.ok()) return status;
    const int fd = open(Full(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open directory", path);
    const int result = fsync(fd);
    const int error = errno;
    close(fd);
    if (result != 0) return ErrnoStatus(error, "fsync directory", path);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<DirEntry>> ListDir(std::string_view path) override {
    if (auto status = ValidatePath(path); !status.ok()) return status;
    DIR* dir = opendir(Full(path).c_str());
    if (dir == nullptr) return ErrnoStatus(errno, "opendir", path);
    std::vector<DirEntry> entries;
    for (int count = 0; dirent* entry = readdir(dir); ++count) {
      SS_ASSERT(count < 10'000'000);
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      struct stat info;
      const std::string child = Full(path) + "/" + name;
      if (lstat(child.c_str(), &info) != 0) continue;
      entries.push_back({name, S_ISDIR(info.st_mode) ? EntryKind::kDirectory : EntryKind::kFile});
    }
    closedir(dir);
    std::sort(entries.begin(), entries.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    return entries;
  }
  absl::StatusOr<EntryKind> Stat(std::string_view path) override {
    if (auto status = ValidatePath(path); !status.ok()) return status;
    struct stat info;
    if (stat(Full(path).c_str(), &info) != 0) return ErrnoStatus(errno, "stat", path);
    return S_ISDIR(info.st_mode) ? EntryKind::kDirectory : EntryKind::kFile;
  }

 private:
  std::string Full(std::string_view path) const {
    return path.empty() ? root_ : fmt::format("{}/{}", root_, path);
  }
  template <typename Function>
  absl::Status Call(std::string_view path, std::string_view name, Function function) {
    if (auto status = ValidatePath(path); !status.ok()) return status;
    if (path.empty()) return absl::InvalidArgumentError(fmt::format("{}: the root", name));
    if (function(Full(path).c_str()) != 0) return ErrnoStatus(errno, name, path);
    return absl::OkStatus();
  }
  std::string root_;
};

class PosixMutex final : public Mutex {
 public:
  void Lock() override { mutex_.lock(); }
  void Unlock() override { mutex_.unlock(); }
  std::mutex& native() { return mutex_; }

 private:
  std::mutex mutex_;
};

// Writer-preferring reader-writer lock with an upgradable read mode.
class PosixRwLock final : public RwLock {
 public:
  void LockShared() override {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !writer_ && writers_waiting_ == 0; });
    ++readers_;
  }
  void UnlockShared() override {
    std::lock_guard lock(mutex_);
    SS_ASSERT(readers_ > 0);
    --readers_;
    changed_.notify_all();
  }
  void LockUpgradable() override {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !writer_ && !upgradable_ && writers_waiting_ == 0; });
    upgradable_ = true;
  }
  void UnlockUpgradable() override {
    std::lock_guard lock(mutex_);
    SS_ASSERT(upgradable_);
    upgradable_ = false;
    changed_.notify_all();
  }
  void Upgrade() override {
    std::unique_lock lock(mutex_);
    SS_ASSERT(upgradable_);
    ++writers_waiting_;
    changed_.wait(lock, [&] { return readers_ == 0; });
    --writers_waiting_;
    upgradable_ = false;
    writer_ = true;
  }
  void Downgrade() override {
    std::lock_guard lock(mutex_);
    SS_ASSERT(writer_);
    writer_ = false;
    upgradable_ = true;
    changed_.notify_all();
  }
  void Lock() override {
    std::unique_lock lock(mutex_);
    ++writers_waiting_;
    changed_.wait(lock, [&] { return !writer_ && !upgradable_ && readers_ == 0; });
    --writers_waiting_;
    writer_ = true;
  }
  void Unlock() override {
    std::lock_guard lock(mutex_);
    SS_ASSERT(writer_);
    writer_ = false;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int readers_ = 0;
  int writers_waiting_ = 0;
  bool writer_ = false;
  bool upgradable_ = false;
};

class PosixCondVar final : public CondVar {
 public:
  explicit PosixCondVar(PosixMutex& mutex) : mutex_(mutex) {}
  void Wait() override {
    std::unique_lock lock(mutex_.native(), std::adopt_lock);
    condition_.wait(lock);
    lock.release();
  }
  bool WaitFor(int64_t timeout_ns) override {
    std::unique_lock lock(mutex_.native(), std::adopt_lock);
    const auto result = condition_.wait_for(lock, std::chrono::nanoseconds(timeout_ns));
    lock.release();
    return result == std::cv_status::no_timeout;
  }
  void Signal() override { condition_.notify_one(); }
  void SignalAll() override { condition_.notify_all(); }

 private:
  PosixMutex& mutex_;
  std::condition_variable condition_;
};

class PosixTask final : public Task {
 public:
  explicit PosixTask(std::function<void()> body) : thread_(std::move(body)) {}
  ~PosixTask() override { SS_ASSERT(!thread_.joinable(), "a task was destroyed without Join"); }
  void Join() override { thread_.join(); }

 private:
  std::thread thread_;
};

}  // namespace

PosixEnv::PosixEnv(std::string root_dir) : fs_(std::make_unique<PosixFileSystem>(std::move(root_dir))) {}
PosixEnv::~PosixEnv() = default;

int64_t PosixEnv::NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void PosixEnv::SleepForNanos(int64_t duration_ns) {
  std::this_thread::sleep_for(std::chrono::nanoseconds(duration_ns));
}

std::unique_ptr<Task> PosixEnv::Spawn(std::string name, std::function<void()> body) {
  return std::make_unique<PosixTask>(std::move(body));
}

std::unique_ptr<Mutex> PosixEnv::NewMutex(std::string name) { return std::make_unique<PosixMutex>(); }
std::unique_ptr<RwLock> PosixEnv::NewRwLock(std::string name) { return std::make_unique<PosixRwLock>(); }
std::unique_ptr<CondVar> PosixEnv::NewCondVar(Mutex& mutex, std::string name) {
  auto* posix = dynamic_cast<PosixMutex*>(&mutex);
  SS_ASSERT(posix != nullptr, "condition {} bound to a mutex of another world", name);
  return std::make_unique<PosixCondVar>(*posix);
}

}  // namespace engine
