// Internal to properties/: the driver of one simulated shard run, shared by
// seeded runs, recorded runs and scenario replays. Files:
//   shard_run.cc          supervision, epochs, clients and their steps, and
//                         the recovery check after a reload
//   shard_run_checks.cc   read checks
//   restore_checks.cc     every snapshot restored at the end of the run
//   restore_over_live.cc  a snapshot restored over the live shard between
//                         epochs, and the replacement of a damaged shard
//   fault_rules.cc        what injected faults excuse (docs/faults.md)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/common/coverage.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/manifest.h"
#include "engine/snapshot/partial_snapshot.h"
#include "engine/snapshot/snapshot_create.h"
#include "properties/fault_ledger.h"
#include "properties/history.h"
#include "properties/scenario.h"
#include "properties/shard_run.h"
#include "properties/taken_snapshot.h"
#include "properties/workload.h"
#include "sim/decision.h"
#include "sim/world.h"

namespace properties {

// The live shard's directory.
inline constexpr char kShardDir[] = "shard";

// Where a run's choices come from. Seeded and recorded runs draw steps
// from `workload`; a replay takes them from `script`. `record`, when set,
// receives every step and crash drawn.
struct RunSources {
  sim::DecisionSource* world = nullptr;
  sim::DecisionSource* workload = nullptr;
  const Scenario* script = nullptr;
  Scenario* record = nullptr;
  // A replay's tape (the `world` source): where each script step's decisions
  // begin and end in it is reported for the shrinker.
  const sim::TapeSource* tape = nullptr;
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
  uint64_t TraceStep() { return world_.trace().steps(); }

  // ---- shard_run.cc ----
  void Supervise();
  size_t EpochCount() const;
  void ArmCrash(size_t epoch);
  // The chooser of a crash line's keep list: checked against the operations
  // pending at the crash (a mismatch fails the run, keeping everything).
  sim::PowerLossChooser KeepListChooser(std::vector<bool> keep);
  void RunEpoch(size_t epoch);
  // Starts the epoch's engine process until it loads (retrying loads an
  // injected fault refused). Returns true if it crashed.
  bool RunEngineProcess(size_t epoch);
  void PlantHiddenEntries();
  bool PowerLossSince(uint64_t step) const;
  // Whether a refused load of the shard is explained by detected rot of its
  // stored bytes.
  bool ShardHoldsRot();
  // After kMaxLoadAttempts refusals of the live shard: whether that is a
  // bug (some attempt refused with no fault injected in it, and no rot).
  bool ShardRefusesForNoReason();
  // Ends the run without a verdict on what follows (counted).
  void EndByFaults();
  void VerifyFinalState();
  void EngineProcess(bool final_check);
  void CheckShardAfterClients(engine::LocalShard& shard);
  void Client(engine::LocalShard& shard, int client);
  void Execute(engine::LocalShard& shard, const properties::Step& step);
  void MaybeDumpState(engine::LocalShard& shard);
  void DoUpdate(engine::LocalShard& shard, const properties::Step& step);
  void Freeze(engine::LocalShard& shard);
  void Optimize(engine::LocalShard& shard);
  void Vacuum(engine::LocalShard& shard);
  void Snapshot(engine::LocalShard& shard, bool save_wal);
  void PartialSnapshot(engine::LocalShard& shard);
  void CollectionSnapshot(engine::LocalShard& shard, bool save_wal);
  // What a snapshot's checks need from the moment it was asked for.
  struct SnapshotStart {
    uint64_t step = 0;
    std::optional<engine::SeqNumber> applied_before;
    bool shard_held_rot = false;
  };
  SnapshotStart BeginSnapshot();
  TakenSnapshot Taken(SnapshotKind kind, std::string path, bool save_wal, const engine::SnapshotInfo& info,
                      const SnapshotStart& start);
  void NoteUpdateResult(const engine::UpdateResult& result);

  bool CheckRecovered(engine::LocalShard& shard);

  // ---- shard_run_checks.cc ----
  // A client's read, checked against the history (docs/invariants.md I1).
  void CheckRead(engine::LocalShard& shard, const Step& step);
  // The ids a delete-by-filter resolved (docs/invariants.md I1).
  void CheckDeleteByFilter(const Step& step, std::optional<engine::SeqNumber> applied_before,
                           const engine::UpdateResult& result);

