#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <bit>
#include <map>
#include <optional>

#include "engine/model/cbor.h"
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

// The shape decoder (payloads only checked) must give the full decoder's
// verdict and error on any bytes, and the same op, ids and clock tag: the
// update path trusts it to refuse what a replay would refuse.
void ExpectShapeAgrees(const std::string& bytes) {
  const auto full = DecodeWalRecord(bytes);
  const auto shape = DecodeWalRecordShape(bytes);
  RC_ASSERT(full.status() == shape.status());
  if (!full.ok()) return;
  RC_ASSERT(full->clock_tag == shape->clock_tag);
  RC_ASSERT(OperationName(full->operation) == OperationName(shape->operation));
  RC_ASSERT(OperationPointIds(full->operation) == OperationPointIds(shape->operation));
}

RC_GTEST_PROP(OperationProperty, ShapeDecodingAgreesOnMutatedRecords, ()) {
  WalRecord record{*GenOperation(), std::nullopt};
  if (*rc::gen::arbitrary<bool>()) record.clock_tag = ClockTag{*rc::gen::arbitrary<uint64_t>(), 3, 9, 4, true};
  std::string bytes = EncodeWalRecord(record);
  ExpectShapeAgrees(bytes);
  const int mutations = *rc::gen::inRange(1, 4);
  for (int i = 0; i < mutations && !bytes.empty(); ++i) {
    const size_t at = *rc::gen::inRange<size_t>(0, bytes.size());
    switch (*rc::gen::inRange(0, 3)) {
      case 0: bytes[at] = static_cast<char>(*rc::gen::arbitrary<uint8_t>()); break;
      case 1: bytes.insert(at, 1, static_cast<char>(*rc::gen::arbitrary<uint8_t>())); break;
      default: bytes.resize(at); break;
    }
    ExpectShapeAgrees(bytes);
  }
}

// Payloads Skip() walks but the tree reader refuses, each 4 bytes like the
// {"a": 1} (A1 61 61 01) they replace: no object, an integer key, the simple
// value "undefined". Both decoders must refuse each with the same error.
TEST(OperationTest, ShapeDecodingRefusesWhatTheTreeReaderRefuses) {
  const std::string good = EncodeWalRecord({Operation{SetPayload{{1, 2}, Payload{{"a", 1}}}}, std::nullopt});
  // The key's CBOR text head (0x67: a text of 7 bytes), not the op's name.
  const size_t key = good.find("\x67payload");
  ASSERT_NE(key, std::string::npos);
  const size_t value = key + 1 + std::string("payload").size();
  ASSERT_EQ(good.substr(value, 4), std::string("\xA1\x61\x61\x01"));
  const std::pair<std::string, std::string> cases[] = {
      {std::string("\x83\x01\x01\x01", 4), "must be an object"},
      {std::string("\xA1\x18\x61\x01", 4), "not a JSON value"},
      {std::string("\xA1\x61\x61\xF7", 4), "not a JSON value"},
  };
  for (const auto& [payload, error] : cases) {
    std::string bad = good;
    bad.replace(value, 4, payload);
    const auto full = DecodeWalRecord(bad);
    const auto shape = DecodeWalRecordShape(bad);
    ASSERT_FALSE(full.ok()) << error;
    EXPECT_EQ(full.status(), shape.status());
    EXPECT_NE(shape.status().message().find(error), std::string_view::npos) << shape.status();
  }
}

// The WAL codec before engine/model/cbor.h: a nlohmann::json tree, then
// to_cbor / from_cbor. The direct codec must write the same bytes (trace
// hashes depend on them) and accept nothing this one refused.
std::string ReferenceEncode(const WalRecord& record) {
  nlohmann::json json = {{"v", 1}, {"operation", OperationToJson(record.operation)}};
  if (record.clock_tag) {
    const ClockTag& tag = *record.clock_tag;
    json["clock"] = {{"peer", tag.peer_id}, {"clock", tag.clock_id}, {"tick", tag.tick},
                     {"token", tag.token}, {"force", tag.force}};
  }
  const std::vector<uint8_t> bytes = nlohmann::json::to_cbor(json);
  return std::string(bytes.begin(), bytes.end());
}

