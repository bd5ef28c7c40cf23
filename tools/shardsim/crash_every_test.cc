// crash-every: crash points are the engine process's own calls, candidates
// keep earlier crashes, a sweep over a regression scenario enumerates
// power-loss states beyond the process crash and keep-all ones, and a
// failing state is reported and saved as a scenario that replays it.
#include "tools/shardsim/crash_every.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "scenarios/scenario_format.h"
#include "tools/shardsim/crash_points.h"

namespace shardsim {
namespace {

using properties::Scenario;
using properties::ShardRunConfig;
using properties::ShardRunResult;

Scenario LoadRegression(const std::string& name) {
  auto file = scenarios::ReadScenarioFile(std::string(SHARDSIM_SOURCE_DIR) + "/scenarios/regressions/" + name);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? file->scenario : Scenario{};
}

// A sink for the sweep's report.
struct Discard {
  std::FILE* file = std::tmpfile();
  ~Discard() { std::fclose(file); }
};

sim::TraceEvent Event(uint64_t step, sim::EventKind kind, uint32_t task, uint64_t arg, std::string detail = "") {
  return {.step = step, .task = task, .kind = kind, .arg = arg, .detail = std::move(detail)};
}

TEST(CrashPointsTest, CallsAreTheEngineProcessesOwnFromItsStart) {
  using sim::EventKind;
  const std::vector<sim::TraceEvent> events = {
      Event(0, EventKind::kSpawn, 1, 0, "supervisor"),
      Event(1, EventKind::kFsCall, 1, 0, "supervisor call"),
      Event(2, EventKind::kRestart, 1, 1, "restore-over-live"),
      Event(3, EventKind::kSpawn, 2, 1, "restore-over-live.main"),
      Event(4, EventKind::kFsCall, 2, 0, "restore call"),
      Event(5, EventKind::kRestart, 1, 2, "shard1"),
      Event(6, EventKind::kSpawn, 3, 1, "shard1.main"),
      Event(7, EventKind::kFsCall, 3, 0, "load"),
      Event(8, EventKind::kSpawn, 4, 3, "client0"),  // a task of the engine process
      Event(9, EventKind::kFsCall, 1, 0, "supervisor call"),
      Event(10, EventKind::kFsCall, 4, 0, "append"),
      Event(11, EventKind::kRestart, 1, 3, "shard1"),  // a retried load: the same epoch's process
      Event(12, EventKind::kSpawn, 5, 1, "shard1.main"),
      Event(13, EventKind::kFsCall, 5, 0, "load again"),
      Event(14, EventKind::kRestart, 1, 4, "shard2"),
      Event(15, EventKind::kSpawn, 6, 1, "shard2.main"),
      Event(16, EventKind::kFsCall, 6, 0, "next epoch"),
  };
  const std::vector<CrashPointCall> calls = EngineProcessCalls(events, 1);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].after_steps, 2u);
  EXPECT_EQ(calls[0].call, "load");
  EXPECT_EQ(calls[1].after_steps, 5u);
  EXPECT_EQ(calls[1].call, "append");
  EXPECT_EQ(calls[2].after_steps, 8u);
  EXPECT_EQ(calls[2].call, "load again");
  EXPECT_TRUE(EngineProcessCalls(events, 0).empty());
}

TEST(CrashPointsTest, CandidatesKeepEarlierCrashesAndEndWithAnEmptyEpoch) {
  Scenario scenario = LoadRegression("three-copies-of-a-point-at-load.scn");
  ASSERT_GE(scenario.epochs.size(), 2u);
  scenario.epochs[0].crash = properties::CrashPoint{.after_steps = 77, .kind = sim::CrashKind::kPowerLoss};
  const Scenario candidate = CrashCandidate(
      scenario, 1, properties::CrashPoint{.after_steps = 5, .kind = sim::CrashKind::kProcessCrash});
  ASSERT_EQ(candidate.epochs.size(), 3u);
  EXPECT_EQ(candidate.epochs[0].crash->after_steps, 77u);
  EXPECT_EQ(candidate.epochs[1].crash->after_steps, 5u);
  EXPECT_EQ(candidate.epochs[1].steps.size(), scenario.epochs[1].steps.size());
  EXPECT_TRUE(candidate.epochs[2].steps.empty());
  EXPECT_FALSE(candidate.epochs[2].crash.has_value());
  EXPECT_TRUE(candidate.expected_invariant.empty());
  EXPECT_EQ(candidate.tape, scenario.tape);
}

CrashEveryOptions SmallBounds() {
  CrashEveryOptions options;
  options.max_calls = 40;
  options.max_dropped = 1;
  options.states_per_point = 5;
  return options;
}