  // ---- restore_checks.cc ----
  void CheckRestores();
  std::vector<size_t> RestoresToCheck();
  void RestoreOne(size_t index);
  void RestoreShardArchive(size_t index, const std::string& dir);
  void RestorePartial(size_t index, const std::string& dir);
  void RestoreCollection(size_t index, const std::string& dir);
  void CrashDuringRestore(size_t index, const std::string& dir);
  void RestoreDamaged(size_t index);
  void ReloadAfterPowerLoss(size_t index, const std::string& dir);
  // The restore's call itself, by kind (into `dir`, the collection's shard
  // directory is dir/0). REQUIRES: run in an engine process.
  absl::StatusOr<std::unique_ptr<engine::LocalShard>> CallRestore(size_t index, const std::string& dir);
  std::string ShardDirOf(size_t index, const std::string& dir) const;
  // The prefix length of the snapshot's history the shard's state equals,
  // within what the snapshot promises; nullopt if none.
  std::optional<size_t> MatchRestored(engine::LocalShard& shard, const TakenSnapshot& snapshot);
  // Every check of a restored shard: state, structure, clocks, WAL.
  bool CheckRestoredState(engine::LocalShard& shard, size_t index);
  struct Problem {
    std::string invariant;
    std::string what;
  };
  // What CheckRestoredState would fail with, without failing.
  std::optional<Problem> RestoredProblem(engine::LocalShard& shard, size_t index);
  // A fault hit while the archive was written, or rot hit the archive (or
  // its sidecar) since: a restore may refuse it.
  bool ArchiveMayBeDamaged(const TakenSnapshot& snapshot) const;
  // Whether `shard_dir` loads to snapshot `index`'s state (retrying loads
  // that faults injected since `since_step` refuse); nullopt when all
  // kMaxLoadAttempts loads were refused so.
  std::optional<bool> HoldsSnapshot(size_t index, const std::string& shard_dir, uint64_t since_step);

  // ---- restore_over_live.cc ----
  // The epoch's `restore` line: the archive restored over the live shard
  // (sometimes crashed midway), leaving the old shard or the new one.
  void RestoreOverLive(const std::string& archive);
  // A shard that refuses to load for good after rot of its files was
  // detected; the operator restores the newest snapshot over it, or starts
  // an empty shard.
  void ReplaceDamagedShard();
  std::optional<size_t> SnapshotIndexOf(const std::string& path) const;
  std::vector<std::string> RestorableArchives() const;

  // ---- fault_rules.cc ----
  // An error where none may happen unless a fault was injected at or after
  // `since_step`: fails the run with `unexpected-error` otherwise.
  void FailUnlessFaulty(const char* what, const absl::Status& status, uint64_t since_step);
  // The same for an engine call of the current process.
  void FailUnlessFaulty(engine::LocalShard& shard, const char* what, const absl::Status& status);
  // Out of space never stops the shard (docs/faults.md).
  void CheckFaultPolicy(engine::LocalShard& shard);
  // After a failed snapshot: none of its files may stay.
  void CheckNoSnapshotLeftovers(const std::string& path);
  // A digest of every path and file's contents under `dir` (as the page
  // cache holds them), read without faults or trace steps.
  std::string TreeDigest(const std::string& dir);
  bool Exists(const std::string& path);

  void NoteError(const absl::Status& status);
  void Fail(std::string invariant, std::string what);
  bool failed() const { return !failure_.empty(); }
  // True once the run should wind down: a failure, or a replay's --until.
  bool stopping() const { return failed() || halted_ || ended_by_faults_; }

  const ShardRunConfig& config_;
  RunSources sources_;
  sim::World world_;
  FaultLedger ledger_;
  std::optional<Workload> workload_;
  History history_;
  ShardRunStats stats_;
  std::vector<TapeRange> step_tape_ranges_;  // by flattened script step, with sources_.tape
  std::string invariant_;
  std::string failure_;
  bool halted_ = false;
  bool ended_by_faults_ = false;
  bool state_dumped_ = false;
  bool load_failed_ = false;
  // Loads of the live shard refused since it last loaded with no fault
  // injected during the attempt itself: what keeps refusing is then on
  // disk, not a fault of the moment (at rate 1 every attempt has one).
  int refusals_without_fault_in_attempt_ = 0;
  // The last load refusal, named in a recovery failure so that failures
  // group by what refused (a campaign's signature) and not only by the fact.
  std::string last_load_error_;
  uint64_t attempt_start_step_ = 0;
  std::array<uint64_t, engine::kMarkCount> coverage_before_{};
  size_t epoch_ = 0;
  // The trace step the current engine process (with the faults injected
  // just before it) began at, and the step the last one ended at.
  uint64_t process_start_step_ = 0;
  uint64_t process_end_step_ = 0;
  // The trace step of the last successful load of the live shard.
  uint64_t last_good_load_step_ = 0;
  // Rot injected from this step on can be why the live shard refuses to
  // load: its last good load, or its replacement (which removed every
  // rotten file of the shard it replaced).
  uint64_t rot_counts_from_step_ = 0;
  // Set while the old shard is checked after a crashed restore over it:
  // a recovery failure then says so (and is a restore-atomicity failure).
  std::string recovery_context_;
  // The last RestoreOverLive replaced the live shard by the snapshot.
  bool last_restore_replaced_ = false;
  std::vector<TakenSnapshot> snapshots_;
  // Snapshots from here on are of the live shard's current lineage (it was
  // last replaced by a restore or a wipe before the one at this index).
  size_t lineage_start_ = 0;
  int snapshot_counter_ = 0;
  engine::PartialRecoveryRegistry partial_registry_;
  static constexpr int kMaxLoadAttempts = 20;
  // Replacements of a rotten shard in one engine process's turn: at a rot
  // rate of 1 (a shrinker's candidate) every replacement rots too.
  static constexpr int kMaxShardReplacements = 3;
  static constexpr int kMaxRestoreAttempts = 20;
  // Snapshots restored at the end: every one up to this many, else a drawn
  // sample of this many (the newest always among them).
  static constexpr size_t kRestoresChecked = 6;
};

}  // namespace properties
