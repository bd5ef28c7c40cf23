// The counters of a simulated run, listed once. The struct, its JSON, the
// summary a run and a campaign print, and the campaign's sums all come from
// SHARDSIM_RUN_STATS: adding a counter is one line there.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace properties {

// X(name, what it counts)
#define SHARDSIM_RUN_STATS(X)                                                                       \
  X(ops_written, "ops written to the WAL")                                                          \
  X(ops_completed, "ops answered completed (wait=true)")                                            \
  X(clock_rejections, "updates refused by their clock tag")                                         \
  X(freezes, "proxy_all_segments_and_apply calls")                                                  \
  X(snapshots_with_wal, "shard snapshots taken with the WAL")                                       \
  X(snapshots_without_wal, "shard snapshots taken without the WAL")                                 \
  X(partial_snapshots, "partial snapshots taken")                                                   \
  X(collection_snapshots, "collection snapshots taken")                                             \
  X(snapshots_failed, "snapshots that returned an error under injected faults")                     \
  X(restores, "shard snapshots restored and checked")                                               \
  X(partial_recoveries, "partial snapshots recovered onto their base and checked")                  \
  X(collection_restores, "collection snapshots restored and checked")                               \
  X(restores_failed, "restores that returned an error under injected faults")                       \
  X(restore_crashes, "crashes injected during a restore into its own directory")                    \
  X(restores_over_live, "snapshots restored over the live shard between processes")                 \
  X(restore_over_live_crashes, "crashes injected during a restore over the live shard")             \
  X(ops_after_restore, "ops written to a shard after a restore over it, and checked")               \
  X(damaged_shards_replaced, "shards that refused to load for good after rot, replaced")            \
  X(optimizations, "merges and vacuums that swapped in their result")                               \
  X(reads_checked, "reads checked against the model")                                               \
  X(process_crashes, "process crashes ending an engine process")                                    \
  X(power_losses, "power losses ending an engine process")                                          \
  X(reloads, "successful loads of the live shard")                                                  \
  X(failed_loads, "loads refused under injected faults, then retried")                              \
  X(runs_ended_by_faults, "runs ended early: every load or restore attempt of the shard hit an injected fault") \
  X(restore_outcomes_unjudged, "failed restores not judged: every load of their target was refused under faults") \
  X(live_restores_given_up, "restores over the live shard that failed under faults every attempt, leaving it dirty")

struct ShardRunStats {
#define SHARDSIM_STAT_FIELD(name, description) uint64_t name = 0;
  SHARDSIM_RUN_STATS(SHARDSIM_STAT_FIELD)
#undef SHARDSIM_STAT_FIELD
};

struct StatField {
  std::string_view name;
  std::string_view description;
  uint64_t value;
};
// Every counter of `stats`, in the list's order.
std::vector<StatField> StatFields(const ShardRunStats& stats);

// Adds every counter of `more` to `sum`.
void AddStats(ShardRunStats& sum, const ShardRunStats& more);

// {"ops_written": 12, ...}: every counter, zeros included.
nlohmann::json StatsToJson(const ShardRunStats& stats);
// The counters a run's JSON holds; a missing or malformed one stays 0 (a
// summary from an older build still adds up).
ShardRunStats StatsFromJson(const nlohmann::json& json);

// One aligned line per counter: "  ops_written      1234  ops written to the WAL".
// Counters that are 0 are left out unless `show_zeros`.
std::string StatsTable(const ShardRunStats& stats, bool show_zeros);

}  // namespace properties
