// The trace of a simulated run: every scheduling decision and file-system
// call is a numbered step folded into a 64-bit hash (xxHash3). The same seed
// and build give the same hash; when recording is on, the events themselves
// are kept so that two runs can be compared step by step.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sim {

enum class EventKind : uint8_t {
  kSchedule,   // a task was picked to run; arg = number of runnable tasks
  kSpawn,      // a task was created; arg = parent task
  kExit,       // a task's function returned
  kBlock,      // a task blocked; detail = what it waits for
  kTimer,      // virtual time advanced to a timer; arg = deadline
  kFsCall,     // a file-system call; detail = call and path
  kFault,      // an injected fault fired; detail = which
  kCrash,      // the process was crashed; detail = crash kind
  kRestart,    // a new process started
  kMark,       // an engine yield point or coverage mark; detail = label
  kOperator,   // the world acted as an operator (freed disk space); detail = what
  kLog,        // the engine logged a line (Env::Log); detail = the line
  kMessage,    // a simulated network message was sent, delivered or dropped; arg = message id
  kMeta,       // the simulated metadata log proposed, committed, applied or installed; arg = index
};

std::string_view EventKindName(EventKind kind);

struct TraceEvent {
  uint64_t step = 0;
  int64_t time_ns = 0;
  uint32_t task = 0;
  EventKind kind = EventKind::kSchedule;
  uint64_t arg = 0;
  std::string detail;  // hashed: call and path, a label
  std::string note;    // not hashed; only kept when detailed (what a task waits for)

  std::string ToString() const;
};

class Trace {
 public:
  // Folds one event into the hash and returns its step number. `detail` is
  // part of the hash; `note` is not (it may be built only when detailed()).
  uint64_t Record(EventKind kind, uint32_t task, uint64_t arg, int64_t time_ns,
                  std::string_view detail = {}, std::string_view note = {});

  uint64_t steps() const { return steps_; }
  uint64_t hash() const { return hash_; }

  // Keep every event (for determinism diffs and replay traces).
  void set_recording(bool on) {
    recording_ = on;
    detailed_ = recording_ || listener_ != nullptr;
  }
  const std::vector<TraceEvent>& events() const { return events_; }
  // True when event details are kept or printed: callers build detail
  // strings only then, to keep the hot path cheap.
  bool detailed() const { return detailed_; }

  // Called for every event as it happens (live trace printing).
  void set_listener(std::function<void(const TraceEvent&)> listener) {
    listener_ = std::move(listener);
    detailed_ = recording_ || listener_ != nullptr;
  }

 private:
  uint64_t steps_ = 0;
  uint64_t hash_ = 0x5348415244534d31ull;  // "SHARDSM1"
  bool recording_ = false;
  bool detailed_ = false;
  std::vector<TraceEvent> events_;
  std::function<void(const TraceEvent&)> listener_;
};

// Index of the first event where two recorded traces differ (in any field),
// or nullopt if they are identical.
std::optional<size_t> FirstDifference(const std::vector<TraceEvent>& a,
                                      const std::vector<TraceEvent>& b);

}  // namespace sim
