// The cluster scenario format (round trip, refusals) and the cluster draw
// (ranges, determinism, per-actor rules).
#include "scenarios/cluster_format.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace scenarios {
namespace {

using properties::ClusterConfig;
using properties::ClusterScenario;
using properties::ClusterStep;
using properties::ClusterStepKind;

// A one-step file's text up to the end of the config line's required keys,
// and what follows the config line: tests add optional keys between them.
const std::string kConfigPrefix =
    "cluster v2\nexpect pass\nconfig seed=1 peers=3 replication_factor=2 write_consistency_factor=1 clients=1 "
    "steps_per_client=1 nemesis_steps=0 point_ids=4 lossy_network=false lossy_log=false "
    "default_transfer_method=wal_delta";
const std::string kAfterConfig = "\nclient 1: sleep 5ms\nend steps=1 tape=0\n";

ClusterScenario Drawn(uint64_t seed) {
  ClusterScenario scenario;
  scenario.config = properties::DrawClusterConfig(seed);
  scenario.steps = properties::DrawClusterSteps(scenario.config);
  for (uint64_t byte = 0; byte < seed % 70; ++byte) scenario.tape.push_back(static_cast<uint8_t>(byte * 37 + seed));
  scenario.expected_invariant = seed % 3 == 0 ? "" : "ack-durability";
  return scenario;
}

void ExpectSame(const ClusterScenario& a, const ClusterScenario& b) {
  EXPECT_EQ(a.config, b.config);
  EXPECT_EQ(a.expected_invariant, b.expected_invariant);
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (size_t index = 0; index < a.steps.size(); ++index) {
    EXPECT_EQ(a.steps[index], b.steps[index]) << "step " << index << ": " << ClusterStepLine(a.steps[index]);
  }
  EXPECT_EQ(a.tape, b.tape);
}

TEST(ClusterFormatTest, RoundTripsAThousandDrawnScenarios) {
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    const ClusterScenario scenario = Drawn(seed);
    const std::string text = WriteClusterScenario(scenario, seed % 2 ? "a comment\nof two lines" : "");
    ASSERT_TRUE(IsClusterScenarioText(text)) << text;
    auto parsed = ParseClusterScenario(text);
    ASSERT_TRUE(parsed.ok()) << "seed " << seed << ": " << parsed.status() << "\n" << text;
    ExpectSame(scenario, *parsed);
    EXPECT_EQ(WriteClusterScenario(*parsed, seed % 2 ? "a comment\nof two lines" : ""), text);
  }
}

TEST(ClusterFormatTest, TheTraceHashRoundTrips) {
  const std::string text = WriteClusterScenario(Drawn(4), "", 0x059fd2b8659f2d25u);
  EXPECT_NE(text.find("\ntrace-hash 059fd2b8659f2d25\nconfig "), std::string::npos) << text;
  auto parsed = ParseClusterScenarioFile(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->trace_hash, 0x059fd2b8659f2d25u);
  EXPECT_EQ(WriteClusterScenario(parsed->scenario, "", parsed->trace_hash), text);
}

// A file cut at any line boundary misses its end marker (it used to read as
// a shorter scenario).
TEST(ClusterFormatTest, EveryCutAtALineBoundaryIsRefused) {
  const std::string text = WriteClusterScenario(Drawn(50), "", 1);
  size_t cuts = 0;
  for (size_t end = text.find('\n'); end + 1 < text.size(); end = text.find('\n', end + 1)) {
    auto parsed = ParseClusterScenario(text.substr(0, end + 1));
    ASSERT_FALSE(parsed.ok()) << "cut after byte " << end;
    EXPECT_NE(std::string(parsed.status().message()).find("truncated cluster scenario: no end marker"),
              std::string::npos)
        << parsed.status();
    ++cuts;
  }
  EXPECT_GT(cuts, 10u);
}

