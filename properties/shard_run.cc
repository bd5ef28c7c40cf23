#include "properties/shard_run.h"

#include <algorithm>
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/assert.h"
#include "engine/model/distance.h"
#include "engine/shard/local_shard.h"
#include "engine/shard/restore.h"
#include "properties/history.h"
#include "properties/workload.h"
#include "sim/world.h"

namespace properties {

namespace {

constexpr char kShardDir[] = "shard";

class Run {
 public:
  explicit Run(const ShardRunConfig& config)
      : config_(config), world_(MakeWorldConfig(config)), workload_(world_.decisions(), config) {
    history_.set_verbose(config.verbose);
    if (config.print_trace) {
      world_.trace().set_listener([](const sim::TraceEvent& event) {
        std::printf("%s\n", event.ToString().c_str());
      });
    }
  }

  ShardRunResult Execute();

 private:
  static sim::WorldConfig MakeWorldConfig(const ShardRunConfig& config);
  engine::ShardOptions Options();
  engine::ShardOptions RestoreOptions();
  void Supervise();
  void EngineProcess(bool final_check);
  bool CheckRecovered(engine::LocalShard& shard);
  void Client(engine::LocalShard& shard, int client);
  void DoUpdate(engine::LocalShard& shard);
  void Freeze(engine::LocalShard& shard);
  void Snapshot(engine::LocalShard& shard);
  void CheckRestores();
  bool CheckRestoredState(engine::LocalShard& shard, size_t index);
  void NoteUpdateResult(const engine::UpdateResult& result);
  void CheckRetrieve(engine::LocalShard& shard);
  void CheckScroll(engine::LocalShard& shard);
  void CheckSearch(engine::LocalShard& shard);
  void CheckCount(engine::LocalShard& shard);
  void Fail(std::string what);
  bool failed() const { return !failure_.empty(); }

