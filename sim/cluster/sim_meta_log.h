// The metadata log of a simulated cluster: Raft replaced by a central,
// linearizable log owned by the supervisor side (it never crashes), with the
// behaviours the engine must survive kept (BRIEF-cluster §8): proposals are
// committed after a drawn delay, may be lost or duplicated; every peer
// applies the committed entries in the same order on its own apply task, at
// its own drawn pace; a restarted peer resumes after its durable applied
// index; a peer behind the compaction point gets the state installed.
//
// A proposal in flight is a task of the proposer's process: a crash of the
// proposer loses it (as an unsent Raft proposal would be lost).
//
// The log keeps a "leader state", the CollectionState after every committed
// entry, through a caller-supplied reducer (engine::ApplyMetaOp in
// production; a stub in tests), so this library does not link the engine's
// apply function. A compaction keeps (index, leader state) as the install
// snapshot: entries up to it are gone for any peer behind it.
//
// Draws: per proposal, in order: lost? duplicated? commit delay; the
// duplicate's delay if duplicated. Per commit: compaction? Per entry a peer
// applies: its apply lag.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/cluster/meta_log.h"
#include "sim/cluster/cluster_world.h"
#include "sim/sync.h"

namespace sim {

struct LogFaults {
  double loss = 0;         // per proposal
  double duplication = 0;  // per proposal
  int64_t min_commit_delay_ns = 100'000;
  int64_t max_commit_delay_ns = 1'000'000;
  int64_t min_apply_lag_ns = 0;  // per entry per peer
  int64_t max_apply_lag_ns = 500'000;
  double compaction = 0;  // per commit: the log compacts up to it

  // Nothing lost, duplicated or compacted; delays and lags still drawn.
  static LogFaults NoFault() { return {}; }
  static LogFaults Faulty() {
    return {.loss = 0.05,
            .duplication = 0.05,
            .min_commit_delay_ns = 100'000,
            .max_commit_delay_ns = 20'000'000,
            .min_apply_lag_ns = 0,
            .max_apply_lag_ns = 10'000'000,
            .compaction = 0.05};
  }
  // These faults with commits taking up to 100 ms, as Raft's do on a loaded
  // cluster (Qdrant's consensus ticks every 100 ms), instead of 1 ms (20 ms
  // when faulty).
  LogFaults WithSlowCommits() const {
    LogFaults slow = *this;
    slow.max_commit_delay_ns = std::max<int64_t>(max_commit_delay_ns, 100'000'000);
    return slow;
  }
};

struct LogStats {
  uint64_t proposals = 0;
  uint64_t lost = 0;        // dropped at proposal (not counting proposer crashes)
  uint64_t duplicated = 0;
  uint64_t committed = 0;
  uint64_t applied = 0;     // entries applied, summed over peers
  uint64_t installs = 0;
  uint64_t compactions = 0;
};

using MetaReducer = std::function<void(engine::CollectionState&, const engine::MetaOp&)>;
using MetaDescriber = std::function<std::string(const engine::MetaOp&)>;

class SimMetaLog;

// One peer incarnation's view of the log. Created by SimMetaLog::Attach,
// owned by the log, never reused by a later incarnation.
class PeerLogHandle final : public engine::MetadataLog {
 public:
  // ---- engine::MetadataLog. Waiting calls REQUIRE a task. ----
  void Propose(const engine::MetaOp& op) override;
  // Also returns Aborted when the entry was skipped by a state install on
  // this peer (the outcome is unknown), Unavailable after Detach.
  absl::StatusOr<engine::ApplyOutcome> ProposeAndWait(const engine::MetaOp& op, int64_t timeout_ns) override;
  uint64_t applied_index() override { return cursor_; }
  uint64_t committed_index() override;
  absl::Status AwaitAllApplied(uint64_t index, int64_t timeout_ns) override;
  bool Idle() override;

  PeerId peer() const { return peer_; }
  ProcessId process() const { return process_; }
  // Not detached and its incarnation not crashed.
  bool live() const;

 private:
  friend class SimMetaLog;
  PeerLogHandle(SimMetaLog& log, PeerId peer, ProcessId process, engine::MetaApplier& applier)
      : log_(log), peer_(peer), process_(process), applier_(applier) {}