// The engine recovers from every state: states are enumerated and checked,
// the same ones on a second sweep.
TEST(CrashEveryTest, SweepsARegressionScenarioWithoutFailures) {
  const Scenario scenario = LoadRegression("snapshot-without-forced-flush.scn");
  Discard out;
  const CrashEverySummary summary = CrashEvery(scenario, SmallBounds(), properties::ReplayScenario, out.file, false);
  ASSERT_EQ(summary.processes.size(), 1u);
  const ProcessSweep& process = summary.processes[0];
  EXPECT_EQ(process.crash_points, std::min<size_t>(process.calls, 40));
  EXPECT_GE(process.crash_points, 20u);
  EXPECT_EQ(summary.failures, 0u);
  // A process crash and a keep-all power loss per point, and more: points
  // with operations pending got other power-loss states.
  EXPECT_GT(process.power_loss_states, process.crash_points);
  EXPECT_EQ(process.states, process.crash_points + process.power_loss_states);
  EXPECT_LE(process.power_loss_states, process.crash_points * 5);
  EXPECT_EQ(summary.states, process.states);
  const CrashEverySummary again = CrashEvery(scenario, SmallBounds(), properties::ReplayScenario, out.file, false);
  EXPECT_EQ(again.states, summary.states);
  EXPECT_EQ(again.processes[0].illegal_skipped, process.illegal_skipped);
}

TEST(CrashEveryTest, StopsAtMaxStates) {
  CrashEveryOptions options = SmallBounds();
  options.max_states = 7;
  Discard out;
  const CrashEverySummary summary =
      CrashEvery(LoadRegression("snapshot-without-forced-flush.scn"), options, properties::ReplayScenario, out.file,
                 false);
  EXPECT_EQ(summary.states, 7u);
  EXPECT_TRUE(summary.stopped_at_max_states);
}

// A deliberately wrong expectation: this runner calls a state failed when
// its power loss dropped anything (the engine is right to recover from
// those; the sweep cannot tell). Every such state is reported, the first
// few saved, and each saved file replays the very run that was judged.
TEST(CrashEveryTest, FailingStatesAreSavedAsScenariosThatReplayThem) {
  const std::string dir = ::testing::TempDir() + "/crash-every-failures";
  std::filesystem::remove_all(dir);
  CrashEveryOptions options = SmallBounds();
  options.failures_dir = dir;
  options.max_saved = 3;
  std::map<std::string, uint64_t> hash_by_crash_line;
  size_t dropping_states = 0;
  const CandidateRunner judge = [&](const Scenario& candidate, const ShardRunConfig& config) {
    ShardRunResult result = properties::ReplayScenario(candidate, config);
    const auto& crash = candidate.epochs[candidate.epochs.size() - 2].crash;
    if (crash && crash->keep && std::count(crash->keep->begin(), crash->keep->end(), false) > 0) {
      ++dropping_states;
      hash_by_crash_line[scenarios::CrashLine(*crash)] = result.trace_hash;
      result.passed = false;
      result.invariant = "recovery";
      result.failure = "deliberately failed: the power loss dropped an operation";
    }
    return result;
  };
  Discard out;
  const CrashEverySummary summary =
      CrashEvery(LoadRegression("snapshot-without-forced-flush.scn"), options, judge, out.file, false);
  EXPECT_GT(dropping_states, 0u);
  EXPECT_EQ(summary.failures, dropping_states);
  ASSERT_EQ(summary.saved.size(), 3u);
  for (const std::string& path : summary.saved) {
    auto file = scenarios::ReadScenarioFile(path);
    ASSERT_TRUE(file.ok()) << file.status();
    const Scenario* saved = &file->scenario;
    EXPECT_EQ(saved->expected_invariant, "recovery");
    const auto& crash = saved->epochs[saved->epochs.size() - 2].crash;
    ASSERT_TRUE(crash && crash->keep) << path;
    const auto judged = hash_by_crash_line.find(scenarios::CrashLine(*crash));
    ASSERT_NE(judged, hash_by_crash_line.end()) << path;
    // The real engine passes it, on the same trace the judge saw.
    const ShardRunResult replayed = properties::ReplayScenario(*saved, {});
    EXPECT_TRUE(replayed.passed) << path << ": " << replayed.failure;
    EXPECT_EQ(replayed.trace_hash, judged->second) << path;
    EXPECT_EQ(file->trace_hash, judged->second) << path << ": the file pins the trace it was judged on";
  }
  std::filesystem::remove_all(dir);
}

// A run that fails without any crash in the epoch is one failure, not one
// per state.
TEST(CrashEveryTest, AFailingBaseRunIsReportedOnce) {
  const CandidateRunner always_fails = [](const Scenario& candidate, const ShardRunConfig& config) {
    ShardRunResult result = properties::ReplayScenario(candidate, config);
    result.passed = false;
    result.invariant = "read";
    return result;
  };
  Discard out;
  const CrashEverySummary summary =
      CrashEvery(LoadRegression("three-copies-of-a-point-at-load.scn"), SmallBounds(), always_fails, out.file, false);
  EXPECT_EQ(summary.processes.size(), LoadRegression("three-copies-of-a-point-at-load.scn").epochs.size());
  EXPECT_EQ(summary.failures, summary.processes.size());
  EXPECT_EQ(summary.crash_points, 0u);
  EXPECT_EQ(summary.states, 0u);
}

}  // namespace
}  // namespace shardsim
