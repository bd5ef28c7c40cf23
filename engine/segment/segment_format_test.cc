// Pins the on-disk layout of segment log records: golden bytes for each
// entry kind and the batch framing, and decoders that refuse short input.
#include "engine/segment/segment_format.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/common/checksum.h"

namespace engine::segment_format {
namespace {

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int value : values) out.push_back(static_cast<char>(value));
  return out;
}

const std::string kKeyBytes = Bytes({7, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0, 0, 0});  // id 7, version 259

TEST(SegmentFormatTest, IdMapAndVersionEntriesAreKeyThenFlag) {
  std::string body;
  EncodeIdMapEntry(body, {7, 259}, true);
  EXPECT_EQ(body, kKeyBytes + Bytes({1}));
  body.clear();
  EncodeVersionEntry(body, {7, 259});
  EXPECT_EQ(body, kKeyBytes);
}

TEST(SegmentFormatTest, VectorEntryIsKeyDimensionAndFloatBits) {
  std::string body;
  EncodeVectorEntry(body, {7, 259}, {1.0f});
  EXPECT_EQ(body, kKeyBytes + Bytes({1, 0, 0, 0}) + Bytes({0, 0, 0x80, 0x3f}));
  BodyReader reader(body);
  EntryKey key;
  Vector vector;
  ASSERT_TRUE(DecodeVectorEntry(reader, key, vector));
  EXPECT_EQ(key, (EntryKey{7, 259}));
  EXPECT_EQ(vector, Vector{1.0f});
}

TEST(SegmentFormatTest, PayloadEntryIsKeyLengthAndJson) {
  std::string body;
  EncodePayloadEntry(body, {7, 259}, "{}");
  EXPECT_EQ(body, kKeyBytes + Bytes({2, 0, 0, 0}) + "{}");
}

TEST(SegmentFormatTest, BatchIsLengthCrcAndBody) {
  std::string log;
  EncodeBatch(log, "abc");
  std::string expected = Bytes({3, 0, 0, 0});
  PutFixed32(expected, Crc32c("abc"));
  EXPECT_EQ(log, expected + "abc");
  EXPECT_EQ(DecodeBatchAt(log, 0), "abc");
  log[kBatchHeaderBytes] ^= 1;  // a flipped body bit fails the checksum
  EXPECT_EQ(DecodeBatchAt(log, 0), std::nullopt);
  EXPECT_EQ(DecodeBatchAt(log.substr(0, 5), 0), std::nullopt);  // short header
}

TEST(SegmentFormatTest, DecodersRefuseShortOrOversizedEntries) {
  std::string body;
  EncodeVectorEntry(body, {7, 259}, {1.0f, 2.0f});
  EntryKey key;
  Vector vector;
  BodyReader short_reader(std::string_view(body).substr(0, body.size() - 1));
  EXPECT_FALSE(DecodeVectorEntry(short_reader, key, vector));
  std::string huge = kKeyBytes;
  PutFixed32(huge, kMaxVectorDimension + 1);
  BodyReader huge_reader(huge);
  EXPECT_FALSE(DecodeVectorEntry(huge_reader, key, vector));
  bool deleted = false;
  BodyReader id_map_reader(kKeyBytes);  // no flag byte
  EXPECT_FALSE(DecodeIdMapEntry(id_map_reader, key, deleted));
}

TEST(SegmentFormatTest, SegmentJsonRoundTripsAndRefusesAHugeDimension) {
  SegmentJson json{.config = {.dimension = 3, .distance = Distance::kCosine}, .appendable = true, .version = 9};
  for (const char* log : kComponentLogs) json.log_bytes[log] = 40;
  const std::string text = EncodeSegmentJson(json);
  EXPECT_EQ(*DecodeSegmentJson(text, "segment.json"), json);
  std::string huge = text;
  huge.replace(huge.find("\"dimension\":3"), 13, "\"dimension\":99999999");
  EXPECT_TRUE(absl::IsDataLoss(DecodeSegmentJson(huge, "segment.json").status()));
}

