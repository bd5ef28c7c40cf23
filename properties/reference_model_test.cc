#include "properties/reference_model.h"

#include <gtest/gtest.h>

#include "properties/history.h"

namespace properties {
namespace {

using engine::Payload;

TEST(ReferenceModelTest, OperationSemantics) {
  ReferenceModel model;
  model.Apply(0, engine::UpsertPoints{{{1, {1}, Payload{{"a", 1}}}, {2, {2}, Payload::object()}}});
  model.Apply(1, engine::SetPayload{{1, 9}, Payload{{"b", 2}}});  // 9 is missing: nothing
  EXPECT_EQ(model.points().at(1).payload, (Payload{{"a", 1}, {"b", 2}}));
  EXPECT_FALSE(model.points().contains(9));
  model.Apply(2, engine::DeletePayloadKeys{{1}, {"a"}});
  EXPECT_EQ(model.points().at(1).payload, (Payload{{"b", 2}}));
  model.Apply(3, engine::OverwritePayload{{2}, Payload{{"c", 3}}});
  model.Apply(4, engine::ClearPayload{{1}});
  EXPECT_EQ(model.points().at(1).payload, Payload::object());
  model.Apply(5, engine::DeletePoints{{2, 2}});
  EXPECT_FALSE(model.points().contains(2));
  model.Apply(6, engine::CreateFieldIndex{"c", engine::FieldType::kKeyword});
  EXPECT_EQ(model.indexes().size(), 1u);
}

TEST(HistoryTest, RecoveryBoundsAndPrefixes) {
  History history;
  for (engine::SeqNumber op = 0; op < 5; ++op) {
    history.OnWalAppend(op, {engine::UpsertPoints{{{op, {1}, Payload::object()}}}, std::nullopt});
  }
  history.OnWalSynced(3);
  history.NoteCrash(/*power_loss=*/true);
  EXPECT_TRUE(history.NoteRecovered(2).has_value());  // lost synced ops 2
  history.OnWalAppend(2, {engine::DeletePoints{{0}}, std::nullopt});
  history.NoteCrash(/*power_loss=*/false);
  EXPECT_FALSE(history.NoteRecovered(3).has_value());
  EXPECT_FALSE(history.ModelBelow(3).points().contains(0));
  const auto prefix = history.FindPrefix(std::nullopt, 2, [](const ReferenceModel& model) {
    return model.points().size() == 2;
  });
  ASSERT_TRUE(prefix.has_value());
  EXPECT_EQ(*prefix, 2u);
}

// Seed 300117850: a WAL snapshot's last op (a payload delete of missing
// points, with a clock tag) changed nothing, so the restored state matched
// the shorter prefix. The restored shard holds that op's clock; a later
// snapshot frozen at the restored state's last op must allow it.
TEST(HistoryTest, ARestoredShardMayHoldTheClocksOfItsSnapshotsNoOpTail) {
  History history;
  history.OnWalAppend(0, {engine::UpsertPoints{{{1, {1}, Payload::object()}}}, engine::ClockTag{0, 0, 10, 0}});
  history.OnWalAppend(1, {engine::DeletePayloadKeys{{7}, {"a"}}, engine::ClockTag{1, 0, 6, 1}});
  const History::Saved saved = history.Save();
  const std::optional<engine::ClockMap> snapshot_bound = history.ClocksAfterWriteOf(1);
  ASSERT_TRUE(snapshot_bound.has_value());
  ASSERT_TRUE(saved.operations.StateAfterPrefix(1).points() == saved.operations.StateAfterPrefix(2).points());

  History restored;
  restored.ResetToRestored(saved, /*length=*/1, /*next_index=*/2, snapshot_bound);
  const std::optional<engine::ClockMap> bound = restored.ClocksAfterWriteOf(0);
  ASSERT_TRUE(bound.has_value());
  EXPECT_TRUE(snapshot_bound->NotAheadOf(*bound));
  // The saved history (shared with the snapshot) keeps op 0's own clocks.
  EXPECT_FALSE(snapshot_bound->NotAheadOf(history.ClocksAfterWriteOf(0).value()));

  History without_bound;
  without_bound.ResetToRestored(saved, /*length=*/1, /*next_index=*/2, std::nullopt);
  EXPECT_FALSE(snapshot_bound->NotAheadOf(without_bound.ClocksAfterWriteOf(0).value()));
}

}  // namespace
}  // namespace properties
