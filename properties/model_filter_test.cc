#include "properties/model_filter.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <fmt/format.h>

#include <cstdint>
#include <random>
#include <memory>
#include <string>
#include <vector>

namespace properties {
namespace {

using engine::Filter;
using engine::Payload;
using Json = nlohmann::json;

Payload Sample() {
  return Payload::parse(R"({"color": "red", "count": 5, "tags": ["a", "b"],
                            "rows": [{"n": 1}, {"n": [7, 8]}], "big": 18446744073709551615, "ratio": 2.0})");
}

Filter Must(engine::FieldCondition condition) { return Filter{{std::move(condition)}, {}, {}}; }

TEST(ModelFilterTest, RangesAreInclusiveAndOpenEnded) {
  const Payload payload = Sample();
  EXPECT_TRUE(ModelMatches(Must({"count", engine::IntegerRange{5, 5}}), 1, payload));
  EXPECT_TRUE(ModelMatches(Must({"count", engine::IntegerRange{std::nullopt, 5}}), 1, payload));
  EXPECT_TRUE(ModelMatches(Must({"count", engine::IntegerRange{5, std::nullopt}}), 1, payload));
  EXPECT_TRUE(ModelMatches(Must({"count", engine::IntegerRange{}}), 1, payload));
  EXPECT_FALSE(ModelMatches(Must({"count", engine::IntegerRange{6, std::nullopt}}), 1, payload));
  EXPECT_FALSE(ModelMatches(Must({"count", engine::IntegerRange{std::nullopt, 4}}), 1, payload));
  EXPECT_FALSE(ModelMatches(Must({"color", engine::IntegerRange{}}), 1, payload));  // not a number
}

TEST(ModelFilterTest, OnlyIntegersInInt64RangeAreNumbers) {
  const Payload payload = Sample();
  EXPECT_FALSE(ModelMatches(Must({"big", engine::IntegerRange{}}), 1, payload));
  EXPECT_FALSE(ModelMatches(Must({"ratio", engine::MatchInteger{2}}), 1, payload));
  EXPECT_FALSE(ModelMatches(Must({"count", engine::MatchKeyword{"5"}}), 1, payload));
}

TEST(ModelFilterTest, ArraysOnThePathStandForTheirElements) {
  const Payload payload = Sample();
  EXPECT_TRUE(ModelMatches(Must({"tags", engine::MatchKeyword{"b"}}), 1, payload));
  EXPECT_TRUE(ModelMatches(Must({"rows.n", engine::MatchInteger{1}}), 1, payload));
  EXPECT_TRUE(ModelMatches(Must({"rows.n", engine::MatchInteger{8}}), 1, payload));
  EXPECT_FALSE(ModelMatches(Must({"rows.n", engine::MatchInteger{2}}), 1, payload));
  EXPECT_FALSE(ModelMatches(Must({"rows.m", engine::MatchInteger{1}}), 1, payload));
  // An array inside an array is one value, not its elements.
  const Payload nested = Payload::parse(R"({"v": [[3]]})");
  EXPECT_FALSE(ModelMatches(Must({"v", engine::MatchInteger{3}}), 1, nested));
}

TEST(ModelFilterTest, Clauses) {
  const Payload payload = Sample();
  Filter filter;
  filter.should.push_back(engine::FieldCondition{"color", engine::MatchKeyword{"blue"}});
  filter.should.push_back(engine::HasIdCondition{{3, 7}});
  EXPECT_TRUE(ModelMatches(filter, 7, payload));
  EXPECT_FALSE(ModelMatches(filter, 8, payload));
  filter.must_not.push_back(engine::HasIdCondition{{7}});
  EXPECT_FALSE(ModelMatches(filter, 7, payload));
  EXPECT_TRUE(ModelMatches(Filter{}, 8, payload));
  Filter negated;
  negated.must_not.push_back(std::make_shared<Filter>(Filter{}));
  EXPECT_FALSE(ModelMatches(negated, 8, payload));
  Filter null_nested;
  null_nested.must.push_back(std::shared_ptr<Filter>());
  EXPECT_FALSE(ModelMatches(null_nested, 8, payload));
}

// ---- The engine's filter code against the model's, on random shapes. ----

// A fixed corpus of payloads, the same in every run: a filter's boundary
// cases (a value at a range's bound, an array of objects on a dotted path)
// are rare for any one payload, and drawing hundreds of payloads per case
// through RapidCheck makes its shrinking too deep.
class PayloadCorpus {
 public:
  PayloadCorpus() {
    for (int i = 0; i < 2000; ++i) {
      Json payload = Json::object();
      for (int keys = Below(3); keys > 0; --keys) payload[Below(2) == 0 ? "a" : "b"] = Value(0);
      payloads_.push_back(std::move(payload));
    }
  }
  const std::vector<Json>& payloads() const { return payloads_; }

