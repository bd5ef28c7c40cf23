// The cluster scenario file format, version 2: line-oriented text like the
// shard scenario format (scenario_format.h), `#` starts a comment line,
// blank lines are ignored.
//
//   cluster v2
//   expect pass                          # or the invariant the run breaks
//   trace-hash 059fd2b8659f2d25          # optional: the run's trace hash when written
//   config seed=7 peers=3 replication_factor=2 write_consistency_factor=1 clients=2
//          steps_per_client=12 nemesis_steps=6 point_ids=8 lossy_network=false
//          lossy_log=true default_transfer_method=wal_delta
//          [network_stalls=true [network_stall_percent=25]] [paced_clients=true] [slow_log=true]
//          [flush_interval_ms=50]
//   client 2: upsert id=5 value=17 via peer 3 wait ordering=medium
//   client 1: delete id=5 via peer 1 nowait ordering=weak
//   client 1: read factor=2 via peer 2
//   client 2: sleep 120ms
//   nemesis: crash peer 2 power-loss     # or process-crash
//   nemesis: restart peer 2
//   nemesis: partition {1,3} one-way     # or two-way
//   nemesis: heal
//   nemesis: transfer 1->2 wal_delta     # or stream_records
//   nemesis: sleep 1500ms
//   tape 00ff3a...                       # the world's decisions, hex, any number of lines
//   end steps=24 tape=1234               # required, last: the steps and tape bytes
//
// (`config` is one line in a file, every key required but network_stalls
// (default false), network_stall_percent (default 2, only with stalls),
// paced_clients and slow_log (default false), flush_interval_ms (default
// 5, the interval of files written before the key existed; a drawn config's
// is 50, so new files name it), in any order; the optional keys are written
// only when not the default.) The
// steps are listed in the order of the scenario's step vector; each actor
// runs its own in that order. ClusterConfig's output switches (verbose,
// record_trace) are not part of a scenario and are not written.
// `Parse(Write(s))` gives `s` back and `Write` of that gives the same text.
// Version 1 (`cluster v1`) had no end marker; as for shard files, only
// `shardsim pin` reads it, to rewrite it as version 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "properties/cluster/cluster_scenario.h"

namespace scenarios {

inline constexpr std::string_view kClusterHeader = "cluster v2";
inline constexpr std::string_view kClusterHeaderVersion1 = "cluster v1";

// A cluster scenario file: the scenario and the trace hash it pins, if any.
struct ClusterScenarioFile {
  properties::ClusterScenario scenario;
  std::optional<uint64_t> trace_hash;
};

// True when the first line that is not blank or a comment is a cluster
// header (any version): such a file is a cluster scenario, not a shard one.
bool IsClusterScenarioText(std::string_view text);

// "seed=7 peers=3 ...": the config line's arguments.
std::string ClusterConfigLine(const properties::ClusterConfig& config);
// One step as written ("client 2: upsert id=5 value=17 via peer 3 wait ordering=medium").
std::string ClusterStepLine(const properties::ClusterStep& step);

// The scenario as text; `comment` lines (may be empty) first, each "# ";
// then the trace-hash line when given.
std::string WriteClusterScenario(const properties::ClusterScenario& scenario, std::string_view comment = {},
                                 std::optional<uint64_t> trace_hash = std::nullopt);

// A clear error naming the line ("line 7: peer 9 is not 1..3") for any
// malformed input, "truncated cluster scenario: no end marker" for a file
// without its end line; never a crash. `accept_version_1`: for `shardsim pin`.
absl::StatusOr<ClusterScenarioFile> ParseClusterScenarioFile(std::string_view text, bool accept_version_1 = false);
// ParseClusterScenarioFile without the trace hash.
absl::StatusOr<properties::ClusterScenario> ParseClusterScenario(std::string_view text);

// File helpers for the tools (real files; input_file.h's errors).
absl::StatusOr<ClusterScenarioFile> ReadClusterScenarioFile(const std::string& path, bool accept_version_1 = false);
absl::Status WriteClusterScenarioFile(const std::string& path, const properties::ClusterScenario& scenario,
                                      std::string_view comment = {}, std::optional<uint64_t> trace_hash = std::nullopt);

}  // namespace scenarios
