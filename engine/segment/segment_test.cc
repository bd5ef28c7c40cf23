#include "engine/segment/segment.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "engine/model/distance.h"
#include "engine/segment/segment_format.h"
#include "sim/fs/sim_fs.h"

namespace engine {
namespace {

constexpr CollectionConfig kConfig{.dimension = 2, .distance = Distance::kDot};

Point MakePoint(PointId id, float value) {
  return {id, {value, -value}, Payload{{"n", static_cast<int64_t>(id % 3)}, {"tag", id % 2 ? "odd" : "even"}}};
}

std::unique_ptr<Segment> CreateOrDie(FileSystem& fs, const std::string& dir = "seg") {
  auto segment = Segment::Create(fs, dir, kConfig, true);
  EXPECT_TRUE(segment.ok()) << segment.status();
  return std::move(*segment);
}

std::map<std::string, std::string> Files(sim::SimFileSystem& fs, const std::string& dir) {
  std::map<std::string, std::string> files;
  const auto entries = fs.ListDir(dir);
  for (const DirEntry& entry : *entries) files[entry.name] = *ReadWholeFile(fs, dir + "/" + entry.name);
  return files;
}

TEST(SegmentTest, VersionRuleSkipsOlderAndReappliesEqual) {
  sim::SimFileSystem fs;
  auto segment = CreateOrDie(fs);
  EXPECT_TRUE(*segment->Upsert(5, MakePoint(1, 1)));
  EXPECT_FALSE(*segment->Upsert(4, MakePoint(1, 2)));  // older: skipped
  EXPECT_EQ(segment->Retrieve(1)->vector, (Vector{1, -1}));
  EXPECT_TRUE(*segment->SetPayload(5, 1, Payload{{"x", 1}}));  // equal: applied again
  EXPECT_EQ(segment->point_version(1), 5u);
  EXPECT_EQ(segment->version(), 5u);
  EXPECT_TRUE(*segment->DeletePoint(7, 1));
  EXPECT_FALSE(segment->has_point(1));
  EXPECT_EQ(segment->point_version(1), 7u);  // the tombstone keeps its version
  EXPECT_FALSE(*segment->Upsert(6, MakePoint(1, 3)));  // older than the delete
  EXPECT_TRUE(*segment->Upsert(8, MakePoint(1, 3)));
}

// Seed 206858: a load de-duplicated a copy read from an interrupted flush
// (version 34) in a segment whose flushed version was older; deleting it as
// op 34 raised the segment's version, and WAL replay then skipped the index
// drop of op 33 there (the segment kept a stale index).
TEST(SegmentTest, DeletingASupersededCopyClaimsNoOp) {
  sim::SimFileSystem fs;
  auto segment = CreateOrDie(fs);
  EXPECT_TRUE(*segment->CreateFieldIndex(2, "tag", FieldType::kKeyword));
  EXPECT_TRUE(*segment->Upsert(3, MakePoint(1, 1)));
  EXPECT_TRUE(*segment->DeleteSupersededCopy(1, 34));
  EXPECT_FALSE(segment->has_point(1));
  EXPECT_EQ(segment->point_version(1), 34u);
  EXPECT_EQ(segment->version(), 3u);
  EXPECT_EQ(segment->newest_point_version(), 34u);  // the op the copy claims is applied all the same
  EXPECT_TRUE(segment->has_unsaved_changes());
  EXPECT_TRUE(*segment->DeleteFieldIndex(33, "tag"));  // replayed, not skipped
  EXPECT_TRUE(segment->indexed_fields().empty());
}

// An unsigned value past int64 is not indexed as an integer (no filter can
// name it); the consistency check must not call that a disagreement.
TEST(SegmentTest, IndexCheckSkipsUnsignedValuesPastInt64) {
  sim::SimFileSystem fs;
  auto segment = CreateOrDie(fs);
  Point point = MakePoint(1, 1.0f);
  point.payload = Payload{{"n", uint64_t(INT64_MAX) + 1}, {"m", {3, uint64_t(UINT64_MAX)}}};
  ASSERT_TRUE(segment->Upsert(1, point).ok());
  ASSERT_TRUE(segment->CreateFieldIndex(2, "n", FieldType::kInteger).ok());
  ASSERT_TRUE(segment->CreateFieldIndex(3, "m", FieldType::kInteger).ok());
  EXPECT_TRUE(segment->IndexAgreesWithPayloads("n"));
  EXPECT_TRUE(segment->IndexAgreesWithPayloads("m"));
  EXPECT_TRUE(segment->IndexesAgreeWithPayloads());
}

TEST(SegmentTest, ReadsAgreeWithBruteForceAndIndex) {
  sim::SimFileSystem fs;
  auto segment = CreateOrDie(fs);
  for (PointId id = 0; id < 30; ++id) ASSERT_TRUE(segment->Upsert(id, MakePoint(id, float(id))).ok());
  ASSERT_TRUE(segment->CreateFieldIndex(30, "tag", FieldType::kKeyword).ok());
  Filter odd;
  odd.must.push_back(FieldCondition{"tag", MatchKeyword{"odd"}});
  EXPECT_EQ(segment->Count(&odd), 15u);
  EXPECT_EQ(segment->ReadFiltered(&odd, 20, 3), (std::vector<PointId>{21, 23, 25}));
  EXPECT_TRUE(segment->IndexAgreesWithPayloads("tag"));
  const auto hits = segment->Search({1, 0}, &odd, 2);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, 29u);
  EXPECT_EQ(hits[1].id, 27u);
}

TEST(SegmentTest, FlushAndLoadRoundTrip) {
  sim::SimFileSystem fs;
  auto segment = CreateOrDie(fs);
  for (PointId id = 0; id < 10; ++id) ASSERT_TRUE(segment->Upsert(id, MakePoint(id, 1)).ok());
  ASSERT_TRUE(segment->DeletePoint(10, 3).ok());
  ASSERT_TRUE(segment->CreateFieldIndex(11, "n", FieldType::kInteger).ok());
  EXPECT_EQ(*segment->Flush(false), 11u);
  auto loaded = Segment::Load(fs, "seg");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->version(), 11u);
  EXPECT_EQ((*loaded)->LiveIds(), segment->LiveIds());
  for (PointId id : segment->LiveIds()) EXPECT_EQ((*loaded)->Retrieve(id), segment->Retrieve(id));
  EXPECT_EQ((*loaded)->point_version(3), 10u);
  EXPECT_EQ((*loaded)->indexed_fields(), segment->indexed_fields());
  EXPECT_TRUE(*Segment::IsComplete(fs, "seg"));
}