TEST(ClusterFormatTest, VersionOneReadsOnlyForAnUpgrade) {
  std::string text = WriteClusterScenario(Drawn(7));
  text.replace(text.find("cluster v2"), 10, "cluster v1");
  text.erase(text.rfind("end "));
  EXPECT_FALSE(ParseClusterScenarioFile(text).ok());
  auto upgraded = ParseClusterScenarioFile(text, /*accept_version_1=*/true);
  ASSERT_TRUE(upgraded.ok()) << upgraded.status();
  ExpectSame(Drawn(7), upgraded->scenario);
}

// network_stalls is the one optional key: absent means off, and it is
// written only when on, so scenario files from before it replay unchanged.
TEST(ClusterFormatTest, NetworkStallsIsOptionalAndWrittenOnlyWhenOn) {
  const std::string without = kConfigPrefix + kAfterConfig;
  auto parsed = ParseClusterScenario(without);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->config.network_stalls);
  EXPECT_EQ(ClusterConfigLine(parsed->config).find("network_stalls"), std::string::npos);
  parsed->config.network_stalls = true;
  EXPECT_TRUE(ClusterConfigLine(parsed->config).ends_with(" network_stalls=true"));
  auto again = ParseClusterScenario(WriteClusterScenario(*parsed, ""));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->config.network_stalls);
  // The draw turns stalls on for some seeds and off for others.
  std::set<bool> drawn;
  for (uint64_t seed = 0; seed < 100; ++seed) drawn.insert(properties::DrawClusterConfig(seed).network_stalls);
  EXPECT_EQ(drawn.size(), 2u);
}

// The stall rate is written only when it is not the default, and only with
// stalls: files written before it was drawn mean the default.
TEST(ClusterFormatTest, NetworkStallPercentIsWrittenOnlyWhenNotTheDefault) {
  auto plain = ParseClusterScenario(kConfigPrefix + " network_stalls=true" + kAfterConfig);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->config.network_stall_percent, properties::kDefaultNetworkStallPercent);
  EXPECT_EQ(ClusterConfigLine(plain->config).find("network_stall_percent"), std::string::npos);
  auto busy = ParseClusterScenario(kConfigPrefix + " network_stalls=true network_stall_percent=25" + kAfterConfig);
  ASSERT_TRUE(busy.ok()) << busy.status();
  EXPECT_EQ(busy->config.network_stall_percent, 25u);
  EXPECT_TRUE(ClusterConfigLine(busy->config).ends_with(" network_stalls=true network_stall_percent=25"));
  auto again = ParseClusterScenario(WriteClusterScenario(*busy, ""));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->config, busy->config);
  // A rate without stalls, or out of 1..100, is an error, not a silent default.
  EXPECT_FALSE(ParseClusterScenario(kConfigPrefix + " network_stall_percent=25" + kAfterConfig).ok());
  for (const char* rate : {"0", "101"}) {
    const std::string keys = std::string(" network_stalls=true network_stall_percent=") + rate;
    EXPECT_FALSE(ParseClusterScenario(kConfigPrefix + keys + kAfterConfig).ok()) << rate;
  }
  // The draw gives stalling seeds both rates, and non-stalling ones the default.
  std::set<uint32_t> stalling_rates;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const properties::ClusterConfig config = properties::DrawClusterConfig(seed);
    if (config.network_stalls) {
      stalling_rates.insert(config.network_stall_percent);
    } else {
      EXPECT_EQ(config.network_stall_percent, properties::kDefaultNetworkStallPercent);
    }
  }
  EXPECT_EQ(stalling_rates, (std::set<uint32_t>{properties::kDefaultNetworkStallPercent, 25}));
}

// Files from before the flush interval was a key replay as recorded (every
// peer flushed every 5 ms); a drawn config flushes every 50 ms and says so.
TEST(ClusterFormatTest, FlushIntervalMeansTheLegacyFiveWhenAbsent) {
  auto old = ParseClusterScenario(kConfigPrefix + kAfterConfig);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->config.flush_interval_ms, properties::kLegacyFlushIntervalMs);
  EXPECT_EQ(ClusterConfigLine(old->config).find("flush_interval_ms"), std::string::npos);
  auto slow = ParseClusterScenario(kConfigPrefix + " flush_interval_ms=50" + kAfterConfig);
  ASSERT_TRUE(slow.ok()) << slow.status();
  EXPECT_EQ(slow->config.flush_interval_ms, 50u);
  EXPECT_TRUE(ClusterConfigLine(slow->config).ends_with(" flush_interval_ms=50"));
  EXPECT_FALSE(ParseClusterScenario(kConfigPrefix + " flush_interval_ms=0" + kAfterConfig).ok());
  EXPECT_FALSE(ParseClusterScenario(kConfigPrefix + " flush_interval_ms=10001" + kAfterConfig).ok());
  const properties::ClusterConfig drawn = properties::DrawClusterConfig(7);
  EXPECT_EQ(drawn.flush_interval_ms, properties::kDefaultFlushIntervalMs);
  EXPECT_NE(ClusterConfigLine(drawn).find(" flush_interval_ms=50"), std::string::npos);
}

