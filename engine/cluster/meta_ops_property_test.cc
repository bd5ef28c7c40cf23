// JSON round trips of meta ops and collection states, and random op
// sequences: no accepted op empties a shard of Active replicas, every state
// stays consistent and encodable, and applying is deterministic.
#include <cstdio>
#include <random>

#include <gtest/gtest.h>

#include "engine/cluster/meta_ops.h"

namespace engine {
namespace {

using S = ReplicaState;
using M = TransferMethod;

std::vector<MetaOp> EveryKindOfOp() {
  return {
      CreateCollection{{2, 1}, {1, 2, 3}, {{0, {{1, S::kActive}, {2, S::kInitializing}}}, {5, {}}}},
      SetReplicaState{4, 2, S::kDead, std::nullopt},
      SetReplicaState{4, 2, S::kActive, S::kRecovery},
      StartTransfer{{{1, 2, 3}, false, M::kWalDelta}},
      RestartTransfer{{1, 2, 3}, M::kSnapshot},
      FinishTransfer{{0, 1, 18446744073709551615ull}},
      RecoveryToPartial{{4294967295u, 1, 2}},
      AbortTransfer{{0, 1, 2}, "transmission failed"},
      SetReplicationFactor{3, 2},
      RemovePeer{7},
  };
}

bool SameOp(const MetaOp& a, const MetaOp& b) { return MetaOpToJson(a) == MetaOpToJson(b); }

TEST(MetaOpsJsonTest, MetaOpRoundTrip) {
  for (const MetaOp& op : EveryKindOfOp()) {
    SCOPED_TRACE(DescribeMetaOp(op));
    const nlohmann::json json = MetaOpToJson(op);
    EXPECT_EQ(json["op"], std::string(MetaOpName(op)));
    auto decoded = MetaOpFromJson(nlohmann::json::parse(json.dump()));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->index(), op.index());
    EXPECT_TRUE(SameOp(*decoded, op));
    EXPECT_EQ(DescribeMetaOp(*decoded), DescribeMetaOp(op));
  }
  // from_state may be left out.
  auto absent = MetaOpFromJson(
      nlohmann::json::parse(R"({"op":"SetReplicaState","shard_id":0,"peer_id":1,"state":"Dead"})"));
  ASSERT_TRUE(absent.ok()) << absent.status();
  EXPECT_FALSE(std::get<SetReplicaState>(*absent).from_state);
}

TEST(MetaOpsJsonTest, MalformedMetaOps) {
  const char* cases[] = {
      R"([])",
      R"({})",
      R"({"op":3})",
      R"({"op":"Nope"})",
      R"({"op":"SetReplicaState","shard_id":0,"peer_id":1})",
      R"({"op":"SetReplicaState","shard_id":0,"peer_id":1,"state":"dead"})",
      R"({"op":"SetReplicaState","shard_id":0,"peer_id":1,"state":"Dead","from_state":5})",
      R"({"op":"SetReplicaState","shard_id":4294967296,"peer_id":1,"state":"Dead"})",
      R"({"op":"SetReplicaState","shard_id":-1,"peer_id":1,"state":"Dead"})",
      R"({"op":"StartTransfer"})",
      R"({"op":"StartTransfer","transfer":[]})",
      R"({"op":"StartTransfer","transfer":{"shard_id":0,"from":1,"to":2,"sync":true,"method":"fast"}})",
      R"({"op":"StartTransfer","transfer":{"shard_id":0,"from":1,"to":2,"sync":1,"method":"snapshot"}})",
      R"({"op":"RestartTransfer","shard_id":0,"from":1,"to":2})",
      R"({"op":"FinishTransfer","shard_id":0,"from":1})",
      R"({"op":"AbortTransfer","shard_id":0,"from":1,"to":2,"reason":7})",
      R"({"op":"SetReplicationFactor","replication_factor":1})",
      R"({"op":"RemovePeer","peer_id":"1"})",
      R"({"op":"CreateCollection","params":{"replication_factor":1,"write_consistency_factor":1},"peers":[1,1],"shards":{}})",
      R"({"op":"CreateCollection","params":{"replication_factor":1,"write_consistency_factor":1},"peers":[1],"shards":{"x":{}}})",
      R"({"op":"CreateCollection","params":{"replication_factor":1,"write_consistency_factor":1},"peers":[1],"shards":{"0":{"1":"Up"}}})",
      R"({"op":"CreateCollection","params":{"replication_factor":1},"peers":[1],"shards":{}})",
  };
  for (const char* text : cases) {
    SCOPED_TRACE(text);
    auto decoded = MetaOpFromJson(nlohmann::json::parse(text));
    EXPECT_FALSE(decoded.ok());
    EXPECT_FALSE(decoded.status().message().empty());
  }
}

CollectionState SampleState() {
  CollectionState state;
  state.params = {2, 1};
  state.peers = {1, 2, 3, 4};
  state.shards = {{0, {{1, S::kActive}, {3, S::kPartial}}}, {1, {{2, S::kActive}, {4, S::kRecovery}}}};
  state.transfers[{0, 1, 3}] = {{0, 1, 3}, true, M::kStreamRecords};
  state.transfers[{1, 2, 4}] = {{1, 2, 4}, false, M::kSnapshot};
  return state;
}

TEST(MetaOpsJsonTest, CollectionStateRoundTrip) {
  const CollectionState state = SampleState();
  ASSERT_TRUE(state.CheckConsistency().ok());
  auto decoded = CollectionStateFromJson(nlohmann::json::parse(CollectionStateToJson(state).dump()));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, state);
}

