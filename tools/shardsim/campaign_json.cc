#include "tools/shardsim/campaign_json.h"

#include <algorithm>

#include <fmt/format.h>

#include "properties/cluster/cluster_stats.h"
#include "scenarios/input_file.h"
#include "tools/shardsim/build_info.h"

namespace shardsim {

namespace {

template <typename Value>
nlohmann::json MapToJson(const std::map<std::string, Value>& map) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [key, value] : map) json[key] = value;
  return json;
}

// Reads {"key": number, ...}; an error names `field`.
template <typename Value>
absl::Status MapFromJson(const nlohmann::json& json, std::string_view field, std::map<std::string, Value>& map) {
  const auto it = json.find(field);
  if (it == json.end()) return absl::OkStatus();  // an older writer's document: nothing of it
  if (!it->is_object()) return absl::InvalidArgumentError(fmt::format("totals.{} is not an object", field));
  for (const auto& [key, value] : it->items()) {
    if (!value.is_number()) return absl::InvalidArgumentError(fmt::format("totals.{}.{} is not a number", field, key));
    map[key] = value.template get<Value>();
  }
  return absl::OkStatus();
}

absl::Status CountersFromJson(const nlohmann::json& json, CampaignTotals& totals) {
  for (const auto& [field, target] :
       std::initializer_list<std::pair<const char*, uint64_t*>>{{"seeds", &totals.seeds},
                                                                 {"passed", &totals.passed},
                                                                 {"failed", &totals.failed},
                                                                 {"steps", &totals.steps},
                                                                 {"seeds_with_any_fault", &totals.seeds_with_any_fault},
                                                                 {"cluster_seeds", &totals.cluster_seeds},
                                                                 {"cluster_failed", &totals.cluster_failed}}) {
    const auto it = json.find(field);
    if (it == json.end() || !it->is_number_unsigned()) {
      return absl::InvalidArgumentError(fmt::format("totals.{} is missing or not a count", field));
    }
    *target = it->get<uint64_t>();
  }
  if (totals.passed + totals.failed != totals.seeds || totals.cluster_seeds > totals.seeds ||
      totals.cluster_failed > totals.failed) {
    return absl::InvalidArgumentError("totals: passed + failed != seeds, or more cluster seeds than seeds");
  }
  return absl::OkStatus();
}

absl::Status FailuresFromJson(const nlohmann::json& json, CampaignTotals& totals) {
  const auto it = json.find("failures");
  if (it == json.end()) return absl::OkStatus();
  if (!it->is_object()) return absl::InvalidArgumentError("totals.failures is not an object");
  for (const auto& [key, group] : it->items()) {
    if (!group.is_object() || !group.value("runs", nlohmann::json()).is_array() ||
        !group.value("count", nlohmann::json()).is_number_unsigned() ||
        !group.value("first_failure_seconds", nlohmann::json()).is_number() || group["runs"].empty()) {
      return absl::InvalidArgumentError(fmt::format("totals.failures[\"{}\"] lacks runs, count or first_failure_seconds", key));
    }
    std::vector<nlohmann::json>& runs = totals.failures[key];
    for (const nlohmann::json& run : group["runs"]) {
      if (runs.size() < kRunsKeptPerSignature) runs.push_back(run);
    }
    totals.failure_counts[key] = group["count"].get<uint64_t>();
    totals.first_failure_seconds[key] = group["first_failure_seconds"].get<double>();
    if (group.contains("shrunk")) totals.shrunk[key] = group["shrunk"];
  }
  return absl::OkStatus();
}

}  // namespace

nlohmann::json TotalsToJson(const CampaignTotals& totals) {
  nlohmann::json failures = nlohmann::json::object();
  for (const auto& [key, runs] : totals.failures) {
    nlohmann::json group = {{"runs", runs},
                            {"count", totals.failure_counts.at(key)},
                            {"first_failure_seconds", totals.first_failure_seconds.at(key)}};
    if (const auto it = totals.shrunk.find(key); it != totals.shrunk.end()) group["shrunk"] = it->second;
    failures[key] = std::move(group);
  }
  return {{"seeds", totals.seeds},
          {"passed", totals.passed},
          {"failed", totals.failed},
          {"steps", totals.steps},
          {"stats", properties::StatsToJson(totals.stats)},
          {"envelope", properties::EnvelopeToJson(totals.envelope)},
          {"seeds_with_fault", totals.seeds_with_fault},
          {"seeds_with_any_fault", totals.seeds_with_any_fault},
          {"coverage", MapToJson(totals.coverage)},
          {"failures", std::move(failures)},
          {"cluster_seeds", totals.cluster_seeds},
          {"cluster_failed", totals.cluster_failed},
          {"cluster_stats", properties::ClusterStatsToJson(totals.cluster_stats)},
          {"profile_mix", MapToJson(totals.profile_mix)},
          {"strategy_mix", MapToJson(totals.strategy_mix)}};
}

