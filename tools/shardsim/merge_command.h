// `shardsim merge A.json B.json ... -o all.json`: the campaign summaries of
// many machines (each run with --shard I/N, or any disjoint seeds) summed
// into one, as if one campaign had swept all their seeds: counters add,
// failures join by signature, coverage and the fault envelope add, and the
// throughput is the parts' seeds over the longest part's time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace shardsim {

struct MergeOptions {
  std::vector<std::string> inputs;
  std::string output_path;
  // Parts built from different commits or build types are refused unless
  // this is set: their failures and throughput would not be comparable.
  bool allow_mixed_builds = false;
  bool quiet = false;
};

void AddMergeFlags(CLI::App& command, MergeOptions& options);
// 0 merged (and no part failed), 1 merged and some seed failed, 2 bad input.
int MergeCommand(const MergeOptions& options);

}  // namespace shardsim
