#include "engine/cluster/clock_set.h"

#include <exception>

#include "engine/common/assert.h"

namespace engine {

ClockSet::ClockSet(Env& env)
    : env_(env), mutex_(env.NewMutex("clock_set")), released_(env.NewCondVar(*mutex_, "clock_set.released")) {}

ClockSet::Guard::~Guard() {
  if (set_ == nullptr) return;
  // Cluster seed 2000260658: the guard went out of scope normally, its lock
  // yielded, the peer crashed there, and the crash's exception left this
  // destructor (std::terminate). While unwinding, the lock never yields.
  SS_ASSERT(std::uncaught_exceptions() > 0, "clock {} dropped without Release", clock_id_);
  Release();
}

void ClockSet::Guard::Release() {
  SS_ASSERT(set_ != nullptr, "clock {} released twice", clock_id_);
  MutexLock lock(*set_->mutex_);
  Clock& clock = set_->clocks_.at(clock_id_);
  SS_ASSERT(clock.in_use, "clock {} released twice", clock_id_);
  clock.in_use = false;
  set_->released_->Signal();
  set_ = nullptr;
}

uint64_t ClockSet::Guard::TickOnce() {
  SS_ASSERT(set_ != nullptr, "tick of a moved-from clock guard");
  MutexLock lock(*set_->mutex_);
  Clock& clock = set_->clocks_.at(clock_id_);
  SS_ASSERT(clock.in_use, "tick of clock {} without its guard", clock_id_);
  clock.tick += 1;
  return clock.tick;
}

void ClockSet::Guard::AdvanceTo(uint64_t tick) {
  SS_ASSERT(set_ != nullptr, "advance of a moved-from clock guard");
  MutexLock lock(*set_->mutex_);
  Clock& clock = set_->clocks_.at(clock_id_);
  if (tick > clock.tick) clock.tick = tick;
}

std::optional<ClockSet::Guard> ClockSet::Acquire(int64_t timeout_ns) {
  SS_ASSERT(timeout_ns > 0, "clock acquire timeout {} ns", timeout_ns);
  const int64_t deadline_ns = env_.NowNanos() + timeout_ns;
  MutexLock lock(*mutex_);
  for (int waits = 0; waits < 1'000'000; ++waits) {
    for (uint32_t id = 0; id < kMaxClocks; ++id) {
      if (clocks_[id].in_use) continue;
      clocks_[id].in_use = true;
      return Guard(*this, id);
    }
    const int64_t left_ns = deadline_ns - env_.NowNanos();
    if (left_ns <= 0) return std::nullopt;
    released_->WaitFor(left_ns);
  }
  SS_ASSERT(false, "clock acquire woke a million times");
  return std::nullopt;
}

}  // namespace engine
