// A simulated cluster: N peers (ids 1..N) sharing one scheduler, one virtual
// clock, one DecisionSource and one trace, each with its own disk stack
// (SimFileSystem + FaultInjectingFileSystem with the profile's faults +
// SimEnv), exactly as World builds its one disk. A power loss of one peer
// touches only that peer's disk.
//
// Processes: process 0 is the supervisor (the test driver, and the home of
// the network's and the metadata log's in-flight messages); it never
// crashes. Each peer incarnation is a new process (StartPeer); CrashPeer
// fences it off, unwinds its tasks and applies the crash model to that
// peer's file system. Process ids are global and never reused.
//
// Not modelled (World has them): crash at a trace step, the operator freeing
// disk space after an ENOSPC, stored bit rot.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/cluster/replica_state.h"
#include "sim/decision.h"
#include "sim/fs/fault_fs.h"
#include "sim/fs/injection.h"
#include "sim/fs/sim_fs.h"
#include "sim/profile.h"
#include "sim/scheduler.h"
#include "sim/sim_env.h"
#include "sim/trace.h"

namespace sim {

using engine::PeerId;

inline constexpr int kMaxClusterPeers = 5;

struct ClusterConfig {
  uint64_t seed = 0;
  int peer_count = 3;  // 1..kMaxClusterPeers
  SchedulerConfig scheduler;
  PersistenceProfile profile = PersistenceProfile::NoFault();
  bool record_trace = false;
};

struct PeerCrashRecord {
  uint64_t step = 0;
  PeerId peer = 0;
  ProcessId process = 0;
  CrashKind kind = CrashKind::kPowerLoss;
  CrashModel model = CrashModel::kDropAllUnsynced;  // meaningful for a power loss only
};

struct PeerInjection {
  PeerId peer = 0;  // whose disk
  Injection injection;
};

class ClusterWorld {
 public:
  // Draws from a PRNG seeded with config.seed.
  explicit ClusterWorld(ClusterConfig config);
  // Draws from `decisions` (a tape, a recorder); config.seed is only reported.
  ClusterWorld(ClusterConfig config, DecisionSource& decisions);
  ~ClusterWorld();
  ClusterWorld(const ClusterWorld&) = delete;
  ClusterWorld& operator=(const ClusterWorld&) = delete;

  int peer_count() const { return config_.peer_count; }
  // The peers' ids, ascending.
  std::vector<PeerId> peers() const;
  engine::Env& env(PeerId peer) { return *slot(peer).env; }
  SimEnv& sim_env(PeerId peer) { return *slot(peer).env; }
  // For checkers: the peer's disk (durable and volatile state).
  SimFileSystem& fs(PeerId peer) { return *slot(peer).sim_fs; }
  FaultInjectingFileSystem& fault_fs(PeerId peer) { return *slot(peer).fault_fs; }
  Scheduler& scheduler() { return *scheduler_; }
  Trace& trace() { return trace_; }
  DecisionSource& decisions() { return *decisions_; }
  const ClusterConfig& config() const { return config_; }

  // Runs `body` as the supervisor (process 0) until every task is done.
  RunResult RunSupervisor(std::function<void()> body);

  // Starts `main` as the first task of a new process for `peer` and returns
  // its id (trace kRestart "peer<N>"). A previous incarnation whose main
  // returned is fenced off first (its leftover tasks are unwound). With a
  // capacity headroom, the peer's disk gets that much free space (as
  // World::StartProcess). REQUIRES: called from the supervisor; the peer is
  // not up.
  ProcessId StartPeer(PeerId peer, std::function<void()> main);
  // Blocks the calling task until the peer's main has returned or it
  // crashed. Returns true if it crashed. REQUIRES: the peer was started.
  bool WaitPeer(PeerId peer);
  // Crashes the peer's live incarnation now: fence, unwind (at once when
  // called from that process), apply the crash model to its disk only. The
  // model of a power loss is drawn from the profile. A no-op when the peer
  // is down. Callable from any task or from scheduler context.
  void CrashPeer(PeerId peer, CrashKind kind);

  // Started, not crashed, main not returned.
  bool IsPeerUp(PeerId peer) const;
  // The peer's newest incarnation (live or not); nullopt if never started.
  std::optional<ProcessId> current_process_id(PeerId peer) const;
  // The peer a process is (was) an incarnation of; nullopt for process 0.
  std::optional<PeerId> PeerOfProcess(ProcessId process) const;

  // Called (in the crashing context) after a peer's process was killed and
  // its disk crashed: the network and the metadata log wake their waiters.
  void AddCrashListener(std::function<void(PeerId)> listener) {
    crash_listeners_.push_back(std::move(listener));
  }

  const std::vector<PeerCrashRecord>& crashes() const { return crashes_; }
  // Every injection of the run so far, in order, with the disk's peer.
  const std::vector<PeerInjection>& injections() const { return injections_; }

 private:
  struct PeerSlot {
    PeerId id = 0;
    std::unique_ptr<SimFileSystem> sim_fs;
    std::unique_ptr<FaultInjectingFileSystem> fault_fs;
    std::unique_ptr<SimEnv> env;
    std::optional<ProcessId> process;
    TaskId main_task = kNoTask;
  };

  void Build();
  void BuildPeer(PeerSlot& slot);
  PeerSlot& slot(PeerId peer);
  const PeerSlot& slot(PeerId peer) const;
  void SizeDiskForStart(PeerSlot& slot);
  void RecordInjection(PeerId peer, Injection injection);

  ClusterConfig config_;
  std::unique_ptr<PrngSource> own_decisions_;
  DecisionSource* decisions_;
  Trace trace_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<PeerSlot> peers_;  // index = peer id - 1
  std::vector<PeerId> process_peers_;  // index = process id - 1
  std::vector<PeerCrashRecord> crashes_;
  std::vector<PeerInjection> injections_;
  // Set while a crash is applied: its effects are charged to this process.
  std::optional<ProcessId> crash_victim_;
  std::vector<std::function<void(PeerId)>> crash_listeners_;
};

}  // namespace sim
