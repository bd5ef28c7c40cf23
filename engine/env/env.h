// The environment the shard engine runs on: files, a clock, tasks and
// synchronisation. The engine talks to nothing else, so the same engine code
// runs on the simulated world (sim::World) and on the real one (PosixEnv).
//
// Contract for every implementation:
// - Paths are '/'-separated, relative to the environment's root, no "." or ".."
//   components. An empty path names the root.
// - Every fallible call returns absl::Status / absl::StatusOr. Codes:
//   NotFound (missing file or directory), AlreadyExists (exclusive create,
//   mkdir of an existing name), FailedPrecondition (rmdir of a non-empty
//   directory, wrong kind of entry), ResourceExhausted (ENOSPC),
//   DataLoss / Internal (EIO), Unavailable (the process was fenced off by a
//   simulated crash).
// - Durability follows POSIX: written data survives a power loss only after
//   File::Sync; a created, renamed or unlinked directory entry survives a power
//   loss only after SyncDir of its parent directory.
// - A failed Sync is fatal for that file's unsynced data (Linux drops the dirty
//   pages and a later sync may report success): callers must treat it as such.
// - ListDir returns names sorted bytewise, so iteration order never depends on
//   the implementation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace engine {

// An open file. Not safe for concurrent use by several tasks: callers
// serialise access (the engine owns each file from one place).
class File {
 public:
  virtual ~File() = default;

  // Reads up to out.size() bytes at `offset`. Returns the bytes read, fewer
  // than requested only at end of file.
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) = 0;
  // Writes all of `data` at `offset`, growing the file (with zeros) if needed.
  virtual absl::Status WriteAt(uint64_t offset, std::span<const char> data) = 0;
  // Writes all of `data` at the current end of the file.
  virtual absl::Status Append(std::span<const char> data) = 0;
  virtual absl::StatusOr<uint64_t> Size() = 0;
  virtual absl::Status Truncate(uint64_t size_bytes) = 0;
  // Makes the file's data durable (fdatasync + size).
  virtual absl::Status Sync() = 0;
};

enum class OpenMode {
  kRead,            // must exist; read only
  kReadWrite,       // must exist
  kCreate,          // create if missing, keep contents
  kCreateTruncate,  // create if missing, truncate to zero
  kCreateExclusive, // must not exist
};

enum class EntryKind { kFile, kDirectory };

struct DirEntry {
  std::string name;
  EntryKind kind;
  friend bool operator==(const DirEntry&, const DirEntry&) = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, OpenMode mode) = 0;
  virtual absl::Status Mkdir(std::string_view path) = 0;
  // REQUIRES: the directory is empty.
  virtual absl::Status Rmdir(std::string_view path) = 0;
  virtual absl::Status Unlink(std::string_view path) = 0;
  // Atomically replaces `to` if it is a file (or an empty directory when
  // `from` is a directory).
  virtual absl::Status Rename(std::string_view from, std::string_view to) = 0;
  // Makes the directory's entries (creates, renames, unlinks) durable.
  virtual absl::Status SyncDir(std::string_view path) = 0;
  // Sorted by name.
  virtual absl::StatusOr<std::vector<DirEntry>> ListDir(std::string_view path) = 0;
  // NotFound if missing.
  virtual absl::StatusOr<EntryKind> Stat(std::string_view path) = 0;
};

// Mutual exclusion. Not recursive.
class Mutex {
 public:
  virtual ~Mutex() = default;
  virtual void Lock() = 0;
  virtual void Unlock() = 0;
};

// A reader-writer lock with an upgradable read mode (as parking_lot's
// RwLock in Qdrant): at most one upgradable reader, which coexists with plain
// readers but excludes writers and other upgradable readers, and can upgrade
// to the write lock without letting another writer in first.
class RwLock {
 public:
  virtual ~RwLock() = default;
  virtual void LockShared() = 0;
  virtual void UnlockShared() = 0;
  virtual void LockUpgradable() = 0;
  virtual void UnlockUpgradable() = 0;
  // REQUIRES: the caller holds the upgradable read. Waits for readers to leave.
  virtual void Upgrade() = 0;
  // REQUIRES: the caller holds the write lock. Leaves it holding upgradable read.
  virtual void Downgrade() = 0;
  virtual void Lock() = 0;
  virtual void Unlock() = 0;
};

// A condition variable bound to one Mutex at creation.
class CondVar {
 public:
  virtual ~CondVar() = default;
  // REQUIRES: the caller holds the mutex. Spurious wake-ups are allowed.
  virtual void Wait() = 0;
  // Waits at most `timeout_ns` of the environment's clock. Returns false on
  // timeout.
  virtual bool WaitFor(int64_t timeout_ns) = 0;
  virtual void Signal() = 0;
  virtual void SignalAll() = 0;
};

// A spawned task (a fiber in the simulation, a thread in the real world).
class Task {
 public:
  virtual ~Task() = default;
  // Waits for the task's function to return. Must be called (once) before
  // the Task is destroyed, from another task.
  virtual void Join() = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  virtual FileSystem& fs() = 0;

  // Monotonic nanoseconds since an arbitrary origin.
  virtual int64_t NowNanos() = 0;
  virtual void SleepForNanos(int64_t duration_ns) = 0;

  virtual std::unique_ptr<Task> Spawn(std::string name, std::function<void()> body) = 0;
  // A point where the engine invites a context switch: interesting races live
  // here. The real world ignores it; the simulation may switch tasks.
  virtual void YieldPoint(std::string_view label) = 0;
  // A line for the operator's log: what the engine repaired at a load (a
  // torn WAL tail cut, an interrupted segment removed, ...). Never blocks
  // and is never a scheduling point.
  virtual void Log(std::string_view line) = 0;

  virtual std::unique_ptr<Mutex> NewMutex(std::string name) = 0;
  virtual std::unique_ptr<RwLock> NewRwLock(std::string name) = 0;
  virtual std::unique_ptr<CondVar> NewCondVar(Mutex& mutex, std::string name) = 0;
};

// RAII guards.
class MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) : mutex_(mutex) { mutex_.Lock(); }
  ~MutexLock() { mutex_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mutex_;
};

class ReadLock {
 public:
  explicit ReadLock(RwLock& lock) : lock_(lock) { lock_.LockShared(); }
  ~ReadLock() { lock_.UnlockShared(); }
  ReadLock(const ReadLock&) = delete;
  ReadLock& operator=(const ReadLock&) = delete;

 private:
  RwLock& lock_;
};

// Holds the upgradable read (callers may Upgrade/Downgrade in between).
class UpgradableReadLock {
 public:
  explicit UpgradableReadLock(RwLock& lock) : lock_(lock) { lock_.LockUpgradable(); }
  ~UpgradableReadLock() { lock_.UnlockUpgradable(); }
  UpgradableReadLock(const UpgradableReadLock&) = delete;
  UpgradableReadLock& operator=(const UpgradableReadLock&) = delete;

 private:
  RwLock& lock_;
};

class WriteLock {
 public:
  explicit WriteLock(RwLock& lock) : lock_(lock) { lock_.Lock(); }
  ~WriteLock() { lock_.Unlock(); }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

 private:
  RwLock& lock_;
};

}  // namespace engine