  const ShardRunConfig& config_;
  sim::World world_;
  Workload workload_;
  History history_;
  ShardRunStats stats_;
  std::string failure_;
  bool load_failed_ = false;
  // Snapshots taken, with what a restore of each must show: the model after
  // exactly `frozen_through` (no WAL), or after some prefix between it and
  // the archived WAL's end.
  struct TakenSnapshot {
    std::string path;
    bool save_wal;
    std::optional<engine::SeqNumber> frozen_through;
    uint64_t wal_next_index;
    OperationHistory operations;  // the history when it was taken
  };
  std::vector<TakenSnapshot> snapshots_;
  int snapshot_counter_ = 0;
  static constexpr int kMaxLoadAttempts = 20;
};

sim::WorldConfig Run::MakeWorldConfig(const ShardRunConfig& config) {
  sim::WorldConfig world;
  world.seed = config.seed;
  world.scheduler.strategy = config.strategy;
  world.profile = config.profile;
  world.record_trace = config.record_trace;
  return world;
}

// Options for shards restored from snapshots: no observer (their ops are
// not part of the run's history).
engine::ShardOptions Run::RestoreOptions() {
  engine::ShardOptions options;
  options.collection = config_.collection;
  options.wal_segment_capacity_bytes = config_.wal_segment_capacity_bytes;
  return options;
}

engine::ShardOptions Run::Options() {
  engine::ShardOptions options;
  options.collection = config_.collection;
  options.wal_segment_capacity_bytes = config_.wal_segment_capacity_bytes;
  options.observer = &history_;
  return options;
}

// Records the first failure. The run is not stopped abruptly: every task
// notices failed() at its next step and winds down through the normal
// shutdown paths (unwinding tasks mid-flight could run blocking destructors).
void Run::Fail(std::string what) {
  if (failed()) return;
  failure_ = std::move(what);
}

ShardRunResult Run::Execute() {
  const sim::RunResult outcome = world_.RunSupervisor([this] { Supervise(); });
  if (!failed() && outcome.outcome != sim::RunOutcome::kCompleted) {
    failure_ = fmt::format("run ended with {}: {}", sim::RunOutcomeName(outcome.outcome),
                           outcome.report);
  }
  ShardRunResult result;
  result.passed = !failed();
  result.failure = failure_;
  result.trace_hash = world_.trace().hash();
  result.steps = world_.trace().steps();
  result.stats = stats_;
  if (config_.record_trace) result.events = world_.trace().events();
  return result;
}

void Run::Supervise() {
  sim::DecisionSource& decisions = world_.decisions();
  for (int epoch = 0; epoch <= config_.crashes && !failed(); ++epoch) {
    const bool armed = epoch < config_.crashes;
    if (armed) {
      const bool power_loss = decisions.Chance(config_.power_loss_probability);
      // Within the steps an epoch of this size takes, so most crashes fire.
      const uint64_t epoch_steps = 200 + 40 * uint64_t(config_.clients) * config_.ops_per_client;
      world_.CrashAtStep(world_.trace().steps() + decisions.Between(10, epoch_steps),
                         power_loss ? sim::CrashKind::kPowerLoss : sim::CrashKind::kProcessCrash);
    }
    bool crashed = false;
    for (int attempt = 0;; ++attempt) {
      load_failed_ = false;
      const sim::ProcessId process =
          world_.StartProcess(fmt::format("shard{}", epoch), [this] { EngineProcess(false); });
      crashed = world_.WaitProcess(process);
      // An injected fault can fail a load; the operator restarts the shard.
      if (!load_failed_ || crashed || failed()) break;
      if (attempt >= kMaxLoadAttempts) {
        Fail(fmt::format("the shard did not load in {} attempts under injected faults",
                         kMaxLoadAttempts));
        return;
      }
    }
    world_.DisarmCrash();
    if (!crashed) continue;
    const bool power_loss = world_.crashes().back().kind == sim::CrashKind::kPowerLoss;
    if (config_.verbose) {
      std::printf("crash: %s at step %llu\n", power_loss ? "power loss" : "process crash",
                  (unsigned long long)world_.crashes().back().step);
    }
    (power_loss ? stats_.power_losses : stats_.process_crashes)++;
    history_.NoteCrash(power_loss);
  }
  if (failed()) return;
  CheckRestores();
  if (failed()) return;
  for (int attempt = 0; attempt <= kMaxLoadAttempts && !failed(); ++attempt) {
    load_failed_ = false;
    const sim::ProcessId verifier =
        world_.StartProcess("verify", [this] { EngineProcess(true); });
    world_.WaitProcess(verifier);
    if (!load_failed_) return;
  }
  if (!failed()) Fail("the shard did not load for the final check under injected faults");
}

void Run::EngineProcess(bool final_check) {
  auto loaded = engine::LocalShard::Load(world_.env(), kShardDir, Options());
  if (!loaded.ok()) {
    if (config_.profile.HasFaults()) {
      if (config_.verbose) std::printf("load failed: %s\n", loaded.status().ToString().c_str());
      ++stats_.failed_loads;
      load_failed_ = true;
      return;
    }
    Fail(fmt::format("shard load failed: {}", loaded.status().ToString()));
    return;
  }
  engine::LocalShard& shard = **loaded;
  ++stats_.reloads;

  if (!CheckRecovered(shard) || final_check || failed()) {
    (void)shard.Shutdown();
    return;
  }
  std::vector<std::unique_ptr<engine::Task>> clients;
  for (int client = 0; client < config_.clients; ++client) {
    clients.push_back(world_.env().Spawn(fmt::format("client{}", client),
                                         [this, &shard, client] { Client(shard, client); }));
  }
  for (auto& client : clients) client->Join();
  // (A shard stopped by an injected I/O error may keep proxies: it takes no
  // more writes and must be reloaded.)
  if (const size_t proxies = shard.ProxyCount(); proxies != 0 && shard.health().ok()) {
    Fail(fmt::format("{} proxies left in the holder after every client finished", proxies));
  }
  for (const auto& [id, segments] : shard.LiveCopies()) {
    if (segments.size() != 1) {
      Fail(fmt::format("point {} has {} live copies", id, segments.size()));
      break;
    }
  }
  if (auto status = shard.Shutdown(); !status.ok() && !config_.profile.HasFaults()) {
    Fail(fmt::format("shutdown failed without injected faults: {}", status.ToString()));
  }
}

bool Run::CheckRecovered(engine::LocalShard& shard) {
  const engine::LocalShard::Summary summary = shard.Summarize();
  if (config_.verbose) {
    std::printf("reload: WAL [%llu, %llu), segments:\n", (unsigned long long)summary.wal_first_index,
                (unsigned long long)summary.wal_next_index);
    for (const auto& line : summary.segments) std::printf("  %s\n", line.c_str());
  }
  if (auto failure = history_.NoteRecovered(summary.wal_next_index)) {
    Fail(*failure);
    return false;
  }
  const ReferenceModel model = history_.ModelBelow(summary.wal_next_index);
  const std::vector<engine::Point> actual = shard.Scroll(nullptr, std::nullopt, SIZE_MAX);
  const std::vector<engine::Point> expected = ExpectedPoints(model, config_.collection);
  if (actual != expected) {
    Fail(fmt::format("after reload (WAL continues at {}), the shard holds {} but the model after "
                     "every op below {} holds {}",
                     summary.wal_next_index, DescribePoints(actual), summary.wal_next_index,
                     DescribePoints(expected)));
    return false;
  }
  if (auto broken = shard.CheckStructure()) {
    Fail(fmt::format("after reload: {}", *broken));
    return false;
  }
  for (const auto& [id, segments] : shard.LiveCopies()) {
    if (segments.size() != 1) {
      Fail(fmt::format("point {} has {} live copies after reload", id, segments.size()));
      return false;
    }
  }
  return true;
}

void Run::Client(engine::LocalShard& shard, int client) {
  for (int step = 0; step < config_.ops_per_client && !failed(); ++step) {
    if (!shard.health().ok()) return;  // a fatal I/O error stopped the shard
    switch (workload_.NextAction()) {
      case Action::kUpdate: DoUpdate(shard); break;
      case Action::kDeleteByFilter: {
        auto result = shard.DeleteByFilter(workload_.RandomFilter(), workload_.decisions().Chance(0.5));
        if (result.ok()) NoteUpdateResult(*result);
        break;
      }
      case Action::kRetrieve: CheckRetrieve(shard); break;
      case Action::kScroll: CheckScroll(shard); break;
      case Action::kCount: CheckCount(shard); break;
      case Action::kSearch: CheckSearch(shard); break;
      case Action::kPlunge: {
        // Only ops whose update call returned are surely queued before it.
        const auto queued = history_.acknowledged_through();
        if (shard.Plunge().ok() && queued) history_.NoteApplied(*queued);
        break;
      }
      case Action::kFlush: (void)shard.FlushAndAck(false); break;
      case Action::kFreeze: Freeze(shard); break;
      case Action::kSnapshot: Snapshot(shard); break;
      case Action::kOptimize: {
        auto merged = shard.OptimizeMerge();
        if (merged.ok() && *merged) ++stats_.optimizations;
        if (!merged.ok() && !config_.profile.HasFaults() && shard.health().ok()) {
          Fail(fmt::format("merge optimization failed without injected faults: {}", merged.status().ToString()));
        }
        break;
      }
    }
  }
}

// proxy_all_segments_and_apply with a reader as the operation: writes go on
// meanwhile; every read check still applies.
void Run::Freeze(engine::LocalShard& shard) {
  auto kept = shard.ProxyAllSegmentsAndApply([](engine::SegmentId, engine::SegmentEntry& frozen) {
    (void)frozen.LiveIds();
    return absl::OkStatus();
  });
  ++stats_.freezes;
  if (!kept.ok() && !config_.profile.HasFaults() && shard.health().ok()) {
    Fail(fmt::format("proxy_all_segments_and_apply failed without injected faults: {}",
                     kept.status().ToString()));
  }
}

void Run::Snapshot(engine::LocalShard& shard) {
  const bool save_wal = workload_.decisions().Chance(0.5);
  const std::string path = fmt::format("snapshot-{}.tar", snapshot_counter_++);
  auto info = shard.CreateSnapshot(save_wal, path);
  if (!info.ok()) {
    if (!config_.profile.HasFaults() && shard.health().ok()) {
      Fail(fmt::format("snapshot failed without injected faults: {}", info.status().ToString()));
    }
    return;
  }
  ++(save_wal ? stats_.snapshots_with_wal : stats_.snapshots_without_wal);
  snapshots_.push_back({path, save_wal, info->frozen_through, info->wal_next_index,
                        history_.operations()});
}

// Restores each snapshot into its own directory (on an empty part of the
// world), checks it is the promised point in time, then crashes and
// reloads it: the same state again (brief §5 items 3 and 4).
void Run::CheckRestores() {
  for (size_t index = 0; index < snapshots_.size() && index < 3 && !failed(); ++index) {
    const std::string dir = fmt::format("restored-{}", index);
    const sim::ProcessId restorer = world_.StartProcess("restore", [&, index] {
      auto restored = engine::RestoreSnapshot(world_.env(), snapshots_[index].path, dir, RestoreOptions());
      if (!restored.ok()) {
        // A crash during CreateSnapshot can leave no archive at all.
        if (!absl::IsNotFound(restored.status())) {
          Fail(fmt::format("restore of {} failed: {}", snapshots_[index].path, restored.status().ToString()));
        }
        return;
      }
      ++stats_.restores;
      CheckRestoredState(**restored, index);
      (void)(*restored)->Shutdown();
    });
    world_.WaitProcess(restorer);
    if (failed()) return;
    const sim::ProcessId crasher = world_.StartProcess("restored-crash", [&, index] {
      auto shard = engine::LocalShard::Load(world_.env(), dir, RestoreOptions());
      if (!shard.ok()) {
        if (!absl::IsNotFound(shard.status())) Fail(fmt::format("reload of a restored shard failed: {}", shard.status().ToString()));
        return;
      }
      world_.Crash(sim::CrashKind::kPowerLoss);
    });
    world_.WaitProcess(crasher);
    const sim::ProcessId reloader = world_.StartProcess("restored-reload", [&, index] {
      auto shard = engine::LocalShard::Load(world_.env(), dir, RestoreOptions());
      if (!shard.ok()) return;  // never restored (no archive)
      CheckRestoredState(**shard, index);
      (void)(*shard)->Shutdown();
    });
    world_.WaitProcess(reloader);
  }
}

bool Run::CheckRestoredState(engine::LocalShard& shard, size_t index) {
  const TakenSnapshot& snapshot = snapshots_[index];
  if (config_.verbose) {
    const auto summary = shard.Summarize();
    std::printf("restored %s: WAL [%llu, %llu), segments:\n", snapshot.path.c_str(),
                (unsigned long long)summary.wal_first_index, (unsigned long long)summary.wal_next_index);
    for (const auto& line : summary.segments) std::printf("  %s\n", line.c_str());
  }
  const std::vector<engine::Point> actual = shard.Scroll(nullptr, std::nullopt, SIZE_MAX);
  const auto matches = [&](const ReferenceModel& model) {
    return ExpectedPoints(model, config_.collection) == actual;
  };
  const size_t frozen_length = snapshot.frozen_through
                                   ? snapshot.operations.PrefixLengthThrough(*snapshot.frozen_through)
                                   : 0;
  bool ok = false;
  if (!snapshot.save_wal) {
    ok = matches(snapshot.operations.StateAfterPrefix(frozen_length));
  } else {
    const size_t last = snapshot.wal_next_index == 0
                            ? 0
                            : snapshot.operations.PrefixLengthThrough(snapshot.wal_next_index - 1);
    ReferenceModel model = snapshot.operations.StateAfterPrefix(frozen_length);
    for (size_t length = frozen_length; !ok; ++length) {
      ok = matches(model);
      if (length >= last) break;
      model.Apply(snapshot.operations.op_num(length), snapshot.operations.operation(length));
    }
  }
  if (!ok) {
    Fail(fmt::format("snapshot {} ({} WAL, frozen through op {}, WAL continues at {}) restored to {} "
                     "but the model at the freeze holds {}",
                     snapshot.path, snapshot.save_wal ? "with" : "without",
                     OpLabel(snapshot.frozen_through), snapshot.wal_next_index, DescribePoints(actual),
                     DescribePoints(ExpectedPoints(snapshot.operations.StateAfterPrefix(frozen_length),
                                                   config_.collection))));
    return false;
  }
  if (auto broken = shard.CheckStructure()) {
    Fail(fmt::format("restored snapshot {}: {}", snapshot.path, *broken));
    return false;
  }
  return true;
}

void Run::DoUpdate(engine::LocalShard& shard) {
  const bool wait = workload_.decisions().Chance(config_.wait_probability);
  engine::Operation operation = workload_.NextOperation();
  auto result = shard.Update(engine::WalRecord{std::move(operation), workload_.RandomClockTag()}, wait);
  if (!result.ok()) {
    if (!config_.profile.HasFaults() && shard.health().ok()) {
      Fail(fmt::format("update failed without injected faults: {}", result.status().ToString()));
    }
    return;
  }
  NoteUpdateResult(*result);
}

void Run::NoteUpdateResult(const engine::UpdateResult& result) {
  if (result.status == engine::UpdateStatus::kClockRejected) {
    ++stats_.clock_rejections;
    return;
  }
  ++stats_.ops_written;
  if (result.op_num) history_.NoteAcknowledged(*result.op_num);
  if (result.status == engine::UpdateStatus::kCompleted) {
    ++stats_.ops_completed;
    history_.NoteCompleted(*result.op_num);
  }
}

void Run::CheckRetrieve(engine::LocalShard& shard) {
  const auto low = history_.applied_through();
  const engine::PointId id = workload_.RandomId();
  const std::optional<engine::Point> actual = shard.Retrieve(id);
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) {
    return ExpectedPoint(model, id, config_.collection) == actual;
  });
  if (!prefix) {
    Fail(fmt::format("read of point {} returned {}, which no model state between op {} and op "
                     "{} holds",
                     id, actual ? DescribePoint(*actual) : "nothing", OpLabel(low),
                     OpLabel(high)));
  }
}

