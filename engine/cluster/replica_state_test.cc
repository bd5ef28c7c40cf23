#include "engine/cluster/replica_state.h"

#include <gtest/gtest.h>

namespace engine {
namespace {

using S = ReplicaState;

// BRIEF-cluster §1's table, row by row. L is given as "accepts a non-forced
// op" (a forced op is accepted in every state).
struct Row {
  S state;
  const char* name;
  bool active, readable, updatable, local_unforced, source_of_truth, healthy, partial_or_recovery;
};

constexpr Row kRows[] = {
    //                                     A      R      U      L      S      H      P
    {S::kActive, "Active", true, true, true, true, true, true, false},
    {S::kDead, "Dead", false, false, false, false, false, false, false},
    {S::kPartial, "Partial", false, false, true, true, false, false, true},
    {S::kInitializing, "Initializing", false, false, true, true, false, false, false},
    {S::kListener, "Listener", false, false, true, true, false, true, false},
    {S::kPartialSnapshot, "PartialSnapshot", false, false, false, false, false, false, true},
    {S::kRecovery, "Recovery", false, false, false, false, false, false, true},
    {S::kResharding, "Resharding", false, false, true, true, true, true, true},
    {S::kReshardingScaleDown, "ReshardingScaleDown", true, true, true, true, true, true, true},
    {S::kActiveRead, "ActiveRead", false, true, true, true, true, false, true},
    {S::kManualRecovery, "ManualRecovery", false, false, false, false, false, true, true},
};

TEST(ReplicaStateTest, PredicateTableRowByRow) {
  for (const Row& row : kRows) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(ReplicaStateName(row.state), row.name);
    EXPECT_EQ(ReplicaStateFromName(row.name), row.state);
    EXPECT_EQ(IsActive(row.state), row.active);
    EXPECT_EQ(IsReadable(row.state), row.readable);
    EXPECT_EQ(IsUpdatable(row.state), row.updatable);
    EXPECT_EQ(AcceptsLocalUpdate(row.state, /*forced=*/false), row.local_unforced);
    EXPECT_TRUE(AcceptsLocalUpdate(row.state, /*forced=*/true));
    EXPECT_EQ(CanBeSourceOfTruth(row.state), row.source_of_truth);
    EXPECT_EQ(IsHealthy(row.state), row.healthy);
    EXPECT_EQ(IsPartialOrRecovery(row.state), row.partial_or_recovery);
  }
  EXPECT_EQ(std::size(kRows), static_cast<size_t>(S::kManualRecovery) + 1);
}

TEST(ReplicaStateTest, UnknownNames) {
  EXPECT_FALSE(ReplicaStateFromName(""));
  EXPECT_FALSE(ReplicaStateFromName("active"));  // serde names are case sensitive
  EXPECT_FALSE(ReplicaStateFromName("Activ"));
  EXPECT_FALSE(ReplicaStateFromName("Active "));
}

TEST(ReplicaStateTest, JsonRoundTripInQdrantsLayout) {
  ReplicaSetState state;
  state.this_peer_id = 7;
  state.is_local = true;
  state.peers = {{7, S::kActive}, {11, S::kDead}, {12, S::kRecovery}};
  const nlohmann::json json = ReplicaSetStateToJson(state);
  EXPECT_EQ(json, nlohmann::json::parse(
                      R"({"is_local":true,"this_peer_id":7,"peers":{"7":"Active","11":"Dead","12":"Recovery"}})"));
  auto decoded = ReplicaSetStateFromJson(json);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, state);
  EXPECT_EQ(decoded->Get(11), S::kDead);
  EXPECT_FALSE(decoded->Get(99));

  auto empty = ReplicaSetStateFromJson(ReplicaSetStateToJson(ReplicaSetState{}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->peers.empty());
  // Extra keys (Qdrant's newer files carry more) are ignored.
  auto extra = ReplicaSetStateFromJson(nlohmann::json::parse(
      R"({"is_local":false,"this_peer_id":1,"peers":{},"peer_metadatas":{}})"));
  EXPECT_TRUE(extra.ok());
}

TEST(ReplicaStateTest, MalformedJsonIsAnErrorNeverACrash) {
  const char* cases[] = {
      R"([])",
      R"("x")",
      R"(null)",
      R"({})",
      R"({"is_local":1,"this_peer_id":1,"peers":{}})",
      R"({"is_local":true,"this_peer_id":-1,"peers":{}})",
      R"({"is_local":true,"this_peer_id":1.5,"peers":{}})",
      R"({"is_local":true,"this_peer_id":"1","peers":{}})",
      R"({"is_local":true,"peers":{}})",
      R"({"is_local":true,"this_peer_id":1})",
      R"({"is_local":true,"this_peer_id":1,"peers":[]})",
      R"({"is_local":true,"this_peer_id":1,"peers":{"x":"Active"}})",
      R"({"is_local":true,"this_peer_id":1,"peers":{"":"Active"}})",
      R"({"is_local":true,"this_peer_id":1,"peers":{"-1":"Active"}})",
      R"({"is_local":true,"this_peer_id":1,"peers":{"1a":"Active"}})",
      R"({"is_local":true,"this_peer_id":1,"peers":{"99999999999999999999999":"Active"}})",
      R"({"is_local":true,"this_peer_id":1,"peers":{"1":"Alive"}})",
      R"({"is_local":true,"this_peer_id":1,"peers":{"1":3}})",
      R"({"is_local":true,"this_peer_id":1,"peers":{"1":null}})",
      R"({"is_local":true,"this_peer_id":1,"peers":{"7":"Active","07":"Dead"}})",
  };
  for (const char* text : cases) {
    SCOPED_TRACE(text);
    auto decoded = ReplicaSetStateFromJson(nlohmann::json::parse(text));
    EXPECT_FALSE(decoded.ok());
    EXPECT_FALSE(decoded.status().message().empty());
  }
}

}  // namespace
}  // namespace engine
