// A cluster run's trace as Chrome trace-event JSON for Perfetto
// (ui.perfetto.dev): one process per peer (every incarnation of peer N is
// process "peer N"), one for the clients and the operator (the nemesis,
// messages in flight, the metadata log's commits), one track per task. The
// time axis is the trace step, as for shard runs (virtual time stands still
// between timers); each event's virtual time is in its args.
#include <fmt/format.h>

#include "properties/cluster/cluster_world_run.h"

namespace properties {

std::string ClusterRun::TraceJson() {
  sim::Scheduler& scheduler = world_->scheduler();
  nlohmann::json events = nlohmann::json::array();
  std::map<uint32_t, engine::PeerId> peer_of_task;
  for (const sim::TraceEvent& event : world_->trace().events()) {
    if (event.task == 0) continue;  // scheduler context
    auto [it, fresh] = peer_of_task.try_emplace(event.task, 0);
    if (fresh) {
      it->second = world_->PeerOfProcess(scheduler.TaskProcess(event.task)).value_or(0);
      events.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", it->second}, {"tid", event.task},
                        {"args", {{"name", std::string(scheduler.TaskName(event.task))}}}});
    }
    events.push_back({{"ph", "i"}, {"s", "t"}, {"name", std::string(sim::EventKindName(event.kind))},
                      {"pid", it->second}, {"tid", event.task}, {"ts", event.step},
                      {"args", {{"detail", event.detail}, {"time_ms", event.time_ns / 1e6}, {"arg", event.arg}}}});
  }
  events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", 0}, {"args", {{"name", "clients and operator"}}}});
  for (engine::PeerId peer = 1; peer <= config_.peers; ++peer) {
    events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", peer}, {"args", {{"name", fmt::format("peer {}", peer)}}}});
  }
  return nlohmann::json{{"traceEvents", events}, {"displayTimeUnit", "ns"}}.dump();
}

}  // namespace properties
