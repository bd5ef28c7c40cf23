// `shardsim run`: one simulated shard run from a seed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "properties/shard_run.h"
#include "tools/shardsim/cluster_commands.h"
#include "tools/shardsim/config_flags.h"

namespace shardsim {

struct RunOptions {
  uint64_t seed = 0;
  bool seed_given = false;  // --seed is required but for a cluster run (default 0)
  bool json = false;
  bool trace = false;
  bool verbose = false;
  ConfigOverrides config;
  ClusterFlags cluster;  // --cluster and its knobs
};

// The flags only some of run, record and check-determinism take (each
// command offers only the flags it acts on; CLI11 refuses the others).
struct RunFlagsOffered {
  bool printing = false;        // --json, --trace, --verbose: what `run` prints
  ClusterCommandFlags cluster;  // --trace-json (run), --seeds (check-determinism)
};
void AddRunFlags(CLI::App& command, RunOptions& options, RunFlagsOffered offered = {});
// What `shardsim run` offers: every flag.
inline constexpr RunFlagsOffered kRunCommandFlags = {.printing = true, .cluster = {.trace_json = true}};
// Builds the run's config: the seed's swarm draw, then the overrides.
// Returns an error message for a value a knob does not take.
std::optional<std::string> BuildConfig(const RunOptions& options,
                                       properties::ShardRunConfig& config);
int RunCommand(const RunOptions& options);
// Exit 0 when both runs give the same trace, 1 (naming the first differing
// step) when they do not.
int CheckDeterminismCommand(const RunOptions& options);

// Writes the scenario that replays the seeded run to `path`.
int RecordCommand(const RunOptions& options, const std::string& path);

std::string ResultJson(const properties::ShardRunConfig& config,
                       const properties::ShardRunResult& result);

}  // namespace shardsim
