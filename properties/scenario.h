// A scenario: one simulated shard run written down completely, so that it
// replays bit for bit and can be shrunk. It holds the run's config, the
// steps each client takes in each epoch (an epoch is one engine process,
// ended by an optional crash at an exact trace step), and the tape of the
// world's own decisions (scheduling, faults, which unsynced data survives).
//
// A run from a seed draws its steps from a workload stream and the world's
// decisions from another; recording both gives a scenario. Replaying a
// scenario executes its steps as written and draws the world's decisions
// from its tape: the same trace, step for step.
//
// The text format (scenarios/scenario_format.h) is what engineers read.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/filter.h"
#include "engine/model/operation.h"
#include "properties/action.h"
#include "properties/shard_run.h"
#include "sim/fs/sim_fs.h"

namespace properties {

// One client action with every parameter it needs.
struct Step {
  int client = 0;
  Action action = Action::kPlunge;
  bool wait = false;                       // update, delete-by-filter
  std::optional<engine::WalRecord> record;  // update
  engine::Filter filter;                   // delete-by-filter, scroll, count
  engine::PointId id = 0;                  // retrieve
  engine::Vector vector;                   // search
  uint64_t k = 1;                          // search
  bool save_wal = false;                   // snapshot, collection snapshot
};

struct CrashPoint {
  // Trace steps after the epoch's first step (relative, so that shrinking
  // an earlier epoch does not move this crash into another one).
  uint64_t after_steps = 0;
  sim::CrashKind kind = sim::CrashKind::kProcessCrash;
  // A power loss only: keep exactly these pending operations (keep[i] for
  // the i-th of SimFileSystem::PendingOperations() at the crash) instead of
  // drawing a crash model; what `shardsim crash-every` found a failing state
  // with. A list that does not fit the operations pending at the crash
  // (wrong length, or illegal) fails the run as run-outcome and keeps all.
  std::optional<std::vector<bool>> keep;
};

struct Epoch {
  // A snapshot archive of this run ("snapshot-2.tar") restored over the live
  // shard before the epoch's process starts, as an operator restores a
  // backup (RestoreSnapshot's replace path).
  std::optional<std::string> restore_archive;
  std::optional<CrashPoint> crash;
  std::vector<Step> steps;  // in the order the run drew them
};

struct Scenario {
  ShardRunConfig config;
  // The invariant the run broke ("" for a passing run); replay compares.
  std::string expected_invariant;
  std::vector<Epoch> epochs;
  std::vector<uint8_t> tape;

  // Steps plus crashes and restores: the size a shrinker minimises.
  size_t StepCount() const;
};

// Replays a scenario: its steps as written, the world's decisions from its
// tape (an exhausted tape answers 0). `config` carries the run's printing
// options (verbose, trace) and crash_point_chooser; the scenario's own
// config decides the rest of the run.
ShardRunResult ReplayScenario(const Scenario& scenario, const ShardRunConfig& print_options);

// Runs `config` from its seed and records the scenario that replays it.
struct RecordedRun {
  ShardRunResult result;
  Scenario scenario;
};
// `on_assertion`, when set: an engine assertion about to abort the process
// gets the scenario recorded so far (its steps and its tape through the last
// draw, which replay to the same assertion) and the assertion's text, so a
// forked child can hand them back (tools/shardsim/child_runs.h).
using RecordAssertionHandler = std::function<void(const Scenario& so_far, std::string_view assertion)>;
RecordedRun RecordShardRun(const ShardRunConfig& config, const RecordAssertionHandler& on_assertion = {});

// Runs with both the workload and the world drawing from one byte tape (a
// fuzzer's input). RecordTapeRun also records the scenario that replays it.
ShardRunResult RunFromTape(const ShardRunConfig& config, const std::vector<uint8_t>& tape);
RecordedRun RecordTapeRun(const ShardRunConfig& config, const std::vector<uint8_t>& tape);

}  // namespace properties
