#include "tools/shardsim/trace_json.h"

#include <map>
#include <string>

namespace shardsim {

namespace {

nlohmann::json Metadata(int track, const std::string& name) {
  return {{"ph", "M"}, {"name", "thread_name"}, {"pid", 1}, {"tid", track}, {"args", {{"name", name}}}};
}

nlohmann::json Instant(const sim::TraceEvent& event, int track, std::string name) {
  return {{"ph", "i"}, {"s", "t"}, {"name", std::move(name)}, {"pid", 1}, {"tid", track},
          {"ts", event.step}, {"args", {{"step", event.step}, {"virtual_time_ns", event.time_ns}, {"arg", event.arg}}}};
}

// Slices: a task runs from the step it was scheduled until the next
// scheduling decision.
void AddRunningSlices(const std::vector<sim::TraceEvent>& events, nlohmann::json& out) {
  const sim::TraceEvent* running = nullptr;
  const auto close = [&](uint64_t end_step) {
    if (running == nullptr) return;
    out.push_back({{"ph", "X"}, {"name", "running"}, {"pid", 1}, {"tid", running->task},
                   {"ts", running->step}, {"dur", std::max<uint64_t>(1, end_step - running->step)},
                   {"args", {{"step", running->step}, {"virtual_time_ns", running->time_ns},
                             {"runnable_tasks", running->arg}}}});
  };
  for (const sim::TraceEvent& event : events) {
    if (event.kind != sim::EventKind::kSchedule) continue;
    close(event.step);
    running = &event;
  }
  if (!events.empty()) close(events.back().step + 1);
}

}  // namespace

nlohmann::json ChromeTraceJson(const std::vector<sim::TraceEvent>& events) {
  nlohmann::json out = nlohmann::json::array();
  out.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", 1}, {"args", {{"name", "shardsim run"}}}});
  out.push_back(Metadata(kFileSystemTrack, "file system"));
  out.push_back(Metadata(kSchedulerTrack, "scheduler"));
  std::map<uint32_t, std::string> names;
  for (const sim::TraceEvent& event : events) {
    if (event.kind == sim::EventKind::kSpawn) names[event.task] = event.detail;
  }
  for (const auto& [task, name] : names) out.push_back(Metadata(static_cast<int>(task), name + " #" + std::to_string(task)));
  AddRunningSlices(events, out);
  for (const sim::TraceEvent& event : events) {
    const int task = static_cast<int>(event.task);
    const std::string detail = event.detail.empty() ? event.note : event.detail;
    switch (event.kind) {
      case sim::EventKind::kSchedule: break;  // the running slices
      case sim::EventKind::kFsCall: {
        nlohmann::json call = {{"ph", "X"}, {"name", detail}, {"pid", 1}, {"tid", kFileSystemTrack},
                               {"ts", event.step}, {"dur", 1},
                               {"args", {{"step", event.step}, {"virtual_time_ns", event.time_ns},
                                         {"task", names.count(event.task) ? names[event.task] : std::to_string(task)},
                                         {"arg", event.arg}}}};
        out.push_back(std::move(call));
        break;
      }
      case sim::EventKind::kCrash: {
        nlohmann::json crash = Instant(event, kSchedulerTrack, "crash: " + detail);
        crash["s"] = "g";  // a crash concerns every track
        out.push_back(std::move(crash));
        break;
      }
      case sim::EventKind::kTimer: out.push_back(Instant(event, kSchedulerTrack, "timer")); break;
      case sim::EventKind::kRestart: out.push_back(Instant(event, kSchedulerTrack, "start process " + detail)); break;
      default:
        out.push_back(Instant(event, task, std::string(sim::EventKindName(event.kind)) +
                                               (detail.empty() ? "" : ": " + detail)));
        break;
    }
  }
  return {{"traceEvents", std::move(out)}, {"displayTimeUnit", "ns"},
          {"otherData", {{"time_axis", "trace step (1 step = 1 us); virtual time in args"}}}};
}

}  // namespace shardsim
