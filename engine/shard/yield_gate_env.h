// A test's hold on the engine's yield points (Env::YieldPoint): the first
// task to reach an armed label waits there until the test releases it, so a
// test can make changes at an exact point of a snapshot or an optimization.
// REQUIRES: used inside a simulated world (waits are in virtual time).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "engine/env/env.h"
#include "engine/shard/forwarding_env.h"

namespace engine::testing {

// Forwards to the world's environment; the first task to reach an armed
// yield-point label waits there until the test releases that label.
class YieldGateEnv final : public ForwardingEnv {
 public:
  explicit YieldGateEnv(Env& inner)
      : ForwardingEnv(inner, inner.fs()), mutex_(inner.NewMutex("test.gates")),
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
    ForwardingEnv::YieldPoint(label);
  }

 private:
  enum class Gate { kArmed, kHeld, kReleased };
  std::unique_ptr<Mutex> mutex_;
  std::unique_ptr<CondVar> changed_;
  std::map<std::string, Gate> gates_;
};

}  // namespace engine::testing
