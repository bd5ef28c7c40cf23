// The engine process of a kill -9 campaign: one epoch of a seed's workload
// on a directory (or one restore over the live shard), reporting every step
// to its parent (properties/real/crash_protocol.h) until the parent kills
// it or it finishes. It checks nothing: the parent, which survives, does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "properties/real/kill_in_write.h"

namespace properties {

struct CrashChildConfig {
  uint64_t seed = 0;
  std::string dir;  // REQUIRES: exists (the shard is dir/shard)
  size_t epoch = 0;
  int report_fd = -1;  // REQUIRES: open for writing (a pipe to the parent)
  // Restore this archive (relative to dir) over the live shard, then exit.
  std::optional<std::string> restore_archive;
  // Die by SIGKILL inside a multi-page WAL write (kill_in_write.h).
  std::optional<KillInWrite> kill_in_write;
};

// Returns the process's exit code: 0 when it finished (`E` sent), 1 when
// an engine call failed (`F` sent), 2 when it could not report.
int RunCrashChild(const CrashChildConfig& config);

}  // namespace properties
