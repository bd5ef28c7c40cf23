#include "properties/real/kill_in_write.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/common/assert.h"
#include "engine/env/file_system_wrapper.h"

namespace properties {

namespace {

// Arms a one-shot timer that sends this process SIGKILL after `delay_ns`.
void ArmKillTimer(uint32_t delay_ns) {
  sigevent event{};
  event.sigev_notify = SIGEV_SIGNAL;
  event.sigev_signo = SIGKILL;
  timer_t timer{};
  SS_ASSERT(timer_create(CLOCK_MONOTONIC, &event, &timer) == 0, "timer_create: {}", std::strerror(errno));
  itimerspec when{};
  when.it_value.tv_nsec = std::max<uint32_t>(delay_ns, 1);  // (zero would disarm it)
  SS_ASSERT(timer_settime(timer, 0, &when, nullptr) == 0, "timer_settime: {}", std::strerror(errno));
}

class KillInWriteFile final : public engine::FileWrapper {
 public:
  KillInWriteFile(std::unique_ptr<engine::File> target, std::function<void(size_t)> before_write)
      : FileWrapper(std::move(target)), before_write_(std::move(before_write)) {}

  absl::Status WriteAt(uint64_t offset, std::span<const char> data) override {
    before_write_(data.size());
    return FileWrapper::WriteAt(offset, data);
  }
  absl::Status Append(std::span<const char> data) override {
    before_write_(data.size());
    return FileWrapper::Append(data);
  }

 private:
  std::function<void(size_t)> before_write_;
};

}  // namespace

class KillInWriteEnv::Fs final : public engine::FileSystemWrapper {
 public:
  Fs(engine::FileSystem& target, KillInWrite plan, std::function<void()> before_kill)
      : FileSystemWrapper(target), plan_(plan), before_kill_(std::move(before_kill)) {
    SS_ASSERT(plan_.ordinal >= 1, "kill in write #{}", plan_.ordinal);
  }

  absl::StatusOr<std::unique_ptr<engine::File>> Open(std::string_view path, engine::OpenMode mode) override {
    auto file = FileSystemWrapper::Open(path, mode);
    const bool wal = path.starts_with("wal/") || path.find("/wal/") != std::string_view::npos;
    if (!file.ok() || !wal) return file;
    return std::unique_ptr<engine::File>(
        std::make_unique<KillInWriteFile>(*std::move(file), [this](size_t bytes) { BeforeWrite(bytes); }));
  }

 private:
  void BeforeWrite(size_t bytes) {
    if (bytes < kMultiPageWriteBytes) return;
    if (multi_page_writes_.fetch_add(1) + 1 != plan_.ordinal) return;
    before_kill_();
    ArmKillTimer(plan_.delay_ns);
  }

  const KillInWrite plan_;
  const std::function<void()> before_kill_;
  std::atomic<uint32_t> multi_page_writes_{0};
};

KillInWriteEnv::KillInWriteEnv(engine::PosixEnv& target, KillInWrite plan, std::function<void()> before_kill)
    : EnvWrapper(target), fs_(std::make_unique<Fs>(target.fs(), plan, std::move(before_kill))) {}

KillInWriteEnv::~KillInWriteEnv() = default;

engine::FileSystem& KillInWriteEnv::fs() { return *fs_; }

}  // namespace properties
