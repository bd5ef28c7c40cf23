// A Mutex and an RwLock that record how they are held, so that the shard
// can assert the locks a function REQUIRES and, where it takes one lock
// inside another, that the outer one is held (its lock order: local_shard.h).
//
// Env knows no current task, so "held" means held by some task. For an
// exclusive mode that is the task inside the guarded section, as no other
// task can be; shared holds are counted. The checks are off while an
// exception unwinds the stack (a simulated crash): the simulated locks then
// return at once, taking or releasing nothing.
#pragma once

#include <atomic>
#include <memory>

#include "engine/env/env.h"

namespace engine {

class HeldMutex final : public Mutex {
 public:
  explicit HeldMutex(std::unique_ptr<Mutex> mutex);
  void Lock() override;
  void Unlock() override;
  bool held() const { return held_.load(); }

 private:
  std::unique_ptr<Mutex> mutex_;
  std::atomic<bool> held_{false};
};

class HeldRwLock final : public RwLock {
 public:
  explicit HeldRwLock(std::unique_ptr<RwLock> lock);
  void LockShared() override;
  void UnlockShared() override;
  void LockUpgradable() override;
  void UnlockUpgradable() override;
  void Upgrade() override;
  void Downgrade() override;
  void Lock() override;
  void Unlock() override;

  // In any mode.
  bool held() const { return readers_.load() > 0 || upgradable_.load() || writer_.load(); }
  // The upgradable read, not upgraded.
  bool upgradable_held() const { return upgradable_.load() && !writer_.load(); }
  // The write lock, taken directly or by upgrading.
  bool write_held() const { return writer_.load(); }

 private:
  std::unique_ptr<RwLock> lock_;
  std::atomic<int> readers_{0};
  std::atomic<bool> upgradable_{false};  // also while upgraded
  std::atomic<bool> writer_{false};
};

}  // namespace engine
