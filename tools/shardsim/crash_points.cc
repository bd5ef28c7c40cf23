#include "tools/shardsim/crash_points.h"

#include <map>
#include <set>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace shardsim {

std::vector<CrashPointCall> EngineProcessCalls(const std::vector<sim::TraceEvent>& events, size_t epoch) {
  const std::string name = fmt::format("shard{}", epoch);
  // Each task's process: a process's main task is the spawn right after its
  // start event (World::StartProcess), every other task its parent's.
  std::map<uint64_t, uint64_t> process_of_task;
  std::optional<uint64_t> starting;  // a process whose main task is spawned next
  std::set<uint64_t> engine_processes;
  std::optional<uint64_t> start_step;
  std::vector<CrashPointCall> calls;
  for (const sim::TraceEvent& event : events) {
    switch (event.kind) {
      case sim::EventKind::kRestart:
        starting = event.arg;
        if (event.detail == name) {
          engine_processes.insert(event.arg);
          if (!start_step) start_step = event.step;
        }
        break;
      case sim::EventKind::kSpawn: {
        const auto parent = process_of_task.find(event.arg);
        process_of_task[event.task] = starting ? *starting : parent == process_of_task.end() ? 0 : parent->second;
        starting.reset();
        break;
      }
      case sim::EventKind::kFsCall: {
        const auto process = process_of_task.find(event.task);
        if (process == process_of_task.end() || !engine_processes.contains(process->second)) break;
        SS_ASSERT(start_step && event.step >= *start_step, "an engine call before its process started");
        calls.push_back({event.step - *start_step, event.detail});
        break;
      }
      default: break;
    }
  }
  return calls;
}

properties::Scenario CrashCandidate(const properties::Scenario& scenario, size_t epoch,
                                    std::optional<properties::CrashPoint> crash) {
  properties::Scenario candidate = scenario;
  candidate.epochs.resize(epoch + 1);
  candidate.epochs[epoch].crash = std::move(crash);
  candidate.epochs.emplace_back();
  candidate.expected_invariant.clear();
  return candidate;
}

}  // namespace shardsim
