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

}  // namespace
}  // namespace properties
