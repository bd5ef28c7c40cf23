#include "properties/shard_run.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/assert.h"
#include "properties/recording_last_words.h"
#include "engine/common/file_util.h"
#include "engine/snapshot/collection_snapshot.h"
#include "engine/snapshot/snapshot_create.h"
#include "properties/run.h"
#include "sim/fs/power_loss_states.h"

namespace properties {

namespace {
// A separate stream for the workload, so that the world's tape holds only
// the world's own decisions.
constexpr uint64_t kWorkloadStream = 0x574f'524b'4c4f'4144ull;  // "WORKLOAD"
}  // namespace

Run::Run(const ShardRunConfig& config, RunSources sources)
    : config_(config), sources_(sources), world_(MakeWorldConfig(config), *sources.world), ledger_(world_) {
  SS_ASSERT((sources_.workload == nullptr) != (sources_.script == nullptr),
            "a run takes its steps from a workload or from a script");
  if (sources_.workload != nullptr) workload_.emplace(*sources_.workload, config_);
  if (sources_.script != nullptr && sources_.tape != nullptr) {
    step_tape_ranges_.resize(sources_.script->StepCount());
  }
  history_.set_verbose(config.verbose);
  // The engine's log: its repairs count into the fault envelope.
  world_.sim_env().set_log_listener([this](std::string_view line) {
    if (line.starts_with("repaired")) ledger_.NoteRepair(TraceStep(), std::string(line));
    if (config_.verbose) std::printf("log: %.*s\n", static_cast<int>(line.size()), line.data());
  });
  if (config.print_trace || config.trace_listener || config.stop_at_step) {
    world_.trace().set_listener([this](const sim::TraceEvent& event) { OnTraceEvent(event); });
  }
}

sim::WorldConfig Run::MakeWorldConfig(const ShardRunConfig& config) {
  sim::WorldConfig world;
  world.seed = config.seed;
  world.scheduler.strategy = config.strategy;
  world.profile = config.profile;
  world.record_trace = config.record_trace;
  world.power_loss_chooser = config.power_loss_chooser;
  return world;
}

void Run::OnTraceEvent(const sim::TraceEvent& event) {
  if (config_.stop_at_step && event.step > *config_.stop_at_step) {
    halted_ = true;
    return;
  }
  if (config_.print_trace) std::printf("%s\n", event.ToString().c_str());
  if (config_.trace_listener) config_.trace_listener(event);
}

// Options for shards restored from snapshots: no observer (their ops are
// not part of the run's history).
engine::ShardOptions Run::RestoreOptions() { return ShardOptionsOf(config_); }

engine::ShardOptions Run::Options() {
  engine::ShardOptions options = RestoreOptions();
  options.observer = &history_;
  return options;
}

// Records the first failure. The run is not stopped abruptly: every task
// notices stopping() at its next step and winds down through the normal
// shutdown paths (unwinding tasks mid-flight could run blocking destructors).
void Run::Fail(std::string invariant, std::string what) {
  if (failed()) return;
  invariant_ = std::move(invariant);
  failure_ = std::move(what);
  ledger_.NoteFailure(TraceStep());
}

ShardRunResult Run::Execute() {
  coverage_before_ = engine::CoverageSnapshot();
  const sim::RunResult outcome = world_.RunSupervisor([this] { Supervise(); });
  if (!failed() && outcome.outcome != sim::RunOutcome::kCompleted) {
    Fail("run-outcome", fmt::format("run ended with {}: {}", sim::RunOutcomeName(outcome.outcome),
                                    outcome.report));
  }
  ShardRunResult result;
  result.passed = !failed();
  result.invariant = invariant_;
  result.failure = failure_;
  result.stopped = halted_;
  result.trace_hash = world_.trace().hash();
  result.steps = world_.trace().steps();
  result.stats = stats_;
  result.step_tape_ranges = step_tape_ranges_;
  result.envelope = ledger_.Classify();
  const auto coverage_after = engine::CoverageSnapshot();
  for (size_t mark = 0; mark < engine::kMarkCount; ++mark) {
    result.coverage[mark] = coverage_after[mark] - coverage_before_[mark];
  }
  if (config_.record_trace) result.events = world_.trace().events();
  return result;
}

size_t Run::EpochCount() const {
  return sources_.script ? sources_.script->epochs.size() : size_t(config_.crashes) + 1;
}

void Run::Supervise() {
  if (sources_.record) sources_.record->epochs.clear();
  for (epoch_ = 0; epoch_ < EpochCount() && !stopping(); ++epoch_) RunEpoch(epoch_);
  if (stopping()) return;
  CheckRestores();
  if (stopping()) return;
  VerifyFinalState();
}

// The crash of an epoch: drawn (every epoch but the last has one), or
// taken from the script.
void Run::ArmCrash(size_t epoch) {
  std::optional<CrashPoint> crash;
  if (sources_.script) {
    crash = sources_.script->epochs[epoch].crash;
  } else if (epoch < size_t(config_.crashes)) {
    crash = workload_->NextCrash(uint64_t(config_.clients) * config_.ops_per_client);
  }
  if (sources_.record) sources_.record->epochs.back().crash = crash;
  if (!crash) return;
  sim::PowerLossChooser chooser;
  if (crash->kind == sim::CrashKind::kPowerLoss) {
    if (config_.crash_point_chooser && epoch == config_.crash_point_chooser_epoch) {
      chooser = config_.crash_point_chooser;
    } else if (crash->keep) {
      chooser = KeepListChooser(*crash->keep);
    }
  }
  world_.CrashAtStep(world_.trace().steps() + crash->after_steps, crash->kind, std::move(chooser));
}

sim::PowerLossChooser Run::KeepListChooser(std::vector<bool> keep) {
  return [this, keep = std::move(keep)](const std::vector<sim::PendingOperation>& pending) {
    if (const absl::Status legal = sim::CheckKeepLegal(pending, keep); !legal.ok()) {
      // A scenario edited or shrunk away from the run its list was written
      // for: say so rather than abort, and lose nothing.
      Fail("run-outcome", fmt::format("the crash line's keep list does not fit the {} operations pending at the "
                                      "power loss: {}",
                                      pending.size(), std::string(legal.message())));
      return std::vector<bool>(pending.size(), true);
    }
    return keep;
  };
}

// What a user's tools leave behind (a Finder's .DS_Store, an editor's
// hidden directory): the engine must ignore hidden entries in segments/.
// Drawn from the world's decisions, so a scenario replays it.
void Run::PlantHiddenEntries() {
  engine::FileSystem& fs = world_.env().fs();
  const std::string segments = std::string(kShardDir) + "/segments";
  if (!world_.decisions().Chance(0.2)) return;
  auto exists = engine::Exists(fs, segments);
  if (!exists.ok() || !*exists) return;
  (void)engine::WriteFileAtomically(fs, segments + "/.DS_Store", "Bud1");
  (void)engine::EnsureDir(fs, segments + "/.hidden");
}

void Run::RunEpoch(size_t epoch) {
  // The epoch's restore line comes first: drawn, or taken from the script.
  std::optional<std::string> restore;
  if (sources_.script) {
    restore = sources_.script->epochs[epoch].restore_archive;
  } else if (epoch > 0) {
    restore = workload_->NextRestore(RestorableArchives());
  }
  if (sources_.record) sources_.record->epochs.push_back(Epoch{restore, std::nullopt, {}});
  // While the shard is down: what a user's tools leave behind, and latent
  // rot of stored blocks (the supervisor never crashes, so both come before
  // the crash is armed).
  PlantHiddenEntries();
  process_start_step_ = TraceStep();
  if (epoch > 0) (void)world_.MaybeRotStoredBlock("");
  if (restore) RestoreOverLive(*restore);
  if (stopping()) return;
  ArmCrash(epoch);
  const bool crashed = RunEngineProcess(epoch);
  world_.DisarmCrash();
  process_end_step_ = TraceStep();
  if (stopping()) return;
  if (!crashed) {
    history_.NoteCleanStop();
    return;
  }
  const sim::CrashRecord& record = world_.crashes().back();
  const bool power_loss = record.kind == sim::CrashKind::kPowerLoss;
  if (config_.verbose) {
    std::printf("crash: %s at step %llu\n", power_loss ? "power loss" : "process crash",
                (unsigned long long)record.step);
  }
  (power_loss ? stats_.power_losses : stats_.process_crashes)++;
  history_.NoteCrash(power_loss);
}

void Run::Client(engine::LocalShard& shard, int client) {
  if (sources_.script) {
    size_t flat = 0;  // the first step of this epoch in the flattened list
    for (size_t epoch = 0; epoch < epoch_; ++epoch) flat += sources_.script->epochs[epoch].steps.size();
    for (const Step& step : sources_.script->epochs[epoch_].steps) {
      const size_t index = flat++;
      if (step.client != client) continue;
      // (health() takes a lock: checked exactly where a seeded run checks it.)
      if (stopping() || !shard.health().ok()) return;  // a fatal I/O error stops the shard
      const uint64_t begin = sources_.tape ? sources_.tape->consumed_bytes() : 0;
      Execute(shard, step);
      if (sources_.tape) step_tape_ranges_[index] = {begin, sources_.tape->consumed_bytes()};
    }
    return;
  }
  // The step is drawn (and recorded) before the health check, so that a
  // replay calls health() exactly where this run did.
  for (int count = 0; count < config_.ops_per_client && !stopping(); ++count) {
    const Step step = workload_->NextStep(client);
    if (sources_.record) sources_.record->epochs[epoch_].steps.push_back(step);
    if (!shard.health().ok()) return;
    Execute(shard, step);
  }
}

void Run::Execute(engine::LocalShard& shard, const Step& step) {
  MaybeDumpState(shard);
  switch (step.action) {
    case Action::kUpdate: DoUpdate(shard, step); break;
    case Action::kDeleteByFilter: {
      const auto applied_before = history_.applied_through();
      auto result = shard.DeleteByFilter(step.filter, step.wait);
      if (result.ok()) {
        NoteUpdateResult(*result);
        CheckDeleteByFilter(step, applied_before, *result);
      } else {
        FailUnlessFaulty(shard, "delete by filter", result.status());
      }
      break;
    }
    case Action::kRetrieve:
    case Action::kScroll:
    case Action::kCount:
    case Action::kSearch: CheckRead(shard, step); break;
    case Action::kPlunge: {
      // Only ops whose update call returned are surely queued before it.
      const auto queued = history_.acknowledged_through();
      const absl::Status plunged = shard.Plunge();
      if (plunged.ok() && queued) history_.NoteApplied(*queued);
      if (!plunged.ok()) FailUnlessFaulty(shard, "plunger", plunged);
      break;
    }
    case Action::kFlush:
      if (auto flushed = shard.FlushAndAck(false); !flushed.ok()) FailUnlessFaulty(shard, "flush", flushed);
      break;
    case Action::kFreeze: Freeze(shard); break;
    case Action::kSnapshot: Snapshot(shard, step.save_wal); break;
    case Action::kOptimize: Optimize(shard); break;
    case Action::kVacuum: Vacuum(shard); break;
    case Action::kCancelOptimize: shard.CancelOptimizations(); break;
    case Action::kPartialSnapshot: PartialSnapshot(shard); break;
    case Action::kCollectionSnapshot: CollectionSnapshot(shard, step.save_wal); break;
  }
}

void Run::MaybeDumpState(engine::LocalShard& shard) {
  if (!config_.dump_state_at_step || state_dumped_ ||
      world_.trace().steps() < *config_.dump_state_at_step) {
    return;
  }
  state_dumped_ = true;
  const engine::LocalShard::Summary summary = shard.Summarize();
  std::printf("state at step %llu (epoch %zu):\n", (unsigned long long)world_.trace().steps(), epoch_);
  std::printf("  WAL: [%llu, %llu)\n", (unsigned long long)summary.wal_first_index,
              (unsigned long long)summary.wal_next_index);
  std::printf("  points: %zu, proxies: %zu\n", summary.points, shard.ProxyCount());
  for (const auto& line : summary.segments) std::printf("  segment %s\n", line.c_str());
  std::printf("  newest clocks: %s\n", summary.newest_clocks.ToJson().dump().c_str());
  std::printf("  history: last written op %s, applied through %s\n",
              OpLabel(history_.last_written()).c_str(), OpLabel(history_.applied_through()).c_str());
}

void Run::DoUpdate(engine::LocalShard& shard, const Step& step) {
  SS_ASSERT(step.record.has_value(), "an update step carries its record");
  auto result = shard.Update(*step.record, step.wait);
  if (!result.ok() && step.record->clock_tag) history_.NoteClockAdvancedWithoutWrite(*step.record->clock_tag);
  if (!result.ok()) {
    FailUnlessFaulty(shard, "update", result.status());
    return;
  }
  NoteUpdateResult(*result);
}

void Run::NoteUpdateResult(const engine::UpdateResult& result) { NoteUpdateOutcome(result, history_, stats_); }

// proxy_all_segments_and_apply with a reader as the operation: writes go on
// meanwhile; every read check still applies.
void Run::Freeze(engine::LocalShard& shard) {
  auto kept = shard.ProxyAllSegmentsAndApply([](engine::SegmentId, engine::SegmentEntry& frozen) {
    (void)frozen.LiveIds();
    return absl::OkStatus();
  });
  ++stats_.freezes;
  if (!kept.ok()) FailUnlessFaulty(shard, "proxy_all_segments_and_apply", kept.status());
}

void Run::Optimize(engine::LocalShard& shard) {
  // One merge of the two smallest segments, then more while the shard had
  // more than merge_max_segments, as Qdrant's merge optimizer bounds them:
  // a snapshot keeps its temporary segment when writes went into it, and
  // without the bound a deep run's segment count (and each snapshot's size)
  // grew with its length. The count comes from the merge's own pick, under
  // its lock: asking the shard separately would add a lock acquisition, a
  // scheduling point, to every optimize step of every recorded scenario.
  std::optional<size_t> rounds;  // the segments at the first pick: a bound
  for (size_t round = 0; !rounds || round < *rounds; ++round) {
    size_t segments_at_pick = 0;
    auto merged = shard.OptimizeMerge(&segments_at_pick);
    // Another client may cancel it (cancel-optimize): nothing may be lost then.
    if (!merged.ok() && !absl::IsCancelled(merged.status())) {
      FailUnlessFaulty(shard, "merge optimization", merged.status());
    }
    if (!merged.ok() || !*merged) return;
    ++stats_.optimizations;
    SS_ASSERT(segments_at_pick >= 2, "a merge picked its inputs from {} segments", segments_at_pick);
    if (!rounds) rounds = segments_at_pick;
    if (segments_at_pick - 1 <= shard.options().merge_max_segments) return;
  }
}

void Run::Vacuum(engine::LocalShard& shard) {
  auto vacuumed = shard.OptimizeVacuum();
  if (vacuumed.ok() && *vacuumed) ++stats_.optimizations;
  if (!vacuumed.ok() && !absl::IsCancelled(vacuumed.status())) {
    FailUnlessFaulty(shard, "vacuum optimization", vacuumed.status());
  }
}

void Run::Snapshot(engine::LocalShard& shard, bool save_wal) {
  const std::string path = fmt::format("snapshot-{}.tar", snapshot_counter_++);
  const SnapshotStart start = BeginSnapshot();
  auto info = CreateSnapshot(shard, save_wal, path);
  if (!info.ok()) {
    ++stats_.snapshots_failed;
    FailUnlessFaulty(shard, "snapshot", info.status());
    CheckNoSnapshotLeftovers(path);
    return;
  }
  ++(save_wal ? stats_.snapshots_with_wal : stats_.snapshots_without_wal);
  snapshots_.push_back(Taken(SnapshotKind::kShard, path, save_wal, *info, start));
}

// Against the manifest of the newest WAL-less shard snapshot: its receiver
// is that snapshot restored (at the end of the run), whose segments are
// exactly the ones the manifest lists.
void Run::PartialSnapshot(engine::LocalShard& shard) {
  std::optional<size_t> base;
  // Only a snapshot of this shard's own past can be a receiver's state: one
  // from before a restore over it (or its replacement) is another lineage.
  for (size_t index = lineage_start_; index < snapshots_.size(); ++index) {
    if (snapshots_[index].kind == SnapshotKind::kShard && !snapshots_[index].save_wal) base = index;
  }
  if (!base) return;
  const std::string path = fmt::format("partial-{}.tar", snapshot_counter_++);
  const SnapshotStart start = BeginSnapshot();
  // (A copy: other clients' snapshots grow snapshots_ meanwhile.)
  const engine::SnapshotManifest receiver = snapshots_[*base].manifest;
  auto info = CreatePartialSnapshot(shard, receiver, path);
  if (!info.ok()) {
    ++stats_.snapshots_failed;
    FailUnlessFaulty(shard, "partial snapshot", info.status());
    CheckNoSnapshotLeftovers(path);
    return;
  }
  ++stats_.partial_snapshots;
  TakenSnapshot taken = Taken(SnapshotKind::kPartial, path, false, *info, start);
  taken.base = base;
  snapshots_.push_back(std::move(taken));
}

void Run::CollectionSnapshot(engine::LocalShard& shard, bool save_wal) {
  const std::string path = fmt::format("collection-{}.tar", snapshot_counter_++);
  const SnapshotStart start = BeginSnapshot();
  auto info = engine::CreateCollectionSnapshot(world_.env(), {{0, &shard}}, path, save_wal);
  if (!info.ok()) {
    ++stats_.snapshots_failed;
    FailUnlessFaulty(shard, "collection snapshot", info.status());
    CheckNoSnapshotLeftovers(path);
    return;
  }
  ++stats_.collection_snapshots;
  snapshots_.push_back(Taken(SnapshotKind::kCollection, path, save_wal, info->shards.at(0), start));
}

Run::SnapshotStart Run::BeginSnapshot() {
  return SnapshotStart{.step = TraceStep(), .applied_before = history_.applied_through(),
                       .shard_held_rot = ShardHoldsRot()};
}

TakenSnapshot Run::Taken(SnapshotKind kind, std::string path, bool save_wal, const engine::SnapshotInfo& info,
                         const SnapshotStart& start) {
  TakenSnapshot taken = MakeTakenSnapshot(kind, std::move(path), save_wal, info, start.applied_before, history_);
  taken.started_at_step = start.step;
  taken.ended_at_step = TraceStep();
  // Rotten bytes the shard's load read right (a bad read flipped them back,
  // seed 81998) are copied into the archive as they are on disk.
  taken.source_held_rot = start.shard_held_rot || ShardHoldsRot();
  return taken;
}

ShardRunResult RunShardScenario(const ShardRunConfig& config) {
  sim::PrngSource world(config.seed);
  sim::PrngSource workload(config.seed ^ kWorkloadStream);
  return Run(config, {.world = &world, .workload = &workload}).Execute();
}

namespace {
// Runs with the world's decisions recorded into the scenario's tape.
RecordedRun Record(const ShardRunConfig& config, sim::DecisionSource& world, sim::DecisionSource& workload,
                   const RecordAssertionHandler& on_assertion = {}) {
  sim::TapeRecorder recorder(world);
  RecordedRun recorded;
  recorded.scenario.config = config;
  // (Only when asked: a campaign worker keeps its own hook otherwise.)
  std::optional<shardsim::ScopedAssertionHook> last_words;
  if (on_assertion) last_words.emplace(RecordingLastWords(recorded.scenario, recorder, on_assertion));
  recorded.result =
      Run(config, {.world = &recorder, .workload = &workload, .record = &recorded.scenario}).Execute();
  recorded.scenario.tape = recorder.tape();
  recorded.scenario.expected_invariant = recorded.result.invariant;
  return recorded;
}
}  // namespace

RecordedRun RecordShardRun(const ShardRunConfig& config, const RecordAssertionHandler& on_assertion) {
  sim::PrngSource world(config.seed);
  sim::PrngSource workload(config.seed ^ kWorkloadStream);
  return Record(config, world, workload, on_assertion);
}

ShardRunResult RunFromTape(const ShardRunConfig& config, const std::vector<uint8_t>& tape) {
  sim::TapeSource source(tape);
  return Run(config, {.world = &source, .workload = &source}).Execute();
}

RecordedRun RecordTapeRun(const ShardRunConfig& config, const std::vector<uint8_t>& tape) {
  sim::TapeSource source(tape);
  return Record(config, source, source);
}

ShardRunResult ReplayScenario(const Scenario& scenario, const ShardRunConfig& print_options) {
  ShardRunConfig config = scenario.config;
  config.record_trace = print_options.record_trace;
  config.verbose = print_options.verbose;
  config.print_trace = print_options.print_trace;
  config.trace_listener = print_options.trace_listener;
  config.stop_at_step = print_options.stop_at_step;
  config.dump_state_at_step = print_options.dump_state_at_step;
  config.crash_point_chooser = print_options.crash_point_chooser;
  config.crash_point_chooser_epoch = print_options.crash_point_chooser_epoch;
  sim::TapeSource tape(scenario.tape);
  ShardRunResult result = Run(config, {.world = &tape, .script = &scenario, .tape = &tape}).Execute();
  result.tape_bytes_consumed = tape.consumed_bytes();
  return result;
}

size_t Scenario::StepCount() const {
  size_t count = 0;
  for (const Epoch& epoch : epochs) {
    count += epoch.steps.size() + (epoch.crash ? 1 : 0) + (epoch.restore_archive ? 1 : 0);
  }
  return count;
}

}  // namespace properties
