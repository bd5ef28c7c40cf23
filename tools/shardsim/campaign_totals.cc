#include "tools/shardsim/campaign_totals.h"

#include "engine/common/assert.h"
#include "engine/common/coverage.h"
#include "properties/cluster/cluster_stats.h"
#include "properties/failure_signature.h"

namespace shardsim {

namespace {

void AbsorbEnvelope(CampaignTotals& totals, const nlohmann::json& run) {
  const auto it = run.find("envelope");
  if (it == run.end()) return;
  auto envelope = properties::EnvelopeFromJson(*it);
  if (!envelope.ok()) return;
  totals.envelope.Add(*envelope);
  const auto by_class = properties::InjectionsByClass(*envelope);
  bool any = false;
  for (size_t f = 0; f < by_class.size(); ++f) {
    if (by_class[f] == 0) continue;
    ++totals.seeds_with_fault[f];
    any = true;
  }
  totals.seeds_with_any_fault += any;
}

void AbsorbCoverage(CampaignTotals& totals, const nlohmann::json& run) {
  const auto it = run.find("coverage");
  if (it == run.end() || !it->is_object()) return;
  for (const auto& [mark, hits] : it->items()) {
    if (hits.is_number_unsigned()) totals.coverage[mark] += hits.get<uint64_t>();
  }
}

void AbsorbMix(CampaignTotals& totals, const nlohmann::json& run) {
  const auto config = run.find("config");
  if (config == run.end() || !config->is_object()) return;
  const std::string profile = config->value("profile", "");
  // A drawn profile prints as "drawn{...}": its family, not each draw.
  if (!profile.empty()) totals.profile_mix[profile.substr(0, profile.find('{'))] += 1;
  const std::string strategy = config->value("strategy", "");
  if (!strategy.empty()) totals.strategy_mix[strategy] += 1;
}

// What a failure group keeps of a failing run: enough to name, replay and
// merge it, not its counters (a thousand runs per group stay small).
nlohmann::json SlimRun(const nlohmann::json& run) {
  nlohmann::json slim = nlohmann::json::object();
  for (const char* key : {"seed", "cluster", "passed", "invariant", "failure", "profile", "config"}) {
    if (const auto it = run.find(key); it != run.end()) slim[key] = *it;
  }
  return slim;
}

}  // namespace

std::string InvariantOf(const nlohmann::json& run) {
  const std::string invariant = run.value("invariant", "");
  return invariant.empty() ? "run-outcome" : invariant;
}

std::string SignatureKeyOf(const nlohmann::json& run) {
  return properties::SignatureOf(InvariantOf(run), run.value("failure", "")).Key();
}

bool Absorb(CampaignTotals& totals, const nlohmann::json& run, double elapsed_seconds) {
  SS_ASSERT(totals.passed + totals.failed == totals.seeds);
  SS_ASSERT(totals.cluster_seeds <= totals.seeds && totals.cluster_failed <= totals.failed);
  ++totals.seeds;
  const bool cluster = run.value("cluster", false);
  const bool passed = run.value("passed", false);
  if (cluster) {
    ++totals.cluster_seeds;
    totals.cluster_failed += !passed;
    if (const auto it = run.find("stats"); it != run.end()) {
      properties::AddClusterStats(totals.cluster_stats, properties::ClusterStatsFromJson(*it));
    }
  } else {
    totals.steps += run.value("steps", 0ull);
    if (const auto it = run.find("stats"); it != run.end()) {
      properties::AddStats(totals.stats, properties::StatsFromJson(*it));
    }
    AbsorbEnvelope(totals, run);
    AbsorbMix(totals, run);
  }
  AbsorbCoverage(totals, run);
  if (passed) {
    ++totals.passed;
  } else {
    ++totals.failed;
    const std::string key = SignatureKeyOf(run);
    std::vector<nlohmann::json>& runs = totals.failures[key];
    if (runs.size() < kRunsKeptPerSignature) runs.push_back(SlimRun(run));
    totals.failure_counts[key] += 1;
    totals.first_failure_seconds.emplace(key, elapsed_seconds);
  }
  SS_ASSERT(totals.passed + totals.failed == totals.seeds);
  return !passed;
}

nlohmann::json CoverageJson(const CampaignTotals& totals) {
  nlohmann::json coverage = nlohmann::json::object();
  for (const engine::MarkInfo& mark : engine::kMarkInfo) {
    // Only a cluster campaign can reach the replica-set layer's marks.
    if (engine::IsClusterMark(mark.name)) continue;
    const auto it = totals.coverage.find(std::string(mark.name));
    coverage[std::string(mark.name)] = it == totals.coverage.end() ? 0 : it->second;
  }
  return coverage;
}

std::vector<std::string> UnhitMarks(const CampaignTotals& totals) {
  std::vector<std::string> unhit;
  for (const engine::MarkInfo& mark : engine::kMarkInfo) {
    // Only a cluster campaign can reach the replica-set layer's marks.
    if (engine::IsClusterMark(mark.name)) continue;
    const auto it = totals.coverage.find(std::string(mark.name));
    if (it == totals.coverage.end() || it->second == 0) unhit.emplace_back(mark.name);
  }
  return unhit;
}

nlohmann::json ClusterCoverageJson(const CampaignTotals& totals) {
  nlohmann::json coverage = nlohmann::json::object();
  for (const engine::MarkInfo& mark : engine::kMarkInfo) {
    if (!engine::IsClusterMark(mark.name)) continue;
    const auto it = totals.coverage.find(std::string(mark.name));
    coverage[std::string(mark.name)] = it == totals.coverage.end() ? 0 : it->second;
  }
  return coverage;
}

std::vector<std::string> UnhitClusterMarks(const CampaignTotals& totals) {
  std::vector<std::string> unhit;
  for (const engine::MarkInfo& mark : engine::kMarkInfo) {
    if (!engine::IsClusterMark(mark.name)) continue;
    const auto it = totals.coverage.find(std::string(mark.name));
    if (it == totals.coverage.end() || it->second == 0) unhit.emplace_back(mark.name);
  }
  return unhit;
}

std::vector<std::string> MissingTransitions(const CampaignTotals& totals) {
  std::vector<std::string> missing;
  for (const std::string& transition : properties::RequiredClusterTransitions()) {
    const auto it = totals.cluster_stats.transitions.find(transition);
    if (it == totals.cluster_stats.transitions.end() || it->second == 0) missing.push_back(transition);
  }
  return missing;
}

std::vector<std::string> NeverInjected(const CampaignTotals& totals) {
  std::vector<std::string> never;
  const auto injected = properties::InjectionsByClass(totals.envelope);
  for (size_t f = 0; f < injected.size(); ++f) {
    if (injected[f] == 0) never.emplace_back(sim::FaultClassName(sim::FaultClass(f)));
  }
  return never;
}

nlohmann::json FaultsJson(const CampaignTotals& totals) {
  nlohmann::json injected = nlohmann::json::object(), seeds = nlohmann::json::object();
  const auto by_class = properties::InjectionsByClass(totals.envelope);
  for (size_t f = 0; f < sim::kFaultClassCount; ++f) {
    const std::string name(sim::FaultClassName(sim::FaultClass(f)));
    injected[name] = by_class[f];
    seeds[name] = totals.seeds_with_fault[f];
  }
  nlohmann::json outcomes = nlohmann::json::object();
  for (size_t o = 0; o < properties::kOutcomeCount; ++o) {
    outcomes[std::string(properties::OutcomeName(properties::Outcome(o)))] =
        totals.envelope.Total(properties::Outcome(o));
  }
  return {{"injected", std::move(injected)},
          {"seeds_with", std::move(seeds)},
          {"seeds_with_any", totals.seeds_with_any_fault},
          {"outcomes", std::move(outcomes)},
          {"envelope", properties::EnvelopeToJson(totals.envelope)}};
}

}  // namespace shardsim