TEST(MetaOpsJsonTest, MalformedOrInconsistentCollectionStates) {
  const nlohmann::json good = CollectionStateToJson(SampleState());
  std::vector<nlohmann::json> cases;
  for (const char* field : {"params", "peers", "shards", "transfers"}) {
    nlohmann::json missing = good;
    missing.erase(field);
    cases.push_back(missing);
    nlohmann::json wrong = good;
    wrong[field] = "x";
    cases.push_back(wrong);
  }
  nlohmann::json edited = good;
  edited["params"]["replication_factor"] = 0;
  cases.push_back(edited);
  edited = good;
  edited["peers"] = {1, 2, 3};  // peer 4 holds a replica and a transfer
  cases.push_back(edited);
  edited = good;
  edited["transfers"][0]["shard_id"] = 9;  // no such shard
  cases.push_back(edited);
  edited = good;
  edited["transfers"].push_back(edited["transfers"][0]);  // listed twice
  cases.push_back(edited);
  edited = good;
  edited["transfers"].push_back({{"shard_id", 0}, {"from", 1}, {"to", 2}, {"sync", true}, {"method", "snapshot"}});
  cases.push_back(edited);  // peer 1 in two transfers of shard 0
  edited = good;
  edited["transfers"][0]["to"] = 1;  // from == to
  cases.push_back(edited);
  edited = good;
  edited["shards"]["0"]["1"] = "Alive";
  cases.push_back(edited);
  edited = good;
  edited["shards"]["00"] = nlohmann::json::object();  // shard 0 twice
  cases.push_back(edited);
  cases.push_back(nlohmann::json::array());
  for (const nlohmann::json& json : cases) {
    SCOPED_TRACE(json.dump());
    auto decoded = CollectionStateFromJson(json);
    EXPECT_FALSE(decoded.ok());
    EXPECT_FALSE(decoded.status().message().empty());
  }
}

// ---- Random sequences ----

constexpr PeerId kPeers = 5;
constexpr ShardId kShards = 3;

