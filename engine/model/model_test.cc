#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <bit>

#include "engine/model/distance.h"
#include "engine/model/filter.h"
#include "engine/model/operation.h"
#include "engine/model/payload_index.h"

namespace engine {
namespace {

Payload SamplePayload() {
  return Payload::parse(R"({"color": "red", "count": 5, "tags": ["a", "b"], "nested": {"level": 2}})");
}

TEST(FilterTest, FieldConditionsAndArraysAndPaths) {
  const Payload payload = SamplePayload();
  Filter filter;
  filter.must.push_back(FieldCondition{"color", MatchKeyword{"red"}});
  EXPECT_TRUE(Matches(filter, 1, payload));
  filter.must.push_back(FieldCondition{"tags", MatchKeyword{"b"}});
  EXPECT_TRUE(Matches(filter, 1, payload));
  filter.must.push_back(FieldCondition{"nested.level", IntegerRange{2, 2}});
  EXPECT_TRUE(Matches(filter, 1, payload));
  filter.must.push_back(FieldCondition{"count", MatchInteger{6}});
  EXPECT_FALSE(Matches(filter, 1, payload));
}

TEST(FilterTest, BooleanClausesAndHasId) {
  const Payload payload = SamplePayload();
  Filter filter;
  filter.should.push_back(FieldCondition{"color", MatchKeyword{"blue"}});
  filter.should.push_back(HasIdCondition{{3, 7}});
  EXPECT_TRUE(Matches(filter, 7, payload));
  EXPECT_FALSE(Matches(filter, 8, payload));
  Filter negated;
  negated.must_not.push_back(std::make_shared<Filter>(filter));
  EXPECT_TRUE(Matches(negated, 8, payload));
  EXPECT_TRUE(Matches(Filter{}, 8, payload));
  EXPECT_FALSE(Matches(Filter{{FieldCondition{"count", MatchKeyword{"5"}}}, {}, {}}, 1, payload));
}

TEST(FilterTest, JsonRoundTripAndErrors) {
  Filter filter;
  filter.must.push_back(FieldCondition{"count", IntegerRange{1, std::nullopt}});
  filter.must_not.push_back(HasIdCondition{{1, 2}});
  filter.should.push_back(std::make_shared<Filter>(Filter{{FieldCondition{"c", MatchKeyword{"x"}}}, {}, {}}));
  auto parsed = FilterFromJson(FilterToJson(filter));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, filter);
  for (const char* bad : {R"([])", R"({"must": 3})", R"({"must": [{"key": 1}]})",
                          R"({"must": [{"key": "a", "range": {"gte": "x"}}]})"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(FilterFromJson(nlohmann::json::parse(bad)).status())) << bad;
  }
}

TEST(DistanceTest, ScoresAndCosineNormalisation) {
  EXPECT_EQ(Score(Distance::kDot, {1, 2}, {3, 4}), 11.0f);
  EXPECT_EQ(Score(Distance::kEuclid, {0, 0}, {3, 4}), -5.0f);
  const Vector normalised = PreprocessVector(Distance::kCosine, {3, 4});
  EXPECT_FLOAT_EQ(normalised[0], 0.6f);
  EXPECT_EQ(PreprocessVector(Distance::kCosine, {0, 0}), (Vector{0, 0}));
}

rc::Gen<Payload> GenPayload() {
  return rc::gen::map(rc::gen::tuple(rc::gen::inRange(0, 4), rc::gen::inRange<int64_t>(-3, 3),
                                     rc::gen::elementOf(std::vector<std::string>{"red", "blue"})),
                      [](const auto& parts) {
                        const auto& [shape, number, color] = parts;
                        Payload payload = Payload::object();
                        if (shape & 1) payload["count"] = number;
                        if (shape & 2) payload["color"] = color;
                        return payload;
                      });
}

rc::Gen<Operation> GenOperation() {
  const auto ids = rc::gen::container<std::vector<PointId>>(rc::gen::arbitrary<uint64_t>());
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::container<std::vector<std::tuple<uint64_t, std::vector<uint32_t>>>>(
                       rc::gen::arbitrary<std::tuple<uint64_t, std::vector<uint32_t>>>()),
                   [](const auto& raw) {
                     UpsertPoints upsert;
                     for (const auto& [id, bits] : raw) {
                       Vector vector;
                       for (uint32_t b : bits) vector.push_back(std::bit_cast<float>(b));
                       upsert.points.push_back({id, vector, Payload{{"k", id}}});
                     }
                     return Operation{upsert};
                   }),
      rc::gen::map(ids, [](auto v) { return Operation{DeletePoints{v}}; }),
      rc::gen::map(rc::gen::pair(ids, GenPayload()), [](auto p) { return Operation{SetPayload{p.first, p.second}}; }),
      rc::gen::map(ids, [](auto v) { return Operation{DeletePayloadKeys{v, {"a", "b"}}}; }),
      rc::gen::map(ids, [](auto v) { return Operation{ClearPayload{v}}; }),
      rc::gen::just(Operation{CreateFieldIndex{"count", FieldType::kInteger}}),
      rc::gen::just(Operation{DeleteFieldIndex{"color"}}));
}