TEST(ClusterFormatTest, WritesReadableSteps) {
  ClusterStep upsert{.kind = ClusterStepKind::kUpsert, .actor = 2, .peer = 3, .id = 5, .value = 17,
                     .ordering = engine::WriteOrdering::kMedium};
  EXPECT_EQ(ClusterStepLine(upsert), "client 2: upsert id=5 value=17 via peer 3 wait ordering=medium");
  ClusterStep crash{.kind = ClusterStepKind::kCrash, .actor = 0, .peer = 2, .crash_kind = sim::CrashKind::kPowerLoss};
  EXPECT_EQ(ClusterStepLine(crash), "nemesis: crash peer 2 power-loss");
  ClusterStep partition{.kind = ClusterStepKind::kPartition, .actor = 0, .side = {1, 3}, .one_way = true};
  EXPECT_EQ(ClusterStepLine(partition), "nemesis: partition {1,3} one-way");
  ClusterStep transfer{.kind = ClusterStepKind::kTransfer, .actor = 0, .peer = 1, .to = 2,
                       .method = engine::TransferMethod::kWalDelta};
  EXPECT_EQ(ClusterStepLine(transfer), "nemesis: transfer 1->2 wal_delta");
}

TEST(ClusterFormatTest, ShardScenariosAreNotClusterOnes) {
  EXPECT_FALSE(IsClusterScenarioText("# x\nshardsim-scenario 1\nexpect pass\n"));
  EXPECT_TRUE(IsClusterScenarioText("\n# x\n  cluster v1\nexpect pass\n"));
  EXPECT_FALSE(IsClusterScenarioText(""));
}

constexpr std::string_view kConfig =
    "config seed=1 peers=3 replication_factor=2 write_consistency_factor=1 clients=2 steps_per_client=2 "
    "nemesis_steps=1 point_ids=4 lossy_network=false lossy_log=false default_transfer_method=wal_delta\n";

