// A bounded multi-producer, single-consumer FIFO channel built on the Env's
// mutex and condition variables, so it behaves identically on both worlds.
// The bound is the back-pressure of the update pipeline: a full channel
// blocks the sender (as Qdrant's tokio mpsc channel does).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "engine/common/assert.h"
#include "engine/env/env.h"

namespace engine {

template <typename T>
class BoundedChannel {
 public:
  // REQUIRES: capacity >= 1.
  BoundedChannel(Env& env, std::string name, size_t capacity)
      : capacity_(capacity),
        mutex_(env.NewMutex(name + ".mutex")),
        not_full_(env.NewCondVar(*mutex_, name + ".not_full")),
        not_empty_(env.NewCondVar(*mutex_, name + ".not_empty")) {
    SS_ASSERT(capacity >= 1);
  }

  // Blocks while the channel is full. Returns false (and drops `value`) if
  // the channel is closed.
  bool Send(T value) {
    MutexLock lock(*mutex_);
    for (uint64_t waits = 0; !closed_ && queue_.size() + reserved_ >= capacity_; ++waits) {
      SS_ASSERT(waits < kMaxWaits, "channel send waited {} times", waits);
      not_full_->Wait();
    }
    if (closed_) return false;
    // The bound counts reserved slots too: a SendReserved never blocks.
    SS_ASSERT(queue_.size() + reserved_ < capacity_, "{} queued + {} reserved of {}", queue_.size(), reserved_,
              capacity_);
    queue_.push_back(std::move(value));
    SS_ASSERT(queue_.size() <= capacity_);
    not_empty_->Signal();
    return true;
  }

  // Blocks until a slot is free and reserves it, so that a later
  // SendReserved cannot block. Returns false if the channel is closed. Lets a
  // caller reserve before taking a lock it holds while sending (Qdrant
  // reserves a permit before taking the WAL lock for the same reason).
  bool Reserve() {
    MutexLock lock(*mutex_);
    for (uint64_t waits = 0; !closed_ && queue_.size() + reserved_ >= capacity_; ++waits) {
      SS_ASSERT(waits < kMaxWaits, "channel reserve waited {} times", waits);
      not_full_->Wait();
    }
    if (closed_) return false;
    ++reserved_;
    SS_ASSERT(queue_.size() + reserved_ <= capacity_, "{} queued + {} reserved of {}", queue_.size(), reserved_,
              capacity_);
    return true;
  }

  // REQUIRES: a successful Reserve() not yet used. Never blocks. Returns
  // false (and drops `value`) if the channel was closed meanwhile.
  bool SendReserved(T value) {
    MutexLock lock(*mutex_);
    SS_ASSERT(reserved_ > 0, "SendReserved without a reservation");
    --reserved_;
    if (closed_) return false;
    queue_.push_back(std::move(value));
    // The reserved slot is the one used.
    SS_ASSERT(queue_.size() + reserved_ <= capacity_);
    not_empty_->Signal();
    return true;
  }

  // Gives back an unused reservation.
  void CancelReservation() {
    MutexLock lock(*mutex_);
    SS_ASSERT(reserved_ > 0, "CancelReservation without a reservation");
    --reserved_;
    not_full_->Signal();
  }

  // Blocks while the channel is empty and open. Returns nullopt once the
  // channel is closed and drained.
  std::optional<T> Receive() {
    MutexLock lock(*mutex_);
    for (uint64_t waits = 0; !closed_ && queue_.empty(); ++waits) {
      SS_ASSERT(waits < kMaxWaits, "channel receive waited {} times", waits);
      not_empty_->Wait();
    }
    if (queue_.empty()) return std::nullopt;
    T value = std::move(queue_.front());
    queue_.pop_front();
    not_full_->Signal();
    return value;
  }

  // Wakes every waiter; later sends fail, receives drain what is queued.
  void Close() {
    MutexLock lock(*mutex_);
    closed_ = true;
    not_full_->SignalAll();
    not_empty_->SignalAll();
  }

  size_t size() {
    MutexLock lock(*mutex_);
    SS_ASSERT(queue_.size() + reserved_ <= capacity_);
    return queue_.size();
  }

 private:
  // A wait loop this long is a livelock, not back-pressure.
  static constexpr uint64_t kMaxWaits = 100'000'000;
  const size_t capacity_;
  std::unique_ptr<Mutex> mutex_;
  std::unique_ptr<CondVar> not_full_;
  std::unique_ptr<CondVar> not_empty_;
  std::deque<T> queue_;
  size_t reserved_ = 0;
  bool closed_ = false;
};

}  // namespace engine
