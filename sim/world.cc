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
  SS_ASSERT(!config_.profile.crash_models.empty(), "profile '{}' has no crash model", config_.profile.name);
  sim_fs_ = std::make_unique<SimFileSystem>();
  sim_fs_->set_directory_model(config_.profile.directory_model);
  sim_fs_->set_allocation_unit_bytes(config_.profile.allocation_unit_bytes);
  sim_fs_->set_injection_sink([this](Injection injection) { RecordInjection(std::move(injection)); });
  fault_fs_ = std::make_unique<FaultInjectingFileSystem>(*sim_fs_, config_.profile.faults, *decisions_);
  fault_fs_->set_sync_failure_hook([this](std::string_view path) { sim_fs_->DropDirtyPages(path); });
  fault_fs_->set_injection_sink([this](Injection injection) { RecordInjection(std::move(injection)); });
  env_ = std::make_unique<SimEnv>(*scheduler_, *fault_fs_);
  scheduler_->set_before_step([this] { OnStep(); });
  env_->tracing_fs().set_before_call([this] { OnStep(); });
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
  if (uint64_t headroom = config_.profile.capacity_headroom_bytes; headroom > 0) {
    const uint64_t room = config_.profile.archive_room_bytes;
    if (room > 0 && decisions_->Chance(0.5)) headroom += room;
    sim_fs_->set_capacity_bytes(sim_fs_->total_bytes() + headroom);
    space_freeing_.reset();  // the new capacity supersedes an older process's pending freeing
  }
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

std::optional<ProcessId> World::NewestLiveProcess() const {
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) {
    if (!scheduler_->IsProcessDead(it->id) && !scheduler_->IsFinished(it->main_task)) return it->id;
  }
  return std::nullopt;
}

void World::Crash(CrashKind kind) { CrashChoosing(kind, config_.power_loss_chooser); }

void World::CrashChoosing(CrashKind kind, const PowerLossChooser& chooser) {
  const std::optional<ProcessId> live = NewestLiveProcess();
  if (!live) return;  // nothing running to crash
  const ProcessId victim = *live;
  const bool power_loss = kind == CrashKind::kPowerLoss;
  const bool chosen = power_loss && chooser != nullptr;
  // Only a drawn power loss needs a model: a process crash keeps everything.
  const CrashModel model = power_loss && !chosen ? config_.profile.crash_models.at(
                                                       decisions_->Draw(config_.profile.crash_models.size()))
                                                 : CrashModel::kDropAllUnsynced;
  crashes_.push_back({trace_.steps(), victim, kind, model, chosen});
  const std::string what = !power_loss ? std::string(CrashKindName(kind))
                           : chosen    ? fmt::format("{} chosen", CrashKindName(kind))
                                       : fmt::format("{} {}", CrashKindName(kind), CrashModelName(model));
  trace_.Record(EventKind::kCrash, scheduler_->current(), victim, scheduler_->now_ns(), what);
  scheduler_->KillProcess(victim);
  crash_victim_ = victim;
  absl::Status status;
  if (chosen) {
    const std::vector<bool> keep = chooser(sim_fs_->PendingOperations());
    status = sim_fs_->PowerLossKeeping(keep);
  } else {
    status = sim_fs_->Crash(kind, model, *decisions_);
  }
  crash_victim_.reset();
  SS_ASSERT(status.ok(), "file-system crash failed: {}", status.ToString());
  // A process that crashes itself stops here: it must not go on running
  // (or run destructors that block) in normal flow.
  if (scheduler_->in_task() && scheduler_->current_process() == victim &&
      !scheduler_->current_unwinding()) {
    scheduler_->Yield();
  }
}

void World::CrashAtStep(uint64_t step, CrashKind kind, PowerLossChooser chooser) {
  crash_at_step_ = step;
  armed_kind_ = kind;
  armed_chooser_ = std::move(chooser);
}

void World::OnStep() {
  CheckCrashPoint();
  MaybeFreeSpace();
}

void World::RecordInjection(Injection injection, std::optional<ProcessId> process_override) {
  if (process_override) {
    injection.process = *process_override;
  } else if (crash_victim_) {
    injection.process = *crash_victim_;
  } else {
    injection.process = scheduler_->in_task() ? scheduler_->current_process() : 0;
  }
  injection.step = trace_.Record(EventKind::kFault, scheduler_->current(), static_cast<uint64_t>(injection.fault),
                                 scheduler_->now_ns(), injection.Summary());
  const FaultClass fault = injection.fault;
  const ProcessId process = injection.process;
  injections_.push_back(std::move(injection));
  // An operator may free space after a process first runs out of it.
  if (fault == FaultClass::kNoSpace && process != 0 && config_.profile.capacity_headroom_bytes > 0 &&
      out_of_space_processes_.insert(process).second &&
      decisions_->Rare(config_.profile.space_freed_probability)) {
    space_freeing_ = SpaceFreeing{trace_.steps() + decisions_->Between(50, 2000), process};
  }
}

void World::MaybeFreeSpace() {
  if (!space_freeing_ || trace_.steps() < space_freeing_->at_step) return;
  const ProcessId process = space_freeing_->process;
  space_freeing_.reset();
  // Only while that process still runs: a restart sizes the disk anew.
  if (NewestLiveProcess() != process) return;
  const uint64_t before = sim_fs_->capacity_bytes();
  const uint64_t after = before + config_.profile.capacity_headroom_bytes;
  sim_fs_->set_capacity_bytes(after);
  trace_.Record(EventKind::kOperator, scheduler_->current(), process, scheduler_->now_ns(),
                fmt::format("freed {} bytes: capacity {} -> {} bytes", after - before, before, after));
}

std::optional<Injection> World::MaybeRotStoredBlock(std::string_view under) {
  SS_ASSERT(!NewestLiveProcess(), "stored rot is injected while no engine process runs");
  if (!decisions_->Rare(config_.profile.faults.stored_rot)) return std::nullopt;
  const std::vector<SimFileSystem::StoredFile> files = sim_fs_->StoredFiles(under);
  if (files.empty()) return std::nullopt;
  const SimFileSystem::StoredFile& file = files[decisions_->Draw(files.size())];
  const uint64_t bit = decisions_->Draw(file.durable_bytes * 8);
  const absl::Status status = sim_fs_->FlipStoredBit(file.path, bit);
  SS_ASSERT(status.ok(), "stored rot of {}: {}", file.path, status.ToString());
  RecordInjection({.fault = FaultClass::kStoredRot,
                   .path = file.path,
                   .detail = fmt::format("bit {} of byte {} of the {} stored bytes flipped", bit % 8, bit / 8,
                                         file.durable_bytes)},
                  ProcessId{0});
  return injections_.back();
}

void World::CheckCrashPoint() {
  if (!crash_at_step_ || trace_.steps() < *crash_at_step_) return;
  crash_at_step_.reset();
  // (Moved out first: the chooser belongs to this crash alone.)
  const PowerLossChooser chooser = std::move(armed_chooser_);
  armed_chooser_ = nullptr;
  CrashChoosing(armed_kind_, chooser ? chooser : config_.power_loss_chooser);
}

}  // namespace sim
