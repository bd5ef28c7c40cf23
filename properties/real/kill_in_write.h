// A SIGKILL inside a write, for the kill -9 campaign's engine process.
//
// A process crash tears a write only between two pages: the kernel copies a
// write page by page and stops at the next page when the process gets a
// fatal signal. Copying a WAL entry of a few pages takes microseconds, which
// a kill sent by another process (milliseconds of pipe and scheduling
// latency away) cannot aim at. So for these kill plans the engine process
// arms a one-shot kernel timer that delivers SIGKILL `delay_ns` after the
// start of its `ordinal`-th multi-page WAL write, just before making the
// write: the signal comes from the kernel while the write is in the page
// cache copy, or just before or after it, and the file system keeps what a
// real kill -9 leaves there (docs/real.md).
//
// KillInWriteEnv forwards everything to a PosixEnv but its file system,
// which wraps the files under a `wal/` directory (FileSystemWrapper).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/env/file_system_wrapper.h"
#include "engine/env/posix_env.h"

namespace properties {

struct KillInWrite {
  uint32_t ordinal = 1;  // REQUIRES: >= 1; counts multi-page WAL writes
  uint32_t delay_ns = 0;
};

// Writes of at least this many bytes span a page boundary wherever they start.
inline constexpr size_t kMultiPageWriteBytes = 8192;

class KillInWriteEnv final : public engine::Env {
 public:
  // `before_kill` runs just before the timer is armed (the child reports the
  // phase). REQUIRES: `target` outlives this.
  KillInWriteEnv(engine::PosixEnv& target, KillInWrite plan, std::function<void()> before_kill);
  ~KillInWriteEnv() override;

  engine::FileSystem& fs() override;
  int64_t NowNanos() override { return target_.NowNanos(); }
  void SleepForNanos(int64_t duration_ns) override { target_.SleepForNanos(duration_ns); }
  std::unique_ptr<engine::Task> Spawn(std::string name, std::function<void()> body) override {
    return target_.Spawn(std::move(name), std::move(body));
  }
  void YieldPoint(std::string_view label) override { target_.YieldPoint(label); }
  void Log(std::string_view line) override { target_.Log(line); }
  std::unique_ptr<engine::Mutex> NewMutex(std::string name) override { return target_.NewMutex(std::move(name)); }
  std::unique_ptr<engine::RwLock> NewRwLock(std::string name) override {
    return target_.NewRwLock(std::move(name));
  }
  std::unique_ptr<engine::CondVar> NewCondVar(engine::Mutex& mutex, std::string name) override {
    return target_.NewCondVar(mutex, std::move(name));
  }

 private:
  class Fs;
  engine::PosixEnv& target_;
  std::unique_ptr<Fs> fs_;
};

}  // namespace properties
