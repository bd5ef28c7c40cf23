// One simulated run of the shard engine: a seeded world, concurrent clients
// issuing random operations and reads, process crashes and power losses at
// random steps, reloads, and every observation checked against the
// reference model (docs/invariants.md I1-I13). Used by the crash-recovery
// property, the `shardsim` command and the campaign.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <vector>

#include "engine/common/coverage.h"
#include "engine/shard/local_shard.h"
#include "engine/model/types.h"
#include "properties/fault_ledger.h"
#include "properties/run_stats.h"
#include "properties/workload_mix.h"
#include "sim/trace.h"
#include "sim/profile.h"
#include "sim/scheduler.h"

namespace properties {

struct ShardRunConfig {
  uint64_t seed = 0;
  sim::Strategy strategy = sim::Strategy::kRandom;
  sim::PersistenceProfile profile = sim::PersistenceProfile::StrictPosix();
  int clients = 2;
  int ops_per_client = 12;
  uint64_t PlannedOps() const {
    return static_cast<uint64_t>(std::max(clients, 0)) * static_cast<uint64_t>(std::max(ops_per_client, 0));
  }
  double wait_probability = 0.5;
  int crashes = 1;
  double power_loss_probability = 0.5;
  uint64_t id_range = 12;
  engine::CollectionConfig collection{.dimension = 3, .distance = engine::Distance::kDot};
  uint64_t wal_segment_capacity_bytes = 4096;
  WorkloadMix mix = WorkloadMix::Default();
  bool record_trace = false;
  bool verbose = false;      // print ops, crashes and reloads as they happen
  bool print_trace = false;  // print every trace step as it happens
  // Replay debugging: every trace event goes to the listener; the run
  // winds down once the trace passes `stop_at_step`; the shard's state is
  // printed at the first client step at or after `dump_state_at_step`.
  std::function<void(const sim::TraceEvent&)> trace_listener;
  // When set, every power loss of the run (restores' included) keeps
  // exactly the pending operations this picks instead of drawing a crash
  // model (which then draws nothing: a recorded tape no longer lines up).
  sim::PowerLossChooser power_loss_chooser;
  // When set, the power loss of epoch `crash_point_chooser_epoch`'s crash
  // point (a scenario's crash line) keeps what this picks, overriding the
  // line's keep list; every other power loss is decided as usual, so the
  // rest of a scenario replays from its tape unchanged. crash-every records
  // the operations pending at a crash point with it.
  sim::PowerLossChooser crash_point_chooser;
  size_t crash_point_chooser_epoch = 0;
  std::optional<uint64_t> stop_at_step;
  std::optional<uint64_t> dump_state_at_step;

  // Swarm testing: every knob drawn from the seed, so rare mixes occur.
  static ShardRunConfig Draw(uint64_t seed);
  // The knobs as a scenario's config line holds them (properties/run_config.h).
  std::string Describe() const;
};

// The invariants a run checks, as named in failures (docs/invariants.md):
//   read                    a read no model state in its window gives (I1)
//   recovery                the reloaded shard is not a durable prefix, or
//                           it refuses to load for no reason (I2, I3)
//   snapshot-point-in-time  a restored snapshot is not its freeze point, its
//                           clocks are ahead, its WAL starts too low (I6-I8)
//   restore-atomicity       a crash during a restore left a mix (I9)
//   restore-integrity       an archive with a flipped byte was restored (I10)
//   fault-handling          a fault was handled wrongly: a failed snapshot
//                           left files, a failed restore changed the live
//                           shard, out of space stopped the shard (I11)
//   structure               proxies, live copies (I4); payload indexes,
//                           temp segments (I5)
//   unexpected-error        an operation failed with no fault injected (I12)
//   run-outcome             deadlock, step limit, an abort in a worker, a
//                           scenario's keep list that does not fit its crash (I13)
// Tape bytes [begin, end) read from a step's start to its end (other
// tasks' decisions in between included).
struct TapeRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

struct ShardRunResult {
  bool passed = true;
  std::string invariant;  // of the failure; empty when passed
  bool stopped = false;   // wound down at config.stop_at_step
  std::string failure;  // the invariant, the op or read, expected and actual
  uint64_t trace_hash = 0;
  uint64_t steps = 0;
  uint64_t tape_bytes_consumed = 0;  // replays only: how much of the tape was read
  // Replays only: per flattened scenario step, the tape read while it ran
  // ({0, 0} for a step never run), for the shrinker to drop with the step.
  std::vector<TapeRange> step_tape_ranges;
  ShardRunStats stats;
  std::vector<sim::TraceEvent> events;  // only with config.record_trace
  // Coverage marks hit during this run (engine/common/coverage.h), by mark.
  std::array<uint64_t, engine::kMarkCount> coverage{};
  // What became of every injected fault (docs/faults.md).
  Envelope envelope;
};

ShardRunResult RunShardScenario(const ShardRunConfig& config);

// The options of a shard of a run with this config, without an observer
// (as restored shards get them; the live shard adds its history's).
engine::ShardOptions ShardOptionsOf(const ShardRunConfig& config);

}  // namespace properties
