// A run's trace as Chrome trace-event JSON, which Perfetto
// (ui.perfetto.dev) and chrome://tracing open: one track per task (named
// from its spawn event), one for the file system, one for the scheduler.
// The time axis is the trace step (1 step = 1 "µs" in the viewer), because
// virtual time stands still between timers and would stack every event on
// one instant; each event's virtual time is in its args.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "sim/trace.h"

namespace shardsim {

inline constexpr int kFileSystemTrack = 1'000'000;
inline constexpr int kSchedulerTrack = 0;

nlohmann::json ChromeTraceJson(const std::vector<sim::TraceEvent>& events);

}  // namespace shardsim