// Mostly plausible ops (keys of registered transfers, Active sources), with
// enough nonsense mixed in to exercise every rejection.
MetaOp RandomOp(std::mt19937_64& random, const CollectionState& state) {
  const auto pick = [&random](uint64_t bound) { return std::uniform_int_distribution<uint64_t>(0, bound - 1)(random); };
  const ShardId shard = static_cast<ShardId>(pick(kShards));
  PeerId from = 1 + pick(kPeers + 1);  // peer kPeers + 1 is unknown
  const PeerId to = 1 + pick(kPeers + 1);
  for (const auto& [peer, replica_state] : state.shards.at(shard)) {
    if (IsActive(replica_state) && pick(2) == 0) from = peer;
  }
  TransferKey key{shard, from, to};
  if (!state.transfers.empty() && pick(4) != 0) {
    key = std::next(state.transfers.begin(), static_cast<long>(pick(state.transfers.size())))->first;
  }
  const auto any_state = [&] { return static_cast<S>(pick(static_cast<uint64_t>(S::kManualRecovery) + 1)); };
  const auto method = static_cast<M>(pick(3));
  switch (pick(40)) {
    case 0: return RemovePeer{from};
    case 1: return CreateCollection{{1, 1}, {1}, {{0, {{1, S::kActive}}}}};
    case 2: case 3: return SetReplicationFactor{static_cast<uint32_t>(pick(4)), static_cast<uint32_t>(pick(4))};
    case 4: case 5: case 6: case 7: return SetReplicaState{shard, from, S::kActive, std::nullopt};
    case 8: case 9: case 10: case 11: case 12: case 13: case 14: case 15: {
      const PeerId peer = pick(2) == 0 ? key.to : from;
      std::optional<S> from_state = state.StateOf(key.shard, peer);
      if (pick(3) == 0) from_state = any_state();
      return SetReplicaState{key.shard, peer, pick(2) == 0 ? S::kDead : any_state(), from_state};
    }
    case 16: case 17: case 18: case 19: case 20: case 21: case 22: case 23:
      return StartTransfer{{{shard, from, to}, pick(3) != 0, method}};
    case 24: case 25: return RestartTransfer{key, method};
    case 26: case 27: case 28: case 29: return FinishTransfer{key};
    case 30: case 31: case 32: case 33: return RecoveryToPartial{key};
    default: return AbortTransfer{key, "random"};
  }
}

CollectionState StartState() {
  CollectionState state;
  CreateCollection create{{2, 1}, {}, {}};
  for (PeerId peer = 1; peer <= kPeers; peer++) create.peers.insert(peer);
  create.shards[0] = {{1, S::kActive}, {2, S::kActive}};
  create.shards[1] = {{3, S::kInitializing}};
  create.shards[2] = {{4, S::kActive}, {5, S::kDead}};
  EXPECT_TRUE(ApplyMetaOp(state, create).applied);
  return state;
}

bool HasActive(const CollectionState& state, ShardId shard) {
  for (const auto& [peer, replica_state] : state.shards.at(shard)) {
    if (IsActive(replica_state)) return true;
  }
  return false;
}

TEST(MetaOpsPropertyTest, RandomSequencesKeepATruthAndAreDeterministic) {
  std::mt19937_64 random(20260804);
  size_t applied_count = 0;
  std::map<std::string_view, size_t> applied_by_kind;
  for (int sequence = 0; sequence < 200; sequence++) {
    CollectionState first = StartState();
    CollectionState second = StartState();
    std::map<ShardId, bool> had_active;
    for (int index = 0; index < 60; index++) {
      const MetaOp op = RandomOp(random, first);
      const ApplyOutcome outcome = ApplyMetaOp(first, op);
      const ApplyOutcome again = ApplyMetaOp(second, op);
      ASSERT_EQ(outcome.applied, again.applied) << DescribeMetaOp(op);
      ASSERT_EQ(outcome.rejection, again.rejection);
      ASSERT_EQ(first, second) << DescribeMetaOp(op);
      applied_count += outcome.applied ? 1 : 0;
      if (outcome.applied) applied_by_kind[MetaOpName(op)]++;
      ASSERT_TRUE(first.CheckConsistency().ok()) << DescribeMetaOp(op) << ": " << first.CheckConsistency();
      for (ShardId shard = 0; shard < kShards; shard++) {
        const bool active = HasActive(first, shard);
        ASSERT_TRUE(active || !had_active[shard]) << "shard " << shard << " emptied by " << DescribeMetaOp(op);
        had_active[shard] = had_active[shard] || active;
      }
      auto decoded = CollectionStateFromJson(nlohmann::json::parse(CollectionStateToJson(first).dump()));
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      ASSERT_EQ(*decoded, first);
    }
  }
  // The generator exercises more than rejections: every kind but the
  // (always repeated) CreateCollection gets applied.
  EXPECT_GT(applied_count, 4000u);
  EXPECT_EQ(applied_by_kind.size(), std::variant_size_v<MetaOp> - 1);
  for (const auto& [kind, count] : applied_by_kind) std::printf("%s applied %zu times\n", std::string(kind).c_str(), count);
}

}  // namespace
}  // namespace engine