// Each malformed input is an error naming its line, never a crash.
TEST(ClusterFormatTest, RefusesMalformedInput) {
  const std::string head = std::string("cluster v2\nexpect pass\n") + std::string(kConfig);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not a cluster scenario: no 'cluster v2' header line"},
      {"cluster v3\n", "line 1: expected the header"},
      {"cluster v1\n", "line 1: format version 1 (cluster v1) has no end marker"},
      {"cluster v2\nexpect pass\n", "truncated cluster scenario: no end marker"},
      {head, "truncated cluster scenario: no end marker"},
      {"cluster v2\nexpect pass\ntrace-hash xyz\n", "line 3: trace-hash wants 16 hex digits, got 'xyz'"},
      {head + "nemesis: heal\nend steps=2 tape=0\n", "damaged cluster scenario: its end marker says 2 steps"},
      {head + "end steps=0 tape=0\nnemesis: heal\n", "line 5: nothing may follow the end line"},
      {"cluster v2\nexpect\n", "line 2: expected 'expect"},
      {"cluster v2\nexpect pass\nconfig seed=1\n", "line 3: config lacks peers="},
      {"cluster v2\nexpect pass\nconfig seed=1 seed=2\n", "given twice"},
      {"cluster v2\nexpect pass\nconfig peers=9\n", "peers=9 is not 2..5"},
      {"cluster v2\nexpect pass\nconfig colour=red\n", "unknown config key 'colour'"},
      {"cluster v2\nexpect pass\nconfig " + std::string(kConfig.substr(7)).replace(
           std::string(kConfig.substr(7)).find("replication_factor=2"), 20, "replication_factor=4"),
       "exceeds peers"},
      {head + "client 3: sleep 5ms\n", "line 4: actor 'client 3' is not"},
      {head + "client 1: upsert id=4 value=1 via peer 1 wait ordering=weak\n", "expected id=<0..3>"},
      {head + "client 1: upsert id=1 value=1 via peer 4 wait ordering=weak\n", "peer '4' is not 1..3"},
      {head + "client 1: upsert id=1 value=1 via peer 1 wait ordering=hard\n", "ordering=weak|medium|strong"},
      {head + "client 1: upsert id=1 value=1 via peer 1 sometimes ordering=weak\n", "wait or nowait"},
      {head + "client 1: delete id=1\n", "delete wants 7 words"},
      {head + "client 1: read factor=0 via peer 1\n", "factor=<1..3>"},
      {head + "client 1: crash peer 1 power-loss\n", "unknown client step 'crash'"},
      {head + "nemesis: upsert id=1 value=1 via peer 1 wait ordering=weak\n", "unknown nemesis step 'upsert'"},
      {head + "nemesis: crash peer 2 meteor\n", "unknown crash kind 'meteor'"},
      {head + "nemesis: partition {1,2,3} one-way\n", "cuts off nobody"},
      {head + "nemesis: partition {1,1} one-way\n", "twice"},
      {head + "nemesis: partition {} two-way\n", "expected a peer set"},
      {head + "nemesis: transfer 2->2 wal_delta\n", "to itself"},
      {head + "nemesis: transfer 1->2 snapshot\n", "unknown transfer method 'snapshot'"},
      {head + "nemesis: transfer 12 wal_delta\n", "expected <from>-><to>"},
      {head + "nemesis: sleep 10s\n", "expected a sleep like 120ms"},
      {head + "nemesis: heal now\n", "takes no arguments"},
      {head + "nemesis heal\n", "unknown line"},
      {head + "tape 0f0\n", "odd number"},
      {head + "tape zz\n", "bad hex"},
      {head + "tape 00\nnemesis: heal\n", "line 5: only tape lines"},
  };
  for (const auto& [text, expected] : cases) {
    auto parsed = ParseClusterScenario(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(std::string(parsed.status().message()).find(expected), std::string::npos)
        << "input:\n" << text << "\nerror: " << parsed.status().message() << "\nwanted: " << expected;
  }
}

TEST(ClusterDrawTest, ConfigsStayInTheirRanges) {
  std::map<uint32_t, int> peers_seen;
  int lossy_network = 0, replicated = 0;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    const ClusterConfig config = properties::DrawClusterConfig(seed);
    EXPECT_EQ(config, properties::DrawClusterConfig(seed));
    EXPECT_EQ(config.seed, seed);
    EXPECT_GE(config.peers, 2u);
    EXPECT_LE(config.peers, 5u);
    EXPECT_GE(config.replication_factor, 1u);
    EXPECT_LE(config.replication_factor, std::min(config.peers, 3u));
    EXPECT_GE(config.write_consistency_factor, 1u);
    EXPECT_LE(config.write_consistency_factor, config.replication_factor);
    EXPECT_GE(config.clients, 1u);
    EXPECT_LE(config.clients, 3u);
    // A loaded cluster has many points.
    EXPECT_GE(config.point_ids, config.paced_clients ? 64u : 4u);
    EXPECT_LE(config.point_ids, config.paced_clients ? 256u : 16u);
    ++peers_seen[config.peers];
    lossy_network += config.lossy_network;
    replicated += config.replication_factor >= 2;
  }
  EXPECT_EQ(peers_seen.size(), 4u);
  EXPECT_GT(lossy_network, 400);
  EXPECT_LT(lossy_network, 800);
  EXPECT_GT(replicated, 1500);
}

