#include "properties/run_stats.h"

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace properties {

std::vector<StatField> StatFields(const ShardRunStats& stats) {
  return {
#define SHARDSIM_STAT_ENTRY(name, description) {#name, description, stats.name},
      SHARDSIM_RUN_STATS(SHARDSIM_STAT_ENTRY)
#undef SHARDSIM_STAT_ENTRY
  };
}

void AddStats(ShardRunStats& sum, const ShardRunStats& more) {
#define SHARDSIM_STAT_ADD(name, description)                                              \
  SS_ASSERT(sum.name + more.name >= sum.name, "counter {} overflows", #name); \
  sum.name += more.name;
  SHARDSIM_RUN_STATS(SHARDSIM_STAT_ADD)
#undef SHARDSIM_STAT_ADD
}

nlohmann::json StatsToJson(const ShardRunStats& stats) {
  nlohmann::json json = nlohmann::json::object();
  for (const StatField& field : StatFields(stats)) json[std::string(field.name)] = field.value;
  return json;
}

ShardRunStats StatsFromJson(const nlohmann::json& json) {
  ShardRunStats stats;
  if (!json.is_object()) return stats;
  const auto read = [&](const char* name, uint64_t& counter) {
    const auto it = json.find(name);
    if (it == json.end()) return;
    // (A parser reads small numbers as signed; a negative one is not a count.)
    if (it->is_number_unsigned() || (it->is_number_integer() && it->get<int64_t>() >= 0)) {
      counter = it->get<uint64_t>();
    }
  };
#define SHARDSIM_STAT_READ(name, description) read(#name, stats.name);
  SHARDSIM_RUN_STATS(SHARDSIM_STAT_READ)
#undef SHARDSIM_STAT_READ
  return stats;
}

std::string StatsTable(const ShardRunStats& stats, bool show_zeros) {
  std::string table;
  for (const StatField& field : StatFields(stats)) {
    if (field.value == 0 && !show_zeros) continue;
    table += fmt::format("  {:<26} {:>12}  {}\n", field.name, field.value, field.description);
  }
  return table;
}

}  // namespace properties
