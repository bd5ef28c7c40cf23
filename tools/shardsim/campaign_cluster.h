// The cluster share of a campaign: its summary lines, its JSON section, its
// coverage requirement and shrinking its failures. The sweep, the reducer and
// the reporter call these for the seeds IsClusterSeed names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/shardsim/campaign.h"
#include "tools/shardsim/campaign_totals.h"

namespace shardsim {

// Seeds/s, peers per seed, partitions, messages dropped, transfers by
// method and outcome, replicas healed, crashes per peer, transitions, then
// every counter (summed over cluster seeds).
void PrintClusterSummary(const CampaignTotals& totals, double elapsed_seconds, bool show_coverage);

// The JSON summary's "cluster" section.
nlohmann::json ClusterSummaryJson(const CampaignTotals& totals, double elapsed_seconds);

// --require-coverage for the cluster seeds (when at least one ran): every
// cluster mark hit, every required transition applied. Prints what is
// missing; false if anything is.
bool CheckClusterCoverage(const CampaignTotals& totals);

// Records the failing cluster seed, shrinks it in a child process and writes
// it under options.found_dir as cluster-<invariant>-seed<N>.scn. The same
// facts and nullopt cases as ShrinkFailure.
std::optional<nlohmann::json> ShrinkClusterFailure(uint64_t seed, const std::string& invariant,
                                                   const CampaignOptions& options);

}  // namespace shardsim
