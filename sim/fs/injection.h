// The injection log: one record per fault the simulated world injected or per
// crash-model effect that destroyed data, so a failing run can say exactly
// what the engine was up against ("eio-sync shard/wal/3 at step 812").
//
// Who records what:
// - FaultInjectingFileSystem: kReadError, kWriteError, kSyncError,
//   kFsyncFailure, kDirSyncError, kReadFlip, and kNoSpace when the inner file
//   system refused a write for lack of space;
// - SimFileSystem at a power loss: kLostUnsynced, kTornWrite, kDirEntryLoss;
// - World::MaybeRotStoredBlock: kStoredRot.
// Recorders fill fault, path and detail; the world fills step and process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace sim {

enum class FaultClass : uint8_t {
  kReadError,     // EIO returned by a read
  kWriteError,    // EIO returned by a write or append; nothing was written
  kSyncError,     // EIO returned by a sync; the dirty pages stay dirty
  kDirSyncError,  // EIO returned by a directory sync; its entries stay pending
  kFsyncFailure,  // EIO returned by a sync and the dirty pages dropped (fsyncgate)
  kNoSpace,       // ENOSPC returned by a write, append or truncate
  kReadFlip,      // one bit flipped in the buffer a read returned
  kStoredRot,     // one bit flipped in a file's durable image (latent rot)
  kTornWrite,     // a power loss kept only a prefix of a write's bytes
  kLostUnsynced,  // a power loss dropped some of a file's unsynced writes
  kDirEntryLoss,  // a power loss dropped a pending directory operation
};
inline constexpr size_t kFaultClassCount = 11;

// "eio-read", "eio-write", "eio-sync", "eio-dirsync", "fsync-failure",
// "enospc", "read-flip", "stored-rot", "torn-write", "lost-unsynced",
// "dir-entry-loss".
std::string_view FaultClassName(FaultClass fault);

struct Injection {
  FaultClass fault = FaultClass::kReadError;
  // The file; for a directory-entry loss the entry's full path; for a
  // directory sync error the directory.
  std::string path;
  uint64_t step = 0;     // the trace step of the injection's kFault event
  uint32_t process = 0;  // whose call it hit (0 = the supervisor); for crash effects the crashed process
  std::string detail;    // what it did: "bit 3 of byte 17", "kept 2 of 5 unsynced writes"

  // "eio-sync shard/wal/3: EIO on sync shard/wal/3" (the trace event's detail).
  std::string Summary() const;
};

// Where file systems report injections; the world stamps step and process.
using InjectionSink = std::function<void(Injection)>;

}  // namespace sim