std::optional<WalRecord> ReferenceDecode(std::string_view bytes) {
  nlohmann::json json;
  try {
    json = nlohmann::json::from_cbor(bytes.begin(), bytes.end(), true, false);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  if (json.is_discarded() || !json.is_object() || !json.contains("v") || json["v"] != 1) return std::nullopt;
  if (!json.contains("operation")) return std::nullopt;
  auto operation = OperationFromJson(json["operation"]);
  if (!operation.ok()) return std::nullopt;
  WalRecord record{std::move(*operation), std::nullopt};
  if (json.contains("clock")) {
    const auto& clock = json["clock"];
    for (const char* field : {"peer", "clock", "tick", "token"}) {
      if (!clock.is_object() || !clock.contains(field) || !clock[field].is_number_unsigned()) return std::nullopt;
    }
    if (!clock.contains("force") || !clock["force"].is_boolean() || clock["clock"].get<uint64_t>() > UINT32_MAX) {
      return std::nullopt;
    }
    record.clock_tag = ClockTag{clock["peer"].get<uint64_t>(), static_cast<uint32_t>(clock["clock"].get<uint64_t>()),
                                clock["tick"].get<uint64_t>(), clock["token"].get<uint64_t>(),
                                clock["force"].get<bool>()};
  }
  return record;
}

// Payload values of every JSON kind, with lengths and magnitudes on both
// sides of each CBOR head size (23/24, 255/256, 65535/65536, 2^32).
rc::Gen<Payload> GenJsonValue(int depth);

// An object over a few keys (a repeated key keeps its last value).
rc::Gen<Payload> GenJsonObject(std::vector<std::string> keys, int depth) {
  return rc::gen::map(rc::gen::resize(4, rc::gen::container<std::vector<std::pair<std::string, Payload>>>(
                                             rc::gen::pair(rc::gen::elementOf(keys), GenJsonValue(depth)))),
                      [](const std::vector<std::pair<std::string, Payload>>& fields) {
                        Payload object = Payload::object();
                        for (const auto& [key, value] : fields) object[key] = value;
                        return object;
                      });
}

rc::Gen<Payload> GenJsonValue(int depth) {
  const auto number = rc::gen::oneOf(
      rc::gen::map(rc::gen::elementOf(std::vector<uint64_t>{0, 23, 24, 255, 256, 65535, 65536, 4294967295ULL,
                                                            4294967296ULL, UINT64_MAX}),
                   [](uint64_t v) { return Payload(v); }),
      rc::gen::map(rc::gen::arbitrary<int64_t>(), [](int64_t v) { return Payload(v); }),
      rc::gen::map(rc::gen::elementOf(std::vector<double>{0.5, -1.25, 1e300, 3.4028234663852886e38, 0.1, -0.0}),
                   [](double v) { return Payload(v); }));
  const auto scalar = rc::gen::oneOf(
      number, rc::gen::just(Payload(nullptr)), rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return Payload(b); }),
      rc::gen::map(rc::gen::elementOf(std::vector<size_t>{0, 5, 23, 24, 255, 256, 65535, 65536}),
                   [](size_t length) { return Payload(std::string(length, 'x')); }));
  if (depth == 0) return scalar;
  return rc::gen::oneOf(
      scalar,
      rc::gen::map(rc::gen::resize(4, rc::gen::container<std::vector<Payload>>(GenJsonValue(depth - 1))),
                   [](std::vector<Payload> items) { return Payload(std::move(items)); }),
      GenJsonObject({"a", "b", "color", "count", "zz"}, depth - 1));
}

rc::Gen<WalRecord> GenWalRecord() {
  const auto object = GenJsonObject({"k", "color", "nested"}, 2);
  return rc::gen::map(rc::gen::tuple(GenOperation(), object, rc::gen::arbitrary<bool>(),
                                     rc::gen::arbitrary<uint64_t>(), rc::gen::arbitrary<uint32_t>()),
                      [](const auto& parts) {
                        auto [operation, payload, tagged, tick, clock] = parts;
                        if (auto* upsert = std::get_if<UpsertPoints>(&operation)) {
                          for (Point& point : upsert->points) point.payload = payload;
                        }
                        if (auto* set = std::get_if<SetPayload>(&operation)) set->payload = payload;
                        WalRecord record{operation, std::nullopt};
                        if (tagged) record.clock_tag = ClockTag{tick, clock, tick / 3, tick ^ clock, (tick & 1) != 0};
                        return record;
                      });
}

RC_GTEST_PROP(WalRecordProperty, DirectEncodingIsTheJsonTreesCbor, ()) {
  const WalRecord record = *GenWalRecord();
  const std::string encoded = EncodeWalRecord(record);
  RC_ASSERT(encoded == ReferenceEncode(record));
  auto decoded = DecodeWalRecord(encoded);
  RC_ASSERT(decoded.ok());
  RC_ASSERT(EncodeWalRecord(*decoded) == encoded);
}

