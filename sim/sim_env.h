// The engine's Env on the simulated world: tasks are scheduler fibers, time
// is virtual, locks are SimMutex/SimRwLock, and every file-system call goes
// through a tracing layer that makes it a scheduling point and a numbered
// trace step, and fences off a process that has crashed.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/env/env.h"
#include "sim/fs/before_call_fs.h"
#include "sim/scheduler.h"

namespace sim {

// Wraps a FileSystem: each call (and each call on a file it opened) first
// yields to the scheduler, then runs `before_call` (where the world may crash
// the process), then records a kFsCall trace step. A task of a dead process
// never reaches the inner file system: it is unwound at that point.
class TracingFileSystem final : public BeforeCallFileSystem {
 public:
  TracingFileSystem(Scheduler& scheduler, engine::FileSystem& inner)
      : BeforeCallFileSystem(inner), scheduler_(scheduler) {}

  void set_before_call(std::function<void()> hook) { before_call_ = std::move(hook); }
  uint64_t calls() const { return calls_; }

 private:
  // Returns Unavailable if the caller's process is dead and it runs outside
  // a task (inside a task it never returns then).
  absl::Status BeforeCall(const FsCall& call) override;

  Scheduler& scheduler_;
  std::function<void()> before_call_;
  uint64_t calls_ = 0;
};

class SimEnv final : public engine::Env {
 public:
  SimEnv(Scheduler& scheduler, engine::FileSystem& fs) : scheduler_(scheduler), fs_(scheduler, fs) {}

  engine::FileSystem& fs() override { return fs_; }
  TracingFileSystem& tracing_fs() { return fs_; }
  const TracingFileSystem& tracing_fs() const { return fs_; }
  int64_t NowNanos() override { return scheduler_.now_ns(); }
  void SleepForNanos(int64_t duration_ns) override;
  std::unique_ptr<engine::Task> Spawn(std::string name, std::function<void()> body) override;
  void YieldPoint(std::string_view label) override;
  // A kLog trace event (not a scheduling point), then the listener.
  void Log(std::string_view line) override;
  void set_log_listener(std::function<void(std::string_view line)> listener) {
    log_listener_ = std::move(listener);
  }
  std::unique_ptr<engine::Mutex> NewMutex(std::string name) override;
  std::unique_ptr<engine::RwLock> NewRwLock(std::string name) override;
  std::unique_ptr<engine::CondVar> NewCondVar(engine::Mutex& mutex, std::string name) override;

 private:
  Scheduler& scheduler_;
  TracingFileSystem fs_;
  std::function<void(std::string_view)> log_listener_;
};

}  // namespace sim
