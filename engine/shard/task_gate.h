// Where a shard test holds one task of the simulated world while it drives
// others into a window (a flush between two of its steps, say), then lets it
// go: the gates of lost_delete_test and replaced_after_flush_test.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/env/env.h"

namespace engine::testing {

class TaskGate {
 public:
  explicit TaskGate(Env& env)
      : env_(env), mutex_(env.NewMutex("test.gate")), released_(env.NewCondVar(*mutex_, "test.gate.released")) {}

  // Blocks the calling task until Release() or `timeout_ns` of virtual time
  // (a bound, so that a task the test cannot release does not deadlock the
  // run). REQUIRES: called from a task of the environment.
  void Hold(int64_t timeout_ns) {
    MutexLock lock(*mutex_);
    held_ = true;
    const int64_t deadline = env_.NowNanos() + timeout_ns;
    while (!released_flag_ && env_.NowNanos() < deadline) released_->WaitFor(deadline - env_.NowNanos());
    held_ = false;
  }
  // Whether a task is in Hold() now.
  bool held() {
    MutexLock lock(*mutex_);
    return held_;
  }
  // Lets the held task (and any later Hold) go.
  void Release() {
    MutexLock lock(*mutex_);
    released_flag_ = true;
    released_->SignalAll();
  }

 private:
  Env& env_;
  std::unique_ptr<Mutex> mutex_;
  std::unique_ptr<CondVar> released_;
  bool held_ = false;
  bool released_flag_ = false;
};

}  // namespace engine::testing
