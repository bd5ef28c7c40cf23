// FaultInjectingFileSystem: a wrapper (RocksDB's FaultInjectionTestFS idea)
// around any engine::FileSystem that injects faults at per-run rates, each
// decided by the run's DecisionSource. A rate of 0 draws nothing, so turning
// a fault off never shifts a run's other decisions.
//
// Faults, each an absl::DataLoss "EIO on <call> <path>":
// - read_error: a read fails; write_error: a write or append fails and
//   writes nothing;
// - sync_error: a sync fails and the dirty pages stay dirty (a retry may
//   still persist them);
// - fsync_failure: a sync fails and the sync-failure hook runs (the world
//   wires it to SimFileSystem::DropDirtyPages: Linux forgets the dirty pages
//   and a later sync reports success: fsyncgate);
// - dir_sync_error: a directory sync fails; its pending entries stay pending;
// - bit_flip_on_read: one bit flips in the buffer a read returns (the stored
//   data is intact; checksums must catch it).
// ENOSPC comes from the inner file system's capacity; it is reported as a
// kNoSpace injection. stored_rot is not drawn here (World::MaybeRotStoredBlock).
// Every injection goes to the injection sink (FaultClass, path, detail).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/env/env.h"
#include "engine/env/file_system_wrapper.h"
#include "sim/decision.h"
#include "sim/fs/injection.h"

namespace sim {

struct FaultRates {
  double read_error = 0;
  double write_error = 0;
  double sync_error = 0;      // EIO; dirty pages kept
  double fsync_failure = 0;   // EIO; dirty pages dropped
  double dir_sync_error = 0;  // EIO on SyncDir; entries stay pending
  double bit_flip_on_read = 0;
  double stored_rot = 0;  // per World::MaybeRotStoredBlock call

  bool operator==(const FaultRates&) const = default;
};

struct FaultCounts {
  uint64_t read_errors = 0;
  uint64_t write_errors = 0;
  uint64_t sync_errors = 0;
  uint64_t fsync_failures = 0;
  uint64_t dir_sync_errors = 0;
  uint64_t bit_flips = 0;
  uint64_t no_space = 0;
};

// Overrides only Open (to wrap each file it opens, whose reads, writes and
// syncs it can fail) and SyncDir; the other calls forward unchanged.
class FaultInjectingFileSystem final : public engine::FileSystemWrapper {
 public:
  FaultInjectingFileSystem(engine::FileSystem& inner, FaultRates rates, DecisionSource& decisions)
      : FileSystemWrapper(inner), rates_(rates), decisions_(decisions) {}

  void set_rates(FaultRates rates) { rates_ = rates; }
  const FaultRates& rates() const { return rates_; }
  const FaultCounts& counts() const { return counts_; }
  void set_sync_failure_hook(std::function<void(std::string_view path)> hook) {
    sync_failure_hook_ = std::move(hook);
  }
  void set_injection_sink(InjectionSink sink) { injection_sink_ = std::move(sink); }

  absl::StatusOr<std::unique_ptr<engine::File>> Open(std::string_view path,
                                                     engine::OpenMode mode) override;
  absl::Status SyncDir(std::string_view path) override;

 private:
  // The file wrapper: draws its faults through the members below.
  class FaultyFile;

  // With probability `rate`: counts, reports `fault` and returns
  // DataLoss "EIO on <call> <path>"; otherwise OK.
  absl::Status MaybeFail(double rate, FaultClass fault, uint64_t& counter, std::string_view call,
                         std::string_view path, std::string_view consequence);
  void MaybeFlipBit(std::span<char> buffer, size_t length, uint64_t offset, std::string_view path);
  void SyncFailed(std::string_view path);
  // Reports kNoSpace if the inner file system refused a change for lack of
  // space; returns `status` unchanged.
  absl::Status NoteNoSpace(absl::Status status, std::string_view path);
  void Report(FaultClass fault, std::string_view path, std::string detail);

  FaultRates rates_;
  DecisionSource& decisions_;
  FaultCounts counts_;
  std::function<void(std::string_view)> sync_failure_hook_;
  InjectionSink injection_sink_;
};

}  // namespace sim
