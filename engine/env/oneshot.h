// A one-shot result slot: one task sets a value once, another waits for it
// (a tokio oneshot channel in Qdrant). Shared by shared_ptr between the two.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "engine/common/assert.h"
#include "engine/env/env.h"

namespace engine {

template <typename T>
class Oneshot {
 public:
  Oneshot(Env& env, const std::string& name)
      : mutex_(env.NewMutex(name + ".mutex")), ready_(env.NewCondVar(*mutex_, name + ".ready")) {}

  // REQUIRES: not set before.
  void Set(T value) {
    MutexLock lock(*mutex_);
    SS_ASSERT(!value_.has_value(), "oneshot set twice");
    SS_ASSERT(!abandoned_, "oneshot set after its producer abandoned it");
    value_ = std::move(value);
    ready_->SignalAll();
  }

  // Blocks until Set. Returns nullopt only if the waiting task is being torn
  // down (a crashed simulated process), never in normal operation.
  std::optional<T> Wait() {
    MutexLock lock(*mutex_);
    for (int wakeups = 0; !value_.has_value(); ++wakeups) {
      SS_ASSERT(wakeups < 100'000'000, "oneshot wait woke too often");
      ready_->Wait();
      if (!value_.has_value() && abandoned_) return std::nullopt;
    }
    return value_;
  }

  // The producer will never set a value (it is shutting down): waiters get
  // nullopt. REQUIRES: neither set nor abandoned before.
  void Abandon() {
    MutexLock lock(*mutex_);
    SS_ASSERT(!value_.has_value(), "a oneshot abandoned after its value was set");
    SS_ASSERT(!abandoned_, "oneshot abandoned twice");
    abandoned_ = true;
    ready_->SignalAll();
  }

 private:
  std::unique_ptr<Mutex> mutex_;
  std::unique_ptr<CondVar> ready_;
  std::optional<T> value_;
  bool abandoned_ = false;
};

}  // namespace engine
