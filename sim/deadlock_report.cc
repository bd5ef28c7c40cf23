// The report of a run in which no task can run and no timer is pending:
// every blocked task with what it waits for and who holds that, and the first
// "waits for a holder" cycle found.
#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sim/scheduler.h"
#include "sim/scheduler_task.h"

namespace sim {

std::string Scheduler::DeadlockReport() const {
  std::string report = "deadlock: no task can run and no timer is pending\n";
  std::vector<TaskId> blocked;
  for (const auto& task : tasks_) {
    if (task->state != TaskState::kBlocked) continue;
    blocked.push_back(task->id);
    report += fmt::format("  task {} ({}) waits for {}", task->id, task->name,
                          task->waiting_on ? task->waiting_on->Describe() : "?");
    if (task->waiting_on) {
      const auto holders = task->waiting_on->Holders();
      if (!holders.empty()) report += fmt::format(", held by task(s) {}", fmt::join(holders, ", "));
    }
    report += "\n";
  }
  // Follow "waits for a holder" edges from each blocked task to find a cycle.
  for (TaskId start : blocked) {
    std::vector<TaskId> path{start};
    for (size_t hop = 0; hop <= blocked.size(); ++hop) {
      const TaskRecord& at = record(path.back());
      if (at.state != TaskState::kBlocked || !at.waiting_on) break;
      const auto holders = at.waiting_on->Holders();
      if (holders.empty()) break;
      const TaskId next = holders.front();
      const auto seen = std::find(path.begin(), path.end(), next);
      if (seen != path.end()) {
        std::string cycle = "  cycle:";
        for (auto it = seen; it != path.end(); ++it) {
          cycle += fmt::format(" task {} ({}) ->", *it, record(*it).name);
        }
        cycle += fmt::format(" task {} ({})\n", next, record(next).name);
        return report + cycle;
      }
      path.push_back(next);
    }
  }
  return report;
}

}  // namespace sim
