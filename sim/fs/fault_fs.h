// FaultInjectingFileSystem: a wrapper (RocksDB's FaultInjectionTestFS idea)
// around any engine::FileSystem that injects faults at per-run rates, each
// decided by the run's DecisionSource. A rate of 0 draws nothing, so turning
// a fault off never shifts a run's other decisions.
//
// Faults: EIO on read, write and sync (DataLoss "EIO ..."); a failed sync
// also calls the sync-failure hook (the world wires it to
// SimFileSystem::DropDirtyPages: Linux forgets the dirty pages, and a later
// sync reports success); a silent bit flip in the buffer a read returns
// (the stored data is intact; checksums must catch it). ENOSPC comes from
// the inner file system's capacity.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/env/env.h"
#include "sim/decision.h"

namespace sim {

struct FaultRates {
  double read_error = 0;
  double write_error = 0;
  double sync_error = 0;
  double bit_flip_on_read = 0;
};

struct FaultCounts {
  uint64_t read_errors = 0;
  uint64_t write_errors = 0;
  uint64_t sync_errors = 0;
  uint64_t bit_flips = 0;
};

class FaultInjectingFileSystem final : public engine::FileSystem {
 public:
  FaultInjectingFileSystem(engine::FileSystem& inner, FaultRates rates, DecisionSource& decisions)
      : inner_(inner), rates_(rates), decisions_(decisions) {}

  void set_rates(FaultRates rates) { rates_ = rates; }
  const FaultRates& rates() const { return rates_; }
  const FaultCounts& counts() const { return counts_; }
  FaultCounts& mutable_counts() { return counts_; }
  void set_sync_failure_hook(std::function<void(std::string_view path)> hook) {
    sync_failure_hook_ = std::move(hook);
  }
  void set_on_fault(std::function<void(std::string_view description)> hook) {
    on_fault_ = std::move(hook);
  }

  absl::StatusOr<std::unique_ptr<engine::File>> Open(std::string_view path,
                                                     engine::OpenMode mode) override;
  absl::Status Mkdir(std::string_view path) override { return inner_.Mkdir(path); }
  absl::Status Rmdir(std::string_view path) override { return inner_.Rmdir(path); }
  absl::Status Unlink(std::string_view path) override { return inner_.Unlink(path); }
  absl::Status Rename(std::string_view from, std::string_view to) override {
    return inner_.Rename(from, to);
  }
  absl::Status SyncDir(std::string_view path) override;
  absl::StatusOr<std::vector<engine::DirEntry>> ListDir(std::string_view path) override {
    return inner_.ListDir(path);
  }
  absl::StatusOr<engine::EntryKind> Stat(std::string_view path) override {
    return inner_.Stat(path);
  }

  // ---- Used by the file wrapper. ----
  // Returns an injected error for `call` on `path`, or OK.
  absl::Status MaybeFail(double rate, uint64_t& counter, std::string_view call,
                         std::string_view path);
  void MaybeFlipBit(std::span<char> buffer, size_t length, std::string_view path);
  void SyncFailed(std::string_view path);

 private:
  engine::FileSystem& inner_;
  FaultRates rates_;
  DecisionSource& decisions_;
  FaultCounts counts_;
  std::function<void(std::string_view)> sync_failure_hook_;
  std::function<void(std::string_view)> on_fault_;
};

}  // namespace sim
