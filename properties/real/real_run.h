// One run of the shard engine on the real world (PosixEnv: threads, files
// in a directory, the steady clock): the seed's swarm draw
// (ShardRunConfig::Draw) with its clients as threads, checked by the same
// reference model and history as a simulated run (docs/real.md).
//
// What differs from the simulated run: the schedule is the OS's, so a run
// is not reproducible (the seed fixes the workload, not the interleaving);
// nothing is injected, so every error is a failure (`unexpected-error`);
// the drawn crashes become clean restarts (a kill -9 campaign is
// properties/real/crash_campaign.h). Reads are checked against the WAL's
// order of the writes, the engine's own linearization: an answer passes if
// some prefix of it between what the reader knew applied and what was
// written when it returned gives that answer (properties/read_check.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "properties/run_stats.h"
#include "properties/shard_run.h"

namespace properties {

struct RealRunConfig {
  uint64_t seed = 0;
  // REQUIRES: an existing, empty directory; the run's shard, snapshot
  // archives and restores go in it.
  std::string dir;
  bool verbose = false;  // print epochs, restores and failures as they happen
};

struct RealRunResult {
  bool passed = true;
  std::string invariant;  // of the first failure (docs/invariants.md names)
  std::string failure;
  ShardRunConfig drawn;  // the seed's draw the run used
  ShardRunStats stats;
  std::vector<std::string> archives;  // snapshot archives made, relative to dir
};

// REQUIRES: called from a thread that may block; starts and joins threads.
RealRunResult RunRealShard(const RealRunConfig& config);

}  // namespace properties
