// What a power loss leaves of one file's contents under each crash model
// (internal to sim/fs; SimFileSystem applies it to every file).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "sim/decision.h"
#include "sim/fs/injection.h"
#include "sim/fs/log_entry.h"
#include "sim/fs/sim_fs.h"

namespace sim {

struct DataCrashOutcome {
  // The file's contents after the power loss; none when they are the
  // durable image as it was (no copy of an untouched file's bytes).
  std::optional<std::string> image;
  std::optional<FaultClass> fault;  // kLostUnsynced or kTornWrite if the model destroyed something
  std::string detail;               // "kept 2 of 5 unsynced writes", "write torn at byte 100 of 512"
};

// Applies `model` to a file whose durable image is `durable` and whose
// unsynced log is `log`. The first `kept_at_least` entries survive whatever
// the model draws (ext4's auto_da_alloc: writes before a kept rename).
// REQUIRES: kept_at_least <= log.size().
DataCrashOutcome ApplyDataCrashModel(CrashModel model, const std::string& durable,
                                     std::span<const LogEntry> log, size_t kept_at_least,
                                     DecisionSource& decisions);

}  // namespace sim
