// The scheduler's record of a task and of its own context. Internal to
// sim/scheduler*.cc and sim/deadlock_report.cc: nothing else may include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/context/fiber.hpp>

#include "sim/scheduler.h"

namespace sim {

// Thrown into a task of a killed process to unwind its stack. Engine code
// never catches it (no catch (...) without rethrow).
struct TaskKilled {};

enum class TaskState : uint8_t { kRunnable, kBlocked, kFinished };

// TaskRecord::runnable_index of a task that is not in Scheduler::runnable_.
inline constexpr size_t kNotRunnable = SIZE_MAX;

struct Scheduler::SchedulerContext {
  boost::context::fiber scheduler_fiber;  // where the running task returns to
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  void* fake_stack = nullptr;
};

struct Scheduler::TaskRecord {
  TaskId id = kNoTask;
  ProcessId process = 0;
  std::string name;
  std::function<void()> body;
  boost::context::fiber fiber;
  TaskState state = TaskState::kRunnable;
  bool killed = false;
  bool unwinding = false;
  bool timed_out = false;
  const Waitable* waiting_on = nullptr;
  std::optional<std::pair<int64_t, uint64_t>> timer_key;
  std::vector<TaskId> joiners;
  size_t runnable_index = kNotRunnable;  // index in Scheduler::runnable_
  uint64_t priority = 0;                 // PCT only
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  void* fake_stack = nullptr;
};

}  // namespace sim
