#include "sim/sim_env.h"

#include <iterator>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "sim/sync.h"

namespace sim {

absl::Status TracingFileSystem::BeforeCall(const FsCall& call) {
  if (scheduler_.in_task()) scheduler_.Yield();
  if (before_call_) before_call_();
  const std::string_view name = FsCallName(call.kind);
  // Formatted into an inline buffer: this runs on every file-system call,
  // and a heap string here was one allocation per call (the hashed bytes
  // are the same).
  // Appended piece by piece, not through a format string (whose parsing
  // was half of this function): "<call> <path>[ -> <to_path>]".
  fmt::memory_buffer what;
  const auto append = [&what](std::string_view text) { what.append(text.data(), text.data() + text.size()); };
  append(name);
  append(" ");
  append(call.path);
  if (call.kind == FsCallKind::kRename) {
    append(" -> ");
    append(call.to_path);
  }
  const std::string_view detail(what.data(), what.size());
  if (scheduler_.IsProcessDead(scheduler_.current_process())) {
    // Inside a task this switches away and unwinds the task for good.
    if (scheduler_.in_task()) scheduler_.Yield();
    return absl::UnavailableError(fmt::format("{}: the process has crashed", detail));
  }
  ++calls_;
  scheduler_.trace().Record(EventKind::kFsCall, scheduler_.current(), call.arg, scheduler_.now_ns(), detail);
  return absl::OkStatus();
}

void SimEnv::SleepForNanos(int64_t duration_ns) {
  SS_ASSERT(duration_ns >= 0);
  scheduler_.SleepUntil(scheduler_.now_ns() + duration_ns);
}

std::unique_ptr<engine::Task> SimEnv::Spawn(std::string name, std::function<void()> body) {
  const TaskId id = scheduler_.Spawn(std::move(name), std::move(body));
  return std::make_unique<SimTask>(scheduler_, id);
}

void SimEnv::YieldPoint(std::string_view label) {
  if (!scheduler_.in_task()) return;
  scheduler_.trace().Record(EventKind::kMark, scheduler_.current(), 0, scheduler_.now_ns(), label);
  scheduler_.Yield();
}

void SimEnv::Log(std::string_view line) {
  scheduler_.trace().Record(EventKind::kLog, scheduler_.current(), 0, scheduler_.now_ns(), line);
  if (log_listener_) log_listener_(line);
}

std::unique_ptr<engine::Mutex> SimEnv::NewMutex(std::string name) {
  return std::make_unique<SimMutex>(scheduler_, std::move(name));
}

std::unique_ptr<engine::RwLock> SimEnv::NewRwLock(std::string name) {
  return std::make_unique<SimRwLock>(scheduler_, std::move(name));
}

std::unique_ptr<engine::CondVar> SimEnv::NewCondVar(engine::Mutex& mutex, std::string name) {
  auto* sim_mutex = dynamic_cast<SimMutex*>(&mutex);
  SS_ASSERT(sim_mutex != nullptr, "condition {} bound to a mutex of another world", name);
  return std::make_unique<SimCondVar>(scheduler_, *sim_mutex, std::move(name));
}

}  // namespace sim
