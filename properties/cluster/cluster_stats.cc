#include "properties/cluster/cluster_stats.h"

#include <fmt/format.h>

#include <cstdlib>

namespace properties {

const std::vector<std::string>& RequiredClusterTransitions() {
  static const std::vector<std::string> required = {"Active->Dead", "Dead->Partial", "Dead->Recovery",
                                                    "Recovery->Partial", "Partial->Active"};
  return required;
}

nlohmann::json ClusterStatsToJson(const ClusterRunStats& stats) {
  nlohmann::json json = nlohmann::json::object();
#define SHARDSIM_CLUSTER_STAT_JSON(name, description) json[#name] = stats.name;
  SHARDSIM_CLUSTER_STATS(SHARDSIM_CLUSTER_STAT_JSON)
#undef SHARDSIM_CLUSTER_STAT_JSON
  nlohmann::json transitions = nlohmann::json::object();
  for (const auto& [name, count] : stats.transitions) transitions[name] = count;
  nlohmann::json crashes = nlohmann::json::object();
  for (const auto& [peer, count] : stats.crashes_per_peer) crashes[fmt::format("{}", peer)] = count;
  json["transitions"] = std::move(transitions);
  json["crashes_per_peer"] = std::move(crashes);
  return json;
}

namespace {

uint64_t CounterOf(const nlohmann::json& json, const char* key) {
  const auto it = json.find(key);
  return it != json.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

}  // namespace

ClusterRunStats ClusterStatsFromJson(const nlohmann::json& json) {
  ClusterRunStats stats;
  if (!json.is_object()) return stats;
#define SHARDSIM_CLUSTER_STAT_READ(name, description) stats.name = CounterOf(json, #name);
  SHARDSIM_CLUSTER_STATS(SHARDSIM_CLUSTER_STAT_READ)
#undef SHARDSIM_CLUSTER_STAT_READ
  if (const auto it = json.find("transitions"); it != json.end() && it->is_object()) {
    for (const auto& [name, count] : it->items()) {
      if (count.is_number_unsigned()) stats.transitions[name] += count.get<uint64_t>();
    }
  }
  if (const auto it = json.find("crashes_per_peer"); it != json.end() && it->is_object()) {
    for (const auto& [peer, count] : it->items()) {
      char* end = nullptr;
      const unsigned long long id = std::strtoull(peer.c_str(), &end, 10);
      if (peer.empty() || *end != '\0' || !count.is_number_unsigned()) continue;
      stats.crashes_per_peer[id] += count.get<uint64_t>();
    }
  }
  return stats;
}

void AddClusterStats(ClusterRunStats& sum, const ClusterRunStats& more) {
#define SHARDSIM_CLUSTER_STAT_ADD(name, description) sum.name += more.name;
  SHARDSIM_CLUSTER_STATS(SHARDSIM_CLUSTER_STAT_ADD)
#undef SHARDSIM_CLUSTER_STAT_ADD
  for (const auto& [name, count] : more.transitions) sum.transitions[name] += count;
  for (const auto& [peer, count] : more.crashes_per_peer) sum.crashes_per_peer[peer] += count;
}

std::string ClusterStatsTable(const ClusterRunStats& stats, bool show_zeros) {
  std::string table;
  const auto row = [&](std::string_view name, uint64_t value, std::string_view description) {
    if (value == 0 && !show_zeros) return;
    table += fmt::format("  {:<34} {:>12}  {}\n", name, value, description);
  };
#define SHARDSIM_CLUSTER_STAT_ROW(name, description) row(#name, stats.name, description);
  SHARDSIM_CLUSTER_STATS(SHARDSIM_CLUSTER_STAT_ROW)
#undef SHARDSIM_CLUSTER_STAT_ROW
  table += "transitions:\n";
  if (stats.transitions.empty()) table += "  (none)\n";
  for (const auto& [name, count] : stats.transitions) table += fmt::format("  {:<34} {:>12}\n", name, count);
  table += "crashes per peer:\n";
  if (stats.crashes_per_peer.empty()) table += "  (none)\n";
  for (const auto& [peer, count] : stats.crashes_per_peer) {
    table += fmt::format("  peer {:<29} {:>12}\n", peer, count);
  }
  return table;
}

}  // namespace properties
