// Shard and cluster runs in a forked child, for a run that may end in an engine
// assertion (an abort): the child hands back the assertion's text, and when
// it records, the scenario recorded through the assertion. The parent reports
// such a run as a run-outcome failure whose message starts with
// kEngineAssertionPrefix, so `record`, `shrink` and the campaign can write and
// shrink a run that aborts (a planted bug that trips an engine assertion).
//
// A child that runs over 120 s of wall time is killed (a hung run), and
// comes back as an error or a run-outcome failure like any child that dies
// without a word.
//
// REQUIRES (all): the calling process runs one thread (fork).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "properties/cluster/cluster_run.h"
#include "properties/scenario.h"

namespace shardsim {

inline constexpr std::string_view kEngineAssertionPrefix = "engine assertion: ";

// Records the seed's run; the result's stats are not kept (only its failure,
// trace hash and steps). An error when the child died without a word (a
// signal that is not an engine assertion) or could not be started.
absl::StatusOr<properties::RecordedClusterRun> RecordClusterRunInChild(const properties::ClusterConfig& config);

// Replays the scenario (with `options`' verbose log and Perfetto trace); a
// child that dies without a word fails the replay as run-outcome "the run
// died with status N". Stats are not kept.
// `quiet`: the child's stderr goes to /dev/null (a shrinker's hundreds of
// replays would each print the assertion; its text comes back anyway).
properties::ClusterRunResult ReplayClusterInChild(const properties::ClusterScenario& scenario,
                                                  const properties::ClusterRunOptions& options = {},
                                                  bool quiet = false);

// True when the run ended in an engine assertion: its trace hash is not a
// whole run's, so it is neither pinned nor compared.
bool EndedInAssertion(const properties::ClusterRunResult& result);

// The same for a shard run. The result keeps passed, invariant, failure,
// trace hash, steps and the replay's tape ranges (for the shrinker); a run
// that ended in an assertion has no tape ranges and counts its whole tape as
// read.
absl::StatusOr<properties::RecordedRun> RecordShardRunInChild(const properties::ShardRunConfig& config);
properties::ShardRunResult ReplayShardInChild(const properties::Scenario& scenario,
                                              const properties::ShardRunConfig& print_options = {},
                                              bool quiet = false);
bool EndedInAssertion(const properties::ShardRunResult& result);

// The trace hash a scenario file pins for this run: none when the run ended
// in an engine assertion.
template <typename Result>
std::optional<uint64_t> PinnableTraceHash(const Result& result) {
  if (EndedInAssertion(result)) return std::nullopt;
  return result.trace_hash;
}

}  // namespace shardsim
