// Ack durability on every Active replica of the converged cluster (BRIEF
// §9.1), judged per point from the real-time order of client writes.
//
// A write may show in the final state unless an acknowledged wait=true
// write to the same point started after it was acknowledged (then it was
// superseded for good). A write that failed or timed out may land at any
// later time (no rollback in Qdrant: a delayed copy can still be applied),
// so it is never superseded; a wait=false ack is not durable (a power loss
// may take it), so it never supersedes. A point may be absent if a delete
// that was not superseded exists, or if no acknowledged wait=true upsert
// exists. Replicas may differ from each other (weak ordering lets
// coordinators' concurrent writes land in different orders; Qdrant accepts
// this), but each must hold an allowed value.
#include <fmt/format.h>

#include "properties/cluster/cluster_world_run.h"

namespace properties {

namespace {
bool Durable(const ClusterWrite& write) { return write.acked && write.wait; }

bool Superseded(const ClusterWrite& write, const std::vector<const ClusterWrite*>& writes) {
  if (!Durable(write)) return false;
  return std::any_of(writes.begin(), writes.end(), [&](const ClusterWrite* later) {
    return Durable(*later) && later->invoke_ns > write.complete_ns;
  });
}

// Why `value` (nullopt = absent) may not be the point's final value, or "".
std::string Judge(std::optional<uint64_t> value, const std::vector<const ClusterWrite*>& writes) {
  if (value.has_value()) {
    for (const ClusterWrite* write : writes) {
      if (write->value != value) continue;
      if (!Superseded(*write, writes)) return "";
      return fmt::format("holds value {} of client {}, superseded by a later acknowledged write", *value,
                         write->actor);
    }
    return fmt::format("holds value {}, which no client wrote", *value);
  }
  bool durable_upsert = false;
  for (const ClusterWrite* write : writes) {
    if (!write->value.has_value() && !Superseded(*write, writes)) return "";
    if (write->value.has_value() && Durable(*write)) durable_upsert = true;
  }
  return durable_upsert ? "lost it: an acknowledged wait=true upsert and no delete after it" : "";
}

std::string DescribeWrites(const std::vector<const ClusterWrite*>& writes) {
  std::string text;
  for (const ClusterWrite* write : writes) {
    text += fmt::format("\n    client {} {} via peer {} [{} ms, {} ms] {}{}", write->actor,
                        write->value ? fmt::format("upsert {}", *write->value) : std::string("delete"), write->entry,
                        write->invoke_ns / 1'000'000, write->complete_ns / 1'000'000,
                        write->acked ? "acked" : "failed: " + write->error, write->wait ? "" : " (wait=false)");
  }
  return text;
}
}  // namespace

void ClusterRun::CheckFinalReplicas() {
  if (failure_) return;
  std::map<engine::PointId, std::vector<const ClusterWrite*>> writes;
  for (const ClusterWrite& write : history_.writes) writes[write.id].push_back(&write);
  // A copy: LocalPoints takes the replica set's locks, so other tasks run
  // meanwhile and may commit entries, which would invalidate iterators into
  // the log's own state (cluster seed 63179 looped forever in a rebalanced
  // map).
  const engine::CollectionState state = log_->leader_state();
  for (const auto& [peer, replica] : state.shards.at(0)) {
    if (replica != engine::ReplicaState::kActive) continue;
    std::optional<std::vector<engine::Point>> points = nodes_.at(peer)->replica_set(0)->LocalPoints();
    if (!points.has_value()) {
      Fail("convergence", fmt::format("peer {} is Active without a local shard", peer));
      return;
    }
    std::map<engine::PointId, std::optional<uint64_t>> final_values;
    for (const engine::Point& point : *points) {
      const std::optional<uint64_t> value = ValueOfPoint(point);
      if (!value) {
        Fail("no-invented-data", fmt::format("peer {} holds point {} with a payload no client wrote: {}", peer, point.id,
                                             point.payload.dump()));
        return;
      }
      final_values[point.id] = value;
    }
    for (const auto& [id, history] : writes) {
      const auto found = final_values.find(id);
      const std::optional<uint64_t> value = found == final_values.end() ? std::nullopt : found->second;
      if (std::string why = Judge(value, history); !why.empty()) {
        Fail("ack-durability", fmt::format("peer {}'s Active replica of point {} {}; writes of the point:{}", peer, id,
                                           why, DescribeWrites(history)));
        return;
      }
    }
    for (const auto& [id, value] : final_values) {
      if (!writes.contains(id)) {
        Fail("no-invented-data", fmt::format("peer {} holds point {}, which no client wrote", peer, id));
        return;
      }
    }
  }
}

nlohmann::json ClusterRunResult::ToJson() const {
  nlohmann::json json = nlohmann::json::object();
  json["passed"] = !failure.has_value();
  if (failure) json["failure"] = {{"invariant", failure->invariant}, {"message", failure->message}};
  nlohmann::json counters = nlohmann::json::object();
#define SHARDSIM_CLUSTER_STAT_JSON(name, description) counters[#name] = stats.name;
  SHARDSIM_CLUSTER_STATS(SHARDSIM_CLUSTER_STAT_JSON)
#undef SHARDSIM_CLUSTER_STAT_JSON
  json["stats"] = counters;
  json["transitions"] = stats.transitions;
  nlohmann::json crashes = nlohmann::json::object();
  for (const auto& [peer, count] : stats.crashes_per_peer) crashes[std::to_string(peer)] = count;
  json["crashes_per_peer"] = crashes;
  json["trace_hash"] = fmt::format("{:016x}", trace_hash);
  json["trace_steps"] = trace_steps;
  return json;
}

}  // namespace properties
