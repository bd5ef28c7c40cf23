// The cluster shrinker against a planted failure (a fake replay), so that it
// is tested before the simulated cluster exists.
#include "properties/cluster/cluster_shrink.h"

#include <gtest/gtest.h>

namespace properties {
namespace {

// "Fails" ack-durability when peer 2 power-loses after a waited upsert of
// the first drawn value on peer 3 — whatever else happens.
ClusterRunResult PlantedReplay(const ClusterScenario& scenario) {
  ClusterRunResult result;
  bool wrote = false, crashed_after = false;
  for (const ClusterStep& step : scenario.steps) {
    if (step.kind == ClusterStepKind::kUpsert && step.value == 7) wrote = true;
    if (wrote && step.kind == ClusterStepKind::kCrash && step.peer == 2 &&
        step.crash_kind == sim::CrashKind::kPowerLoss) {
      crashed_after = true;
    }
  }
  if (crashed_after) result.failure = ClusterFailure{"ack-durability", "lost the write of value 7"};
  return result;
}

ClusterScenario PlantedScenario() {
  ClusterScenario scenario;
  scenario.config = DrawClusterConfig(11);
  scenario.config.peers = 5;
  scenario.config.replication_factor = 3;
  scenario.config.write_consistency_factor = 2;
  scenario.config.clients = 3;
  scenario.config.lossy_network = true;
  scenario.config.lossy_log = true;
  scenario.config.network_stalls = true;
  scenario.config.network_stall_percent = 25;
  scenario.config.paced_clients = true;
  scenario.config.slow_log = true;
  scenario.steps = DrawClusterSteps(scenario.config);
  // The needed pair, among the drawn noise: the write by client 3, the crash last.
  ClusterStep write{.kind = ClusterStepKind::kUpsert, .actor = 3, .peer = 3, .id = 1, .value = 7};
  for (ClusterStep& step : scenario.steps) {
    if (step.kind == ClusterStepKind::kUpsert && step.value == 7) step.value = 1'000'007;
  }
  scenario.steps.insert(scenario.steps.begin() + 5, write);
  scenario.steps.push_back({.kind = ClusterStepKind::kCrash, .actor = 0, .peer = 2,
                            .crash_kind = sim::CrashKind::kPowerLoss});
  scenario.steps.push_back({.kind = ClusterStepKind::kSleep, .actor = 0, .sleep_ms = 1500});
  scenario.tape = {1, 2, 3, 0, 0};
  scenario.expected_invariant = "ack-durability";
  return scenario;
}

TEST(ClusterShrinkTest, ShrinksToTheStepsTheFailureNeeds) {
  const ClusterScenario failing = PlantedScenario();
  ASSERT_TRUE(PlantedReplay(failing).failure.has_value());
  size_t progress_calls = 0;
  ClusterShrinkOptions options;
  options.replay = PlantedReplay;
  options.progress = [&](size_t, size_t, size_t) { ++progress_calls; };
  const ClusterShrinkResult shrunk = ShrinkClusterScenario(failing, options);
  ASSERT_TRUE(shrunk.reproduced);
  ASSERT_EQ(shrunk.scenario.steps.size(), 2u);
  EXPECT_EQ(shrunk.scenario.steps[0].value, 7u);
  EXPECT_EQ(shrunk.scenario.steps[0].actor, 1u);  // renumbered: the only client left
  EXPECT_EQ(shrunk.scenario.steps[1].kind, ClusterStepKind::kCrash);
  EXPECT_EQ(shrunk.scenario.config.clients, 1u);
  EXPECT_EQ(shrunk.scenario.config.peers, 3u);  // the highest peer a step names
  EXPECT_LE(shrunk.scenario.config.replication_factor, 3u);
  EXPECT_FALSE(shrunk.scenario.config.lossy_network);
  EXPECT_FALSE(shrunk.scenario.config.lossy_log);
  EXPECT_FALSE(shrunk.scenario.config.network_stalls);
  EXPECT_EQ(shrunk.scenario.config.network_stall_percent, kDefaultNetworkStallPercent);
  EXPECT_FALSE(shrunk.scenario.config.slow_log);
  EXPECT_EQ(shrunk.scenario.tape, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_LE(shrunk.replays, options.max_replays);
  EXPECT_GT(progress_calls, 0u);
  // Deterministic: the same input shrinks to the same output.
  const ClusterShrinkResult again = ShrinkClusterScenario(failing, options);
  EXPECT_EQ(again.scenario.steps, shrunk.scenario.steps);
  EXPECT_EQ(again.replays, shrunk.replays);
}

TEST(ClusterShrinkTest, ShortensSleepsTheFailureDoesNotNeed) {
  ClusterScenario scenario = PlantedScenario();
  ClusterShrinkOptions options;
  // This failure needs a nemesis sleep of at least 100 ms before the crash.
  options.replay = [](const ClusterScenario& candidate) {
    ClusterRunResult result = PlantedReplay(candidate);
    bool slept = false;
    for (const ClusterStep& step : candidate.steps) {
      if (step.kind == ClusterStepKind::kSleep && step.actor == 0 && step.sleep_ms >= 100) slept = true;
      if (step.kind == ClusterStepKind::kCrash && step.peer == 2 && !slept) result.failure.reset();
    }
    return result;
  };
  scenario.steps.insert(scenario.steps.end() - 2, {.kind = ClusterStepKind::kSleep, .actor = 0, .sleep_ms = 1000});
  const ClusterShrinkResult shrunk = ShrinkClusterScenario(scenario, options);
  ASSERT_TRUE(shrunk.reproduced);
  ASSERT_EQ(shrunk.scenario.steps.size(), 3u);
  EXPECT_EQ(shrunk.scenario.steps[1].kind, ClusterStepKind::kSleep);
  EXPECT_GE(shrunk.scenario.steps[1].sleep_ms, 100u);
  EXPECT_LT(shrunk.scenario.steps[1].sleep_ms, 200u);  // halved from 1000 while it still failed
}

TEST(ClusterShrinkTest, ReportsAScenarioThatDoesNotFail) {
  ClusterScenario scenario = PlantedScenario();
  scenario.expected_invariant = "convergence";  // the planted replay fails ack-durability
  ClusterShrinkOptions options;
  options.replay = PlantedReplay;
  const ClusterShrinkResult shrunk = ShrinkClusterScenario(scenario, options);
  EXPECT_FALSE(shrunk.reproduced);
  EXPECT_EQ(shrunk.replays, 1u);
  EXPECT_EQ(shrunk.scenario.steps, scenario.steps);
}

TEST(ClusterShrinkTest, StaysWithinItsReplayBound) {
  ClusterShrinkOptions options;
  options.replay = PlantedReplay;
  options.max_replays = 7;
  const ClusterShrinkResult shrunk = ShrinkClusterScenario(PlantedScenario(), options);
  EXPECT_TRUE(shrunk.reproduced);
  EXPECT_LE(shrunk.replays, 7u);
}

}  // namespace
}  // namespace properties
