// A SIGKILL inside a write, for the kill -9 campaign's engine process.
//
// A process crash tears a write only between two pages: the kernel copies a
// write page by page and stops at the next page when the process gets a
// fatal signal. Copying a WAL entry of a few pages takes microseconds, which
// a kill sent by another process (milliseconds of pipe and scheduling
// latency away) cannot aim at. So for these kill plans the engine process
// arms a one-shot kernel timer that delivers SIGKILL `delay_ns` after the
// start of its `ordinal`-th multi-page WAL write, just before making the
// write: the signal comes from the kernel while the write is in the page
// cache copy, or just before or after it, and the file system keeps what a
// real kill -9 leaves there (docs/real.md).
//
// KillInWriteEnv forwards everything to a PosixEnv (EnvWrapper) but its
// file system, which wraps the files under a `wal/` directory
// (FileSystemWrapper).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "engine/env/env_wrapper.h"
#include "engine/env/posix_env.h"

namespace properties {

struct KillInWrite {
  uint32_t ordinal = 1;  // REQUIRES: >= 1; counts multi-page WAL writes
  uint32_t delay_ns = 0;
};

// Writes of at least this many bytes span a page boundary wherever they start.
inline constexpr size_t kMultiPageWriteBytes = 8192;

class KillInWriteEnv final : public engine::EnvWrapper {
 public:
  // `before_kill` runs just before the timer is armed (the child reports the
  // phase). REQUIRES: `target` outlives this.
  KillInWriteEnv(engine::PosixEnv& target, KillInWrite plan, std::function<void()> before_kill);
  ~KillInWriteEnv() override;

  engine::FileSystem& fs() override;

 private:
  class Fs;
  std::unique_ptr<Fs> fs_;
};

}  // namespace properties