TEST(SegmentTest, FlushCostGrowsWithChangesNotSize) {
  sim::SimFileSystem fs;
  auto segment = CreateOrDie(fs);
  for (PointId id = 0; id < 10000; ++id) ASSERT_TRUE(segment->Upsert(id, MakePoint(id, 1)).ok());
  ASSERT_TRUE(segment->Flush(false).ok());
  const uint64_t full = segment->flushed_bytes();
  ASSERT_TRUE(segment->SetPayload(10000, 42, Payload{{"changed", true}}).ok());
  ASSERT_TRUE(segment->Flush(false).ok());
  const uint64_t one_change = segment->flushed_bytes() - full;
  EXPECT_LT(one_change, 300u);
  EXPECT_GT(full, 100 * one_change);
}

TEST(SegmentTest, FlippedBitInFlushedDataIsRefusedAndNothingChanges) {
  sim::SimFileSystem fs;
  auto segment = CreateOrDie(fs);
  for (PointId id = 0; id < 5; ++id) ASSERT_TRUE(segment->Upsert(id, MakePoint(id, 1)).ok());
  ASSERT_TRUE(segment->Flush(false).ok());
  ASSERT_TRUE(segment->Upsert(5, MakePoint(5, 1)).ok());
  ASSERT_TRUE(segment->Flush(false).ok());
  std::string payloads = *ReadWholeFile(fs, "seg/payloads.log");
  payloads[20] ^= 0x04;  // inside the first batch
  {
    auto file = fs.Open("seg/payloads.log", OpenMode::kReadWrite);
    ASSERT_TRUE((*file)->WriteAt(0, std::span<const char>(payloads.data(), payloads.size())).ok());
  }
  const auto before = Files(fs, "seg");
  auto loaded = Segment::Load(fs, "seg");
  EXPECT_TRUE(absl::IsDataLoss(loaded.status())) << loaded.status();
  EXPECT_NE(std::string(loaded.status().message()).find("payloads.log"), std::string::npos);
  EXPECT_EQ(Files(fs, "seg"), before);
}

TEST(SegmentTest, InterruptedFlushLeavesALoadableSegment) {
  sim::SimFileSystem fs;
  sim::PrngSource decisions(3);
  ASSERT_TRUE(fs.SyncDir("").ok());
  auto segment = CreateOrDie(fs);
  for (PointId id = 0; id < 5; ++id) ASSERT_TRUE(segment->Upsert(id, MakePoint(id, 1)).ok());
  ASSERT_TRUE(segment->Flush(false).ok());
  // A second flush's batches land but segment.json is not replaced; then
  // garbage is appended as an interrupted third flush would leave.
  ASSERT_TRUE(segment->Upsert(5, MakePoint(5, 2)).ok());
  ASSERT_TRUE(segment->Flush(false).ok());
  {
    auto file = fs.Open("seg/vectors.log", OpenMode::kReadWrite);
    ASSERT_TRUE((*file)->Append(std::span<const char>("\x20\0\0\0garbage", 11)).ok());
  }
  auto loaded = Segment::Load(fs, "seg");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->LiveIds().size(), 6u);
  ASSERT_TRUE((*loaded)->Upsert(6, MakePoint(6, 3)).ok());
  ASSERT_TRUE((*loaded)->Flush(false).ok());  // writes over the garbage
  auto reloaded = Segment::Load(fs, "seg");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ((*reloaded)->LiveIds().size(), 7u);
}

