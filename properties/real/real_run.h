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
#include <map>
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
  // Kill -9 mode: every epoch's engine runs in a child process (the
  // `real-child` command of `child_binary`) that the run kills with SIGKILL
  // at a moment drawn from `timing_seed`; the run, which survives, then
  // checks what the shard recovered (docs/real.md).
  bool crash = false;
  uint64_t timing_seed = 0;
  std::string child_binary;  // REQUIRES with crash: the shardsim executable
};

// What a kill -9 run did (zeros without `crash`).
struct CrashStats {
  uint64_t children = 0;              // engine processes started
  uint64_t kills = 0;                 // SIGKILLs delivered to a live child
  uint64_t recoveries_checked = 0;    // reloads after a kill, checked
  uint64_t ops_verified = 0;          // written ops found back after a kill
  uint64_t durable_ops_verified = 0;  // of them, reported synced or completed
  uint64_t unreported_ops = 0;        // in the WAL, killed before their report
  uint64_t restores_crashed = 0;      // restores over the live shard killed midway
  uint64_t restores_left_dirty = 0;   // of them, left for the operator to redo
  uint64_t wide_runs = 0;             // runs with wide vectors (RealDraw)
  uint64_t torn_wal_tails_cut = 0;    // recoveries that cut a torn WAL tail
  std::map<std::string, uint64_t> kills_by_phase;
};

struct RealRunResult {
  bool passed = true;
  std::string invariant;  // of the first failure (docs/invariants.md names)
  std::string failure;
  ShardRunConfig drawn;  // the seed's draw the run used
  ShardRunStats stats;
  std::vector<std::string> archives;  // snapshot archives made, relative to dir
  CrashStats crash;
  // Kill -9 mode: what each child did and how it ended, for a failure's report.
  std::vector<std::string> log;
};

// REQUIRES: called from a thread that may block; starts and joins threads.
RealRunResult RunRealShard(const RealRunConfig& config);

// The workload of a real run of `seed`: the seed's swarm draw, except that
// in kill -9 mode one seed in four has wide vectors (kWideDimension floats,
// WAL entries of about 45 KiB: eleven pages). A process crash tears a write
// only between pages (the kernel stops copying a write at a page boundary
// when the process gets SIGKILL), so only such entries let a kill leave a
// torn WAL tail for the recovery to cut.
ShardRunConfig RealDraw(uint64_t seed, bool crash);
inline constexpr uint32_t kWideDimension = 4096;
inline constexpr uint64_t kWideWalSegmentCapacityBytes = 1 << 20;

// The seed of client `client`'s workload stream in epoch `epoch` (the same
// in a real run and in a crash child).
uint64_t RealClientStreamSeed(uint64_t seed, size_t epoch, int client);

// The live shard's directory, under the run's directory.
inline constexpr char kRealShardDir[] = "shard";

}  // namespace properties
