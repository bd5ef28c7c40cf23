#include "sim/trace.h"

#include <algorithm>

#include <fmt/format.h>
// Inlined so the fixed-size hash of each event specialises (the hot path of
// every scheduling step).
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sim {

std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kSchedule: return "schedule";
    case EventKind::kSpawn: return "spawn";
    case EventKind::kExit: return "exit";
    case EventKind::kBlock: return "block";
    case EventKind::kTimer: return "timer";
    case EventKind::kFsCall: return "fs";
    case EventKind::kFault: return "fault";
    case EventKind::kCrash: return "crash";
    case EventKind::kRestart: return "restart";
    case EventKind::kMark: return "mark";
    case EventKind::kOperator: return "operator";
    case EventKind::kLog: return "log";
    case EventKind::kMessage: return "message";
    case EventKind::kMeta: return "meta";
  }
  return "?";
}

std::string TraceEvent::ToString() const {
  return fmt::format("#{} t={}ns task={} {} arg={}{}{}{}{}", step, time_ns, task,
                     EventKindName(kind), arg, detail.empty() ? "" : " ", detail,
                     note.empty() ? "" : " ", note);
}

uint64_t Trace::Record(EventKind kind, uint32_t task, uint64_t arg, int64_t time_ns,
                       std::string_view detail, std::string_view note) {
  struct Packed {
    uint64_t arg;
    int64_t time_ns;
    uint64_t detail_hash;
    uint32_t task;
    uint32_t kind;
  } packed{arg, time_ns, detail.empty() ? 0 : XXH3_64bits(detail.data(), detail.size()), task,
           static_cast<uint32_t>(kind)};
  hash_ = XXH3_64bits_withSeed(&packed, sizeof packed, hash_);
  const uint64_t step = steps_++;
  if (detailed_) [[unlikely]] {
    TraceEvent event{step, time_ns, task, kind, arg, std::string(detail), std::string(note)};
    if (listener_) listener_(event);
    if (recording_) events_.push_back(std::move(event));
  }
  return step;
}

std::optional<size_t> FirstDifference(const std::vector<TraceEvent>& a,
                                      const std::vector<TraceEvent>& b) {
  const size_t common = std::min(a.size(), b.size());
  for (size_t i = 0; i < common; ++i) {
    const TraceEvent& x = a[i];
    const TraceEvent& y = b[i];
    if (x.step != y.step || x.time_ns != y.time_ns || x.task != y.task || x.kind != y.kind ||
        x.arg != y.arg || x.detail != y.detail) {
      return i;
    }
  }
  if (a.size() != b.size()) return common;
  return std::nullopt;
}

}  // namespace sim
