// `shardsim crash-every FILE`: what CrashMonkey and ALICE do offline, on a
// (small) scenario. For each epoch's engine process it replays the scenario
// once to find that process's file-system calls, then, before each call
// (a crash point):
//   - a process crash (the page cache survives);
//   - a power loss that keeps everything, with the operations pending at
//     the crash recorded (ShardRunConfig::crash_point_chooser);
//   - power losses keeping other legal subsets of them: keep none, every
//     legal subset dropping at most --max-dropped operations and every one
//     keeping at most that many, then random legal subsets, up to
//     --states-per-point in all (sim/fs/power_loss_states.h; the random
//     draws come from a PCG64 seeded with (epoch << 32) | point index).
// Each state runs the scenario's epochs up to that one (earlier crashes
// kept), crashes there, and then an empty epoch: the reload is checked
// against the model, then the run's final checks. A failing state is
// written as a scenario whose crash line lists the kept operations
// (`crash power-loss after=N pending=P drop=...`), which replays it.
//
// Not crashed: the processes the supervisor starts for restores (over the
// live shard at an epoch start, every snapshot's at the end): their crash
// points come from the tape, which a crash line cannot place.
#pragma once

#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "properties/scenario.h"

namespace shardsim {

struct CrashEveryOptions {
  std::string path;
  size_t max_calls = 2000;         // crash points per engine process
  size_t max_dropped = 2;          // subsets dropping (or keeping) at most this many
  size_t states_per_point = 32;    // power-loss states per crash point
  size_t max_states = 200'000;     // states in all (process crashes included)
  std::optional<std::string> failures_dir;  // write failing states there as scenarios
  size_t max_saved = 20;           // ... at most this many
  bool max_saved_given = false;    // (without --failures-dir it would do nothing: refused)
  bool quiet = false;              // no progress line
};

// What one engine process's crash points gave.
struct ProcessSweep {
  size_t epoch = 0;
  size_t calls = 0;              // file-system calls the process made
  size_t crash_points = 0;       // of them, crashed before (--max-calls, --max-states)
  size_t states = 0;             // runs checked: process crashes and power losses
  size_t power_loss_states = 0;
  size_t illegal_skipped = 0;    // subsets the per-name rule refuses: not run
  size_t sampled_points = 0;     // points whose systematic subsets did not all fit
  size_t failures = 0;
};

struct CrashEverySummary {
  std::vector<ProcessSweep> processes;
  size_t crash_points = 0;
  size_t states = 0;
  size_t failures = 0;
  bool stopped_at_max_states = false;
  std::vector<std::string> saved;  // failing states written, in order
};

// Runs one candidate scenario: ReplayScenario, or a test's stand-in.
using CandidateRunner =
    std::function<properties::ShardRunResult(const properties::Scenario&, const properties::ShardRunConfig&)>;

// The sweep over `scenario`, printing what it finds to `out` and a progress
// line to stderr when `progress`.
CrashEverySummary CrashEvery(const properties::Scenario& scenario, const CrashEveryOptions& options,
                             const CandidateRunner& run, std::FILE* out, bool progress);

void AddCrashEveryFlags(CLI::App& command, CrashEveryOptions& options);
// Exit 0 when every crash state recovered correctly, 1 when one did not,
// 2 on bad usage or an unreadable file.
int CrashEveryCommand(const CrashEveryOptions& options);

}  // namespace shardsim