// Bit-exact equality (NaN != NaN under float ==, so compare encodings).
RC_GTEST_PROP(OperationProperty, WalRecordRoundTripIsExact, ()) {
  const Operation operation = *GenOperation();
  WalRecord record{operation, std::nullopt};
  if (*rc::gen::arbitrary<bool>()) record.clock_tag = ClockTag{*rc::gen::arbitrary<uint64_t>(), 3, 9, 4, true};
  const std::string encoded = EncodeWalRecord(record);
  auto decoded = DecodeWalRecord(encoded);
  RC_ASSERT(decoded.ok());
  RC_ASSERT(EncodeWalRecord(*decoded) == encoded);
}

RC_GTEST_PROP(OperationProperty, DecodingGarbageNeverCrashes, (std::string bytes)) {
  auto decoded = DecodeWalRecord(bytes);
  if (!decoded.ok()) RC_ASSERT(absl::IsDataLoss(decoded.status()));
}

RC_GTEST_PROP(OperationProperty, DecodingMutatedRecordsNeverCrashes, ()) {
  std::string encoded = EncodeWalRecord({*GenOperation(), std::nullopt});
  RC_PRE(!encoded.empty());
  const size_t at = *rc::gen::inRange<size_t>(0, encoded.size());
  encoded[at] = static_cast<char>(*rc::gen::arbitrary<uint8_t>());
  (void)DecodeWalRecord(encoded);
}

RC_GTEST_PROP(PayloadIndexProperty, CandidatesNeverMissAMatch, ()) {
  const auto payloads = *rc::gen::container<std::vector<Payload>>(GenPayload());
  PayloadIndex index;
  index.Create("count", FieldType::kInteger);
  index.Create("color", FieldType::kKeyword);
  for (size_t id = 0; id < payloads.size(); ++id) index.Add(id, payloads[id]);
  // Remove and re-add some, as payload updates do.
  for (size_t id = 0; id < payloads.size(); id += 2) {
    index.Remove(id, payloads[id]);
    index.Add(id, payloads[id]);
  }
  Filter filter;
  filter.must.push_back(FieldCondition{"count", IntegerRange{*rc::gen::inRange<int64_t>(-3, 3), std::nullopt}});
  if (*rc::gen::arbitrary<bool>()) filter.must.push_back(FieldCondition{"color", MatchKeyword{"red"}});
  const auto candidates = index.Candidates(filter);
  RC_ASSERT(candidates.has_value());
  for (size_t id = 0; id < payloads.size(); ++id) {
    const bool listed = std::binary_search(candidates->begin(), candidates->end(), id);
    RC_ASSERT(Matches(filter, id, payloads[id]) == listed);
  }
}

}  // namespace
}  // namespace engine
