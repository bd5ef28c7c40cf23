#include "sim/scheduler.h"

#include <algorithm>
#include <exception>
#include <utility>

#include <boost/context/fiber.hpp>
#include <fmt/format.h>

#include "engine/common/assert.h"
#include "sim/fiber_sanitizer.h"
#include "sim/fiber_stack.h"
#include "sim/scheduler_task.h"

namespace sim {

namespace ctx = boost::context;

class Scheduler::JoinWaitable final : public Waitable {
 public:
  JoinWaitable(const Scheduler& scheduler, TaskId task) : scheduler_(scheduler), task_(task) {}
  std::string Describe() const override {
    return fmt::format("join task {} ({})", task_, scheduler_.TaskName(task_));
  }
  std::vector<TaskId> Holders() const override { return {task_}; }

 private:
  const Scheduler& scheduler_;
  TaskId task_;
};

std::string_view RunOutcomeName(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::kCompleted: return "completed";
    case RunOutcome::kDeadlock: return "deadlock";
    case RunOutcome::kStepLimit: return "step-limit";
    case RunOutcome::kStopped: return "stopped";
  }
  return "?";
}

Scheduler::Scheduler(DecisionSource& decisions, Trace& trace, SchedulerConfig config)
    : decisions_(decisions), trace_(trace), config_(config),
      context_(std::make_unique<SchedulerContext>()) {
  SS_ASSERT(config_.pct_depth >= 1);
  SS_ASSERT(config_.step_time_ns >= 0 && config_.timer_jitter_ns >= 0);
  if (config_.strategy == Strategy::kPct) {
    for (int i = 1; i < config_.pct_depth; ++i) {
      pct_change_points_.push_back(decisions_.Between(1, config_.pct_expected_steps));
    }
    std::sort(pct_change_points_.begin(), pct_change_points_.end());
  }
}

Scheduler::~Scheduler() {
  SS_ASSERT(!in_task(), "the scheduler is destroyed from inside a task");
  UnwindAll();
}

void Scheduler::UnwindAll() {
  SS_ASSERT(!in_task(), "UnwindAll() called from a task");
  for (auto& task : tasks_) {
    if (task->state == TaskState::kFinished) continue;
    task->killed = true;
    kill_pending_ = true;
  }
  ReapKilled();
}

Scheduler::TaskRecord& Scheduler::record(TaskId task) const {
  SS_ASSERT(task != kNoTask && task <= tasks_.size(), "unknown task {}", task);
  return *tasks_[task - 1];
}

Scheduler::TaskRecord& Scheduler::running() const {
  SS_ASSERT(in_task(), "a task-side call was made outside any task");
  return *tasks_[current_ - 1];  // current_ is always a valid id
}

ProcessId Scheduler::current_process() const { return in_task() ? running().process : 0; }

bool Scheduler::current_unwinding() const { return in_task() && running().unwinding; }

bool Scheduler::IsFinished(TaskId task) const {
  return record(task).state == TaskState::kFinished;
}

std::string_view Scheduler::TaskName(TaskId task) const { return record(task).name; }

ProcessId Scheduler::TaskProcess(TaskId task) const { return record(task).process; }

TaskId Scheduler::Spawn(std::string name, std::function<void()> body,
                        std::optional<ProcessId> process) {
  auto task = std::make_unique<TaskRecord>();
  TaskRecord& rec = *task;
  rec.id = static_cast<TaskId>(tasks_.size() + 1);
  rec.process = process.value_or(current_process());
  rec.name = std::move(name);
  rec.body = std::move(body);
  if (config_.strategy == Strategy::kPct) {
    rec.priority = static_cast<uint64_t>(config_.pct_depth) + decisions_.Draw(uint64_t{1} << 32);
  }
  rec.fiber = ctx::fiber(
      std::allocator_arg, RecordingStack(config_.stack_size_bytes, &rec.stack_bottom, &rec.stack_size),
      [this, &rec](ctx::fiber&& scheduler_fiber) {
        fiber_sanitizer::FinishSwitch(nullptr, &context_->stack_bottom, &context_->stack_size);
        context_->scheduler_fiber = std::move(scheduler_fiber);
        if (!rec.killed) {
          try {
            rec.body();
          } catch (const TaskKilled&) {
            // The process died: the stack is unwound, nothing more to do.
          }
        }
        FinishTask(rec);
        fiber_sanitizer::StartSwitch(nullptr, context_->stack_bottom, context_->stack_size);
        return std::move(context_->scheduler_fiber);
      });
  SS_ASSERT(!IsProcessDead(rec.process), "spawn into dead process {}", rec.process);
  tasks_.push_back(std::move(task));
  MakeRunnable(rec);
  trace_.Record(EventKind::kSpawn, rec.id, current_, now_ns_, rec.name);
  return rec.id;
}