absl::StatusOr<CampaignTotals> TotalsFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return absl::InvalidArgumentError("totals is not an object");
  CampaignTotals totals;
  if (absl::Status status = CountersFromJson(json, totals); !status.ok()) return status;
  totals.stats = properties::StatsFromJson(json.value("stats", nlohmann::json::object()));
  absl::StatusOr<properties::Envelope> envelope =
      properties::EnvelopeFromJson(json.value("envelope", nlohmann::json::object()));
  if (!envelope.ok()) {
    return absl::InvalidArgumentError("totals.envelope: " + std::string(envelope.status().message()));
  }
  totals.envelope = *envelope;
  const nlohmann::json with_fault = json.value("seeds_with_fault", nlohmann::json::array());
  if (!with_fault.is_array() || with_fault.size() > totals.seeds_with_fault.size()) {
    return absl::InvalidArgumentError("totals.seeds_with_fault is not an array of fault classes");
  }
  for (size_t f = 0; f < with_fault.size(); ++f) {
    if (!with_fault[f].is_number_unsigned()) return absl::InvalidArgumentError("totals.seeds_with_fault holds a non-count");
    totals.seeds_with_fault[f] = with_fault[f].get<uint64_t>();
  }
  for (const auto& [field, map] : {std::pair{"coverage", &totals.coverage}, std::pair{"profile_mix", &totals.profile_mix},
                                   std::pair{"strategy_mix", &totals.strategy_mix}}) {
    if (absl::Status status = MapFromJson(json, field, *map); !status.ok()) return status;
  }
  if (absl::Status status = FailuresFromJson(json, totals); !status.ok()) return status;
  totals.cluster_stats = properties::ClusterStatsFromJson(json.value("cluster_stats", nlohmann::json::object()));
  return totals;
}

void AddTotals(CampaignTotals& sum, const CampaignTotals& more) {
  sum.seeds += more.seeds;
  sum.passed += more.passed;
  sum.failed += more.failed;
  sum.steps += more.steps;
  properties::AddStats(sum.stats, more.stats);
  sum.envelope.Add(more.envelope);
  for (size_t f = 0; f < sum.seeds_with_fault.size(); ++f) sum.seeds_with_fault[f] += more.seeds_with_fault[f];
  sum.seeds_with_any_fault += more.seeds_with_any_fault;
  for (const auto& [mark, hits] : more.coverage) sum.coverage[mark] += hits;
  for (const auto& [key, runs] : more.failures) {
    // The lowest seeds first, whichever part found them: the merged
    // document does not depend on the order of its parts.
    std::vector<nlohmann::json>& kept = sum.failures[key];
    kept.insert(kept.end(), runs.begin(), runs.end());
    std::stable_sort(kept.begin(), kept.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
      return a.value("seed", 0ull) < b.value("seed", 0ull);
    });
    if (kept.size() > kRunsKeptPerSignature) kept.resize(kRunsKeptPerSignature);
    sum.failure_counts[key] += more.failure_counts.at(key);
    const double seconds = more.first_failure_seconds.at(key);
    const auto [it, inserted] = sum.first_failure_seconds.emplace(key, seconds);
    if (!inserted) it->second = std::min(it->second, seconds);
    if (const auto shrunk = more.shrunk.find(key); shrunk != more.shrunk.end()) sum.shrunk.emplace(key, shrunk->second);
  }
  sum.cluster_seeds += more.cluster_seeds;
  sum.cluster_failed += more.cluster_failed;
  properties::AddClusterStats(sum.cluster_stats, more.cluster_stats);
  for (const auto& [name, seeds] : more.profile_mix) sum.profile_mix[name] += seeds;
  for (const auto& [name, seeds] : more.strategy_mix) sum.strategy_mix[name] += seeds;
}

absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  absl::StatusOr<std::string> text = scenarios::ReadNonEmptyInputFile(path);
  if (!text.ok()) return text.status();
  nlohmann::json json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError(path + " is not JSON");
  return json;
}

nlohmann::json IdentityJson() {
  return {{"commit", BuildCommit()}, {"build_type", BuildType()}, {"host", HostName()}};
}

}  // namespace shardsim