TEST(SegmentTest, MissingCompletionMarkerIsDetectable) {
  sim::SimFileSystem fs;
  ASSERT_TRUE(fs.Mkdir("half").ok());
  EXPECT_FALSE(*Segment::IsComplete(fs, "half"));
}

// Replaces, in the first batch of seg/payloads.log, the payload text of
// point `id` by text of the same length (so no committed length moves),
// under a valid checksum: damage only the load's own checks can see.
void RewritePayloadText(sim::SimFileSystem& fs, PointId id, std::string_view (*replace)(size_t length)) {
  const std::string log = *ReadWholeFile(fs, "seg/payloads.log");
  const std::optional<std::string_view> body = segment_format::DecodeBatchAt(log, 0);
  ASSERT_TRUE(body.has_value());
  std::string rewritten;
  segment_format::BodyReader reader(*body);
  while (!reader.done()) {
    segment_format::EntryKey key;
    std::string_view json;
    ASSERT_TRUE(segment_format::DecodePayloadEntry(reader, key, json));
    segment_format::EncodePayloadEntry(rewritten, key, key.id == id ? replace(json.size()) : json);
  }
  std::string batch;
  segment_format::EncodeBatch(batch, rewritten);
  ASSERT_EQ(batch.size(), segment_format::BatchBytes(*body));
  auto file = fs.Open("seg/payloads.log", OpenMode::kReadWrite);
  ASSERT_TRUE((*file)->WriteAt(0, std::span<const char>(batch.data(), batch.size())).ok());
}

// A load parses only the payload it keeps of each point, but every payload
// entry must still be a JSON object: one that is not fails the load, kept
// or superseded by a later flush.
TEST(SegmentTest, APayloadEntryThatIsNotAnObjectIsRefusedEvenWhenSuperseded) {
  const auto array_text = [](size_t length) -> std::string_view {
    static std::string text;
    text = "[" + std::string(length - 2, ' ') + "]";  // valid JSON, not an object
    return text;
  };
  for (const bool superseded : {false, true}) {
    sim::SimFileSystem fs;
    auto segment = CreateOrDie(fs);
    for (PointId id = 0; id < 5; ++id) ASSERT_TRUE(segment->Upsert(id, MakePoint(id, 1)).ok());
    ASSERT_TRUE(segment->Flush(false).ok());
    if (superseded) {
      ASSERT_TRUE(segment->Upsert(10, MakePoint(2, 7)).ok());
      ASSERT_TRUE(segment->Flush(false).ok());
    }
    auto intact = Segment::Load(fs, "seg");
    ASSERT_TRUE(intact.ok()) << intact.status();
    EXPECT_EQ((*intact)->Retrieve(2), segment->Retrieve(2));
    RewritePayloadText(fs, 2, array_text);
    const auto before = Files(fs, "seg");
    auto loaded = Segment::Load(fs, "seg");
    EXPECT_TRUE(absl::IsDataLoss(loaded.status())) << "superseded=" << superseded << ": " << loaded.status();
    EXPECT_NE(std::string(loaded.status().message()).find("payloads.log"), std::string::npos);
    EXPECT_EQ(Files(fs, "seg"), before);
  }
}

// Random op sequences agree with a map model, across flushes and reloads.
RC_GTEST_PROP(SegmentProperty, AgreesWithAMapAcrossFlushAndReload, ()) {
  sim::SimFileSystem fs;
  auto created = Segment::Create(fs, "seg", kConfig, true);
  RC_ASSERT(created.ok());
  std::unique_ptr<Segment> segment = std::move(*created);
  std::map<PointId, Point> model;
  const int ops = *rc::gen::inRange(0, 60);
  for (int op = 0; op < ops; ++op) {
    const PointId id = *rc::gen::inRange<PointId>(0, 8);
    const int kind = *rc::gen::inRange(0, 5);
    if (kind == 0) {
      const Point point = MakePoint(id, float(op));
      RC_ASSERT(segment->Upsert(op, point).ok());
      model[id] = point;
    } else if (kind == 1) {
      RC_ASSERT(segment->DeletePoint(op, id).ok());
      model.erase(id);
    } else if (kind == 2) {
      RC_ASSERT(segment->SetPayload(op, id, Payload{{"op", op}}).ok());
      if (model.contains(id)) model[id].payload["op"] = op;
    } else if (kind == 3) {
      RC_ASSERT(segment->Flush(false).ok());
    } else {
      RC_ASSERT(segment->Flush(false).ok());
      auto loaded = Segment::Load(fs, "seg");
      RC_ASSERT(loaded.ok());
      segment = std::move(*loaded);
    }
  }
  std::vector<PointId> ids;
  for (const auto& [id, point] : model) {
    ids.push_back(id);
    RC_ASSERT(segment->Retrieve(id) == std::optional<Point>(point));
  }
  RC_ASSERT(segment->LiveIds() == ids);
}

}  // namespace
}  // namespace engine
