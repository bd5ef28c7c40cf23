#include "sim/sync.h"

#include <algorithm>

#include "engine/common/assert.h"

namespace sim {

namespace {
// Outside any task (a driver setting up or tearing down) nothing else can
// run, so primitives neither block nor switch. While a task unwinds after a
// crash they must not block either.
bool MustNotBlock(const Scheduler& scheduler) {
  return !scheduler.in_task() || scheduler.current_unwinding();
}
constexpr int kMaxWakeups = 10'000'000;
}  // namespace

void WaitQueue::Remove(TaskId task) {
  const auto it = std::find(waiters_.begin(), waiters_.end(), task);
  if (it != waiters_.end()) waiters_.erase(it);
}

void WaitQueue::WakeOne(Scheduler& scheduler) {
  if (waiters_.empty()) return;
  const TaskId task = waiters_.front();
  waiters_.pop_front();
  scheduler.Wake(task);
}

void WaitQueue::WakeAll(Scheduler& scheduler) {
  while (!waiters_.empty()) WakeOne(scheduler);
}

// ---- SimMutex ----

SimMutex::~SimMutex() {
  SS_ASSERT(owner_ == kNoTask || scheduler_.IsFinished(owner_),
            "mutex {} destroyed while task {} holds it", name_, owner_);
}

void SimMutex::Lock() {
  if (MustNotBlock(scheduler_)) {
    if (owner_ == kNoTask) owner_ = scheduler_.current();
    return;
  }
  const TaskId self = scheduler_.current();
  SS_ASSERT(owner_ != self, "task {} locks mutex {} twice", self, name_);
  scheduler_.Yield();
  for (int wakeups = 0; owner_ != kNoTask; ++wakeups) {
    SS_ASSERT(wakeups < kMaxWakeups, "mutex {} starved", name_);
    waiters_.Add(self);
    scheduler_.Block(*this);
    if (scheduler_.current_unwinding()) return;
  }
  owner_ = self;
}

void SimMutex::Unlock() {
  if (MustNotBlock(scheduler_)) {
    if (owner_ == scheduler_.current()) owner_ = kNoTask;
    return;
  }
  SS_ASSERT(owner_ == scheduler_.current(), "task {} unlocks mutex {} owned by {}",
            scheduler_.current(), name_, owner_);
  owner_ = kNoTask;
  waiters_.WakeOne(scheduler_);
}

std::vector<TaskId> SimMutex::Holders() const {
  if (owner_ == kNoTask) return {};
  return {owner_};
}

// ---- SimRwLock ----

bool SimRwLock::CanAcquire(Mode mode) const {
  switch (mode) {
    case Mode::kShared:
      return writer_ == kNoTask && writers_waiting_ == 0;
    case Mode::kUpgradable:
      return writer_ == kNoTask && upgradable_ == kNoTask && writers_waiting_ == 0;
    case Mode::kWrite:
      return writer_ == kNoTask && upgradable_ == kNoTask && readers_.empty();
    case Mode::kUpgrade:
      return readers_.empty();
  }
  return false;
}

void SimRwLock::Acquire(Mode mode) {
  const TaskId self = scheduler_.current();
  const bool wants_exclusive = mode == Mode::kWrite || mode == Mode::kUpgrade;
  if (!MustNotBlock(scheduler_)) {
    scheduler_.Yield();
    for (int wakeups = 0; !CanAcquire(mode); ++wakeups) {
      SS_ASSERT(wakeups < kMaxWakeups, "rwlock {} starved", name_);
      waiters_.Add(self);
      // A waiting writer holds back new readers (parking_lot is fair the
      // same way), so a recursive read deadlocks here as it would there.
      if (wants_exclusive) ++writers_waiting_;
      scheduler_.Block(*this);
      if (wants_exclusive) --writers_waiting_;
      if (scheduler_.current_unwinding()) return;
    }
  }
  switch (mode) {
    case Mode::kShared: readers_.push_back(self); break;
    case Mode::kUpgradable: upgradable_ = self; break;
    case Mode::kWrite: writer_ = self; break;
    case Mode::kUpgrade: upgradable_ = kNoTask; writer_ = self; break;
  }
}

void SimRwLock::LockShared() { Acquire(Mode::kShared); }

void SimRwLock::UnlockShared() {
  const auto it = std::find(readers_.begin(), readers_.end(), scheduler_.current());
  if (it == readers_.end() && MustNotBlock(scheduler_)) return;
  SS_ASSERT(it != readers_.end(), "task {} releases a read of {} it does not hold",
            scheduler_.current(), name_);
  readers_.erase(it);
  waiters_.WakeAll(scheduler_);
}

void SimRwLock::LockUpgradable() {
  SS_ASSERT(upgradable_ != scheduler_.current() || !scheduler_.in_task(),
            "task {} takes the upgradable read of {} twice", scheduler_.current(), name_);
  Acquire(Mode::kUpgradable);
}

void SimRwLock::UnlockUpgradable() {
  if (upgradable_ != scheduler_.current() && MustNotBlock(scheduler_)) return;
  SS_ASSERT(upgradable_ == scheduler_.current(), "task {} releases an upgradable read of {} it "
            "does not hold", scheduler_.current(), name_);
  upgradable_ = kNoTask;
  waiters_.WakeAll(scheduler_);
}

void SimRwLock::Upgrade() {
  if (upgradable_ != scheduler_.current() && MustNotBlock(scheduler_)) return;
  SS_ASSERT(upgradable_ == scheduler_.current(), "task {} upgrades {} without the upgradable read",
            scheduler_.current(), name_);
  Acquire(Mode::kUpgrade);
}

void SimRwLock::Downgrade() {
  if (writer_ != scheduler_.current() && MustNotBlock(scheduler_)) return;
  SS_ASSERT(writer_ == scheduler_.current(), "task {} downgrades {} without the write lock",
            scheduler_.current(), name_);
  writer_ = kNoTask;
  upgradable_ = scheduler_.current();
  waiters_.WakeAll(scheduler_);
}

void SimRwLock::Lock() { Acquire(Mode::kWrite); }

void SimRwLock::Unlock() {
  if (writer_ != scheduler_.current() && MustNotBlock(scheduler_)) return;
  SS_ASSERT(writer_ == scheduler_.current(), "task {} releases the write lock of {} held by {}",
            scheduler_.current(), name_, writer_);
  writer_ = kNoTask;
  waiters_.WakeAll(scheduler_);
}

std::vector<TaskId> SimRwLock::Holders() const {
  std::vector<TaskId> holders;
  if (writer_ != kNoTask) holders.push_back(writer_);
  if (upgradable_ != kNoTask) holders.push_back(upgradable_);
  holders.insert(holders.end(), readers_.begin(), readers_.end());
  return holders;
}

// ---- SimCondVar ----

bool SimCondVar::WaitUntil(std::optional<int64_t> deadline_ns) {
  if (MustNotBlock(scheduler_)) return false;
  const TaskId self = scheduler_.current();
  SS_ASSERT(mutex_.owner() == self, "task {} waits on {} without holding its mutex", self, name_);
  waiters_.Add(self);
  mutex_.Unlock();
  const bool woken = scheduler_.Block(*this, deadline_ns);
  if (!woken) waiters_.Remove(self);
  mutex_.Lock();
  return woken;
}

void SimCondVar::Wait() { WaitUntil(std::nullopt); }

bool SimCondVar::WaitFor(int64_t timeout_ns) {
  SS_ASSERT(timeout_ns >= 0);
  return WaitUntil(scheduler_.now_ns() + timeout_ns);
}

// ---- SimTask ----

SimTask::~SimTask() {
  SS_ASSERT(joined_ || scheduler_.IsFinished(id_) || scheduler_.current_unwinding(),
            "task {} ({}) destroyed without Join", id_, scheduler_.TaskName(id_));
}

void SimTask::Join() {
  if (!scheduler_.in_task()) {
    SS_ASSERT(scheduler_.IsFinished(id_), "Join of a live task outside any task");
  } else {
    scheduler_.Join(id_);
  }
  joined_ = true;
}

}  // namespace sim
