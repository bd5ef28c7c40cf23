// The deterministic scheduler of the simulated world: every task is a
// Boost.Context fiber, exactly one runs at a time, and at every scheduling
// point (yield, lock, channel, I/O, sleep) the next runnable task is picked by
// the strategy from the run's DecisionSource. Virtual time advances by a fixed
// quantum per step and jumps to the next timer when nothing can run.
//
// Threading: everything here runs on one OS thread. Task-side calls
// (Yield, Block, SleepUntil, Join, ...) REQUIRE being called from a task
// started by this scheduler; Spawn may be called from anywhere.
//
// Processes: each task belongs to a process id. KillProcess fences a process
// off and unwinds its tasks (newest first) the next time control is back in
// the scheduler; while a task unwinds, every blocking call returns at once so
// destructors can run. Engine code must never swallow exceptions with
// catch (...) without rethrowing: unwinding is done by an exception.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/decision.h"
#include "sim/trace.h"

namespace sim {

using TaskId = uint32_t;
using ProcessId = uint32_t;
inline constexpr TaskId kNoTask = 0;  // task ids start at 1

enum class Strategy : uint8_t { kRandom, kPct, kRoundRobin };
std::string_view StrategyName(Strategy strategy);
std::optional<Strategy> ParseStrategy(std::string_view name);

struct SchedulerConfig {
  Strategy strategy = Strategy::kRandom;
  // PCT: number of priority-change points + 1 (the bug depth it targets).
  int pct_depth = 3;
  // PCT: the change points are drawn uniformly in [1, pct_expected_steps].
  uint64_t pct_expected_steps = 20000;
  // Virtual time added by every scheduling step.
  int64_t step_time_ns = 1000;
  // Extra delay drawn in [0, timer_jitter_ns] and added to every sleep.
  int64_t timer_jitter_ns = 0;
  // A run that takes more steps than this stops with kStepLimit.
  uint64_t max_steps = 50'000'000;
  size_t stack_size_bytes = 256 * 1024;
};

// Something a task can block on: a lock, a condition, a channel, a join.
class Waitable {
 public:
  virtual ~Waitable() = default;
  // "mutex shard.updates", "join task 7 (flush)".
  virtual std::string Describe() const = 0;
  // Tasks that must act before a waiter can proceed (lock owners, the task
  // being joined). Used to find deadlock cycles.
  virtual std::vector<TaskId> Holders() const { return {}; }
};

enum class RunOutcome : uint8_t { kCompleted, kDeadlock, kStepLimit, kStopped };
std::string_view RunOutcomeName(RunOutcome outcome);

struct RunResult {
  RunOutcome outcome = RunOutcome::kCompleted;
  std::string report;  // the deadlock report, or why the run stopped
};

class Scheduler {
 public:
  Scheduler(DecisionSource& decisions, Trace& trace, SchedulerConfig config);
  ~Scheduler();  // unwinds every task that has not finished
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Creates a runnable task. From a task, the new task joins the caller's
  // process unless `process` is given.
  TaskId Spawn(std::string name, std::function<void()> body,
               std::optional<ProcessId> process = std::nullopt);

  // Runs tasks until none is left (kCompleted), none can run and no timer is
  // pending (kDeadlock), the step limit, or RequestStop. REQUIRES: not called
  // from a task.
  RunResult Run();
  void RequestStop(std::string reason);
  // Unwinds every unfinished task (after a deadlock or a stop), so that the
  // objects they hold can be destroyed. REQUIRES: not called from a task.
  void UnwindAll();

  // ---- Task-side calls. REQUIRE: called from a running task. ----
  // A scheduling point: the task stays runnable; another may run first.
  void Yield();
  // Blocks until Wake(current) or, with a deadline, until virtual time
  // reaches it. Returns false if the deadline passed first.
  bool Block(const Waitable& on, std::optional<int64_t> deadline_ns = std::nullopt);
  void SleepUntil(int64_t deadline_ns);
  void Join(TaskId task);

  // Makes a blocked task runnable. A no-op for a task that is not blocked.
  void Wake(TaskId task);

  TaskId current() const { return current_; }
  ProcessId current_process() const;
  bool in_task() const { return current_ != kNoTask; }
  // True while the current task is being unwound after its process died:
  // blocking calls return at once.
  bool current_unwinding() const;
  bool IsFinished(TaskId task) const;
  std::string_view TaskName(TaskId task) const;
  // The process a task belongs to (0 for the supervisor's).
  ProcessId TaskProcess(TaskId task) const;

  // Fences a process off: its tasks never run again and are unwound (newest
  // first) as soon as control is back in the scheduler.
  void KillProcess(ProcessId process);
  bool IsProcessDead(ProcessId process) const;

  int64_t now_ns() const { return now_ns_; }
  uint64_t decisions() const { return pick_count_; }
  Trace& trace() { return trace_; }
  DecisionSource& decision_source() { return decisions_; }

  // Called in scheduler context before every pick (the world's crash point).
  void set_before_step(std::function<void()> hook) { before_step_ = std::move(hook); }

 private:
  struct TaskRecord;
  class JoinWaitable;

  TaskRecord& record(TaskId task) const;
  TaskRecord& running() const;
  void SwitchToScheduler();
  void ResumeTask(TaskRecord& task);
  void MakeRunnable(TaskRecord& task);
  void RemoveRunnable(TaskRecord& task);
  void FireDueTimers();
  bool AdvanceToNextTimer();
  TaskId Pick();
  TaskId PickPct();
  TaskId PickRoundRobin();
  void ReapKilled();
  void FinishTask(TaskRecord& task);
  std::string DeadlockReport() const;

  DecisionSource& decisions_;
  Trace& trace_;
  const SchedulerConfig config_;

  std::vector<std::unique_ptr<TaskRecord>> tasks_;  // index = id - 1
  std::vector<TaskId> runnable_;                    // order is deterministic
  std::map<std::pair<int64_t, uint64_t>, TaskId> timers_;  // (deadline, seq)
  uint64_t timer_sequence_ = 0;
  std::vector<ProcessId> dead_processes_;
  bool kill_pending_ = false;

  TaskId current_ = kNoTask;
  TaskId last_picked_ = kNoTask;
  int64_t now_ns_ = 0;
  uint64_t pick_count_ = 0;
  std::vector<uint64_t> pct_change_points_;  // sorted, consumed from the front
  size_t pct_next_change_ = 0;
  bool stop_requested_ = false;
  std::string stop_reason_;
  std::function<void()> before_step_;

  struct SchedulerContext;
  std::unique_ptr<SchedulerContext> context_;
};

}  // namespace sim
