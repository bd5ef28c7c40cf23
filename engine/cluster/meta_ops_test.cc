#include "engine/cluster/meta_ops.h"

#include <gtest/gtest.h>

namespace engine {
namespace {

using S = ReplicaState;
using M = TransferMethod;

// Peers 1..4; shard 0 Active on 1 and 2, shard 1 Active on 3 only.
CollectionState Cluster() {
  CollectionState state;
  CreateCollection create;
  create.params = {2, 1};
  create.peers = {1, 2, 3, 4};
  create.shards = {{0, {{1, S::kActive}, {2, S::kActive}}}, {1, {{3, S::kActive}}}};
  const ApplyOutcome outcome = ApplyMetaOp(state, create);
  EXPECT_TRUE(outcome.applied) << outcome.rejection;
  return state;
}

ShardTransfer Transfer(ShardId shard, PeerId from, PeerId to, bool sync, M method) {
  return ShardTransfer{{shard, from, to}, sync, method};
}

// Applies and expects a rejection that leaves the state as it was.
void ExpectRejected(CollectionState& state, const MetaOp& op) {
  const CollectionState before = state;
  const ApplyOutcome outcome = ApplyMetaOp(state, op);
  EXPECT_FALSE(outcome.applied) << DescribeMetaOp(op);
  EXPECT_FALSE(outcome.rejection.empty());
  EXPECT_TRUE(outcome.state_changes.empty());
  EXPECT_EQ(state, before);
}

ApplyOutcome ExpectApplied(CollectionState& state, const MetaOp& op) {
  const ApplyOutcome outcome = ApplyMetaOp(state, op);
  EXPECT_TRUE(outcome.applied) << DescribeMetaOp(op) << ": " << outcome.rejection;
  EXPECT_TRUE(state.CheckConsistency().ok()) << state.CheckConsistency();
  return outcome;
}

TEST(MetaOpsTest, CreateCollectionOnlyOnce) {
  CollectionState state = Cluster();
  EXPECT_EQ(state.StateOf(0, 2), S::kActive);
  EXPECT_FALSE(state.StateOf(0, 3));
  CreateCollection again;
  again.peers = {1};
  again.shards = {{0, {{1, S::kActive}}}};
  ExpectRejected(state, again);  // idempotent re-apply

  CollectionState empty;
  CreateCollection outside;
  outside.peers = {1};
  outside.shards = {{0, {{2, S::kActive}}}};
  ExpectRejected(empty, outside);
  ExpectRejected(empty, CreateCollection{{0, 1}, {1}, {{0, {{1, S::kActive}}}}});
  ExpectRejected(empty, CreateCollection{{1, 1}, {1}, {}});
}

TEST(MetaOpsTest, SetReplicaStateGuards) {
  CollectionState state = Cluster();
  ExpectRejected(state, SetReplicaState{9, 1, S::kDead, {}});        // no such shard
  ExpectRejected(state, SetReplicaState{0, 9, S::kActive, {}});      // unknown peer, no replica
  ExpectRejected(state, SetReplicaState{0, 1, S::kDead, S::kPartial});  // from_state mismatch
  ExpectRejected(state, SetReplicaState{0, 3, S::kActive, S::kDead});   // absent is not Dead
  ExpectRejected(state, SetReplicaState{1, 3, S::kDead, {}});        // last source of truth
  ExpectRejected(state, SetReplicaState{1, 3, S::kListener, {}});
  ExpectApplied(state, SetReplicaState{1, 3, S::kReshardingScaleDown, {}});  // still active

  const ApplyOutcome dead = ExpectApplied(state, SetReplicaState{0, 1, S::kDead, S::kActive});
  ASSERT_EQ(dead.state_changes.size(), 1u);
  EXPECT_EQ(dead.state_changes[0].before, S::kActive);
  EXPECT_EQ(dead.state_changes[0].after, S::kDead);
  ExpectRejected(state, SetReplicaState{0, 2, S::kDead, {}});  // now the last one
  // A known peer without a replica gets one.
  const ApplyOutcome created = ExpectApplied(state, SetReplicaState{0, 4, S::kDead, {}});
  EXPECT_FALSE(created.state_changes.at(0).before);
  EXPECT_EQ(state.StateOf(0, 4), S::kDead);
}

TEST(MetaOpsTest, LastSourceOfTruthWhenNothingIsActive) {
  CollectionState state;
  ExpectApplied(state, CreateCollection{{1, 1}, {1, 2}, {{0, {{1, S::kInitializing}, {2, S::kDead}}}}});
  EXPECT_TRUE(state.IsLastSourceOfTruth(0, 1));
  EXPECT_FALSE(state.IsLastSourceOfTruth(0, 2));
  ExpectRejected(state, SetReplicaState{0, 1, S::kDead, {}});
  ExpectApplied(state, SetReplicaState{0, 1, S::kActive, S::kInitializing});
  EXPECT_TRUE(state.IsLastSourceOfTruth(0, 1));
  ExpectApplied(state, SetReplicaState{0, 2, S::kListener, {}});
  EXPECT_FALSE(state.IsLastSourceOfTruth(0, 2));  // an Active replica exists
}

// A Partial replica is not a source of truth (it may lack points), so the
// last Active replica stays protected while a transfer target is Partial.
TEST(MetaOpsTest, PartialReplicaDoesNotReleaseTheLastActive) {
  CollectionState state;
  ExpectApplied(state, CreateCollection{{1, 2}, {1, 2}, {{0, {{1, S::kActive}, {2, S::kDead}}}}});
  ExpectApplied(state, StartTransfer{Transfer(0, 1, 2, true, M::kStreamRecords)});
  ASSERT_EQ(state.StateOf(0, 2), S::kPartial);
  EXPECT_TRUE(state.IsLastSourceOfTruth(0, 1));
  ExpectRejected(state, SetReplicaState{0, 1, S::kDead, S::kActive});
  EXPECT_EQ(state.StateOf(0, 1), S::kActive);
}

TEST(MetaOpsTest, DeadAbortsRelatedTransfers) {
  CollectionState state = Cluster();
  ExpectApplied(state, StartTransfer{Transfer(0, 1, 3, true, M::kStreamRecords)});
  ExpectApplied(state, StartTransfer{Transfer(1, 3, 4, false, M::kSnapshot)});
  EXPECT_EQ(state.StateOf(0, 3), S::kPartial);
  EXPECT_EQ(state.StateOf(1, 4), S::kRecovery);
  // The source dies: its sync transfer aborts, the target is Dead too.
  const ApplyOutcome outcome = ExpectApplied(state, SetReplicaState{0, 1, S::kDead, {}});
  ASSERT_EQ(outcome.transfers_aborted.size(), 1u);
  EXPECT_EQ(outcome.transfers_aborted[0].key, (TransferKey{0, 1, 3}));
  EXPECT_EQ(state.StateOf(0, 3), S::kDead);
  EXPECT_EQ(state.transfers.size(), 1u);  // shard 1's move is untouched
  // The target of a move dies: Qdrant sets Dead, then the abort removes it.
  ExpectApplied(state, SetReplicaState{1, 4, S::kDead, {}});
  EXPECT_FALSE(state.StateOf(1, 4));
  EXPECT_TRUE(state.transfers.empty());
}

TEST(MetaOpsTest, StartValidation) {
  CollectionState state = Cluster();
  ExpectRejected(state, StartTransfer{Transfer(7, 1, 3, true, M::kStreamRecords)});  // no shard
  ExpectRejected(state, StartTransfer{Transfer(0, 1, 9, true, M::kStreamRecords)});  // unknown peer
  ExpectRejected(state, StartTransfer{Transfer(0, 1, 1, true, M::kStreamRecords)});  // to itself
  ExpectRejected(state, StartTransfer{Transfer(0, 3, 4, true, M::kStreamRecords)});  // source absent
  ExpectApplied(state, SetReplicaState{0, 4, S::kDead, {}});
  ExpectRejected(state, StartTransfer{Transfer(0, 4, 3, true, M::kStreamRecords)});  // source Dead

  const ApplyOutcome started = ExpectApplied(state, StartTransfer{Transfer(0, 1, 4, true, M::kWalDelta)});
  ASSERT_EQ(started.transfers_started.size(), 1u);
  EXPECT_EQ(state.StateOf(0, 4), S::kRecovery);
  // Conflicts: another transfer of the shard touching 1 or 4.
  ExpectRejected(state, StartTransfer{Transfer(0, 2, 4, true, M::kStreamRecords)});
  ExpectRejected(state, StartTransfer{Transfer(0, 1, 3, true, M::kStreamRecords)});
  ExpectRejected(state, StartTransfer{Transfer(0, 2, 1, true, M::kStreamRecords)});
  ExpectApplied(state, StartTransfer{Transfer(0, 2, 3, true, M::kSnapshot)});  // disjoint peers
  // An Active target is demoted.
  ExpectApplied(state, StartTransfer{Transfer(1, 3, 2, true, M::kStreamRecords)});
  CollectionState other = Cluster();
  ExpectApplied(other, StartTransfer{Transfer(0, 1, 2, true, M::kStreamRecords)});
  EXPECT_EQ(other.StateOf(0, 2), S::kPartial);
}

TEST(MetaOpsTest, StartDuplicateVersusCrashReapply) {
  CollectionState state = Cluster();
  const StartTransfer start{Transfer(0, 1, 3, true, M::kStreamRecords)};
  ExpectApplied(state, start);
  ExpectRejected(state, start);  // target already Partial: a duplicate
  // The target lost its partial state (e.g. a re-apply after a crash that
  // persisted the transfer but not the replica state): the Start proceeds.
  CollectionState crashed = state;
  crashed.shards[0].erase(3);
  const ApplyOutcome outcome = ExpectApplied(crashed, start);
  EXPECT_EQ(outcome.transfers_started.size(), 1u);
  EXPECT_EQ(crashed.shards, state.shards);
  // Registered again, so under a new id.
  EXPECT_EQ(crashed.transfers.at({0, 1, 3}).id, 2u);
  EXPECT_EQ(crashed.transfers.at({0, 1, 3}).method, M::kStreamRecords);
}

// A key registered again after an abort is another registration: ops that
// name the earlier one's id are rejected (cluster seed 1234: a stale
// driver's Finish made the new registration's target Active).
TEST(MetaOpsTest, TransferIdsTellRegistrationsApart) {
  CollectionState state = Cluster();
  const ApplyOutcome first = ExpectApplied(state, StartTransfer{Transfer(0, 1, 3, true, M::kStreamRecords)});
  ASSERT_EQ(first.transfers_started.size(), 1u);
  const uint64_t first_id = first.transfers_started[0].id;
  EXPECT_EQ(first_id, 1u);
  EXPECT_EQ(state.transfers.at({0, 1, 3}).id, first_id);
  ExpectApplied(state, AbortTransfer{{0, 1, 3}, "target failed", first_id});
  const ApplyOutcome second = ExpectApplied(state, StartTransfer{Transfer(0, 1, 3, true, M::kStreamRecords)});
  const uint64_t second_id = second.transfers_started.at(0).id;
  EXPECT_EQ(second_id, 2u);
  ExpectRejected(state, FinishTransfer{{0, 1, 3}, first_id});
  ExpectRejected(state, AbortTransfer{{0, 1, 3}, "stale", first_id});
  ExpectRejected(state, RestartTransfer{{0, 1, 3}, M::kWalDelta, first_id});
  EXPECT_EQ(state.StateOf(0, 3), S::kPartial);
  ExpectApplied(state, FinishTransfer{{0, 1, 3}, second_id});
  EXPECT_EQ(state.StateOf(0, 3), S::kActive);
  EXPECT_EQ(state.transfers_started, 2u);
  // Id 0 names whichever registration holds the key (hand-written ops).
  ExpectApplied(state, StartTransfer{Transfer(0, 1, 4, true, M::kWalDelta)});
  ExpectRejected(state, RecoveryToPartial{{0, 1, 4}, second_id});
  ExpectApplied(state, RecoveryToPartial{{0, 1, 4}});
  // The id survives the JSON round trip; a state naming an id past the
  // count is refused.
  EXPECT_EQ(CollectionStateFromJson(CollectionStateToJson(state)).value(), state);
  CollectionState bad = state;
  bad.transfers.at({0, 1, 4}).id = 9;
  EXPECT_FALSE(bad.CheckConsistency().ok());
}

TEST(MetaOpsTest, FinishSyncKeepsSourceMoveRemovesIt) {
  CollectionState state = Cluster();
  ExpectRejected(state, FinishTransfer{{0, 1, 3}});  // no such transfer
  ExpectApplied(state, StartTransfer{Transfer(0, 1, 3, true, M::kStreamRecords)});
  const ApplyOutcome sync = ExpectApplied(state, FinishTransfer{{0, 1, 3}});
  EXPECT_EQ(sync.transfers_finished.size(), 1u);
  EXPECT_EQ(state.StateOf(0, 1), S::kActive);
  EXPECT_EQ(state.StateOf(0, 3), S::kActive);
  EXPECT_TRUE(state.transfers.empty());
  ExpectRejected(state, FinishTransfer{{0, 1, 3}});  // applied twice

  ExpectApplied(state, StartTransfer{Transfer(1, 3, 4, false, M::kSnapshot)});
  ExpectApplied(state, FinishTransfer{{1, 3, 4}});
  EXPECT_FALSE(state.StateOf(1, 3));
  EXPECT_EQ(state.StateOf(1, 4), S::kActive);
}

TEST(MetaOpsTest, AbortSyncMarksDeadMoveRemoves) {
  CollectionState state = Cluster();
  ExpectRejected(state, AbortTransfer{{0, 1, 3}, "none"});
  ExpectApplied(state, StartTransfer{Transfer(0, 1, 3, true, M::kSnapshot)});
  const ApplyOutcome sync = ExpectApplied(state, AbortTransfer{{0, 1, 3}, "transmission failed"});
  EXPECT_EQ(sync.transfers_aborted.size(), 1u);
  EXPECT_EQ(state.StateOf(0, 3), S::kDead);
  EXPECT_EQ(state.StateOf(0, 1), S::kActive);

  ExpectApplied(state, StartTransfer{Transfer(1, 3, 4, false, M::kStreamRecords)});
  ExpectApplied(state, AbortTransfer{{1, 3, 4}, "transmission failed"});
  EXPECT_FALSE(state.StateOf(1, 4));
  EXPECT_EQ(state.StateOf(1, 3), S::kActive);
  EXPECT_TRUE(state.transfers.empty());
}

TEST(MetaOpsTest, AbortNeverDemotesTheLastActive) {
  CollectionState state = Cluster();
  ExpectApplied(state, StartTransfer{Transfer(1, 3, 4, true, M::kStreamRecords)});
  ExpectApplied(state, SetReplicaState{1, 4, S::kActive, {}});  // target activated mid-transfer
  ExpectApplied(state, SetReplicaState{1, 3, S::kDead, {}});    // the source dies: transfer aborted
  EXPECT_EQ(state.StateOf(1, 4), S::kActive);                    // kept, it is the last one
  EXPECT_TRUE(state.transfers.empty());
}

TEST(MetaOpsTest, RecoveryToPartial) {
  CollectionState state = Cluster();
  ExpectRejected(state, RecoveryToPartial{{0, 1, 3}});
  ExpectApplied(state, StartTransfer{Transfer(0, 1, 3, true, M::kWalDelta)});
  ExpectApplied(state, RecoveryToPartial{{0, 1, 3}});
  EXPECT_EQ(state.StateOf(0, 3), S::kPartial);
  ExpectRejected(state, RecoveryToPartial{{0, 1, 3}});  // already Partial
  ExpectApplied(state, SetReplicaState{0, 3, S::kPartialSnapshot, {}});
  ExpectApplied(state, RecoveryToPartial{{0, 1, 3}});  // the deprecated state too
  EXPECT_EQ(state.StateOf(0, 3), S::kPartial);
}

TEST(MetaOpsTest, RestartAbortsThenStartsWithTheNewMethod) {
  CollectionState state = Cluster();
  ExpectRejected(state, RestartTransfer{{0, 1, 3}, M::kSnapshot});
  ExpectApplied(state, StartTransfer{Transfer(0, 1, 3, true, M::kWalDelta)});
  ExpectRejected(state, RestartTransfer{{0, 1, 3}, M::kWalDelta});  // same method
  const ApplyOutcome outcome = ExpectApplied(state, RestartTransfer{{0, 1, 3}, M::kStreamRecords});
  EXPECT_TRUE(outcome.rejection.empty());
  EXPECT_EQ(outcome.transfers_aborted.size(), 1u);
  EXPECT_EQ(outcome.transfers_started.size(), 1u);
  ShardTransfer restarted = Transfer(0, 1, 3, true, M::kStreamRecords);
  restarted.id = 2;  // a new registration
  EXPECT_EQ(state.transfers.at({0, 1, 3}), restarted);
  EXPECT_EQ(state.StateOf(0, 3), S::kPartial);
  // A move keeps sync=false.
  ExpectApplied(state, StartTransfer{Transfer(1, 3, 4, false, M::kStreamRecords)});
  ExpectApplied(state, RestartTransfer{{1, 3, 4}, M::kSnapshot});
  EXPECT_FALSE(state.transfers.at({1, 3, 4}).sync);
  EXPECT_EQ(state.StateOf(1, 4), S::kRecovery);
  // The Start part rejected (source no longer active): the Abort part stays.
  ExpectApplied(state, SetReplicaState{0, 1, S::kListener, {}});
  const ApplyOutcome half = ExpectApplied(state, RestartTransfer{{0, 1, 3}, M::kSnapshot});
  EXPECT_FALSE(half.rejection.empty());
  EXPECT_TRUE(half.transfers_started.empty());
  EXPECT_FALSE(state.transfers.contains({0, 1, 3}));
  EXPECT_EQ(state.StateOf(0, 3), S::kDead);
}

TEST(MetaOpsTest, ReplicationFactor) {
  CollectionState state = Cluster();
  ExpectRejected(state, SetReplicationFactor{0, 1});
  ExpectRejected(state, SetReplicationFactor{1, 0});
  ExpectApplied(state, SetReplicationFactor{3, 2});
  EXPECT_EQ(state.params, (CollectionParams{3, 2}));
  ExpectApplied(state, SetReplicationFactor{1, 2});  // Qdrant only warns
}

TEST(MetaOpsTest, RemovePeer) {
  CollectionState state = Cluster();
  ExpectRejected(state, RemovePeer{9});
  ExpectRejected(state, RemovePeer{3});  // last active replica of shard 1
  ExpectApplied(state, StartTransfer{Transfer(0, 1, 4, true, M::kStreamRecords)});
  const ApplyOutcome outcome = ExpectApplied(state, RemovePeer{1});
  EXPECT_EQ(outcome.transfers_aborted.size(), 1u);
  EXPECT_FALSE(state.StateOf(0, 1));
  EXPECT_EQ(state.StateOf(0, 4), S::kDead);
  EXPECT_FALSE(state.peers.contains(1));
  ExpectRejected(state, SetReplicaState{0, 1, S::kActive, {}});  // gone from the cluster
}

TEST(MetaOpsTest, DescribeAndNames) {
  EXPECT_EQ(DescribeMetaOp(SetReplicaState{0, 3, S::kDead, S::kActive}), "SetReplicaState shard 0 peer 3 Dead from Active");
  EXPECT_EQ(MetaOpName(AbortTransfer{}), "AbortTransfer");
  EXPECT_EQ(TransferMethodName(M::kStreamRecords), "stream_records");
  EXPECT_EQ(TransferMethodName(M::kWalDelta), "wal_delta");
  EXPECT_EQ(TransferMethodName(M::kSnapshot), "snapshot");
}

}  // namespace
}  // namespace engine
