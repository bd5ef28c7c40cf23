// PosixEnv: the engine's Env on the real world — POSIX files with fsync,
// std::thread tasks, std::mutex / std::condition_variable synchronisation,
// and the steady clock. Used for TSan runs and to check that the simulated
// file system is no kinder than a real one.
//
// Thread-safe: every call may come from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/env/env.h"

namespace engine {

class PosixEnv final : public Env {
 public:
  // Where Log lines go: a function called from any thread (it must be
  // thread-safe), or by default stderr as "shardsim: <line>".
  using LogSink = std::function<void(std::string_view line)>;

  // REQUIRES: `root_dir` exists. Every path is relative to it.
  explicit PosixEnv(std::string root_dir, LogSink log_sink = nullptr);
  ~PosixEnv() override;

  FileSystem& fs() override { return *fs_; }
  int64_t NowNanos() override;
  void SleepForNanos(int64_t duration_ns) override;
  std::unique_ptr<Task> Spawn(std::string name, std::function<void()> body) override;
  void YieldPoint(std::string_view label) override {}
  void Log(std::string_view line) override;
  std::unique_ptr<Mutex> NewMutex(std::string name) override;
  std::unique_ptr<RwLock> NewRwLock(std::string name) override;
  std::unique_ptr<CondVar> NewCondVar(Mutex& mutex, std::string name) override;

 private:
  std::unique_ptr<FileSystem> fs_;
  LogSink log_sink_;
};

}  // namespace engine