SegmentJson ArbitrarySegmentJson() {
  SegmentJson json;
  json.config.dimension = *rc::gen::inRange<uint32_t>(0, kMaxVectorDimension + 1);
  json.config.distance = *rc::gen::element(Distance::kDot, Distance::kCosine, Distance::kEuclid);
  json.appendable = *rc::gen::arbitrary<bool>();
  if (*rc::gen::arbitrary<bool>()) json.version = *rc::gen::arbitrary<uint64_t>();
  for (const char* log : kComponentLogs) json.log_bytes[log] = *rc::gen::arbitrary<uint64_t>();
  return json;
}

RC_GTEST_PROP(SegmentJsonProperty, DirectEncodingIsTheJsonTreesDump, ()) {
  const SegmentJson json = ArbitrarySegmentJson();
  const std::string text = EncodeSegmentJson(json);
  RC_ASSERT(text == EncodeSegmentJsonTree(json));
  RC_ASSERT(DecodeCanonicalSegmentJson(text) == std::optional<SegmentJson>(json));
  RC_ASSERT(*DecodeSegmentJsonTree(text, kSegmentJson) == json);
}

// Whatever the canonical reader accepts, the tree decoder accepts with the
// same value: damaged canonical text (flips, cuts, inserts, number edits)
// and other spellings of the same object.
RC_GTEST_PROP(SegmentJsonProperty, CanonicalReaderIsNoMorePermissive, ()) {
  std::string text = EncodeSegmentJson(ArbitrarySegmentJson());
  const int edits = *rc::gen::inRange(1, 4);
  for (int edit = 0; edit < edits && !text.empty(); ++edit) {
    const size_t at = *rc::gen::inRange<size_t>(0, text.size());
    switch (*rc::gen::inRange(0, 4)) {
      case 0: text[at] = *rc::gen::element('0', '9', ' ', '"', ',', '}', '-', '.', 'e', 'a'); break;
      case 1: text.erase(at, *rc::gen::inRange<size_t>(1, 4)); break;
      case 2: text.insert(at, 1, *rc::gen::element('0', '1', ' ', '\\', 'x')); break;
      default: text.resize(at); break;
    }
  }
  const std::optional<SegmentJson> canonical = DecodeCanonicalSegmentJson(text);
  const absl::StatusOr<SegmentJson> tree = DecodeSegmentJsonTree(text, kSegmentJson);
  if (canonical) {
    RC_ASSERT(tree.ok());
    RC_ASSERT(*tree == *canonical);
  }
  // The decoder's answer is the tree's whenever the canonical reader declines.
  const absl::StatusOr<SegmentJson> decoded = DecodeSegmentJson(text, kSegmentJson);
  RC_ASSERT(decoded.ok() == tree.ok());
  if (tree.ok()) RC_ASSERT(*decoded == *tree);
}

TEST(SegmentFormatTest, OtherSpellingsOfSegmentJsonGoToTheTreeDecoder) {
  SegmentJson json{.config = {.dimension = 3, .distance = Distance::kDot}, .appendable = false};
  for (const char* log : kComponentLogs) json.log_bytes[log] = 7;
  const std::string spaced = nlohmann::json::parse(EncodeSegmentJson(json)).dump(1);
  EXPECT_FALSE(DecodeCanonicalSegmentJson(spaced).has_value());
  EXPECT_EQ(*DecodeSegmentJson(spaced, kSegmentJson), json);
  std::string leading_zero = EncodeSegmentJson(json);
  leading_zero.replace(leading_zero.find("\"dimension\":3"), 13, "\"dimension\":03");
  EXPECT_FALSE(DecodeCanonicalSegmentJson(leading_zero).has_value());
  EXPECT_TRUE(absl::IsDataLoss(DecodeSegmentJson(leading_zero, kSegmentJson).status()));
  std::string overflow = EncodeSegmentJson(json);
  overflow.replace(overflow.find("\"version\":null"), 14, "\"version\":18446744073709551616");
  EXPECT_FALSE(DecodeCanonicalSegmentJson(overflow).has_value());
  EXPECT_TRUE(absl::IsDataLoss(DecodeSegmentJson(overflow, kSegmentJson).status()));
}

}  // namespace
}  // namespace engine::segment_format
