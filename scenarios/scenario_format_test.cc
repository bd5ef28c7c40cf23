#include "scenarios/scenario_format.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace scenarios {
namespace {

properties::ShardRunConfig SmallConfig(uint64_t seed) {
  properties::ShardRunConfig config = properties::ShardRunConfig::Draw(seed);
  config.ops_per_client = std::min(config.ops_per_client, 8);
  return config;
}

bool SameStep(const properties::Step& a, const properties::Step& b) {
  return a.client == b.client && a.action == b.action && a.wait == b.wait && a.record == b.record &&
         a.filter == b.filter && a.id == b.id && a.vector == b.vector && a.k == b.k &&
         a.save_wal == b.save_wal;
}

void ExpectSameScenario(const properties::Scenario& a, const properties::Scenario& b) {
  EXPECT_EQ(a.expected_invariant, b.expected_invariant);
  EXPECT_EQ(a.config.Describe(), b.config.Describe());
  EXPECT_EQ(a.tape, b.tape);
  ASSERT_EQ(a.epochs.size(), b.epochs.size());
  for (size_t epoch = 0; epoch < a.epochs.size(); ++epoch) {
    const auto& left = a.epochs[epoch];
    const auto& right = b.epochs[epoch];
    EXPECT_EQ(left.crash.has_value(), right.crash.has_value());
    if (left.crash && right.crash) {
      EXPECT_EQ(left.crash->after_steps, right.crash->after_steps);
      EXPECT_EQ(left.crash->kind, right.crash->kind);
    }
    ASSERT_EQ(left.steps.size(), right.steps.size());
    for (size_t index = 0; index < left.steps.size(); ++index) {
      EXPECT_TRUE(SameStep(left.steps[index], right.steps[index])) << "epoch " << epoch << " step " << index;
    }
  }
}

RC_GTEST_PROP(ScenarioFormat, RoundTripIsExact, (uint32_t seed)) {
  const properties::RecordedRun recorded = properties::RecordShardRun(SmallConfig(seed));
  const std::string text = WriteScenario(recorded.scenario, "a comment\nover two lines");
  auto parsed = ParseScenario(text);
  RC_ASSERT(parsed.ok());
  RC_ASSERT(WriteScenario(*parsed, "a comment\nover two lines") == text);
  ExpectSameScenario(recorded.scenario, *parsed);
}

// The heart of replay: a recorded run and the replay of its scenario make
// the same trace, step for step.
TEST(ScenarioReplay, ReplayGivesTheSameTraceHash) {
  for (uint64_t seed = 0; seed < 60; ++seed) {
    properties::ShardRunConfig config = SmallConfig(seed);
    config.record_trace = true;
    const properties::RecordedRun recorded = properties::RecordShardRun(config);
    auto parsed = ParseScenario(WriteScenario(recorded.scenario));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    properties::ShardRunConfig print;
    print.record_trace = true;
    const properties::ShardRunResult replayed = properties::ReplayScenario(*parsed, print);
    if (const auto at = sim::FirstDifference(recorded.result.events, replayed.events)) {
      ADD_FAILURE() << "seed " << seed << " differs at step " << *at << ":\n  recorded "
                    << (*at < recorded.result.events.size() ? recorded.result.events[*at].ToString() : "(end)")
                    << "\n  replayed " << (*at < replayed.events.size() ? replayed.events[*at].ToString() : "(end)")
                    << "\n  previous " << (*at > 0 ? replayed.events[*at - 1].ToString() : "");
    }
    EXPECT_EQ(replayed.trace_hash, recorded.result.trace_hash) << "seed " << seed;
    EXPECT_EQ(replayed.passed, recorded.result.passed) << "seed " << seed;
    // Recording does not change the run.
    EXPECT_EQ(properties::RunShardScenario(SmallConfig(seed)).trace_hash, recorded.result.trace_hash);
  }
}

TEST(ScenarioFormat, ErrorsNameTheLine) {
  const std::string header = "shardsim-scenario 1\nexpect pass\nconfig seed=1 clients=2 dim=2\nepoch\n";
  const std::pair<std::string, std::string> cases[] = {
      {"shardsim-scenario 2\n", "line 1: unsupported format version '2'"},
      {"shardsim-scenario 1\nexpect pass\nconfig seed=x\n", "line 3: seed=x is not a number"},
      {"shardsim-scenario 1\nexpect pass\nconfig clients=0\n", "line 3: clients=0 is not a number in [1, 64]"},
      {"shardsim-scenario 1\nexpect pass\nconfig bogus=1\n", "line 3: unknown config key 'bogus'"},
      {header + "c0 upsertt\n", "line 5: unknown action 'upsertt'"},
      {header + "c2 flush\n", "line 5: client 'c2' is not c0..c1"},
      {header + "c0 retrieve x\n", "line 5: expected a point id"},
      {header + "c0 scroll {oops\n", "line 5: malformed JSON"},
      {header + "c0 search k=1 [1]\n", "line 5: search vector has 1 values, the collection 2"},
      {header + "c0 flush\ncrash power-loss after=3\n", "line 6: a crash line comes after a restore line"},
      {header + "crash power-loss after=3\nrestore snapshot-0.tar\n", "line 6: a restore line comes first"},
      {header + "restore ../etc/passwd\n", "line 5: restore wants an archive of the run"},
      {header + "c0 snapshot sometimes\n", "line 5: expected wal or nowal"},
      {header + "c0 partial-snapshot now\n", "line 5: unexpected arguments 'now'"},
      {"shardsim-scenario 1\nexpect pass\nconfig profile=drawn{models=bogus}\n", "line 3: unknown or malformed profile"},
      {header + "crash meteor after=3\n", "line 5: unknown crash kind 'meteor'"},
      {header + "tape 0g\n", "line 5: bad hex '0g'"},
      {header + "tape 00\nc0 flush\n", "line 6: only tape lines may follow the tape"},
      {"shardsim-scenario 1\nexpect pass\n", "incomplete scenario"},
  };
  for (const auto& [text, message] : cases) {
    auto parsed = ParseScenario(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(std::string(parsed.status().message()).find(message), std::string::npos)
        << parsed.status() << "\nwanted: " << message;
  }
}

// A damaged file is an error or a scenario, never a crash.
RC_GTEST_PROP(ScenarioFormat, DamagedFilesNeverCrash, (uint32_t seed, std::vector<std::pair<uint16_t, char>> edits)) {
  std::string text = WriteScenario(properties::RecordShardRun(SmallConfig(seed % 50)).scenario);
  for (const auto& [position, byte] : edits) text[position % text.size()] = byte;
  (void)ParseScenario(text);
}

}  // namespace
}  // namespace scenarios
