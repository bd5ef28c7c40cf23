// Persistence profiles: how a run's file system behaves at a crash and which
// faults it injects, as one named bundle, so campaigns can sweep them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/decision.h"
#include "sim/fs/fault_fs.h"
#include "sim/fs/sim_fs.h"

namespace sim {

struct PersistenceProfile {
  std::string name;
  // A power loss applies one of these, drawn per crash.
  std::vector<CrashModel> crash_models;
  FaultRates faults;
  // 0 = unlimited.
  uint64_t capacity_bytes = 0;

  // No faults; a power loss keeps exactly what was synced.
  static PersistenceProfile NoFault();
  // Strict POSIX: every power-loss model (drop, prefix, blocks, torn), no faults.
  static PersistenceProfile StrictPosix();
  // Strict POSIX plus rare EIO, failed syncs and bit flips.
  static PersistenceProfile Faulty();
  // A small disk: ENOSPC is reachable.
  static PersistenceProfile SmallDisk();

  // One of the named profiles; nullopt for an unknown name.
  static std::optional<PersistenceProfile> Named(std::string_view name);
  static std::vector<std::string> Names();
  // A profile drawn per seed: the crash models and each fault rate are
  // switched on or off independently (swarm testing).
  static PersistenceProfile Draw(DecisionSource& decisions);

  std::string Describe() const;
  bool HasFaults() const;
};

std::string_view CrashModelName(CrashModel model);
std::string_view CrashKindName(CrashKind kind);

}  // namespace sim