void Scheduler::FinishTask(TaskRecord& task) {
  SS_ASSERT(task.state != TaskState::kFinished);
  RemoveRunnable(task);
  task.state = TaskState::kFinished;
  task.body = nullptr;  // release captured state while still on this stack
  for (TaskId joiner : task.joiners) Wake(joiner);
  task.joiners.clear();
  trace_.Record(EventKind::kExit, task.id, task.killed ? 1 : 0, now_ns_);
}

void Scheduler::MakeRunnable(TaskRecord& task) {
  SS_ASSERT(task.runnable_index == kNotRunnable);
  task.state = TaskState::kRunnable;
  task.runnable_index = runnable_.size();
  runnable_.push_back(task.id);
}

void Scheduler::RemoveRunnable(TaskRecord& task) {
  if (task.runnable_index == kNotRunnable) return;
  const size_t index = task.runnable_index;
  SS_ASSERT(runnable_[index] == task.id);
  const TaskId moved = runnable_.back();
  runnable_[index] = moved;
  record(moved).runnable_index = index;
  runnable_.pop_back();
  task.runnable_index = kNotRunnable;
}

void Scheduler::ResumeTask(TaskRecord& task) {
  SS_ASSERT(!in_task());
  current_ = task.id;
  fiber_sanitizer::StartSwitch(&context_->fake_stack, task.stack_bottom, task.stack_size);
  task.fiber = std::move(task.fiber).resume();
  fiber_sanitizer::FinishSwitch(context_->fake_stack, nullptr, nullptr);
  current_ = kNoTask;
}

void Scheduler::SwitchToScheduler() {
  TaskRecord& task = running();
  fiber_sanitizer::StartSwitch(&task.fake_stack, context_->stack_bottom, context_->stack_size);
  context_->scheduler_fiber = std::move(context_->scheduler_fiber).resume();
  fiber_sanitizer::FinishSwitch(task.fake_stack, &context_->stack_bottom, &context_->stack_size);
  if (task.killed && !task.unwinding) {
    task.unwinding = true;
    SS_ASSERT(std::uncaught_exceptions() == 0);
    throw TaskKilled{};
  }
}

void Scheduler::Yield() {
  TaskRecord& task = running();
  if (task.unwinding) return;
  SS_ASSERT(task.state == TaskState::kRunnable);
  SwitchToScheduler();
}

bool Scheduler::Block(const Waitable& on, std::optional<int64_t> deadline_ns) {
  TaskRecord& task = running();
  if (task.unwinding) return false;
  RemoveRunnable(task);
  task.state = TaskState::kBlocked;
  task.waiting_on = &on;
  task.timed_out = false;
  if (deadline_ns) {
    task.timer_key = std::make_pair(*deadline_ns, timer_sequence_++);
    timers_.emplace(*task.timer_key, task.id);
  }
  if (trace_.detailed()) {
    trace_.Record(EventKind::kBlock, task.id, 0, now_ns_, {}, on.Describe());
  } else {
    trace_.Record(EventKind::kBlock, task.id, 0, now_ns_);
  }
  SwitchToScheduler();
  task.waiting_on = nullptr;
  return !task.timed_out;
}

void Scheduler::Wake(TaskId id) {
  TaskRecord& task = record(id);
  if (task.state != TaskState::kBlocked || task.killed) return;
  if (task.timer_key) {
    timers_.erase(*task.timer_key);
    task.timer_key.reset();
  }
  MakeRunnable(task);
}

class SleepWaitable final : public Waitable {
 public:
  std::string Describe() const override { return "sleep"; }
};

