#include "bench/stall_explanation.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "bench/snapshot_bench_util.h"

namespace bench {

void BlockLog::Attach(sim::World& world) {
  world.trace().set_listener([this](const sim::TraceEvent& event) {
    if (on_) Record(event);
  });
}

void BlockLog::Record(const sim::TraceEvent& event) {
  switch (event.kind) {
    case sim::EventKind::kBlock:
      open_[event.task] = {event.task, event.note, event.time_ns, -1};
      break;
    case sim::EventKind::kSchedule: {
      auto it = open_.find(event.task);
      if (it == open_.end()) break;
      it->second.to_ns = event.time_ns;
      blocks_.push_back(std::move(it->second));
      open_.erase(it);
      break;
    }
    case sim::EventKind::kFsCall:
    case sim::EventKind::kMark:
      activity_.push_back({event.task, event.time_ns, event.detail});
      break;
    default:
      break;
  }
}

namespace {

// "first | second ... (n) ... last" of a list of calls.
std::string Abbreviate(const std::vector<std::string>& calls) {
  std::string out;
  if (calls.size() <= 4) {
    for (const std::string& call : calls) out += (out.empty() ? "" : " | ") + call;
    return out;
  }
  return fmt::format("{} | {} ... ({} calls) ... {} | {}", calls[0], calls[1], calls.size(), calls[calls.size() - 2],
                     calls.back());
}

// The four longest waits, "what ns; what ns", or "none".
std::string Top(const std::map<std::string, int64_t>& by_what) {
  std::vector<std::pair<int64_t, std::string>> sorted;
  for (const auto& [what, ns] : by_what) sorted.emplace_back(ns, what);
  std::sort(sorted.rbegin(), sorted.rend());
  std::string out;
  for (size_t i = 0; i < sorted.size() && i < 4; ++i) {
    out += fmt::format("{}{} {}", i ? "; " : "", sorted[i].second, Us(sorted[i].first));
  }
  return out.empty() ? std::string("none") : out;
}

// Per task, its distinct successive file calls and marks while `worst` ran.
std::string CallsDuring(const BlockLog& log, sim::Scheduler& scheduler, const WriteSample& worst) {
  std::map<std::string, std::vector<std::string>> calls;
  for (const BlockLog::Activity& activity : log.activity()) {
    if (activity.at_ns < worst.start_ns || activity.at_ns > worst.end_ns) continue;
    std::vector<std::string>& list = calls[std::string(scheduler.TaskName(activity.task))];
    if (list.empty() || list.back() != activity.what) list.push_back(activity.what);
  }
  std::string doing;
  for (const auto& [task, list] : calls) doing += fmt::format("\n      {}: {}", task, Abbreviate(list));
  return doing;
}

}  // namespace

std::string Explain(const BlockLog& log, sim::Scheduler& scheduler, const WriteSample& worst, int64_t snap_start_ns,
                    int64_t snap_end_ns) {
  std::map<std::string, int64_t> waited, longest;
  for (const BlockLog::Block& block : log.blocks()) {
    const std::string_view name = scheduler.TaskName(block.task);
    if (name != "writer" && name != "update_worker") continue;
    if (block.on.starts_with("condition shard.update_channel.not_empty")) continue;  // idle
    const std::string what = fmt::format("{} on {}", name, block.on);
    if (block.to_ns > snap_start_ns && block.from_ns < snap_end_ns) {
      longest[what] = std::max(longest[what], block.to_ns - block.from_ns);
    }
    if (block.to_ns <= worst.start_ns || block.from_ns >= worst.end_ns) continue;
    waited[what] += std::min(block.to_ns, worst.end_ns) - std::max(block.from_ns, worst.start_ns);
  }
  return fmt::format(
      "worst write during the snapshot: {} ({} steps), began {} after the snapshot began\n"
      "    its waits: {}\n    longest single waits during the snapshot: {}\n    file calls meanwhile:{}",
      Us(worst.end_ns - worst.start_ns), worst.end_step - worst.start_step, Us(worst.start_ns - snap_start_ns),
      Top(waited), Top(longest), CallsDuring(log, scheduler, worst));
}

}  // namespace bench
