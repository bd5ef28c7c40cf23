// Internal to properties/real/: the driver of one real-world run. Files:
//   real_run.cc       epochs, clients as threads, their steps, the recovery
//                     check after every reload
//   real_restores.cc  restores over the live shard between epochs, and every
//                     snapshot restored and checked at the end
//   real_crash.cc     kill -9 mode: each epoch in a child process, killed at a
//                     drawn moment, and the recovery checked after the kill
#pragma once

#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "engine/env/posix_env.h"
#include "engine/snapshot/partial_snapshot.h"
#include "properties/history.h"
#include "properties/real/crash_protocol.h"
#include "properties/real/real_run.h"
#include "properties/scenario.h"
#include "properties/taken_snapshot.h"
#include "sim/decision.h"

namespace properties {

class RealRun {
 public:
  explicit RealRun(const RealRunConfig& config);
  ~RealRun();
  RealRunResult Execute();

 private:
  // The engine's WAL hook, under the run's mutex (the engine calls it from
  // its own threads, holding its WAL mutex).
  class Observer final : public engine::ShardObserver {
   public:
    explicit Observer(RealRun& run) : run_(run) {}
    void OnWalAppend(engine::SeqNumber op_num, const engine::WalRecord& record) override;
    void OnWalSynced(uint64_t next_index) override;

   private:
    RealRun& run_;
  };

  // Calls fn(History&) under the mutex. REQUIRES: the mutex is not held.
  template <typename Fn>
  auto WithHistory(const Fn& fn) {
    std::lock_guard lock(mutex_);
    return fn(history_);
  }
  engine::ShardOptions Options();
  engine::ShardOptions RestoreOptions();

  // ---- real_run.cc ----
  void RunEpoch(size_t epoch);
  // Loads the live shard and checks it recovered what the history allows.
  // Returns the shard, or nullptr after a failure.
  std::unique_ptr<engine::LocalShard> LoadAndCheck();
  // `context`, when given, starts the failure's text and makes it a
  // restore-atomicity failure (the old shard after a killed restore).
  bool CheckRecovered(engine::LocalShard& shard, std::string_view context = "");
  void Client(engine::LocalShard& shard, size_t epoch, int client);
  void Execute(engine::LocalShard& shard, const Step& step);
  void DoUpdate(engine::LocalShard& shard, const Step& step);
  void NoteUpdateResult(const engine::UpdateResult& result);
  void Plunge(engine::LocalShard& shard);
  void Optimize(engine::LocalShard& shard, bool vacuum);
  void Snapshot(engine::LocalShard& shard, SnapshotKind kind, bool save_wal);
  void CheckAfterClients(engine::LocalShard& shard);

  // ---- real_crash.cc ----
  // When to kill a child: at the `ordinal`-th start of `phase` plus
  // `delay_us`, or (no phase) `at_ms` after it loaded.
  struct KillPlan {
    std::string phase;
    uint32_t ordinal = 1;
    int64_t delay_us = 0;
    int64_t at_ms = 0;
    bool never = false;
    // The child dies by its own kill timer inside its `ordinal`-th
    // multi-page WAL write, `delay_ns` after its start (kill_in_write.h).
    bool in_write = false;
    uint32_t delay_ns = 0;
    std::string Describe() const;
  };
  struct ChildOutcome {
    bool killed = false;  // by the plan (a live child got SIGKILL)
    bool ended = false;   // it sent `E`
    bool restore_done = false;
    std::string phase;  // the last phase it began
    std::string status;  // how it ended, as waitpid said
  };
  KillPlan DrawKillPlan(size_t epoch, bool restore);
  std::vector<std::string> ChildArguments(size_t epoch, const std::optional<std::string>& restore) const;
  // Starts the child and reads its reports until it ends or the plan kills it.
  ChildOutcome RunChild(const std::vector<std::string>& arguments, const KillPlan& plan);
  void ReadChild(int fd, pid_t pid, const KillPlan& plan, ChildOutcome& outcome);
  void HandleMessage(const crash::Message& message, ChildOutcome& outcome);
  void AddReportedSnapshot(const crash::SnapshotMade& made);
  void RunChildEpoch(size_t epoch);
  // After a kill: loads the shard, explains any ops the child wrote but was
  // killed before reporting by its updates in flight, and checks recovery.
  void CheckAfterKill();
  // The ops the WAL holds past the history's: some of the updates in flight,
  // in some order. Adopts the first order that explains the shard's state.
  bool AdoptUnreported(engine::LocalShard& shard);
  // The restore over the live shard in a child, killed midway at times:
  // the shard is then the old one, the snapshot, or dirty (restored again).
  void RestoreOverLiveInChild(size_t index, size_t epoch);

  // ---- real_restores.cc ----
  // Between epochs, as the simulated run draws it: an archive of this run
  // restored over the live shard (RestoreSnapshot's replace path).
  void MaybeRestoreOverLive(size_t epoch);
  void CheckRestores();
  void CheckRestore(size_t index);
  absl::StatusOr<std::unique_ptr<engine::LocalShard>> CallRestore(const TakenSnapshot& snapshot,
                                                                  const std::string& dir);

  // Nothing is injected: every error is a failure. `what` names the call.
  void FailOnError(std::string_view what, const absl::Status& status);
  void Fail(std::string invariant, std::string what);
  bool failed();
  template <typename Stat>
  void Count(Stat ShardRunStats::*stat) {
    std::lock_guard lock(mutex_);
    ++(stats_.*stat);
  }

  // The engine's log lines of this process (its loads after kills repair
  // what a kill left): to <dir>/run.log, and stdout with --verbose.
  void LogLine(std::string_view line);

  const RealRunConfig& config_;
  const ShardRunConfig drawn_;
  std::mutex log_mutex_;
  std::FILE* log_file_ = nullptr;
  engine::PosixEnv env_;
  Observer observer_{*this};
  // The supervisor's draws (restores over the live shard); the clients'
  // come from streams of their own.
  sim::PrngSource supervisor_decisions_;
  engine::PartialRecoveryRegistry partial_registry_;

  std::mutex mutex_;  // guards every member below
  History history_;
  ShardRunStats stats_;
  std::vector<TakenSnapshot> snapshots_;
  // Snapshots from here on are of the live shard's current lineage (a
  // restore over it replaced it before the one at this index).
  size_t lineage_start_ = 0;
  int snapshot_counter_ = 0;
  std::string invariant_;
  std::string failure_;
  // Kill -9 mode: updates in flight in the current child (by client), and
  // what the children did.
  std::map<int, engine::WalRecord> in_flight_;
  std::vector<engine::SeqNumber> child_ops_;  // the ops the current child wrote
  // The last op the history held when the current child loaded the shard.
  std::optional<engine::SeqNumber> applied_at_load_;
  uint64_t durable_below_ = 0;  // every op below was reported synced or completed
  CrashStats crash_stats_;
  std::vector<std::string> log_;
};

}  // namespace properties
