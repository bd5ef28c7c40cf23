// The scenario subcommands of `shardsim`:
//   replay FILE [--trace] [--trace-json OUT] [--until STEP] [--dump-state STEP] [--verbose]
//   shrink FILE -o OUT [--max-replays N]
//   record --seed S -o OUT        (the scenario of a seeded run)
//   from-fuzz CRASH [-o OUT]      (the scenario of a fuzz_shard input)
// A cluster scenario file (`cluster v1`) replays and shrinks through
// cluster_commands.h.
// Exit codes: replay 0 when the outcome is the one the file expects, 1
// when not; shrink 0 when shrunk, 1 when the input does not fail as it
// says; 2 bad usage or unreadable input everywhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "properties/scenario.h"
#include "properties/shrink.h"

namespace shardsim {

struct ReplayOptions {
  std::string path;
  bool trace = false;
  bool verbose = false;
  std::optional<std::string> trace_json_path;
  std::optional<uint64_t> until_step;
  std::optional<uint64_t> dump_state_step;
};
void AddReplayFlags(CLI::App& command, ReplayOptions& options);
int ReplayCommand(const ReplayOptions& options);

struct ShrinkOptions {
  std::string path;
  std::string output_path;
  size_t max_replays = 3000;
  bool max_replays_given = false;  // else a cluster scenario takes kClusterShrinkReplays
};
// A cluster replay costs more than a shard one.
inline constexpr size_t kClusterShrinkReplays = 400;
void AddShrinkFlags(CLI::App& command, ShrinkOptions& options);
int ShrinkCommand(const ShrinkOptions& options);

struct FromFuzzOptions {
  std::string path;
  std::optional<std::string> output_path;
};
void AddFromFuzzFlags(CLI::App& command, FromFuzzOptions& options);
int FromFuzzCommand(const FromFuzzOptions& options);

// A comment for a scenario file: the failure, how it was found, how to
// replay it.
std::string ScenarioComment(const properties::Scenario& scenario, const properties::ShardRunResult& result,
                            const std::string& origin);

// Prints how a replay's trace hash compares with the one its file pins
// (`path`: named in the re-pin hint). False only for a drift: both known,
// comparable and different. `not_compared_because`: why this replay's
// trace cannot match (an option that changes the schedule), or nullptr.
bool CheckPinnedTraceHash(const std::string& path, std::optional<uint64_t> pinned, uint64_t replayed,
                          const char* not_compared_because);

// Shrinks with progress on stderr; prints the before/after sizes.
properties::ShrinkResult ShrinkWithProgress(const properties::Scenario& scenario, size_t max_replays, bool quiet);

}  // namespace shardsim
