// Internal to properties/: the driver of one simulated shard run, shared by
// seeded runs, recorded runs and scenario replays (shard_run.cc holds the
// supervision and the steps, shard_run_checks.cc the read and restore
// checks).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/common/coverage.h"
#include "engine/shard/local_shard.h"
#include "properties/history.h"
#include "properties/scenario.h"
#include "properties/shard_run.h"
#include "properties/workload.h"
#include "sim/world.h"

namespace properties {

// Where a run's choices come from. Seeded and recorded runs draw steps
// from `workload`; a replay takes them from `script`. `record`, when set,
// receives every step and crash drawn.
struct RunSources {
  sim::DecisionSource* world = nullptr;
  sim::DecisionSource* workload = nullptr;
  const Scenario* script = nullptr;
  Scenario* record = nullptr;
};

class Run {
 public:
  Run(const ShardRunConfig& config, RunSources sources);
  ShardRunResult Execute();

 private:
  static sim::WorldConfig MakeWorldConfig(const ShardRunConfig& config);
  engine::ShardOptions Options();
  engine::ShardOptions RestoreOptions();
  void OnTraceEvent(const sim::TraceEvent& event);
  void Supervise();
  size_t EpochCount() const;
  void ArmCrash(size_t epoch);
  void RunEpoch(size_t epoch);
  void PlantHiddenEntries();
  void VerifyFinalState();
  void EngineProcess(bool final_check);
  bool CheckRecovered(engine::LocalShard& shard);
  void CheckShardAfterClients(engine::LocalShard& shard);
  void Client(engine::LocalShard& shard, int client);
  void Execute(engine::LocalShard& shard, const Step& step);
  void MaybeDumpState(engine::LocalShard& shard);
  void DoUpdate(engine::LocalShard& shard, const Step& step);
  void Freeze(engine::LocalShard& shard);
  void Optimize(engine::LocalShard& shard);
  void Vacuum(engine::LocalShard& shard);
  void Snapshot(engine::LocalShard& shard, bool save_wal);
  void CheckRestores();
  void RestoreOne(size_t index);
  void CrashDuringRestore(size_t index, const std::string& dir);
  void RestoreDamaged(size_t index);
  bool CheckRestoredState(engine::LocalShard& shard, size_t index);
  void NoteUpdateResult(const engine::UpdateResult& result);
  void CheckRetrieve(engine::LocalShard& shard, engine::PointId id);
  void CheckScroll(engine::LocalShard& shard, const engine::Filter& filter);
  void CheckSearch(engine::LocalShard& shard, const engine::Vector& query, size_t k);
  void CheckCount(engine::LocalShard& shard, const engine::Filter& filter);
  // An error where none may happen: only injected faults excuse one.
  void FailUnlessFaulty(engine::LocalShard& shard, const char* what, const absl::Status& status);
  void Fail(std::string invariant, std::string what);
  bool failed() const { return !failure_.empty(); }
  // True once the run should wind down: a failure, or a replay's --until.
  bool stopping() const { return failed() || halted_; }

  const ShardRunConfig& config_;
  RunSources sources_;
  sim::World world_;
  std::optional<Workload> workload_;
  History history_;
  ShardRunStats stats_;
  std::string invariant_;
  std::string failure_;
  bool halted_ = false;
  bool state_dumped_ = false;
  bool load_failed_ = false;
  std::array<uint64_t, engine::kMarkCount> coverage_before_{};
  size_t epoch_ = 0;
  // Snapshots taken, with what a restore of each must show: the model after
  // exactly `frozen_through` (no WAL), or after some prefix between it and
  // the archived WAL's end.
  struct TakenSnapshot {
    std::string path;
    bool save_wal;
    std::optional<engine::SeqNumber> frozen_through;
    uint64_t wal_next_index;
    OperationHistory operations;  // the history when it was taken
    // The clocks of every op written up to the last op the snapshot may
    // hold (the freeze without WAL, the archived WAL's end with it): the
    // restored clocks may not be newer (nullopt: no bound known).
    std::optional<engine::ClockMap> clocks_bound;
  };
  std::vector<TakenSnapshot> snapshots_;
  int snapshot_counter_ = 0;
  static constexpr int kMaxLoadAttempts = 20;
  static constexpr size_t kMaxRestoresChecked = 3;
};

}  // namespace properties
