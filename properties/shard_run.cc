#include "properties/shard_run.h"

#include <algorithm>
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/assert.h"
#include "engine/model/distance.h"
#include "engine/shard/local_shard.h"
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
  void Supervise();
  void EngineProcess(bool final_check);
  bool CheckRecovered(engine::LocalShard& shard);
  void Client(engine::LocalShard& shard, int client);
  void DoUpdate(engine::LocalShard& shard);
  void Freeze(engine::LocalShard& shard);
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

engine::ShardOptions Run::Options() {
  engine::ShardOptions options;
  options.collection = config_.collection;
  options.wal_segment_capacity_bytes = config_.wal_segment_capacity_bytes;
  options.observer = &history_;
  return options;
}

void Run::Fail(std::string what) {
  if (failed()) return;
  failure_ = std::move(what);
  world_.scheduler().RequestStop("invariant violated");
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

  if (!CheckRecovered(shard) || final_check) {
    (void)shard.Shutdown();
    return;
  }
  std::vector<std::unique_ptr<engine::Task>> clients;
  for (int client = 0; client < config_.clients; ++client) {
    clients.push_back(world_.env().Spawn(fmt::format("client{}", client),
                                         [this, &shard, client] { Client(shard, client); }));
  }
  for (auto& client : clients) client->Join();
  if (const size_t proxies = shard.ProxyCount(); proxies != 0) {
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