void Scheduler::SleepUntil(int64_t deadline_ns) {
  static const SleepWaitable kSleep;
  int64_t jitter_ns = 0;
  if (config_.timer_jitter_ns > 0) {
    jitter_ns = static_cast<int64_t>(decisions_.Draw(config_.timer_jitter_ns + 1));
  }
  Block(kSleep, std::max(deadline_ns, now_ns_) + jitter_ns);
}

void Scheduler::Join(TaskId id) {
  TaskRecord& target = record(id);
  SS_ASSERT(id != current_, "task {} joins itself", id);
  const JoinWaitable waitable(*this, id);
  for (int attempt = 0; target.state != TaskState::kFinished; ++attempt) {
    SS_ASSERT(attempt < 1'000'000, "join of task {} woke too often", id);
    if (running().unwinding) return;
    target.joiners.push_back(current_);
    Block(waitable);
  }
}

void Scheduler::KillProcess(ProcessId process) {
  if (IsProcessDead(process)) return;
  dead_processes_.push_back(process);
  for (auto& task : tasks_) {
    if (task->process != process || task->state == TaskState::kFinished) continue;
    task->killed = true;
    if (task->timer_key) {
      timers_.erase(*task->timer_key);
      task->timer_key.reset();
    }
    RemoveRunnable(*task);
  }
  kill_pending_ = true;
}

bool Scheduler::IsProcessDead(ProcessId process) const {
  return std::find(dead_processes_.begin(), dead_processes_.end(), process) !=
         dead_processes_.end();
}

void Scheduler::ReapKilled() {
  SS_ASSERT(!in_task());
  kill_pending_ = false;
  // Newest first: children (workers, clients) unwind before the task that
  // owns the objects they use.
  for (size_t index = tasks_.size(); index-- > 0;) {
    TaskRecord& task = *tasks_[index];
    if (!task.killed || task.state == TaskState::kFinished) continue;
    RemoveRunnable(task);
    task.state = TaskState::kRunnable;  // resumed once, to unwind
    ResumeTask(task);
    SS_ASSERT(task.state == TaskState::kFinished, "task {} ({}) did not finish unwinding",
              task.id, task.name);
  }
}

void Scheduler::RequestStop(std::string reason) {
  stop_requested_ = true;
  stop_reason_ = std::move(reason);
}

void Scheduler::FireDueTimers() {
  for (int fired = 0; !timers_.empty(); ++fired) {
    SS_ASSERT(fired <= 1'000'000, "timer storm");
    const auto it = timers_.begin();
    if (it->first.first > now_ns_) return;
    TaskRecord& task = record(it->second);
    timers_.erase(it);
    task.timer_key.reset();
    task.timed_out = true;
    MakeRunnable(task);
  }
}

bool Scheduler::AdvanceToNextTimer() {
  if (timers_.empty()) return false;
  const int64_t deadline_ns = timers_.begin()->first.first;
  now_ns_ = std::max(now_ns_, deadline_ns);
  trace_.Record(EventKind::kTimer, timers_.begin()->second, deadline_ns, now_ns_);
  FireDueTimers();
  return true;
}


RunResult Scheduler::Run() {
  SS_ASSERT(!in_task(), "Run() called from a task");
  for (;;) {
    if (kill_pending_) ReapKilled();
    if (stop_requested_) return {RunOutcome::kStopped, stop_reason_};
    if (before_step_) {
      before_step_();
      if (kill_pending_) continue;
    }
    if (!timers_.empty()) FireDueTimers();
    if (runnable_.empty()) {
      const bool any_live = std::any_of(tasks_.begin(), tasks_.end(), [](const auto& task) {
        return task->state != TaskState::kFinished;
      });
      if (!any_live) return {RunOutcome::kCompleted, {}};
      if (!AdvanceToNextTimer()) return {RunOutcome::kDeadlock, DeadlockReport()};
      continue;
    }
    if (pick_count_ >= config_.max_steps) {
      return {RunOutcome::kStepLimit, fmt::format("step limit {} reached", config_.max_steps)};
    }
    const TaskId next = Pick();
    ++pick_count_;
    last_picked_ = next;
    now_ns_ += config_.step_time_ns;
    trace_.Record(EventKind::kSchedule, next, runnable_.size(), now_ns_);
    ResumeTask(*tasks_[next - 1]);  // Pick returns only runnable, valid ids
  }
}

}  // namespace sim
