// The cluster run's counters (SHARDSIM_CLUSTER_STATS), its replica-state
// transitions and its crashes per peer as JSON, summed over seeds, and as
// the table `shardsim run --cluster` and a campaign print. Like
// properties/run_stats.h for the shard run: adding a counter is one line in
// SHARDSIM_CLUSTER_STATS and nothing here.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "properties/cluster/cluster_run.h"

namespace properties {

// The transitions a cluster campaign must apply at least once (the
// replica's road from failure back to Active).
const std::vector<std::string>& RequiredClusterTransitions();

// {"peers": 3, ..., "transitions": {"Active->Dead": 2}, "crashes_per_peer": {"2": 1}}.
nlohmann::json ClusterStatsToJson(const ClusterRunStats& stats);
// Reads what ClusterStatsToJson writes; unknown keys and non-numbers are
// skipped (a line from another build), never an assertion.
ClusterRunStats ClusterStatsFromJson(const nlohmann::json& json);
// Adds every counter, transition and per-peer crash of `more` to `sum`.
void AddClusterStats(ClusterRunStats& sum, const ClusterRunStats& more);

// "  writes_acked   12  client writes acknowledged" per counter, then the
// transitions and the crashes per peer.
std::string ClusterStatsTable(const ClusterRunStats& stats, bool show_zeros);

}  // namespace properties