// Byte flips, truncations and insertions: the direct decoder accepts only
// what the tree decoder accepted, and reads it as the same record.
RC_GTEST_PROP(WalRecordProperty, DirectDecoderIsNoMorePermissive, ()) {
  std::string bytes = EncodeWalRecord(*GenWalRecord());
  RC_PRE(!bytes.empty());
  const int edits = *rc::gen::inRange(1, 4);
  for (int i = 0; i < edits && !bytes.empty(); ++i) {
    const size_t at = *rc::gen::inRange<size_t>(0, bytes.size());
    switch (*rc::gen::inRange(0, 3)) {
      case 0: bytes[at] = static_cast<char>(*rc::gen::arbitrary<uint8_t>()); break;
      case 1: bytes.resize(at); break;
      default: bytes.insert(bytes.begin() + at, static_cast<char>(*rc::gen::arbitrary<uint8_t>())); break;
    }
  }
  auto decoded = DecodeWalRecord(bytes);
  if (!decoded.ok()) {
    RC_ASSERT(absl::IsDataLoss(decoded.status()));
    return;
  }
  const auto reference = ReferenceDecode(bytes);
  RC_ASSERT(reference.has_value());
  RC_ASSERT(EncodeWalRecord(*decoded) == EncodeWalRecord(*reference));
}

void ExpectRefusal(const absl::StatusOr<WalRecord>& decoded, std::string_view why) {
  ASSERT_FALSE(decoded.ok());
  EXPECT_TRUE(absl::IsDataLoss(decoded.status())) << decoded.status();
  const std::string message(decoded.status().message());
  EXPECT_NE(message.find(why), std::string::npos) << decoded.status() << " lacks " << why;
}

TEST(WalRecordTest, RefusesWhatNoWriterProduces) {
  const std::string good = EncodeWalRecord({DeletePoints{{1, 2}}, std::nullopt});
  ASSERT_TRUE(DecodeWalRecord(good).ok());
  // Trailing bytes, an indefinite-length map, a tag, another version.
  ExpectRefusal(DecodeWalRecord(good + '\x00'), "bytes after the record");
  std::string indefinite = good;
  indefinite[0] = '\xBF';
  ExpectRefusal(DecodeWalRecord(indefinite), "indefinite length");
  EXPECT_TRUE(absl::IsDataLoss(DecodeWalRecord("\xC0\xA0").status()));
  std::string version_two = good;
  ASSERT_EQ(version_two.back(), '\x01');
  version_two.back() = '\x02';
  ExpectRefusal(DecodeWalRecord(version_two), "unknown format version");
  // A length header of 2^63 elements over 9 bytes: refused, not reserved.
  ExpectRefusal(DecodeWalRecord(std::string_view("\xBB\x80\x00\x00\x00\x00\x00\x00\x00", 9)), "a length past the end");
  // Nesting past the reader's bound in a payload: an error, not a deep recursion.
  std::string deep = "\xA2\x69operation\xA3\x63ids\x81\x01\x62op\x6Bset_payload\x67payload\xA1\x61k";
  deep += std::string(cbor::Reader::kMaxDepth + 1, '\x81') + '\x01';
  deep += "\x61v\x01";
  ExpectRefusal(DecodeWalRecord(deep), "nested too deep");
}

// Filling an index just created (AddToField) gives the index a full Add
// would: the same candidates for every condition on it.
RC_GTEST_PROP(PayloadIndexProperty, AddToFieldFillsOnlyThatIndexAsAddWould, ()) {
  const auto payloads = *rc::gen::container<std::vector<Payload>>(GenPayload());
  PayloadIndex late;
  PayloadIndex early;
  late.Create("color", FieldType::kKeyword);
  early.Create("color", FieldType::kKeyword);
  early.Create("count", FieldType::kInteger);
  for (size_t id = 0; id < payloads.size(); ++id) {
    late.Add(id, payloads[id]);
    early.Add(id, payloads[id]);
  }
  late.Create("count", FieldType::kInteger);
  for (size_t id = 0; id < payloads.size(); ++id) late.AddToField("count", id, payloads[id]);
  for (int64_t low = -3; low <= 3; ++low) {
    Filter filter;
    filter.must.push_back(FieldCondition{"count", IntegerRange{low, std::nullopt}});
    RC_ASSERT(late.Candidates(filter) == early.Candidates(filter));
    filter.must.push_back(FieldCondition{"color", MatchKeyword{"red"}});
    RC_ASSERT(late.Candidates(filter) == early.Candidates(filter));
  }
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