  void ApplyLoop();
  void ResumeFromDurableIndex();
  void InstallCompacted();
  void ApplyNext();

  SimMetaLog& log_;
  const PeerId peer_;
  const ProcessId process_;
  engine::MetaApplier& applier_;
  uint64_t cursor_ = 0;
  bool detached_ = false;
  // Proposals ProposeAndWait waits for: proposal id -> the first outcome.
  std::map<uint64_t, std::optional<absl::StatusOr<engine::ApplyOutcome>>> waiting_;
};

class SimMetaLog {
 public:
  struct Entry {
    engine::MetaOp op;
    uint64_t proposal_id = 0;
    PeerId proposer = 0;  // 0 = the supervisor
  };

  // `describe` names an op in trace events (default: its variant index).
  SimMetaLog(ClusterWorld& world, LogFaults faults, MetaReducer reducer, MetaDescriber describe = nullptr);
  // Unwinds every unfinished task of the world first (they may use the
  // log). REQUIRES: not called from a task.
  ~SimMetaLog();
  SimMetaLog(const SimMetaLog&) = delete;
  SimMetaLog& operator=(const SimMetaLog&) = delete;

  // Binds a new handle to the peer's current incarnation and starts its
  // apply task in that process. REQUIRES: the peer is up and its current
  // incarnation has not attached before; `applier` outlives the
  // incarnation's tasks; the applier never waits on the log.
  PeerLogHandle& Attach(PeerId peer, engine::MetaApplier& applier);
  // Ends the peer's apply task (after the entry it is applying): for a
  // clean stop, so the run can complete.
  void Detach(PeerId peer);
  // The handle of the peer's newest incarnation, or nullptr.
  PeerLogHandle* handle(PeerId peer);

  // Proposes `op` on behalf of `proposer` (0 = the supervisor) and returns
  // the proposal id; the proposal may be lost or duplicated.
  uint64_t ProposeFrom(PeerId proposer, const engine::MetaOp& op);
  // Compacts the log up to the last committed entry now.
  void Compact();

  uint64_t committed_index() const { return entries_.size(); }
  const std::vector<Entry>& entries() const { return entries_; }
  const engine::CollectionState& leader_state() const { return leader_state_; }
  uint64_t compaction_index() const { return compaction_index_; }
  // True when every live handle has applied `index`.
  bool AllLiveApplied(uint64_t index) const;
  const LogStats& stats() const { return stats_; }
  const LogFaults& faults() const { return faults_; }
  void set_faults(LogFaults faults);

 private:
  friend class PeerLogHandle;
  class ChangeWaitable final : public Waitable {
   public:
    std::string Describe() const override { return "metadata log change"; }
  };

  void Commit(const Entry& entry);
  void SpawnCommit(Entry entry, int64_t delay_ns);
  // Blocks the calling task until the next change (commit, apply, install,
  // detach, crash) or the deadline. Returns false at the deadline or when
  // the task is unwinding.
  bool WaitForChange(std::optional<int64_t> deadline_ns);
  void NotifyChanged() { changed_.WakeAll(scheduler_); }
  std::string Describe(const engine::MetaOp& op) const;
  void TraceMeta(uint64_t index, const std::string& detail);
  int64_t DrawBetween(int64_t low_ns, int64_t high_ns);

  ClusterWorld& world_;
  Scheduler& scheduler_;
  DecisionSource& decisions_;
  LogFaults faults_;
  MetaReducer reducer_;
  MetaDescriber describe_;
  LogStats stats_;
  std::vector<Entry> entries_;  // index = position + 1
  engine::CollectionState leader_state_;
  uint64_t compaction_index_ = 0;
  engine::CollectionState compacted_state_;
  // Proposal id -> index of its first committed copy.
  std::map<uint64_t, uint64_t> first_index_of_proposal_;
  uint64_t next_proposal_id_ = 1;
  std::vector<std::unique_ptr<PeerLogHandle>> handles_;  // every incarnation's
  std::map<PeerId, PeerLogHandle*> current_;
  ChangeWaitable change_waitable_;
  WaitQueue changed_;
  std::shared_ptr<bool> alive_;  // the world's crash listener checks it
};

}  // namespace sim
