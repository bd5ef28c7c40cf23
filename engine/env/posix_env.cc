#include <cstdio>
#include "engine/env/posix_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace engine {

void PosixEnv::Log(std::string_view line) {
  if (log_sink_) {
    log_sink_(line);
    return;
  }
  std::fprintf(stderr, "shardsim: %.*s\n", static_cast<int>(line.size()), line.data());
}


namespace {

// REQUIRES: `error` is the errno of a call that failed.
absl::Status ErrnoStatus(int error, std::string_view call, std::string_view path) {
  SS_ASSERT(error > 0, "{} {}: errno {} after a failure", call, path, error);
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
  for (size_t parts = 0; !path.empty() && start <= path.size(); ++parts) {
    SS_ASSERT(parts <= path.size(), "path '{}': no progress", path);
    const size_t slash = path.find('/', start);
    const std::string_view part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == "..") {
      return absl::InvalidArgumentError(fmt::format("path '{}': empty, '.' or '..' component", path));
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  // What Full relies on: a valid path is relative and has no trailing '/'.
  SS_ASSERT(path.empty() || (path.front() != '/' && path.back() != '/'), "path '{}' passed", path);
  return absl::OkStatus();
}

// A file offset and length the kernel takes (off_t) without overflow.
bool FitsOffset(uint64_t offset, size_t length) {
  constexpr uint64_t kMaxOffset = static_cast<uint64_t>(std::numeric_limits<off_t>::max());
  return offset <= kMaxOffset && length <= kMaxOffset - offset;
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
    SS_ASSERT(fd_ >= 0, "{}: file descriptor {}", path_, fd_);
    SS_ASSERT(!path_.empty(), "the root is not a file");
  }
  ~PosixFile() override { close(fd_); }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    SS_ASSERT(FitsOffset(offset, out.size()), "{}: read of {} bytes at {}", path_, out.size(), offset);
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
    SS_ASSERT(FitsOffset(offset, data.size()), "{}: write of {} bytes at {}", path_, data.size(), offset);
    size_t done = 0;
    for (int attempt = 0; done < data.size(); ++attempt) {
      SS_ASSERT(attempt < 1'000'000);
      const ssize_t put = pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) return ErrnoStatus(errno, "write", path_);
      done += static_cast<size_t>(put);
    }
    StartWriteback(data.size());
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
    SS_ASSERT(FitsOffset(size_bytes, 0), "{}: truncate to {} bytes", path_, size_bytes);
    if (ftruncate(fd_, static_cast<off_t>(size_bytes)) != 0) return ErrnoStatus(errno, "ftruncate", path_);
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    SS_ASSERT(fd_ >= 0);
    unstarted_bytes_ = 0;
    if (fsync(fd_) != 0) return ErrnoStatus(errno, "fsync", path_);
    return absl::OkStatus();
  }

 private:
  // Every kWritebackBytes written, asks the kernel to start writing the
  // file's dirty pages back, without waiting: a large file (a snapshot
  // archive, a restore's staged segment logs) then reaches the disk while
  // the writer computes, instead of all at its fsync. Only a hint: its
  // errors are the fsync's to report, and it changes nothing a crash could
  // leave (the pages were dirty anyway).
  static constexpr uint64_t kWritebackBytes = uint64_t{8} << 20;
  void StartWriteback(size_t written) {
    unstarted_bytes_ += written;
    if (unstarted_bytes_ < kWritebackBytes) return;
    unstarted_bytes_ = 0;
    (void)sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
  }

  int fd_;
  std::string path_;
  uint64_t unstarted_bytes_ = 0;  // written since writeback was last started
};

