// EnvWrapper forwards every call to a target Env (as LevelDB's EnvWrapper),
// beside FileSystemWrapper: a layer that changes a few calls (a wrapped
// file system, a gate) derives from it and overrides only those, so it says
// in its overrides exactly what it changes.
//
// Contract: REQUIRES: the target outlives the wrapper (it is held by
// reference). Thread safety is the target's: the wrapper adds no state.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "engine/env/env.h"

namespace engine {

class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env& target) : target_(target) {}

  Env& target() { return target_; }

  FileSystem& fs() override { return target_.fs(); }
  int64_t NowNanos() override { return target_.NowNanos(); }
  void SleepForNanos(int64_t duration_ns) override { target_.SleepForNanos(duration_ns); }
  std::unique_ptr<Task> Spawn(std::string name, std::function<void()> body) override {
    return target_.Spawn(std::move(name), std::move(body));
  }
  void YieldPoint(std::string_view label) override { target_.YieldPoint(label); }
  void Log(std::string_view line) override { target_.Log(line); }
  std::unique_ptr<Mutex> NewMutex(std::string name) override { return target_.NewMutex(std::move(name)); }
  std::unique_ptr<RwLock> NewRwLock(std::string name) override { return target_.NewRwLock(std::move(name)); }
  std::unique_ptr<CondVar> NewCondVar(Mutex& mutex, std::string name) override {
    return target_.NewCondVar(mutex, std::move(name));
  }

 private:
  Env& target_;
};

}  // namespace engine
