// Persistence profiles: how a run's file system behaves at a crash and which
// faults it injects, as one bundle, so campaigns can sweep them. A profile is
// data: ToSpec prints it as a compact, space-free text and FromSpec reads it
// back exactly (grammar in docs/simulation.md).
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
  // A power loss applies one of these, drawn per crash. Never empty.
  std::vector<CrashModel> crash_models;
  DirectoryModel directory_model = DirectoryModel::kPerEntry;
  FaultRates faults;
  // 0 = unlimited. Otherwise each process starts with this much free space
  // above the bytes already stored (World::StartProcess).
  uint64_t capacity_headroom_bytes = 0;
  // After a process's first ENOSPC: the chance that an operator frees
  // another headroom of space a little later (at most once per process).
  double space_freed_probability = 0;
  // Set by SmallDisk() and by a draw that makes the disk small: the harness
  // sizes the headroom from its workload (SizedToWorkload) before the run,
  // so that most runs reach ENOSPC whatever their size. A sized profile has
  // it clear, and its spec carries the concrete headroom.
  bool headroom_from_workload = false;
  // With a headroom: about half the processes (a world decision at each
  // start) get this much more free space, room for a snapshot archive, so
  // that snapshots succeed in some processes and restores (unpacking in
  // others) run out of space too. Optional in a spec ("room=", 0 if absent).
  uint64_t archive_room_bytes = 0;
  // The file system allocates space in units of this size
  // (SimFileSystem::set_allocation_unit_bytes); 0 = byte-exact. Small disks
  // use 512-byte units, so a new file (a WAL segment's header) can run out of
  // space while a write inside a file's last unit still fits. Optional in a
  // spec ("unit=", 0 if absent).
  uint64_t allocation_unit_bytes = 0;

  // No faults; a power loss keeps exactly what was synced.
  static PersistenceProfile NoFault();
  // Strict POSIX: every power-loss model (drop, prefix, blocks, torn),
  // per-entry directories, no faults.
  static PersistenceProfile StrictPosix();
  // ext4 data=ordered: prefix of each file's unsynced writes, a global
  // prefix of directory operations, auto_da_alloc; no faults.
  static PersistenceProfile Ext4Ordered();
  // Strict POSIX plus every fault class at modest rates.
  static PersistenceProfile Faulty();
  // Strict POSIX with little free space per process, sized from the
  // workload (SizedToWorkload; 48 KiB until sized): ENOSPC in most runs.
  static PersistenceProfile SmallDisk();

  // One of the named profiles; nullopt for an unknown name.
  static std::optional<PersistenceProfile> Named(std::string_view name);
  static std::vector<std::string> Names();
  // A profile drawn per seed (swarm testing): the crash-model subset, the
  // directory model and each fault class (read, write, sync, fsync failure,
  // dir sync, read flip, stored rot, small disk) on or off independently;
  // about 46% of draws have at least one fault class on, at Faulty's rates.
  static PersistenceProfile Draw(DecisionSource& decisions);

  // With headroom_from_workload: the headroom for a run of `planned_ops`
  // updates (a few KiB: what a load needs plus a little per op), the flag
  // cleared. Otherwise the profile unchanged.
  PersistenceProfile SizedToWorkload(uint64_t planned_ops) const;

  // "faulty" for an unchanged named profile, else
  // "<name>{models=drop+prefix;dirs=per-entry;read=0.002;...;freed=0}".
  std::string ToSpec() const;
  // The profile a ToSpec text describes; nullopt for malformed text (an
  // unknown name or key, a missing or repeated key, a rate outside [0, 1],
  // no or repeated crash models).
  static std::optional<PersistenceProfile> FromSpec(std::string_view spec);

  // A readable one-liner naming every field.
  std::string Describe() const;
  // True if any fault class can fire (the checker then tolerates errors).
  bool HasFaults() const;

  bool operator==(const PersistenceProfile&) const = default;
};

std::string_view CrashModelName(CrashModel model);
std::string_view CrashKindName(CrashKind kind);
std::string_view DirectoryModelName(DirectoryModel model);

}  // namespace sim
