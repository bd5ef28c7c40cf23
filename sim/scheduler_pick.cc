// How the next task is picked at each scheduling point: uniformly at random
// from the run's decisions, by PCT priorities (Burckhardt et al., "A
// Randomized Scheduler with Probabilistic Guarantees of Finding Bugs"), or
// round-robin by task id.
#include <algorithm>

#include "engine/common/assert.h"
#include "sim/scheduler.h"
#include "sim/scheduler_task.h"

namespace sim {

std::string_view StrategyName(Strategy strategy) {
  switch (strategy) {
    case Strategy::kRandom: return "random";
    case Strategy::kPct: return "pct";
    case Strategy::kRoundRobin: return "round-robin";
  }
  return "?";
}

std::optional<Strategy> ParseStrategy(std::string_view name) {
  if (name == "random") return Strategy::kRandom;
  if (name == "pct") return Strategy::kPct;
  if (name == "round-robin") return Strategy::kRoundRobin;
  return std::nullopt;
}

TaskId Scheduler::Pick() {
  switch (config_.strategy) {
    case Strategy::kRandom: return runnable_[decisions_.Draw(runnable_.size())];
    case Strategy::kPct: return PickPct();
    case Strategy::kRoundRobin: return PickRoundRobin();
  }
  SS_ASSERT(false);
  return kNoTask;
}

TaskId Scheduler::PickPct() {
  // At the i-th change point, the task that ran last drops below every
  // initial priority (PCT's d-1 priority changes).
  while (pct_next_change_ < pct_change_points_.size() &&
         pct_change_points_[pct_next_change_] <= pick_count_) {
    ++pct_next_change_;
    if (last_picked_ != kNoTask) record(last_picked_).priority = pct_next_change_;
  }
  TaskId best = runnable_.front();
  for (TaskId id : runnable_) {
    const TaskRecord& task = record(id);
    const TaskRecord& champion = record(best);
    if (task.priority > champion.priority || (task.priority == champion.priority && id < best)) {
      best = id;
    }
  }
  return best;
}

TaskId Scheduler::PickRoundRobin() {
  TaskId next = kNoTask;
  TaskId lowest = runnable_.front();
  for (TaskId id : runnable_) {
    lowest = std::min(lowest, id);
    if (id > last_picked_ && (next == kNoTask || id < next)) next = id;
  }
  return next != kNoTask ? next : lowest;
}

}  // namespace sim
