// A simulated world: one seed (or byte tape) and a config in, a scheduler, a
// virtual clock, a simulated file system with faults, and processes that can
// crash at an exact step, out. Everything nondeterministic in a run is drawn
// from the world's one DecisionSource, so a run is a pure function of
// (config, decisions).
//
// Processes: process 0 is the supervisor (the test driver); it never
// crashes. StartProcess runs a "main" in a new process id; a crash fences
// that process off (its file-system calls never land), unwinds its tasks,
// applies the crash model to the file system, and lets the supervisor start a
// new process on what survived.
//
// Faults: every injection (an injected error, a bit flip, ENOSPC, stored
// rot, what a power loss destroyed) is a kFault trace event and an entry of
// injections(). With a capacity headroom in the profile, each process starts
// with that much free space, and after its first ENOSPC an operator may free
// another headroom a little later (a kOperator trace event).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sim/decision.h"
#include "sim/fs/fault_fs.h"
#include "sim/fs/injection.h"
#include "sim/fs/sim_fs.h"
#include "sim/profile.h"
#include "sim/scheduler.h"
#include "sim/sim_env.h"
#include "sim/trace.h"

namespace sim {

struct WorldConfig {
  uint64_t seed = 0;
  SchedulerConfig scheduler;
  PersistenceProfile profile = PersistenceProfile::NoFault();
  // Crash the running engine process when the trace reaches this step.
  std::optional<uint64_t> crash_at_step;
  CrashKind crash_kind = CrashKind::kPowerLoss;
  bool record_trace = false;
  // When set, a power loss keeps exactly the pending operations this picks
  // (SimFileSystem::PowerLossKeeping) instead of drawing a crash model: for
  // tools that enumerate every legal disk state. It must pick a legal subset
  // (the world asserts that PowerLossKeeping accepts it).
  PowerLossChooser power_loss_chooser;
};

struct CrashRecord {
  uint64_t step = 0;
  ProcessId process = 0;
  CrashKind kind = CrashKind::kPowerLoss;
  CrashModel model = CrashModel::kDropAllUnsynced;  // meaningful for a drawn power loss only
  bool chosen = false;  // a power loss whose survivors the power_loss_chooser picked
};

class World {
 public:
  // Draws from a PRNG seeded with config.seed.
  explicit World(WorldConfig config);
  // Draws from `decisions` (a tape, a recorder); config.seed is only reported.
  World(WorldConfig config, DecisionSource& decisions);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  engine::Env& env() { return *env_; }
  SimEnv& sim_env() { return *env_; }
  Scheduler& scheduler() { return *scheduler_; }
  Trace& trace() { return trace_; }
  SimFileSystem& fs() { return *sim_fs_; }
  FaultInjectingFileSystem& fault_fs() { return *fault_fs_; }
  DecisionSource& decisions() { return *decisions_; }
  const WorldConfig& config() const { return config_; }

  // Runs `body` as the supervisor (process 0) until every task is done.
  RunResult RunSupervisor(std::function<void()> body);

  // Starts `main` as the first task of a new process and returns its id.
  // With a capacity headroom, first sets the disk's capacity to what is
  // stored plus the headroom (the operator made room before restarting).
  // REQUIRES: called from the supervisor.
  ProcessId StartProcess(std::string name, std::function<void()> main);
  // Blocks the supervisor until the process's main task has finished or the
  // process crashed. Returns true if it crashed.
  bool WaitProcess(ProcessId process);

  // Crashes the newest live engine process now: fence, unwind (at the next
  // scheduling point; at once when called from that process), apply the
  // crash model. Callable from any task or from scheduler context. The
  // model of a power loss is drawn from the profile (or its survivors
  // picked by config.power_loss_chooser); a process crash draws nothing.
  void Crash(CrashKind kind);
  // Arms (or re-arms) a crash at a trace step. A power loss armed with a
  // `chooser` keeps what it picks (instead of config.power_loss_chooser or
  // a drawn model); only this crash asks it, so the run's other power
  // losses still draw their models and a tape replays them unchanged.
  void CrashAtStep(uint64_t step, CrashKind kind, PowerLossChooser chooser = nullptr);
  void DisarmCrash() {
    crash_at_step_.reset();
    armed_chooser_ = nullptr;
  }

  const std::vector<CrashRecord>& crashes() const { return crashes_; }
  // Every injection of the run so far, in order.
  const std::vector<Injection>& injections() const { return injections_; }

  // Latent bit rot: with probability profile.faults.stored_rot (one draw;
  // none when 0) flips one bit of the durable image of one file reachable
  // under the directory `under` ("" = everywhere), chosen uniformly among
  // files with a non-empty durable image, and records a kStoredRot
  // injection (process 0). Returns it, or nullopt if nothing rotted.
  // REQUIRES: no engine process is running.
  std::optional<Injection> MaybeRotStoredBlock(std::string_view under);
  // File-system calls that reached the file system.
  uint64_t env_tracing_calls() const { return env_->tracing_fs().calls(); }

 private:
  void Build();
  // Runs before every scheduling step and file-system call.
  void OnStep();
  void CheckCrashPoint();
  void CrashChoosing(CrashKind kind, const PowerLossChooser& chooser);
  void MaybeFreeSpace();
  std::optional<ProcessId> NewestLiveProcess() const;
  // Stamps step (a kFault trace event) and process (the override, else the
  // crashed process during a crash, else the calling task's), and keeps it.
  void RecordInjection(Injection injection, std::optional<ProcessId> process_override = std::nullopt);

  WorldConfig config_;
  std::unique_ptr<PrngSource> own_decisions_;
  DecisionSource* decisions_;
  Trace trace_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<SimFileSystem> sim_fs_;
  std::unique_ptr<FaultInjectingFileSystem> fault_fs_;
  std::unique_ptr<SimEnv> env_;
  struct ProcessRecord {
    ProcessId id;
    std::string name;
    TaskId main_task;
  };
  std::vector<ProcessRecord> processes_;
  std::vector<CrashRecord> crashes_;
  std::optional<uint64_t> crash_at_step_;
  CrashKind armed_kind_ = CrashKind::kPowerLoss;
  PowerLossChooser armed_chooser_;
  std::vector<Injection> injections_;
  // Set while a crash is applied: its effects are charged to this process.
  std::optional<ProcessId> crash_victim_;
  // Processes whose first ENOSPC has been seen (space freed at most once each).
  std::set<ProcessId> out_of_space_processes_;
  struct SpaceFreeing {
    uint64_t at_step = 0;
    ProcessId process = 0;
  };
  std::optional<SpaceFreeing> space_freeing_;
};

}  // namespace sim