TEST(ClusterDrawTest, StepsFollowTheirActorsRules) {
  std::map<ClusterStepKind, int> kinds;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    const ClusterConfig config = properties::DrawClusterConfig(seed);
    const std::vector<ClusterStep> steps = properties::DrawClusterSteps(config);
    EXPECT_EQ(steps, properties::DrawClusterSteps(config));
    // A paced client's ops are each followed by a pause (a sleep step).
    size_t pauses = 0;
    for (size_t index = 1; index < steps.size(); ++index) {
      pauses += config.paced_clients && steps[index].kind == ClusterStepKind::kSleep && steps[index].actor != 0 &&
                steps[index - 1].kind != ClusterStepKind::kSleep && steps[index - 1].actor == steps[index].actor;
    }
    EXPECT_EQ(steps.size(), size_t{config.clients} * config.steps_per_client + config.nemesis_steps + pauses);
    std::set<uint64_t> values;
    for (const ClusterStep& step : steps) {
      ++kinds[step.kind];
      EXPECT_LE(step.actor, config.clients);
      const bool client_kind = step.kind == ClusterStepKind::kUpsert || step.kind == ClusterStepKind::kDelete ||
                               step.kind == ClusterStepKind::kRead;
      if (client_kind) {
        EXPECT_NE(step.actor, 0u);
      }
      if (step.actor != 0) {
        EXPECT_TRUE(client_kind || step.kind == ClusterStepKind::kSleep);
      }
      EXPECT_GE(step.peer, 1u);
      EXPECT_LE(step.peer, config.peers);
      if (step.kind == ClusterStepKind::kUpsert) {
        EXPECT_TRUE(values.insert(step.value).second) << step.value;
      }
      if (step.kind == ClusterStepKind::kRead) {
        EXPECT_LE(step.read_factor, config.replication_factor);
      }
      if (step.kind == ClusterStepKind::kTransfer) {
        EXPECT_NE(step.peer, step.to);
      }
      if (step.kind == ClusterStepKind::kPartition) {
        EXPECT_FALSE(step.side.empty());
        EXPECT_LT(step.side.size(), config.peers);
      }
      EXPECT_LT(step.id, config.point_ids);
    }
  }
  EXPECT_EQ(kinds.size(), 9u);  // every kind drawn
}

// The loaded-cluster keys are optional like network_stalls: absent means
// off, written only when on. The draw turns them on together for some
// seeds, and a paced seed's clients sleep after every op.
TEST(ClusterFormatTest, LoadedClusterKeysAreOptionalAndWrittenOnlyWhenOn) {
  auto plain = ParseClusterScenario(kConfigPrefix + kAfterConfig);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->config.paced_clients);
  EXPECT_FALSE(plain->config.slow_log);
  EXPECT_EQ(ClusterConfigLine(plain->config).find("paced_clients"), std::string::npos);
  EXPECT_EQ(ClusterConfigLine(plain->config).find("slow_log"), std::string::npos);
  auto loaded = ParseClusterScenario(kConfigPrefix + " paced_clients=true slow_log=true" + kAfterConfig);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->config.paced_clients);
  EXPECT_TRUE(loaded->config.slow_log);
  EXPECT_TRUE(ClusterConfigLine(loaded->config).ends_with(" paced_clients=true slow_log=true"));
  auto again = ParseClusterScenario(WriteClusterScenario(*loaded, ""));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->config, loaded->config);
  std::set<bool> drawn;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    const properties::ClusterConfig config = properties::DrawClusterConfig(seed);
    EXPECT_EQ(config.paced_clients, config.slow_log);
    drawn.insert(config.paced_clients);
    const std::vector<properties::ClusterStep> steps = properties::DrawClusterSteps(config);
    for (size_t index = 0; index < steps.size(); ++index) {
      const properties::ClusterStep& op = steps[index];
      if (!config.paced_clients || op.actor == 0 || op.kind == properties::ClusterStepKind::kSleep) continue;
      ASSERT_LT(index + 1, steps.size());
      EXPECT_EQ(steps[index + 1].kind, properties::ClusterStepKind::kSleep) << "seed " << seed << " step " << index;
      EXPECT_EQ(steps[index + 1].actor, op.actor);
    }
  }
  EXPECT_EQ(drawn.size(), 2u);
}

}  // namespace
}  // namespace scenarios
