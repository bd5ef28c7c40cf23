// An Env that forwards everything to another Env except its file system:
// how the shard tests put a wrapper (a gate, a planted fault) around the
// world's file system while scheduling, clock and tracing stay the world's.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/env/env.h"

namespace engine::testing {

class ForwardingEnv : public Env {
 public:
  // REQUIRES: `inner` and `fs` outlive this (`fs` may be a member of a
  // derived class: only its address is taken here).
  ForwardingEnv(Env& inner, FileSystem& fs) : inner_(inner), fs_(fs) {}

  FileSystem& fs() override { return fs_; }
  int64_t NowNanos() override { return inner_.NowNanos(); }
  void SleepForNanos(int64_t duration_ns) override { inner_.SleepForNanos(duration_ns); }
  std::unique_ptr<Task> Spawn(std::string name, std::function<void()> body) override {
    return inner_.Spawn(std::move(name), std::move(body));
  }
  void YieldPoint(std::string_view label) override { inner_.YieldPoint(label); }
  void Log(std::string_view line) override { inner_.Log(line); }
  std::unique_ptr<Mutex> NewMutex(std::string name) override { return inner_.NewMutex(std::move(name)); }
  std::unique_ptr<RwLock> NewRwLock(std::string name) override { return inner_.NewRwLock(std::move(name)); }
  std::unique_ptr<CondVar> NewCondVar(Mutex& mutex, std::string name) override {
    return inner_.NewCondVar(mutex, std::move(name));
  }

 private:
  Env& inner_;
  FileSystem& fs_;
};

}  // namespace engine::testing
