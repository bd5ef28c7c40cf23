#include "sim/fs/injection.h"

#include <fmt/format.h>

namespace sim {

std::string_view FaultClassName(FaultClass fault) {
  switch (fault) {
    case FaultClass::kReadError: return "eio-read";
    case FaultClass::kWriteError: return "eio-write";
    case FaultClass::kSyncError: return "eio-sync";
    case FaultClass::kDirSyncError: return "eio-dirsync";
    case FaultClass::kFsyncFailure: return "fsync-failure";
    case FaultClass::kNoSpace: return "enospc";
    case FaultClass::kReadFlip: return "read-flip";
    case FaultClass::kStoredRot: return "stored-rot";
    case FaultClass::kTornWrite: return "torn-write";
    case FaultClass::kLostUnsynced: return "lost-unsynced";
    case FaultClass::kDirEntryLoss: return "dir-entry-loss";
  }
  return "?";
}

std::string Injection::Summary() const {
  return fmt::format("{} {}: {}", FaultClassName(fault), path, detail);
}

}  // namespace sim