class PosixFileSystem final : public FileSystem {
 public:
  // REQUIRES: `root` names a directory (Full builds every path under it).
  explicit PosixFileSystem(std::string root) : root_(std::move(root)) {
    SS_ASSERT(!root_.empty(), "a file system needs a root directory");
  }

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
    SS_ASSERT(flags != O_CLOEXEC || mode == OpenMode::kRead, "open mode {}", static_cast<int>(mode));
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
  // REQUIRES: `path` passed ValidatePath: nothing outside the root.
  std::string Full(std::string_view path) const {
    SS_ASSERT(path.empty() || (path.front() != '/' && path.back() != '/'), "unvalidated path '{}'", path);
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

// Tracks its holder, so that misuse (a recursive lock, an unlock or a
// condition wait by a thread not holding it) fails loudly instead of
// deadlocking or being undefined behaviour.
class PosixMutex final : public Mutex {
 public:
  void Lock() override {
    SS_ASSERT(!HeldByCaller(), "a mutex is not recursive");
    mutex_.lock();
    SS_ASSERT(holder_.load(std::memory_order_relaxed) == std::thread::id(), "a mutex locked while marked held");
    holder_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  void Unlock() override {
    SS_ASSERT(HeldByCaller(), "unlock by a thread that does not hold the mutex");
    holder_.store(std::thread::id(), std::memory_order_relaxed);
    mutex_.unlock();
  }
  bool HeldByCaller() const { return holder_.load(std::memory_order_relaxed) == std::this_thread::get_id(); }
  // A condition wait releases and retakes the mutex without Lock/Unlock.
  std::mutex& native() {
    SS_ASSERT(HeldByCaller(), "the native mutex is for a condition wait by its holder");
    return mutex_;
  }
  // Marks the mutex released by its holder, or retaken by the caller.
  void SetHolder(std::thread::id holder) {
    SS_ASSERT(holder == std::thread::id() ? HeldByCaller()
                                          : holder_.load(std::memory_order_relaxed) == std::thread::id());
    holder_.store(holder, std::memory_order_relaxed);
  }

 private:
  std::mutex mutex_;
  std::atomic<std::thread::id> holder_{};
};

// Writer-preferring reader-writer lock with an upgradable read mode.
class PosixRwLock final : public RwLock {
 public:
  void LockShared() override {
    std::unique_lock lock(mutex_);
    for (uint64_t waits = 0; writer_ || writers_waiting_ > 0; ++waits) {
      SS_ASSERT(waits < kMaxWaits, "a read lock waited {} times", waits);
      changed_.wait(lock);
    }
    ++readers_;
    AssertState();
  }
  void UnlockShared() override {
    std::lock_guard lock(mutex_);
    SS_ASSERT(readers_ > 0);
    --readers_;
    AssertState();
    changed_.notify_all();
  }
  void LockUpgradable() override {
    std::unique_lock lock(mutex_);
    for (uint64_t waits = 0; writer_ || upgradable_ || writers_waiting_ > 0; ++waits) {
      SS_ASSERT(waits < kMaxWaits, "an upgradable read lock waited {} times", waits);
      changed_.wait(lock);
    }
    upgradable_ = true;
    AssertState();
  }
  void UnlockUpgradable() override {
    std::lock_guard lock(mutex_);
    SS_ASSERT(upgradable_);
    upgradable_ = false;
    AssertState();
    changed_.notify_all();
  }
  void Upgrade() override {
    std::unique_lock lock(mutex_);
    SS_ASSERT(upgradable_);
    ++writers_waiting_;
    for (uint64_t waits = 0; readers_ > 0; ++waits) {
      SS_ASSERT(waits < kMaxWaits, "an upgrade waited {} times", waits);
      changed_.wait(lock);
    }
    // The upgradable reader kept out every writer while it waited.
    SS_ASSERT(upgradable_ && !writer_);
    --writers_waiting_;
    upgradable_ = false;
    writer_ = true;
    AssertState();
  }
  void Downgrade() override {
    std::lock_guard lock(mutex_);
    SS_ASSERT(writer_);
    writer_ = false;
    upgradable_ = true;
    AssertState();
    changed_.notify_all();
  }
  void Lock() override {
    std::unique_lock lock(mutex_);
    ++writers_waiting_;
    for (uint64_t waits = 0; writer_ || upgradable_ || readers_ > 0; ++waits) {
      SS_ASSERT(waits < kMaxWaits, "a write lock waited {} times", waits);
      changed_.wait(lock);
    }
    --writers_waiting_;
    writer_ = true;
    AssertState();
  }
  void Unlock() override {
    std::lock_guard lock(mutex_);
    SS_ASSERT(writer_);
    writer_ = false;
    AssertState();
    changed_.notify_all();
  }

 private:
  // A wait loop this long is a livelock, not contention.
  static constexpr uint64_t kMaxWaits = 100'000'000;

  // REQUIRES: mutex_ held. A writer excludes readers and the upgradable
  // reader; counts never go negative.
  void AssertState() const {
    SS_ASSERT(readers_ >= 0 && writers_waiting_ >= 0, "readers {}, writers waiting {}", readers_, writers_waiting_);
    SS_ASSERT(!writer_ || readers_ == 0, "a writer with {} readers", readers_);
    SS_ASSERT(!(writer_ && upgradable_), "a writer and an upgradable reader");
  }

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
    SS_ASSERT(mutex_.HeldByCaller(), "a condition wait without its mutex");
    std::unique_lock lock(mutex_.native(), std::adopt_lock);
    mutex_.SetHolder(std::thread::id());
    condition_.wait(lock);
    lock.release();
    mutex_.SetHolder(std::this_thread::get_id());
  }
  bool WaitFor(int64_t timeout_ns) override {
    SS_ASSERT(mutex_.HeldByCaller(), "a condition wait without its mutex");
    SS_ASSERT(timeout_ns >= 0, "a wait of {} ns", timeout_ns);
    std::unique_lock lock(mutex_.native(), std::adopt_lock);
    mutex_.SetHolder(std::thread::id());
    const auto result = condition_.wait_for(lock, std::chrono::nanoseconds(timeout_ns));
    lock.release();
    mutex_.SetHolder(std::this_thread::get_id());
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
  // Once, from another task (env.h).
  void Join() override {
    SS_ASSERT(thread_.joinable(), "a task joined twice");
    SS_ASSERT(thread_.get_id() != std::this_thread::get_id(), "a task joined itself");
    thread_.join();
  }

 private:
  std::thread thread_;
};

}  // namespace

PosixEnv::PosixEnv(std::string root_dir, LogSink log_sink)
    : fs_(std::make_unique<PosixFileSystem>(std::move(root_dir))), log_sink_(std::move(log_sink)) {}
PosixEnv::~PosixEnv() = default;

int64_t PosixEnv::NowNanos() {
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  // Monotonic (env.h), as each thread sees it.
  thread_local int64_t last_ns = std::numeric_limits<int64_t>::min();
  SS_ASSERT(now_ns >= last_ns, "the steady clock went back from {} to {} ns", last_ns, now_ns);
  last_ns = now_ns;
  return now_ns;
}

void PosixEnv::SleepForNanos(int64_t duration_ns) {
  SS_ASSERT(duration_ns >= 0, "a sleep of {} ns", duration_ns);
  std::this_thread::sleep_for(std::chrono::nanoseconds(duration_ns));
}

std::unique_ptr<Task> PosixEnv::Spawn(std::string name, std::function<void()> body) {
  SS_ASSERT(body != nullptr, "task {} has no body", name);
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
