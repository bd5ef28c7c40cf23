// The campaign's reducer: what the runs of a campaign add up to. Workers
// report each seed as one JSON line (`shardsim run --json`'s object); the
// totals absorb those lines in any order and are what the reporter prints.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "properties/cluster/cluster_run.h"
#include "properties/fault_ledger.h"
#include "properties/run_stats.h"
#include "sim/fs/injection.h"

namespace shardsim {

struct CampaignTotals {
  uint64_t seeds = 0, passed = 0, failed = 0, steps = 0;
  properties::ShardRunStats stats;  // every counter, summed over seeds
  properties::Envelope envelope;    // what became of every injected fault
  std::array<uint64_t, sim::kFaultClassCount> seeds_with_fault{};  // seeds with >= 1 injection, by class
  uint64_t seeds_with_any_fault = 0;
  std::map<std::string, uint64_t> coverage;                      // mark -> hits
  // Keyed by failure signature (properties/failure_signature.h), so two bugs
  // that break one invariant stay two groups. Each group keeps at most
  // kRunsKeptPerSignature runs; failure_counts has them all.
  std::map<std::string, std::vector<nlohmann::json>> failures;   // signature key -> failing runs (bounded)
  std::map<std::string, uint64_t> failure_counts;                // signature key -> failing seeds
  std::map<std::string, double> first_failure_seconds;           // signature key -> when first seen
  std::map<std::string, nlohmann::json> shrunk;                  // signature key -> scenario file facts
  // The cluster seeds among `seeds` (their lines say "cluster": true); the
  // shard counters above (stats, envelope, steps) hold shard seeds only.
  uint64_t cluster_seeds = 0, cluster_failed = 0;
  properties::ClusterRunStats cluster_stats;  // counters, transitions, crashes per peer, summed
  // The swarm mix the shard seeds drew: profile name ("drawn" for a drawn
  // profile, else the name given) and scheduler strategy -> seeds.
  std::map<std::string, uint64_t> profile_mix, strategy_mix;

  uint64_t ShardSeeds() const { return seeds - cluster_seeds; }
};

inline constexpr size_t kRunsKeptPerSignature = 1000;

// The invariant a failing run's line names ("run-outcome" for an abort).
std::string InvariantOf(const nlohmann::json& run);
// The signature key of a failing run's line.
std::string SignatureKeyOf(const nlohmann::json& run);

// Adds one seed's line. Returns true when the run failed.
bool Absorb(CampaignTotals& totals, const nlohmann::json& run, double elapsed_seconds);

// Every coverage mark, hit or not, so that a reader sees what was never reached
// (the shard marks; ClusterCoverageJson has the cluster ones).
nlohmann::json CoverageJson(const CampaignTotals& totals);
std::vector<std::string> UnhitMarks(const CampaignTotals& totals);
// The cluster marks (engine::IsClusterMark) and the required transitions
// (RequiredClusterTransitions) no cluster seed reached.
nlohmann::json ClusterCoverageJson(const CampaignTotals& totals);
std::vector<std::string> UnhitClusterMarks(const CampaignTotals& totals);
std::vector<std::string> MissingTransitions(const CampaignTotals& totals);
// Fault classes with no injection at all.
std::vector<std::string> NeverInjected(const CampaignTotals& totals);
// Injections and seeds by fault class, outcomes, and the envelope.
nlohmann::json FaultsJson(const CampaignTotals& totals);

}  // namespace shardsim
