// Internal to properties/real/: the driver of one real-world run. Files:
//   real_run.cc       epochs, clients as threads, their steps, the recovery
//                     check after every reload
//   real_restores.cc  restores over the live shard between epochs, and every
//                     snapshot restored and checked at the end
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/env/posix_env.h"
#include "engine/snapshot/partial_snapshot.h"
#include "properties/history.h"
#include "properties/real/real_run.h"
#include "properties/scenario.h"
#include "properties/taken_snapshot.h"
#include "sim/decision.h"

namespace properties {

class RealRun {
 public:
  explicit RealRun(const RealRunConfig& config);
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
  bool CheckRecovered(engine::LocalShard& shard);
  void Client(engine::LocalShard& shard, size_t epoch, int client);
  void Execute(engine::LocalShard& shard, const Step& step);
  void DoUpdate(engine::LocalShard& shard, const Step& step);
  void NoteUpdateResult(const engine::UpdateResult& result);
  void Plunge(engine::LocalShard& shard);
  void Optimize(engine::LocalShard& shard, bool vacuum);
  void Snapshot(engine::LocalShard& shard, SnapshotKind kind, bool save_wal);
  void CheckAfterClients(engine::LocalShard& shard);

  // ---- real_restores.cc ----
  // Between epochs, as the simulated run draws it: an archive of this run
  // restored over the live shard (RestoreSnapshot's replace path).
  void MaybeRestoreOverLive();
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

  const RealRunConfig& config_;
  const ShardRunConfig drawn_;
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
};

}  // namespace properties
