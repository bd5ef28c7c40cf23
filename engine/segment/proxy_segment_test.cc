// ProxySegment on its own: reads minus its deletes, the order in which
// recorded changes reach the wrapped segment, a proxy of a proxy, and the
// persisted version that holds the WAL ack back.
#include "engine/segment/proxy_segment.h"

#include <gtest/gtest.h>

#include "engine/segment/segment.h"
#include "sim/fs/sim_fs.h"

namespace engine {
namespace {

constexpr CollectionConfig kConfig{.dimension = 2, .distance = Distance::kDot};

Point MakePoint(PointId id) {
  return {id, {float(id), 1}, Payload{{"n", static_cast<int64_t>(id)}}};
}

// A flushed segment holding points 1..5 at versions 1..5.
std::shared_ptr<Segment> FlushedSegment(FileSystem& fs) {
  auto segment = Segment::Create(fs, "seg", kConfig, true);
  EXPECT_TRUE(segment.ok()) << segment.status();
  for (PointId id = 1; id <= 5; ++id) EXPECT_TRUE(*(*segment)->Upsert(id, MakePoint(id)));
  EXPECT_TRUE((*segment)->Flush(false).ok());
  return std::shared_ptr<Segment>(std::move(*segment));
}

TEST(ProxySegmentTest, ReadsGoThroughMinusItsDeletes) {
  sim::SimFileSystem fs;
  auto segment = FlushedSegment(fs);
  ProxySegment proxy(segment);
  EXPECT_FALSE(proxy.is_appendable());
  EXPECT_FALSE(proxy.Upsert(6, MakePoint(1)).ok());  // the holder moves points
  EXPECT_TRUE(*proxy.DeletePoint(7, 2));
  EXPECT_FALSE(*proxy.DeletePoint(8, 2));  // already gone
  EXPECT_FALSE(proxy.has_point(2));
  EXPECT_TRUE(segment->has_point(2));  // the wrapped segment does not change
  EXPECT_EQ(proxy.LiveIds(), (std::vector<PointId>{1, 3, 4, 5}));
  EXPECT_EQ(proxy.Count(nullptr), 4u);
  EXPECT_EQ(proxy.point_version(2), 7u);
  EXPECT_EQ(proxy.version(), 7u);
  EXPECT_EQ(segment->newest_point_version(), 5u);
  EXPECT_EQ(proxy.newest_point_version(), 7u);  // its recorded delete counts
}

TEST(ProxySegmentTest, AnIndexChangeOlderThanADeleteIsNotLostOnPropagation) {
  sim::SimFileSystem fs;
  auto segment = FlushedSegment(fs);
  ProxySegment proxy(segment);
  ASSERT_TRUE(*proxy.CreateFieldIndex(8, "n", FieldType::kInteger));
  ASSERT_TRUE(*proxy.CreateFieldIndex(9, "m", FieldType::kKeyword));
  ASSERT_TRUE(*proxy.DeletePoint(10, 3));
  ASSERT_TRUE(*proxy.DeleteFieldIndex(11, "m"));
  ASSERT_TRUE(proxy.Propagate().ok());
  // Applying the delete (op 10) first would raise the segment's version
  // past op 8, and the version rule would skip the index.
  EXPECT_EQ(segment->indexed_fields(), (std::map<std::string, FieldType>{{"n", FieldType::kInteger}}));
  EXPECT_FALSE(segment->has_point(3));
  EXPECT_EQ(segment->version(), 11u);
  EXPECT_TRUE(segment->IndexesAgreeWithPayloads());
  EXPECT_FALSE(proxy.has_unpropagated_changes());
}

TEST(ProxySegmentTest, ADoubleProxyPropagatesBothLayers) {
  sim::SimFileSystem fs;
  auto segment = FlushedSegment(fs);
  auto inner = std::make_shared<ProxySegment>(segment);  // an optimizer's
  ASSERT_TRUE(*inner->DeletePoint(6, 1));
  ProxySegment outer(inner);  // a snapshot's, over it
  EXPECT_FALSE(outer.has_point(1));  // the inner layer's delete shows through
  ASSERT_TRUE(*outer.DeletePoint(7, 2));
  ASSERT_TRUE(*outer.CreateFieldIndex(8, "n", FieldType::kInteger));
  EXPECT_EQ(outer.LiveIds(), (std::vector<PointId>{3, 4, 5}));
  EXPECT_TRUE(inner->has_point(2));

  // Unproxying the outer layer hands its changes to the inner one, which
  // records them (the wrapped segment still does not change)...
  ASSERT_TRUE(outer.Propagate().ok());
  EXPECT_FALSE(inner->has_point(2));
  EXPECT_EQ(inner->pending_deletes(), (std::map<PointId, SeqNumber>{{1, 6}, {2, 7}}));
  EXPECT_EQ(inner->indexed_fields().count("n"), 1u);
  EXPECT_TRUE(segment->has_point(1));
  EXPECT_TRUE(segment->has_point(2));
  EXPECT_TRUE(segment->indexed_fields().empty());

  // ...and the inner layer's propagation (an optimizer's result, or its
  // wrapped segment on cancel) gets both.
  auto result = Segment::Create(fs, "result", kConfig, true);
  ASSERT_TRUE(result.ok());
  for (PointId id = 1; id <= 5; ++id) ASSERT_TRUE(*(*result)->Upsert(id, MakePoint(id)));
  ASSERT_TRUE(inner->PropagateTo(**result).ok());
  EXPECT_EQ((*result)->LiveIds(), (std::vector<PointId>{3, 4, 5}));
  EXPECT_EQ((*result)->indexed_fields().count("n"), 1u);
  ASSERT_TRUE(inner->Propagate().ok());
  EXPECT_EQ(segment->LiveIds(), (std::vector<PointId>{3, 4, 5}));
  EXPECT_EQ(segment->indexed_fields().count("n"), 1u);
  EXPECT_TRUE(segment->IndexesAgreeWithPayloads());
}

TEST(ProxySegmentTest, PersistedVersionStaysBelowTheOldestRecordedChange) {
  sim::SimFileSystem fs;
  auto segment = FlushedSegment(fs);
  ProxySegment proxy(segment);
  EXPECT_EQ(proxy.persisted_version(), 5u);
  ASSERT_TRUE(*proxy.DeletePoint(7, 2));
  ASSERT_TRUE(*proxy.DeletePoint(9, 4));
  ASSERT_TRUE(proxy.Flush(false).ok());
  EXPECT_EQ(proxy.persisted_version(), 5u);  // the deletes are only in memory
  // A snapshot writes the changes through and flushes the wrapped segment:
  // its files now hold them, but an optimizer's result would not, so the
  // proxy still claims nothing from op 7 on.
  ASSERT_TRUE(proxy.ApplyToWrappedKeepingRecord().ok());
  ASSERT_TRUE(segment->Flush(false).ok());
  EXPECT_EQ(segment->persisted_version(), 9u);
  EXPECT_EQ(proxy.persisted_version(), 6u);
  EXPECT_TRUE(proxy.has_unpropagated_changes());
  // Applying them again is harmless; propagating releases the cap.
  ASSERT_TRUE(proxy.Propagate().ok());
  EXPECT_EQ(proxy.persisted_version(), 9u);
  EXPECT_EQ(segment->LiveIds(), (std::vector<PointId>{1, 3, 5}));
}

}  // namespace
}  // namespace engine
