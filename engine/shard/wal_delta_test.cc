// LocalShard's API for the replica set: the clocks snapshot, the cutoff,
// ResolveWalDelta's outcomes on a real WAL, ReadWalRange and PinAckFrom;
// and Update refusing records that would not replay.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <utility>

#include "engine/shard/local_shard.h"
#include "engine/shard/world_test_util.h"
#include "sim/world.h"

namespace engine {
namespace {

using testing::InWorld;
using testing::kCollection;

constexpr uint64_t kPeer = 1;

ClockTag Tag(uint32_t clock_id, uint64_t tick) { return {.peer_id = kPeer, .clock_id = clock_id, .tick = tick, .token = 9}; }

ClockMap Clocks(std::initializer_list<std::pair<uint32_t, uint64_t>> clock_ticks) {
  ClockMap map;
  for (const auto& [clock_id, tick] : clock_ticks) map.Advance(Tag(clock_id, tick));
  return map;
}

// Ticks only: a clock a cutoff raised holds kNoOpToken, not the tag's token.
std::map<std::pair<uint64_t, uint32_t>, uint64_t> Ticks(const ClockMap& map) {
  std::map<std::pair<uint64_t, uint32_t>, uint64_t> ticks;
  for (const auto& [key, clock] : map.clocks()) ticks[key] = clock.tick;
  return ticks;
}

std::unique_ptr<LocalShard> Open(sim::World& world, ShardOptions options = {.collection = kCollection}) {
  auto shard = LocalShard::Load(world.env(), "shard", options);
  EXPECT_TRUE(shard.ok()) << shard.status();
  return shard.ok() ? std::move(*shard) : nullptr;
}

// Upserts point `id` with the tag (if any) and waits; returns its op number.
SeqNumber Write(LocalShard& shard, PointId id, std::optional<ClockTag> tag) {
  auto result = shard.Update({UpsertPoints{{Point{id, {1, 1}, Payload{{"v", 1}}}}}, tag}, /*wait=*/true);
  EXPECT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, UpdateStatus::kCompleted);
  return result.ok() && result->op_num ? *result->op_num : ~SeqNumber{0};
}

std::optional<WalDeltaError> ErrorOf(const absl::StatusOr<std::optional<SeqNumber>>& result) {
  EXPECT_FALSE(result.ok());
  return ClassifyWalDeltaStatus(result.status());
}

TEST(WalDeltaTest, RefusalsBeforeTheScan) {
  InWorld(11, [](sim::World& world) {
    auto shard = Open(world);
    for (uint64_t tick = 1; tick <= 5; ++tick) Write(*shard, tick, Tag(0, tick));
    EXPECT_EQ(ErrorOf(shard->ResolveWalDelta(ClockMap())), WalDeltaError::kEmpty);
    EXPECT_EQ(ErrorOf(shard->ResolveWalDelta(Clocks({{0, 2}, {7, 1}}))), WalDeltaError::kUnknownClocks);
    EXPECT_EQ(ErrorOf(shard->ResolveWalDelta(Clocks({{0, 6}}))), WalDeltaError::kHigherThanCurrent);
    auto equal = shard->ResolveWalDelta(Clocks({{0, 5}}));
    ASSERT_TRUE(equal.ok()) << equal.status();
    EXPECT_EQ(*equal, std::nullopt);
    auto behind = shard->ResolveWalDelta(Clocks({{0, 2}}));
    ASSERT_TRUE(behind.ok()) << behind.status();
    EXPECT_EQ(*behind, 2u);  // ticks 1..5 are ops 0..4: tick 3 is op 2
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

// A queue's replay is judged against every tick the source has seen
// (ShardReplicaSet::SendQueued): the clocks themselves, not the recovery
// point, which a clocks snapshot pins lower.
TEST(WalDeltaTest, ResolvingGivesTheNewestClocksNotTheSnapshot) {
  InWorld(14, [](sim::World& world) {
    auto shard = Open(world);
    Write(*shard, 1, Tag(0, 1));
    Write(*shard, 2, Tag(0, 2));
    ASSERT_TRUE(shard->TakeClocksSnapshot().ok());
    Write(*shard, 3, Tag(0, 3));
    Write(*shard, 4, Tag(1, 1));
    ClockMap newest;
    auto delta = shard->ResolveWalDelta(Clocks({{0, 2}}), &newest);
    ASSERT_TRUE(delta.ok()) << delta.status();
    EXPECT_EQ(Ticks(newest), Ticks(Clocks({{0, 3}, {1, 1}})));
    EXPECT_EQ(newest.snapshot(), std::nullopt);
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

TEST(WalDeltaTest, TickEqualRecordOrThePreviouslyVisitedOne) {
  InWorld(12, [](sim::World& world) {
    auto shard = Open(world);
    EXPECT_EQ(Write(*shard, 1, Tag(0, 1)), 0u);
    EXPECT_EQ(Write(*shard, 2, Tag(0, 5)), 1u);  // clock 0 jumps from 1 to 5
    EXPECT_EQ(Write(*shard, 3, Tag(1, 1)), 2u);
    EXPECT_EQ(Write(*shard, 4, Tag(1, 2)), 3u);
    // Clock 1 seen to 1: its first unseen tick is op 3's (equal): from op 3.
    auto equal = shard->ResolveWalDelta(Clocks({{0, 5}, {1, 1}}));
    ASSERT_TRUE(equal.ok()) << equal.status();
    EXPECT_EQ(*equal, 3u);
    // Clock 0 seen to 3: op 1 (tick 5) is missing, op 0 (tick 1) is not; op 0
    // covers the clock, so the delta starts at the record visited before it.
    auto later = shard->ResolveWalDelta(Clocks({{0, 3}, {1, 1}}));
    ASSERT_TRUE(later.ok()) << later.status();
    EXPECT_EQ(*later, 1u);
    // A clock the replica never saw is wanted from its first tick.
    auto unseen = shard->ResolveWalDelta(Clocks({{0, 5}}));
    ASSERT_TRUE(unseen.ok()) << unseen.status();
    EXPECT_EQ(*unseen, 2u);
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

TEST(WalDeltaTest, UntaggedRecordsAndTruncation) {
  InWorld(13, [](sim::World& world) {
    auto shard = Open(world);
    Write(*shard, 1, Tag(0, 1));
    Write(*shard, 2, Tag(0, 2));
    Write(*shard, 3, std::nullopt);
    Write(*shard, 4, Tag(0, 3));
    // Resolved before reaching the untagged record: fine.
    auto recent = shard->ResolveWalDelta(Clocks({{0, 2}}));
    ASSERT_TRUE(recent.ok()) << recent.status();
    EXPECT_EQ(*recent, 3u);
    EXPECT_EQ(ErrorOf(shard->ResolveWalDelta(Clocks({{0, 1}}))), WalDeltaError::kUntaggedRecords);
    // Flushed and acked: the records of ticks 1 and 2 are gone.
    Write(*shard, 5, Tag(0, 4));
    ASSERT_TRUE(shard->FlushAndAck(/*force=*/true).ok());
    ASSERT_GT(shard->Summarize().wal_first_index, 3u);
    EXPECT_EQ(ErrorOf(shard->ResolveWalDelta(Clocks({{0, 2}}))), WalDeltaError::kNotFound);
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

TEST(WalDeltaTest, CutoffIsCheckedBeforeEqualClocksAreDropped) {
  InWorld(14, [](sim::World& world) {
    auto shard = Open(world);
    for (uint64_t tick = 1; tick <= 3; ++tick) Write(*shard, tick, Tag(0, tick));
    ASSERT_TRUE(shard->TakeClocksSnapshot().ok());
    Write(*shard, 4, Tag(0, 4));
    ASSERT_TRUE(shard->UpdateCutoff(Clocks({{0, 4}})).ok());
    // The source's recovery point is its snapshot (tick 3), equal to the
    // replica's; but ticks below 4 are cut off here.
    EXPECT_EQ(shard->RecoveryPoint(), Clocks({{0, 3}}));
    EXPECT_EQ(ErrorOf(shard->ResolveWalDelta(Clocks({{0, 3}}))), WalDeltaError::kCutoff);
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

TEST(WalDeltaTest, ClocksSnapshotTakenOnceKeptAcrossRestartAndCleared) {
  InWorld(15, [](sim::World& world) {
    {
      auto shard = Open(world);
      Write(*shard, 1, Tag(0, 1));
      // Not waited for: the snapshot's WAL sync makes it durable first.
      ASSERT_TRUE(shard->Update({DeletePoints{{9}}, Tag(0, 2)}, /*wait=*/false).ok());
      ASSERT_TRUE(shard->TakeClocksSnapshot().ok());
      EXPECT_EQ(shard->RecoveryPoint(), Clocks({{0, 2}}));
      Write(*shard, 2, Tag(0, 3));
      ASSERT_TRUE(shard->TakeClocksSnapshot().ok());  // one exists: kept
      EXPECT_EQ(shard->RecoveryPoint(), Clocks({{0, 2}}));
      EXPECT_EQ(shard->NewestClocks().Get(kPeer, 0)->tick, 3u);
      ASSERT_TRUE(shard->NewestClocks().snapshot().has_value());
      ASSERT_TRUE(shard->Shutdown().ok());
    }
    {
      auto shard = Open(world);
      EXPECT_EQ(shard->RecoveryPoint(), Clocks({{0, 2}}));
      EXPECT_EQ(shard->NewestClocks().Get(kPeer, 0)->tick, 3u);
      ASSERT_TRUE(shard->ClearClocksSnapshot().ok());
      EXPECT_EQ(shard->RecoveryPoint(), Clocks({{0, 3}}));
      ASSERT_TRUE(shard->Shutdown().ok());
    }
    auto shard = Open(world);
    EXPECT_FALSE(shard->NewestClocks().snapshot().has_value());
    EXPECT_EQ(shard->RecoveryPoint(), Clocks({{0, 3}}));
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

TEST(WalDeltaTest, ALoadHandsBackTheTaggedWritesItReplayedAndItsClocksOnce) {
  InWorld(16, [](sim::World& world) {
    {
      auto shard = Open(world);
      EXPECT_TRUE(shard->TakeLoadNotes().writes.empty());  // a new shard replays nothing
      shard->PinAck();  // else a flush acks the WAL: only what it still holds replays
      Write(*shard, 1, Tag(0, 1));
      Write(*shard, 2, std::nullopt);  // untagged: no coordinator led it
      ClockTag forced = Tag(0, 2);
      forced.force = true;  // a transfer's replay: no direct write
      Write(*shard, 3, forced);
      ASSERT_TRUE(shard->Update({DeletePoints{{1, 4}}, Tag(1, 1)}, /*wait=*/true).ok());
      ASSERT_TRUE(shard->Shutdown().ok());
    }
    auto shard = Open(world);
    const LocalShard::LoadNotes notes = shard->TakeLoadNotes();
    EXPECT_EQ(notes.newest_clocks, shard->NewestClocks());
    const std::vector<LocalShard::ReplayedWrite>& replayed = notes.writes;
    ASSERT_EQ(replayed.size(), 2u);
    EXPECT_EQ(replayed[0].tag, Tag(0, 1));
    EXPECT_EQ(replayed[0].ids, std::vector<PointId>{1});
    EXPECT_EQ(replayed[1].tag, Tag(1, 1));
    EXPECT_EQ(replayed[1].ids, (std::vector<PointId>{1, 4}));
    EXPECT_TRUE(shard->TakeLoadNotes().writes.empty());
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

// A forced replay of an older op after newer ones: the backward scan would
// stop at its tick 2 and skip tick 3 before it (cluster seed 5300124854).
TEST(WalDeltaTest, AWalWithAReplayedOlderTickResolvesNoDeltaAlsoAfterARestart) {
  InWorld(19, [](sim::World& world) {
    {
      auto shard = Open(world);
      shard->PinAck();  // the records stay in the WAL
      for (uint64_t tick = 1; tick <= 3; ++tick) Write(*shard, tick, Tag(0, tick));
      auto in_order = shard->ResolveWalDelta(Clocks({{0, 1}}));
      ASSERT_TRUE(in_order.ok()) << in_order.status();
      EXPECT_EQ(*in_order, std::optional<SeqNumber>(1));  // the records of ticks 2 and 3 (WAL indexes 1, 2)
      ClockTag replayed = Tag(0, 2);
      replayed.force = true;
      Write(*shard, 2, replayed);
      EXPECT_EQ(ErrorOf(shard->ResolveWalDelta(Clocks({{0, 1}}))), WalDeltaError::kNotFound);
      ASSERT_TRUE(shard->Shutdown().ok());
    }
    auto shard = Open(world);
    EXPECT_EQ(ErrorOf(shard->ResolveWalDelta(Clocks({{0, 1}}))), WalDeltaError::kNotFound);
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

TEST(WalDeltaTest, UpdateCutoffIsMonotoneAndPersisted) {
  InWorld(16, [](sim::World& world) {
    const ShardOptions no_final_flush{.collection = kCollection, .flush_on_shutdown = false};
    {
      auto shard = Open(world, no_final_flush);
      Write(*shard, 1, Tag(0, 2));
      ASSERT_TRUE(shard->UpdateCutoff(Clocks({{0, 5}, {1, 3}})).ok());
      EXPECT_EQ(Ticks(shard->OldestClocks()), Ticks(Clocks({{0, 5}, {1, 3}})));
      EXPECT_EQ(Ticks(shard->NewestClocks()), Ticks(Clocks({{0, 5}, {1, 3}})));
      // Raised by the cutoff, not by an op: no op's token, so the op that
      // set the tick is no retry here (docs/cluster.md, Late requests).
      EXPECT_EQ(shard->NewestClocks().Get(kPeer, 1)->token, kNoOpToken);
      ASSERT_TRUE(shard->UpdateCutoff(Clocks({{0, 4}, {1, 6}})).ok());  // clock 0 stays at 5
      EXPECT_EQ(Ticks(shard->OldestClocks()), Ticks(Clocks({{0, 5}, {1, 6}})));
      Write(*shard, 2, Tag(0, 7));
      // Shut down without the final flush: UpdateCutoff wrote the clock
      // files itself (the last write's tick comes back by WAL replay).
    }
    auto shard = Open(world, no_final_flush);
    EXPECT_EQ(Ticks(shard->OldestClocks()), Ticks(Clocks({{0, 5}, {1, 6}})));
    EXPECT_EQ(Ticks(shard->NewestClocks()), Ticks(Clocks({{0, 7}, {1, 6}})));
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

// A coordinator restarted with its clocks at 0 reuses a tick: this shard's
// op (token 9) and the source's (token 77) share tick 2 of clock 0. After a
// transfer's batches and its cutoff this shard holds the source's data, so
// a replica still at this shard's own op must not be taken as up to date
// (cluster seed 3900121569: it kept an older acknowledged value).
TEST(WalDeltaTest, ACutoffAtAnEqualTickNamesTheTickByTheSourcesOp) {
  InWorld(18, [](sim::World& world) {
    auto shard = Open(world);
    Write(*shard, 1, Tag(0, 1));
    Write(*shard, 2, Tag(0, 2));
    ClockMap source;
    source.Advance(ClockTag{.peer_id = kPeer, .clock_id = 0, .tick = 2, .token = 77});
    ASSERT_TRUE(shard->UpdateCutoff(source).ok());
    EXPECT_EQ(shard->NewestClocks().Get(kPeer, 0)->token, 9u);  // stored as it was: a retry is still one
    EXPECT_EQ(shard->RecoveryPoint().Get(kPeer, 0)->token, 77u);
    EXPECT_EQ(ErrorOf(shard->ResolveWalDelta(Clocks({{0, 2}}))), WalDeltaError::kDiverged);
    auto same = shard->ResolveWalDelta(source);
    ASSERT_TRUE(same.ok()) << same.status();
    EXPECT_EQ(*same, std::nullopt);
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

TEST(WalDeltaTest, ReadWalRangeAndPinAckFrom) {
  InWorld(17, [](sim::World& world) {
    auto shard = Open(world);
    for (uint64_t tick = 1; tick <= 5; ++tick) Write(*shard, tick, Tag(0, tick));
    auto range = shard->ReadWalRange(1, 2);
    ASSERT_TRUE(range.ok()) << range.status();
    ASSERT_EQ(range->size(), 2u);
    EXPECT_EQ((*range)[0].first, 1u);
    EXPECT_EQ((*range)[1].second.clock_tag, Tag(0, 3));
    EXPECT_TRUE(shard->ReadWalRange(5, 10).ok() && shard->ReadWalRange(5, 10)->empty());
    EXPECT_TRUE(absl::IsOutOfRange(shard->ReadWalRange(6, 1).status()));
    EXPECT_TRUE(absl::IsOutOfRange(shard->PinAckFrom(6).status()));
    // A pin at 2 (and a snapshot's at the first index) hold the ack.
    auto pinned = shard->PinAckFrom(2);
    ASSERT_TRUE(pinned.ok()) << pinned.status();
    const uint64_t snapshot_pin = shard->PinAck();
    EXPECT_EQ(snapshot_pin, 0u);
    shard->UnpinAck(snapshot_pin);
    ASSERT_TRUE(shard->FlushAndAck(/*force=*/true).ok());
    EXPECT_EQ(shard->Summarize().wal_first_index, 2u);
    auto kept = shard->ReadWalRange(2, 100);
    ASSERT_TRUE(kept.ok()) << kept.status();
    EXPECT_EQ(kept->size(), 3u);
    EXPECT_TRUE(absl::IsNotFound(shard->ReadWalRange(1, 1).status()));
    EXPECT_TRUE(absl::IsNotFound(shard->PinAckFrom(1).status()));
    shard->UnpinAck(*pinned);
    Write(*shard, 6, Tag(0, 6));
    ASSERT_TRUE(shard->FlushAndAck(/*force=*/true).ok());
    EXPECT_GT(shard->Summarize().wal_first_index, 2u);
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

TEST(WalDeltaTest, UpdateRefusesRecordsReplayWouldRefuse) {
  InWorld(18, [](sim::World& world) {
    // WAL segments large enough that only the replay rules refuse.
    const ShardOptions options{.collection = kCollection, .wal_segment_capacity_bytes = 16 << 20};
    {
      auto shard = Open(world, options);
      Write(*shard, 1, Tag(0, 1));
      auto not_object = shard->Update({SetPayload{{1}, Payload(5)}, Tag(0, 2)}, /*wait=*/true);
      EXPECT_TRUE(absl::IsInvalidArgument(not_object.status())) << not_object.status();
      std::vector<PointId> ids((1 << 20) + 1);
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = i;
      auto too_many = shard->Update({DeletePoints{std::move(ids)}, Tag(0, 3)}, /*wait=*/false);
      EXPECT_TRUE(absl::IsInvalidArgument(too_many.status())) << too_many.status();
      // Neither advanced the clock nor reached the WAL; the shard goes on.
      EXPECT_EQ(shard->NewestClocks().Get(kPeer, 0)->tick, 1u);
      EXPECT_EQ(shard->WalNextIndex(), 1u);
      EXPECT_TRUE(shard->health().ok());
      Write(*shard, 2, Tag(0, 2));
      ASSERT_TRUE(shard->Shutdown().ok());
    }
    auto shard = Open(world, options);
    ASSERT_NE(shard, nullptr);
    EXPECT_EQ(shard->Count(nullptr), 2u);
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

TEST(WalDeltaTest, UpdateRefusesRecordsLargerThanAWalSegment) {
  InWorld(19, [](sim::World& world) {
    auto shard = Open(world);  // 64 KiB WAL segments
    auto big = shard->Update({SetPayload{{1}, Payload{{"s", std::string(100'000, 'x')}}}, Tag(0, 1)}, true);
    EXPECT_TRUE(absl::IsInvalidArgument(big.status())) << big.status();
    EXPECT_TRUE(shard->health().ok());
    EXPECT_TRUE(shard->NewestClocks().empty());
    Write(*shard, 1, Tag(0, 1));
    ASSERT_TRUE(shard->Shutdown().ok());
  });
}

}  // namespace
}  // namespace engine
