// Runs in forked children: an assertion's last words reach the parent, and
// a cluster run that ends in an assertion is recorded, replayed and shrunk.
#include "tools/shardsim/child_runs.h"

#include <csignal>

#include <gtest/gtest.h>

#include "engine/common/assert.h"
#include "engine/common/run_in_child.h"
#include "properties/cluster/cluster_shrink.h"
#include "properties/shrink.h"

namespace shardsim {
namespace {

TEST(AssertionHook, GivesTheAssertionsTextBeforeTheAbort) {
  const absl::StatusOr<engine::ChildOutput> output = engine::RunInChildWithPipe([](int write_fd) {
    ScopedAssertionHook hook([write_fd](std::string_view what) { engine::WriteAllToFd(write_fd, what); });
    const int planted = 7;
    SS_ASSERT(planted == 8, "planted {}", planted);
    return 0;
  });
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_TRUE(WIFSIGNALED(output->wait_status) && WTERMSIG(output->wait_status) == SIGABRT);
  EXPECT_TRUE(output->bytes.starts_with("child_runs_test.cc:")) << output->bytes;
  EXPECT_TRUE(output->bytes.ends_with(": assertion failed: planted == 8: planted 7")) << output->bytes;
}

TEST(AssertionHook, ScopesNestAndRestore) {
  std::string said;
  {
    ScopedAssertionHook outer([&](std::string_view) { said = "outer"; });
    {
      ScopedAssertionHook inner([&](std::string_view) { said = "inner"; });
      AssertionHookSlot()("x");
      EXPECT_EQ(said, "inner");
    }
    AssertionHookSlot()("x");
    EXPECT_EQ(said, "outer");
  }
  EXPECT_FALSE(static_cast<bool>(AssertionHookSlot()));
}

TEST(ChildRuns, ReplayInAChildMatchesTheReplayInProcess) {
  for (uint64_t seed : {3, 11}) {
    const properties::RecordedClusterRun recorded =
        properties::RecordClusterRun(properties::DrawClusterConfig(seed), {});
    const properties::ClusterRunResult in_child = ReplayClusterInChild(recorded.scenario);
    EXPECT_EQ(in_child.trace_hash, recorded.result.trace_hash) << "seed " << seed;
    EXPECT_EQ(in_child.failure.has_value(), recorded.result.failure.has_value()) << "seed " << seed;
    EXPECT_FALSE(EndedInAssertion(in_child));

    const absl::StatusOr<properties::RecordedClusterRun> child_recorded =
        RecordClusterRunInChild(properties::DrawClusterConfig(seed));
    ASSERT_TRUE(child_recorded.ok()) << child_recorded.status();
    EXPECT_EQ(child_recorded->scenario.tape, recorded.scenario.tape) << "seed " << seed;
    EXPECT_EQ(child_recorded->result.trace_hash, recorded.result.trace_hash) << "seed " << seed;
  }
}

// A nemesis step the run has no case for trips an assertion mid-run, after
// the world has drawn: the replay in a child names it as run-outcome, and the
// shrinker (replaying in children) keeps it while dropping the other steps.
TEST(ChildRuns, AnAssertionMidRunIsARunOutcomeThatShrinks) {
  properties::RecordedClusterRun recorded = properties::RecordClusterRun(properties::DrawClusterConfig(5), {});
  properties::ClusterScenario planted = recorded.scenario;
  properties::ClusterStep bad{.kind = properties::ClusterStepKind::kUpsert, .actor = 0};
  for (size_t i = 0; i < planted.steps.size(); ++i) {
    if (planted.steps[i].actor != 0) continue;
    planted.steps.insert(planted.steps.begin() + static_cast<ptrdiff_t>(i) + 1, bad);
    break;
  }
  const properties::ClusterRunResult replayed = ReplayClusterInChild(planted);
  ASSERT_TRUE(EndedInAssertion(replayed)) << (replayed.failure ? replayed.failure->message : "passed");
  EXPECT_NE(replayed.failure->message.find("cluster_run.cc:"), std::string::npos) << replayed.failure->message;
  EXPECT_NE(replayed.failure->message.find("nemesis step upsert"), std::string::npos) << replayed.failure->message;

  planted.expected_invariant = "run-outcome";
  properties::ClusterShrinkOptions options;
  options.max_replays = 60;
  options.replay = [](const properties::ClusterScenario& candidate) { return ReplayClusterInChild(candidate, {}, /*quiet=*/true); };
  const properties::ClusterShrinkResult shrunk = properties::ShrinkClusterScenario(planted, options);
  ASSERT_TRUE(shrunk.reproduced);
  EXPECT_LT(shrunk.scenario.StepCount(), planted.StepCount());
  EXPECT_TRUE(EndedInAssertion(shrunk.result));
}

// A record's last words: the scenario recorded so far, as run-outcome, and
// the assertion's text. (Here the assertion is the step draw's, on a config
// no scenario file can hold, so the record in a child is a clear error.)
TEST(ChildRuns, ARecordThatAssertsHandsBackWhatItRecorded) {
  properties::ClusterConfig config = properties::DrawClusterConfig(1);
  config.replication_factor = config.peers + 1;
  const absl::StatusOr<engine::ChildOutput> output = engine::RunInChildWithPipe([&](int write_fd) {
    properties::ClusterRunOptions options;
    options.on_assertion = [write_fd](const properties::ClusterScenario& so_far, std::string_view assertion) {
      engine::WriteAllToFd(write_fd, so_far.expected_invariant + " | " + std::string(assertion));
    };
    properties::RecordClusterRun(config, options);
    return 0;
  });
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_TRUE(output->bytes.starts_with("run-outcome | cluster_draw.cc:")) << output->bytes;

  const absl::StatusOr<properties::RecordedClusterRun> recorded = RecordClusterRunInChild(config);
  ASSERT_FALSE(recorded.ok());
  EXPECT_NE(recorded.status().message().find("replication_factor"), std::string::npos) << recorded.status();
}

TEST(ShardChildRuns, RecordAndReplayInAChildMatchTheRunInProcess) {
  const properties::ShardRunConfig config = properties::ShardRunConfig::Draw(3);
  const properties::RecordedRun in_process = properties::RecordShardRun(config);
  const absl::StatusOr<properties::RecordedRun> in_child = RecordShardRunInChild(config);
  ASSERT_TRUE(in_child.ok()) << in_child.status();
  EXPECT_EQ(in_child->scenario.tape, in_process.scenario.tape);
  EXPECT_EQ(in_child->scenario.StepCount(), in_process.scenario.StepCount());
  EXPECT_EQ(in_child->result.trace_hash, in_process.result.trace_hash);

  const properties::ShardRunResult replay = properties::ReplayScenario(in_process.scenario, {});
  const properties::ShardRunResult replay_in_child = ReplayShardInChild(in_process.scenario);
  EXPECT_EQ(replay_in_child.trace_hash, replay.trace_hash);
  EXPECT_EQ(replay_in_child.passed, replay.passed);
  EXPECT_EQ(replay_in_child.tape_bytes_consumed, replay.tape_bytes_consumed);
  ASSERT_EQ(replay_in_child.step_tape_ranges.size(), replay.step_tape_ranges.size());
  for (size_t i = 0; i < replay.step_tape_ranges.size(); ++i) {
    EXPECT_EQ(replay_in_child.step_tape_ranges[i].begin, replay.step_tape_ranges[i].begin) << i;
    EXPECT_EQ(replay_in_child.step_tape_ranges[i].end, replay.step_tape_ranges[i].end) << i;
  }
}

// An update step without its record trips the run's assertion mid-epoch: the
// replay in a child names it, and the shrinker keeps it.
TEST(ShardChildRuns, AnAssertionMidRunIsARunOutcomeThatShrinks) {
  properties::Scenario planted = properties::RecordShardRun(properties::ShardRunConfig::Draw(3)).scenario;
  bool broke = false;
  for (properties::Epoch& epoch : planted.epochs) {
    for (size_t i = epoch.steps.size() / 2; i < epoch.steps.size() && !broke; ++i) {
      if (!epoch.steps[i].record) continue;
      epoch.steps[i].record.reset();
      broke = true;
    }
    if (broke) break;
  }
  ASSERT_TRUE(broke) << "seed 3 has no update step to break";
  const properties::ShardRunResult replayed = ReplayShardInChild(planted);
  ASSERT_TRUE(EndedInAssertion(replayed)) << replayed.failure;
  EXPECT_NE(replayed.failure.find("an update step carries its record"), std::string::npos) << replayed.failure;

  planted.expected_invariant = "run-outcome";
  properties::ShrinkOptions options;
  options.max_replays = 60;
  options.replay = [](const properties::Scenario& candidate) { return ReplayShardInChild(candidate, {}, /*quiet=*/true); };
  const properties::ShrinkResult shrunk = properties::ShrinkScenario(planted, options);
  ASSERT_TRUE(shrunk.reproduced);
  EXPECT_LT(shrunk.scenario.StepCount(), planted.StepCount());
  EXPECT_TRUE(EndedInAssertion(shrunk.result));
}

}  // namespace
}  // namespace shardsim
