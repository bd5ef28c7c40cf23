// A test's hold on the engine's yield points (Env::YieldPoint): the first
// task to reach an armed label waits there until the test releases it, so a
// test can make changes at an exact point of a snapshot or an optimization.
// REQUIRES: used inside a simulated world (waits are in virtual time).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "engine/env/env.h"

namespace engine::testing {

// Forwards to the world's environment; the first task to reach an armed
// yield-point label waits there until the test releases that label.
class YieldGateEnv final : public Env {
 public:
  explicit YieldGateEnv(Env& inner)
      : inner_(inner), mutex_(inner.NewMutex("test.gates")),
        changed_(inner.NewCondVar(*mutex_, "test.gates.changed")) {}

  void Arm(const std::string& label) {
    MutexLock lock(*mutex_);
    gates_[label] = Gate::kArmed;
  }
  // Waits (bounded, in virtual time) until a task is held at `label`.
  bool AwaitHeld(const std::string& label) {
    MutexLock lock(*mutex_);
    for (int round = 0; round < 1000 && gates_[label] != Gate::kHeld; ++round) changed_->WaitFor(1'000'000);
    return gates_[label] == Gate::kHeld;
  }
  void Release(const std::string& label) {
    MutexLock lock(*mutex_);
    gates_[label] = Gate::kReleased;
    changed_->SignalAll();
  }

  void Log(std::string_view line) override { inner_.Log(line); }
  void YieldPoint(std::string_view label) override {
    {
      MutexLock lock(*mutex_);
      const auto it = gates_.find(std::string(label));
      if (it != gates_.end() && it->second == Gate::kArmed) {
        it->second = Gate::kHeld;
        changed_->SignalAll();
        while (it->second != Gate::kReleased) changed_->Wait();
      }
    }
    inner_.YieldPoint(label);
  }
  FileSystem& fs() override { return inner_.fs(); }
  int64_t NowNanos() override { return inner_.NowNanos(); }
  void SleepForNanos(int64_t duration_ns) override { inner_.SleepForNanos(duration_ns); }
  std::unique_ptr<Task> Spawn(std::string name, std::function<void()> body) override {
    return inner_.Spawn(std::move(name), std::move(body));
  }
  std::unique_ptr<Mutex> NewMutex(std::string name) override { return inner_.NewMutex(std::move(name)); }
  std::unique_ptr<RwLock> NewRwLock(std::string name) override { return inner_.NewRwLock(std::move(name)); }
  std::unique_ptr<CondVar> NewCondVar(Mutex& mutex, std::string name) override {
    return inner_.NewCondVar(mutex, std::move(name));
  }

 private:
  enum class Gate { kArmed, kHeld, kReleased };
  Env& inner_;
  std::unique_ptr<Mutex> mutex_;
  std::unique_ptr<CondVar> changed_;
  std::map<std::string, Gate> gates_;
};

}  // namespace engine::testing
