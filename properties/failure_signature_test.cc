#include "properties/failure_signature.h"

#include <gtest/gtest.h>

namespace properties {
namespace {

TEST(FailureSignatureTest, ValuesThatVaryBetweenRunsAreNormalisedAway) {
  EXPECT_EQ(NormaliseFailureMessage("point 12 has 3 live copies after reload"),
            "point N has N live copies after reload");
  EXPECT_EQ(NormaliseFailureMessage("restore of snapshots/s-0007.tar failed: DATA_LOSS: bad"),
            "restore of <path> failed: DATA_LOSS: bad");
  EXPECT_EQ(NormaliseFailureMessage("the shard holds [{id 1, vector [1, 0]}] not {\"a\":1}"),
            "the shard holds […] not {…}");
  EXPECT_EQ(NormaliseFailureMessage("payload \"red\"  and   shard0."), "payload \"…\" and shardN.");
}

TEST(FailureSignatureTest, TheSameBugInTwoSeedsHasOneSignature) {
  const FailureSignature a = SignatureOf("recovery", "after reload (WAL continues at 37), the shard holds [{id 1}]");
  const FailureSignature b = SignatureOf("recovery", "after reload (WAL continues at 5), the shard holds [{id 9}, {id 2}]");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Key(), b.Key());
  EXPECT_EQ(a.component, "wal");
}

TEST(FailureSignatureTest, DifferentCausesOfOneInvariantDiffer) {
  const FailureSignature syncdir = SignatureOf(
      "recovery", "the shard did not load for the final check under injected faults: last refusal: "
                  "UNAVAILABLE: EIO on syncdir of shard/segments");
  const FailureSignature read = SignatureOf(
      "recovery", "the shard did not load for the final check under injected faults: last refusal: "
                  "UNAVAILABLE: EIO on read of shard/wal/open-1");
  EXPECT_EQ(syncdir.invariant, read.invariant);
  EXPECT_EQ(syncdir.component, "segment");
  EXPECT_EQ(read.component, "wal");
  EXPECT_EQ(syncdir.check, read.check);
  EXPECT_NE(syncdir.message_class, read.message_class);
  EXPECT_NE(syncdir.Key(), read.Key());
  EXPECT_NE(SignatureOf("recovery", "x").Key(), SignatureOf("read", "x").Key());
}

TEST(FailureSignatureTest, CheckIsTheFirstClauseAndComponentIsNamed) {
  const FailureSignature signature =
      SignatureOf("snapshot-point-in-time", "restore of snapshots/a.tar failed: NOT_FOUND: manifest entry 3");
  EXPECT_EQ(signature.check, "restore of <path> failed");
  EXPECT_EQ(signature.message_class, "NOT_FOUND: manifest entry N");
  EXPECT_EQ(signature.component, "snapshot");  // the error names the manifest
  EXPECT_EQ(SignatureOf("run-outcome", "deadlock").component, "shard");
}

TEST(FailureSignatureTest, LongAndHostileMessagesAreBounded) {
  const std::string long_message(100000, 'x');
  EXPECT_LE(NormaliseFailureMessage(long_message).size(), kMaxMessageClassBytes);
  EXPECT_EQ(NormaliseFailureMessage("[[[unclosed"), "[…]");
  EXPECT_EQ(NormaliseFailureMessage("\"unclosed"), "\"…\"");
  EXPECT_EQ(NormaliseFailureMessage(""), "");
}

}  // namespace
}  // namespace properties