void Run::CheckScroll(engine::LocalShard& shard) {
  const auto low = history_.applied_through();
  const engine::Filter filter = workload_.RandomFilter();
  const std::vector<engine::Point> actual = shard.Scroll(&filter, std::nullopt, SIZE_MAX);
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) {
    return ExpectedFiltered(model, filter, config_.collection) == actual;
  });
  if (!prefix) {
    Fail(fmt::format("scroll with filter {} returned {}, which no model state between op {} and "
                     "op {} gives (the model at op {} gives {})",
                     engine::FilterToJson(filter).dump(), DescribePoints(actual), OpLabel(low),
                     OpLabel(high), OpLabel(high),
                     DescribePoints(ExpectedFiltered(history_.ModelBelow(high ? *high + 1 : 0), filter,
                                                     config_.collection))));
  }
}

void Run::CheckCount(engine::LocalShard& shard) {
  const auto low = history_.applied_through();
  const engine::Filter filter = workload_.RandomFilter();
  const size_t actual = shard.Count(&filter);
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) {
    return ExpectedFiltered(model, filter, config_.collection).size() == actual;
  });
  if (!prefix) {
    Fail(fmt::format("count with filter {} returned {}, which no model state between op {} and "
                     "op {} gives",
                     engine::FilterToJson(filter).dump(), actual, OpLabel(low), OpLabel(high)));
  }
}

void Run::CheckSearch(engine::LocalShard& shard) {
  const auto low = history_.applied_through();
  const engine::Vector query = workload_.RandomVector();
  const size_t k = workload_.decisions().Between(1, 4);
  const std::vector<engine::ScoredPoint> actual = shard.Search(query, nullptr, k);
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) {
    return ExpectedSearch(model, query, k, config_.collection) == actual;
  });
  if (!prefix) {
    const auto hits = [](const std::vector<engine::ScoredPoint>& list) {
      std::vector<std::string> parts;
      for (const auto& hit : list) parts.push_back(fmt::format("{}:{}", hit.id, hit.score));
      return fmt::format("[{}]", fmt::join(parts, ", "));
    };
    Fail(fmt::format("search for [{}] (k={}) returned {}, which no model state between op {} and "
                     "op {} gives (the model at op {} gives {})",
                     fmt::join(query, ", "), k, hits(actual), OpLabel(low), OpLabel(high),
                     OpLabel(high),
                     hits(ExpectedSearch(history_.ModelBelow(high ? *high + 1 : 0), query, k,
                                         config_.collection))));
  }
}

}  // namespace

ShardRunResult RunShardScenario(const ShardRunConfig& config) { return Run(config).Execute(); }

}  // namespace properties
