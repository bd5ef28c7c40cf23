#include "sim/world.h"

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace sim {

World::World(WorldConfig config)
    : config_(std::move(config)),
      own_decisions_(std::make_unique<PrngSource>(config_.seed)),
      decisions_(own_decisions_.get()) {
  Build();
}

World::World(WorldConfig config, DecisionSource& decisions)
    : config_(std::move(config)), decisions_(&decisions) {
  Build();
}

void World::Build() {
  trace_.set_recording(config_.record_trace);
  scheduler_ = std::make_unique<Scheduler>(*decisions_, trace_, config_.scheduler);
  sim_fs_ = std::make_unique<SimFileSystem>();
  if (config_.profile.capacity_bytes > 0) sim_fs_->set_capacity_bytes(config_.profile.capacity_bytes);
  fault_fs_ = std::make_unique<FaultInjectingFileSystem>(*sim_fs_, config_.profile.faults, *decisions_);
  fault_fs_->set_sync_failure_hook([this](std::string_view path) { sim_fs_->DropDirtyPages(path); });
  fault_fs_->set_on_fault([this](std::string_view description) {
    trace_.Record(EventKind::kFault, scheduler_->current(), 0, scheduler_->now_ns(), description);
  });
  env_ = std::make_unique<SimEnv>(*scheduler_, *fault_fs_);
  scheduler_->set_before_step([this] { CheckCrashPoint(); });
  env_->tracing_fs().set_before_call([this] { CheckCrashPoint(); });
  if (config_.crash_at_step) CrashAtStep(*config_.crash_at_step, config_.crash_kind);
}

World::~World() {
  // Unwind every task while the objects they use still exist.
  scheduler_->UnwindAll();
}

RunResult World::RunSupervisor(std::function<void()> body) {
  scheduler_->Spawn("supervisor", std::move(body), ProcessId{0});
  return scheduler_->Run();
}

ProcessId World::StartProcess(std::string name, std::function<void()> main) {
  SS_ASSERT(scheduler_->current_process() == 0, "processes are started by the supervisor");
  const ProcessId id = static_cast<ProcessId>(processes_.size() + 1);
  trace_.Record(EventKind::kRestart, scheduler_->current(), id, scheduler_->now_ns(), name);
  const TaskId main_task = scheduler_->Spawn(name + ".main", std::move(main), id);
  processes_.push_back({id, std::move(name), main_task});
  return id;
}

bool World::WaitProcess(ProcessId process) {
  SS_ASSERT(process >= 1 && process <= processes_.size(), "unknown process {}", process);
  scheduler_->Join(processes_[process - 1].main_task);
  return scheduler_->IsProcessDead(process);
}

void World::Crash(CrashKind kind) {
  ProcessId victim = 0;
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) {
    if (!scheduler_->IsProcessDead(it->id) && !scheduler_->IsFinished(it->main_task)) {
      victim = it->id;
      break;
    }
  }
  if (victim == 0) return;  // nothing running to crash
  const CrashModel model =
      config_.profile.crash_models.at(decisions_->Draw(config_.profile.crash_models.size()));
  crashes_.push_back({trace_.steps(), victim, kind, model});
  trace_.Record(EventKind::kCrash, scheduler_->current(), victim, scheduler_->now_ns(),
                fmt::format("{} {}", CrashKindName(kind), CrashModelName(model)));
  scheduler_->KillProcess(victim);
  const absl::Status status = sim_fs_->Crash(kind, model, *decisions_);
  SS_ASSERT(status.ok(), "file-system crash failed: {}", status.ToString());
  // A process that crashes itself stops here: it must not go on running
  // (or run destructors that block) in normal flow.
  if (scheduler_->in_task() && scheduler_->current_process() == victim &&
      !scheduler_->current_unwinding()) {
    scheduler_->Yield();
  }
}

void World::CrashAtStep(uint64_t step, CrashKind kind) {
  crash_at_step_ = step;
  armed_kind_ = kind;
}

void World::CheckCrashPoint() {
  if (!crash_at_step_ || trace_.steps() < *crash_at_step_) return;
  crash_at_step_.reset();
  Crash(armed_kind_);
}

}  // namespace sim
