// The crash-recovery property of the shard (docs/invariants.md I1-I13): many
// seeds, each a swarm-drawn mix of concurrent clients, process crashes and
// power losses, reloads and reads, checked against the reference model.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include "properties/scenario.h"
#include "properties/shard_run.h"

namespace properties {
namespace {

uint64_t SeedCount() {
  const char* value = std::getenv("SHARDSIM_PROPERTY_SEEDS");
  return value ? std::strtoull(value, nullptr, 10) : 2000;
}

TEST(ShardProperty, CrashRecoveryHoldsForManySeeds) {
  const uint64_t seeds = SeedCount();
  ShardRunStats totals;
  uint64_t failures = 0;
  for (uint64_t seed = 0; seed < seeds; ++seed) {
    const ShardRunConfig config = ShardRunConfig::Draw(seed);
    const ShardRunResult result = RunShardScenario(config);
    AddStats(totals, result.stats);
    if (!result.passed && ++failures <= 3) {
      ADD_FAILURE() << config.Describe() << "\n" << result.failure
                    << "\nreplay: shardsim run --seed " << seed;
    }
  }
  std::printf("%llu seeds: %llu ops, %llu process crashes, %llu power losses, %llu reloads, "
              "%llu reads checked, %llu failed\n",
              (unsigned long long)seeds, (unsigned long long)totals.ops_written,
              (unsigned long long)totals.process_crashes, (unsigned long long)totals.power_losses,
              (unsigned long long)totals.reloads, (unsigned long long)totals.reads_checked,
              (unsigned long long)failures);
  EXPECT_GT(totals.process_crashes, seeds / 20);
  EXPECT_GT(totals.power_losses, seeds / 20);
}

TEST(ShardProperty, SameSeedSameTraceHash) {
  for (uint64_t seed = 0; seed < 100; ++seed) {
    const ShardRunConfig config = ShardRunConfig::Draw(seed);
    const ShardRunResult first = RunShardScenario(config);
    const ShardRunResult second = RunShardScenario(config);
    ASSERT_EQ(first.trace_hash, second.trace_hash) << "seed " << seed;
    ASSERT_EQ(first.steps, second.steps) << "seed " << seed;
  }
}

// The shrinker drops a step together with the tape its decisions read: a
// replay reports, per step, a range of the tape that lies within what was
// read, and one client's steps read it in order.
TEST(ShardProperty, ReplayReportsTheTapeEachStepRead) {
  uint64_t steps_that_read = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const RecordedRun recorded = RecordShardRun(ShardRunConfig::Draw(seed));
    const ShardRunResult replay = ReplayScenario(recorded.scenario, {});
    ASSERT_EQ(replay.step_tape_ranges.size(), recorded.scenario.StepCount()) << "seed " << seed;
    std::map<int, uint64_t> client_read_through;
    size_t flat = 0;
    for (const Epoch& epoch : recorded.scenario.epochs) {
      for (const Step& step : epoch.steps) {
        const TapeRange& range = replay.step_tape_ranges[flat++];
        ASSERT_LE(range.begin, range.end) << "seed " << seed;
        ASSERT_LE(range.end, replay.tape_bytes_consumed) << "seed " << seed;
        if (range.end == range.begin) continue;
        ++steps_that_read;
        uint64_t& through = client_read_through[step.client];
        EXPECT_GE(range.begin, through) << "seed " << seed << " step " << flat - 1;
        through = range.end;
      }
      client_read_through.clear();  // an epoch restarts the clients
    }
  }
  EXPECT_GT(steps_that_read, 100u);
}

// RapidCheck drives the knobs directly (and shrinks them) on top of the
// swarm draw.
RC_GTEST_PROP(ShardProperty, RandomKnobsNeverBreakTheModel, ()) {
  ShardRunConfig config = ShardRunConfig::Draw(*rc::gen::arbitrary<uint64_t>());
  config.clients = *rc::gen::inRange(1, 5);
  config.ops_per_client = *rc::gen::inRange(0, 25);
  config.crashes = *rc::gen::inRange(0, 4);
  const ShardRunResult result = RunShardScenario(config);
  if (!result.passed) RC_FAIL(config.Describe() + "\n" + result.failure);
}

}  // namespace
}  // namespace properties
