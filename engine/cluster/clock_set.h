// The coordinator's clocks (Qdrant's ClockSet): up to kMaxClocks logical
// clocks, each used by one update at a time for its whole life (including
// retries), so that ticks of one clock are issued in order. Not persisted:
// after a restart every clock starts again and is re-synchronised by the
// replicas' rejections (a rejected tag comes back corrected).
//
// Deviation (documented in docs/cluster.md): the first tick of a clock is 1,
// so a fresh clock is never rejected for tick 0.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "engine/env/env.h"

namespace engine {

class ClockSet {
 public:
  static constexpr uint32_t kMaxClocks = 64;

  explicit ClockSet(Env& env);

  // Exclusive use of one clock until Release.
  class Guard {
   public:
    Guard(ClockSet& set, uint32_t clock_id) : set_(&set), clock_id_(clock_id) {}
    Guard(Guard&& other) noexcept : set_(other.set_), clock_id_(other.clock_id_) { other.set_ = nullptr; }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    Guard& operator=(Guard&&) = delete;
    // Only while an exception unwinds the stack (a simulated crash) may a
    // guard be dropped unreleased: taking the set's mutex is a scheduling
    // point, and a crash there would throw out of the destructor.
    ~Guard();

    uint32_t clock_id() const { return clock_id_; }
    // The next tick of this clock.
    uint64_t TickOnce();
    // Never moves the clock backwards.
    void AdvanceTo(uint64_t tick);
    // Gives the clock back. REQUIRES: not released yet. Every holder calls it
    // on every normal path (see ~Guard).
    void Release();

   private:
    ClockSet* set_;
    uint32_t clock_id_;
  };

  // The first free clock; waits (bounded by `timeout_ns`) while all are in
  // use. nullopt on timeout.
  std::optional<Guard> Acquire(int64_t timeout_ns);

 private:
  struct Clock {
    uint64_t tick = 0;
    bool in_use = false;
  };
  Env& env_;
  std::unique_ptr<Mutex> mutex_;
  std::unique_ptr<CondVar> released_;
  std::array<Clock, kMaxClocks> clocks_{};
};

}  // namespace engine
