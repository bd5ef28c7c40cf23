#include "properties/read_check.h"

#include <gtest/gtest.h>

namespace properties {
namespace {

using engine::Payload;

// Points 1..3 with count = id, written as ops 0..2; then op 3 upserts point
// 4 (count 4); a delete-by-filter of "count >= 2" is appended as op 4.
History HistoryWithDelete(std::vector<engine::PointId> deleted) {
  History history;
  for (engine::SeqNumber op = 0; op < 4; ++op) {
    const engine::PointId id = op + 1;
    history.OnWalAppend(op, {engine::UpsertPoints{{{id, {1}, Payload{{"count", id}}}}}, std::nullopt});
  }
  history.OnWalAppend(4, {engine::DeletePoints{std::move(deleted)}, std::nullopt});
  return history;
}

engine::Filter CountAtLeastTwo() {
  return engine::Filter{{engine::FieldCondition{"count", engine::IntegerRange{2, {}}}}, {}, {}};
}

std::optional<std::string> Check(History& history, std::optional<engine::SeqNumber> applied_before) {
  return CheckDeleteByFilterIds(CountAtLeastTwo(), applied_before, 4, [&](const auto& fn) { return fn(history); });
}

TEST(DeleteByFilterCheckTest, IdsOfAnyStateInTheWindowPass) {
  History after_op3 = HistoryWithDelete({2, 3, 4});
  EXPECT_EQ(Check(after_op3, 2), std::nullopt);
  // Resolved before op 3 was applied: point 4 not there yet.
  History after_op2 = HistoryWithDelete({3, 2});
  EXPECT_EQ(Check(after_op2, 2), std::nullopt);
}

TEST(DeleteByFilterCheckTest, MissingOrExtraIdsFail) {
  History missing = HistoryWithDelete({2, 3});
  EXPECT_EQ(Check(missing, std::nullopt), std::nullopt);  // the state after op 2
  ASSERT_TRUE(Check(missing, 3).has_value());             // op 3 was applied before the call
  EXPECT_NE(Check(missing, 3)->find("deleted ids [2, 3] (op 4)"), std::string::npos) << *Check(missing, 3);
  History extra = HistoryWithDelete({1, 2, 3, 4});
  EXPECT_TRUE(Check(extra, std::nullopt).has_value());
  History first_page = HistoryWithDelete({2});
  EXPECT_EQ(Check(first_page, std::nullopt), std::nullopt);  // the state after op 1
  EXPECT_TRUE(Check(first_page, 2).has_value());
}

TEST(DeleteByFilterCheckTest, AnOpThatIsNoDeleteFails) {
  History history;
  history.OnWalAppend(0, {engine::ClearPayload{{1}}, std::nullopt});
  const auto failure =
      CheckDeleteByFilterIds(CountAtLeastTwo(), std::nullopt, 0, [&](const auto& fn) { return fn(history); });
  ASSERT_TRUE(failure.has_value());
  EXPECT_NE(failure->find("not a delete"), std::string::npos) << *failure;
}

}  // namespace
}  // namespace properties
