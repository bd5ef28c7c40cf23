// Synchronisation primitives of the simulated world, implementing the
// engine's Mutex, RwLock and CondVar on the scheduler. Acquiring a lock is a
// scheduling point (another task may run first), so lock-order races are
// explored. Waiters are woken in FIFO order; which runs first is the
// scheduler's choice. While the calling task unwinds after a crash, every
// call returns at once.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "engine/env/env.h"
#include "sim/scheduler.h"

namespace sim {

// Tasks waiting on one primitive, woken in FIFO order.
class WaitQueue {
 public:
  void Add(TaskId task) { waiters_.push_back(task); }
  void Remove(TaskId task);
  void WakeOne(Scheduler& scheduler);
  void WakeAll(Scheduler& scheduler);
  bool empty() const { return waiters_.empty(); }

 private:
  std::deque<TaskId> waiters_;
};

class SimMutex final : public engine::Mutex, public Waitable {
 public:
  SimMutex(Scheduler& scheduler, std::string name) : scheduler_(scheduler), name_(std::move(name)) {}
  ~SimMutex() override;
  void Lock() override;
  void Unlock() override;

  std::string Describe() const override { return "mutex " + name_; }
  std::vector<TaskId> Holders() const override;
  TaskId owner() const { return owner_; }

 private:
  Scheduler& scheduler_;
  std::string name_;
  TaskId owner_ = kNoTask;
  WaitQueue waiters_;
};

class SimRwLock final : public engine::RwLock, public Waitable {
 public:
  SimRwLock(Scheduler& scheduler, std::string name) : scheduler_(scheduler), name_(std::move(name)) {}
  void LockShared() override;
  void UnlockShared() override;
  void LockUpgradable() override;
  void UnlockUpgradable() override;
  void Upgrade() override;
  void Downgrade() override;
  void Lock() override;
  void Unlock() override;

  std::string Describe() const override { return "rwlock " + name_; }
  std::vector<TaskId> Holders() const override;

 private:
  enum class Mode { kShared, kUpgradable, kWrite, kUpgrade };
  bool CanAcquire(Mode mode) const;
  void Acquire(Mode mode);
  void ReleaseAndWake();

  Scheduler& scheduler_;
  std::string name_;
  TaskId writer_ = kNoTask;
  TaskId upgradable_ = kNoTask;
  std::vector<TaskId> readers_;  // one entry per shared hold
  int writers_waiting_ = 0;
  WaitQueue waiters_;
};

class SimCondVar final : public engine::CondVar, public Waitable {
 public:
  SimCondVar(Scheduler& scheduler, SimMutex& mutex, std::string name)
      : scheduler_(scheduler), mutex_(mutex), name_(std::move(name)) {}
  void Wait() override;
  bool WaitFor(int64_t timeout_ns) override;
  void Signal() override { waiters_.WakeOne(scheduler_); }
  void SignalAll() override { waiters_.WakeAll(scheduler_); }

  std::string Describe() const override { return "condition " + name_; }

 private:
  bool WaitUntil(std::optional<int64_t> deadline_ns);

  Scheduler& scheduler_;
  SimMutex& mutex_;
  std::string name_;
  WaitQueue waiters_;
};

class SimTask final : public engine::Task {
 public:
  SimTask(Scheduler& scheduler, TaskId id) : scheduler_(scheduler), id_(id) {}
  ~SimTask() override;
  void Join() override;
  TaskId id() const { return id_; }

 private:
  Scheduler& scheduler_;
  TaskId id_;
  bool joined_ = false;
};

}  // namespace sim
