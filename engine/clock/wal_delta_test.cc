#include "engine/clock/wal_delta.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace engine {
namespace {

ClockMap Clocks(std::initializer_list<std::pair<uint64_t, uint64_t>> clock_ticks) {
  ClockMap map;
  for (const auto& [clock_id, tick] : clock_ticks) {
    map.Advance(ClockTag{.peer_id = 1, .clock_id = static_cast<uint32_t>(clock_id), .tick = tick, .token = 7});
  }
  return map;
}

ClockTag Tag(uint32_t clock_id, uint64_t tick, uint64_t token = 0) {
  return {.peer_id = 1, .clock_id = clock_id, .tick = tick, .token = token};
}

// Runs the resolver over `wal` (op_num, tag), newest record last.
absl::StatusOr<std::optional<SeqNumber>> Resolve(const ClockMap& rp, const ClockMap& newest, const ClockMap& oldest,
                                                 const std::vector<std::pair<SeqNumber, std::optional<ClockTag>>>& wal) {
  auto resolver = WalDeltaResolver::Start(rp, newest, oldest);
  if (!resolver.ok()) return resolver.status();
  for (auto it = wal.rbegin(); it != wal.rend() && !resolver->resolved(); ++it) {
    if (auto status = resolver->Visit(it->first, it->second); !status.ok()) return status;
  }
  if (!resolver->resolved()) return resolver->Exhausted();
  return resolver->from();
}

std::optional<WalDeltaError> ErrorOf(const absl::StatusOr<std::optional<SeqNumber>>& result) {
  return ClassifyWalDeltaStatus(result.status());
}

TEST(WalDeltaResolverTest, RefusalsInOrder) {
  const ClockMap newest = Clocks({{0, 5}});
  EXPECT_EQ(ErrorOf(Resolve(ClockMap(), newest, ClockMap(), {})), WalDeltaError::kEmpty);
  EXPECT_EQ(ErrorOf(Resolve(Clocks({{1, 1}}), newest, ClockMap(), {})), WalDeltaError::kUnknownClocks);
  EXPECT_EQ(ErrorOf(Resolve(Clocks({{0, 6}}), newest, ClockMap(), {})), WalDeltaError::kHigherThanCurrent);
  EXPECT_EQ(ErrorOf(Resolve(Clocks({{0, 2}}), newest, Clocks({{0, 3}}), {})), WalDeltaError::kCutoff);
  // A clock only the source knows is wanted from tick 1: below its cutoff.
  EXPECT_EQ(ErrorOf(Resolve(Clocks({{0, 5}}), Clocks({{0, 5}, {1, 2}}), Clocks({{1, 1}}), {})),
            WalDeltaError::kCutoff);
}

TEST(WalDeltaResolverTest, CutoffIsCheckedBeforeEqualClocksAreDropped) {
  // The recovery point equals the source's (a snapshot's) clocks, but the
  // cutoff is past them: Qdrant >= PR #8475 refuses instead of "nothing".
  EXPECT_EQ(ErrorOf(Resolve(Clocks({{0, 3}}), Clocks({{0, 3}}), Clocks({{0, 3}}), {})), std::nullopt);
  EXPECT_EQ(ErrorOf(Resolve(Clocks({{0, 3}}), Clocks({{0, 3}}), Clocks({{0, 4}}), {})), WalDeltaError::kCutoff);
}

TEST(WalDeltaResolverTest, SuffixFromTheFirstUnseenTick) {
  const std::vector<std::pair<SeqNumber, std::optional<ClockTag>>> wal = {
      {10, Tag(0, 1)}, {11, Tag(0, 2)}, {12, Tag(1, 1)}, {13, Tag(0, 3)}};
  const ClockMap newest = Clocks({{0, 3}, {1, 1}});
  // Equal clocks: nothing missing.
  auto equal = Resolve(newest, newest, ClockMap(), wal);
  ASSERT_TRUE(equal.ok()) << equal.status();
  EXPECT_EQ(*equal, std::nullopt);
  // Seen clock 0 to 1 and clock 1 to 1: the record of tick 2 (11) is the first missing.
  auto one_behind = Resolve(Clocks({{0, 1}, {1, 1}}), newest, ClockMap(), wal);
  ASSERT_TRUE(one_behind.ok()) << one_behind.status();
  EXPECT_EQ(*one_behind, 11u);
  // Clock 1 unknown to the replica: wanted from tick 1, at record 12.
  auto unknown_clock = Resolve(Clocks({{0, 2}}), newest, ClockMap(), wal);
  ASSERT_TRUE(unknown_clock.ok()) << unknown_clock.status();
  EXPECT_EQ(*unknown_clock, 12u);
}

TEST(WalDeltaResolverTest, CoveredByANewerTickStartsAfterIt) {
  // The source's clock 0 jumped (a cutoff advanced it without records):
  // seen to 3, the WAL's last tick-0 record is tick 2 — already seen, so
  // the delta starts at the record visited before it (the later one).
  const std::vector<std::pair<SeqNumber, std::optional<ClockTag>>> wal = {
      {0, Tag(0, 2)}, {1, Tag(1, 4)}, {2, Tag(1, 5)}};
  auto from = Resolve(Clocks({{0, 3}, {1, 4}}), Clocks({{0, 4}, {1, 5}}), ClockMap(), wal);
  ASSERT_TRUE(from.ok()) << from.status();
  EXPECT_EQ(*from, 1u);
}

TEST(WalDeltaResolverTest, UntaggedAndTruncated) {
  const ClockMap newest = Clocks({{0, 3}});
  EXPECT_EQ(ErrorOf(Resolve(Clocks({{0, 1}}), newest, ClockMap(), {{0, Tag(0, 2)}, {1, std::nullopt}})),
            WalDeltaError::kUntaggedRecords);
  EXPECT_EQ(ErrorOf(Resolve(Clocks({{0, 1}}), newest, ClockMap(), {{5, Tag(0, 3)}})), WalDeltaError::kNotFound);
}

// Cluster seed 40013669: a restarted coordinator tagged a new op with a
// tick its Dead replica had seen on an older op. At the source's tick the
// recovery point must name the same op (token), else nothing can be skipped.
TEST(WalDeltaResolverTest, SameTickOfAnotherOpIsDiverged) {
  const auto clocks = [](uint64_t tick, uint64_t token) {
    ClockMap map;
    map.Advance(Tag(0, tick, token));
    return map;
  };
  const std::vector<std::pair<SeqNumber, std::optional<ClockTag>>> wal = {{1, Tag(0, 1, 22)}};
  EXPECT_EQ(ErrorOf(Resolve(clocks(1, 11), clocks(1, 22), ClockMap(), wal)), WalDeltaError::kDiverged);
  // The same op: nothing to send.
  auto same = Resolve(clocks(1, 22), clocks(1, 22), ClockMap(), wal);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(*same, std::nullopt);
  // A tick raised by a cutoff names no op, on either side: no divergence.
  for (const auto& [seen, source] : {std::pair{kNoOpToken, uint64_t{22}}, std::pair{uint64_t{11}, kNoOpToken}}) {
    auto raised = Resolve(clocks(1, seen), clocks(1, source), ClockMap(), wal);
    ASSERT_TRUE(raised.ok()) << raised.status();
    EXPECT_EQ(*raised, std::nullopt);
  }
  // Below the source's tick the tokens are not compared unless the source
  // names its op under that tick (Qdrant compares none there).
  auto behind = Resolve(clocks(1, 11), clocks(2, 33), ClockMap(), {{1, Tag(0, 1, 22)}, {2, Tag(0, 2, 33)}});
  ASSERT_TRUE(behind.ok()) << behind.status();
  EXPECT_EQ(*behind, SeqNumber{2});
}

// Cluster seed 4800007101: a coordinator restarted after a power loss
// reused tick 1 for another op than the one its own replica had seen under
// it; the source, at tick 2, took the new op at tick 1. Comparing ticks
// alone, the delta started after tick 1 and the replica never got that op.
TEST(WalDeltaResolverTest, AReusedTickBelowTheSourcesIsDivergedWhenTheSourceKnowsItsOp) {
  ClockMap seen;
  seen.Advance(Tag(0, 1, 11));
  ClockMap source;
  source.Advance(Tag(0, 2, 33));
  const KnownTokens known = {{{{1, 0}, 1}, 22}, {{{1, 0}, 2}, 33}};
  auto resolver = WalDeltaResolver::Start(seen, source, ClockMap(), known);
  EXPECT_EQ(ClassifyWalDeltaStatus(resolver.status()), WalDeltaError::kDiverged);
  // The same op under the tick: the delta starts after it.
  const KnownTokens same = {{{{1, 0}, 1}, 11}};
  auto resolved = WalDeltaResolver::Start(seen, source, ClockMap(), same);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_FALSE(resolved->resolved());
  // A cutoff's tick names no op: no divergence.
  const KnownTokens raised = {{{{1, 0}, 1}, kNoOpToken}};
  EXPECT_TRUE(WalDeltaResolver::Start(seen, source, ClockMap(), raised).ok());
}

TEST(WalDeltaResolverTest, ClassifiesOnlyItsOwnStatuses) {
  EXPECT_EQ(ClassifyWalDeltaStatus(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(ClassifyWalDeltaStatus(absl::DataLossError("wal delta: cutoff")), std::nullopt);
  EXPECT_EQ(ClassifyWalDeltaStatus(absl::FailedPreconditionError("wal delta: cutoffs")), std::nullopt);
  EXPECT_EQ(ClassifyWalDeltaStatus(WalDeltaStatus(WalDeltaError::kNotFound, "x")), WalDeltaError::kNotFound);
  EXPECT_EQ(ClassifyWalDeltaStatus(WalDeltaStatus(WalDeltaError::kDiverged, "x")), WalDeltaError::kDiverged);
}

}  // namespace
}  // namespace engine