 private:
  int Below(int n) { return static_cast<int>(random_() % static_cast<uint64_t>(n)); }

  Json Scalar() {
    switch (Below(10)) {
      case 0: return "x";
      case 1: return "y";
      case 2: return uint64_t{INT64_MAX} + Below(2);  // the last int64, then one past it
      case 3: return UINT64_MAX;
      case 4: return Below(2) == 0 ? INT64_MIN : INT64_MAX;
      case 5: return 1.0;
      case 6: return Below(2) == 0;
      case 7: return nullptr;
      default: return Below(5) - 2;
    }
  }

  // Objects and arrays often near the top, so that dotted paths meet
  // arrays of objects.
  Json Value(int depth) {
    const int kind = Below(depth < 2 ? 6 : 2);
    if (kind <= 1) return Scalar();
    if (kind <= 3) {
      Json array = Json::array();
      for (int i = Below(3); i > 0; --i) array.push_back(Value(depth + 1));
      return array;
    }
    Json object = Json::object();
    for (int i = 1 + Below(2); i > 0; --i) object[Below(2) == 0 ? "a" : "b"] = Value(depth + 1);
    return object;
  }

  std::mt19937_64 random_{20261206};
  std::vector<Json> payloads_;
};

engine::Condition GenCondition(int depth);

// One to three conditions in all, so that a filter is neither almost
// always false (many musts) nor almost always true.
Filter GenFilter(int depth) {
  Filter filter;
  for (int i = *rc::gen::inRange(1, 4); i > 0; --i) {
    // An index, not a pointer: RapidCheck replays drawn values while it
    // shrinks, and a pointer would name an earlier run's filter.
    const int clause = *rc::gen::inRange(0, 3);
    (clause == 0 ? filter.must : clause == 1 ? filter.should : filter.must_not).push_back(GenCondition(depth));
  }
  return filter;
}

engine::Condition GenCondition(int depth) {
  const int kind = *rc::gen::inRange(0, depth < 3 ? 6 : 5);
  if (kind == 0) {
    std::vector<engine::PointId> ids;
    for (engine::PointId id = 0; id < 4; ++id) {
      if (*rc::gen::arbitrary<bool>()) ids.push_back(id);
    }
    return engine::HasIdCondition{ids};
  }
  if (kind == 5) {
    if (*rc::gen::inRange(0, 8) == 0) return std::shared_ptr<Filter>();
    return std::make_shared<Filter>(GenFilter(depth + 1));
  }
  engine::FieldCondition field{*rc::gen::element(std::string("a"), std::string("b"), std::string("a.b"),
                                                 std::string("b.a"), std::string("a.b.a"), std::string("c"))};
  if (kind == 1) {
    field.match = engine::MatchKeyword{*rc::gen::element(std::string("x"), std::string("y"))};
  } else if (kind == 2) {
    field.match = engine::MatchInteger{*rc::gen::inRange<int64_t>(-2, 3)};
  } else {  // kinds 3 and 4
    engine::IntegerRange range;
    if (*rc::gen::arbitrary<bool>()) range.gte = *rc::gen::inRange<int64_t>(-2, 3);
    if (*rc::gen::arbitrary<bool>()) range.lte = *rc::gen::inRange<int64_t>(-2, 3);
    field.match = range;
  }
  return field;
}

RC_GTEST_PROP(ModelFilterProperty, EngineFiltersAgreeWithTheModel, ()) {
  static const PayloadCorpus corpus;
  const Filter filter = GenFilter(0);
  for (const Json& payload : corpus.payloads()) {
    for (engine::PointId id = 0; id < 4; ++id) {
      if (engine::Matches(filter, id, payload) != ModelMatches(filter, id, payload)) {
        RC_FAIL(fmt::format("filter {} on point {} with payload {}: the engine says {}, the model {}",
                            engine::FilterToJson(filter).dump(), id, payload.dump(),
                            engine::Matches(filter, id, payload), ModelMatches(filter, id, payload)));
      }
    }
  }
}

}  // namespace
}  // namespace properties
