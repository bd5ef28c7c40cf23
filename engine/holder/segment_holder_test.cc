// Copies of one point in several segments exist only at load, before
// de-duplication (interrupted optimizations leave their inputs beside their
// results). These tests build such a holder by hand and check that every
// copy-deleting path removes every copy, not only the newest (the planted
// bug tools/bugs/04-delete-newest-copy-only.patch; docs/invariants.md I2).
#include "engine/holder/segment_holder.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "engine/segment/segment.h"
#include "engine/shard/world_test_util.h"
#include "sim/world.h"

namespace engine {
namespace {

using testing::kCollection;
constexpr PointId kPointId = 42;

using testing::InWorld;

// One segment per version in `versions`, each holding kPointId at that
// version; the first is appendable, the rest sealed.
void AddCopies(sim::World& world, SegmentHolder& holder, const std::vector<SeqNumber>& versions) {
  FileSystem& fs = world.env().fs();
  for (size_t i = 0; i < versions.size(); ++i) {
    const bool appendable = i == 0;
    auto segment = Segment::Create(fs, fmt::format("segment-{}", i), kCollection, true);
    ASSERT_TRUE(segment.ok()) << segment.status();
    const float value = static_cast<float>(versions[i]);
    auto upserted = (*segment)->Upsert(versions[i], {kPointId, {value, value}, Payload::object()});
    ASSERT_TRUE(upserted.ok()) << upserted.status();
    if (!appendable) {
      ASSERT_TRUE((*segment)->Flush(false).ok());
      ASSERT_TRUE((*segment)->Seal().ok());
    }
    holder.AddNew(std::move(*segment));
  }
}

size_t LiveCopyCount(const SegmentHolder& holder) {
  const auto copies = holder.LiveCopies();
  const auto found = copies.find(kPointId);
  return found == copies.end() ? 0 : found->second.size();
}

TEST(SegmentHolderTest, DeduplicationKeepsOneCopyOfThree) {
  // Two copies at the newest version (a result and the input it was built
  // from) and an older one: only the newest, lowest-id copy may survive.
  InWorld(1, [](sim::World& world) {
    SegmentHolder holder(world.env());
    AddCopies(world, holder, {9, 9, 5});
    ASSERT_EQ(LiveCopyCount(holder), 3u);
    ASSERT_TRUE(holder.DeduplicatePoints().ok());  // (its lines are for the log)
    ASSERT_EQ(LiveCopyCount(holder), 1u);
    const auto copies = holder.LiveCopies().at(kPointId);
    EXPECT_EQ(holder.Get(copies.front())->segment->point_version(kPointId), 9u);
  });
}

TEST(SegmentHolderTest, DeleteRemovesEveryCopy) {
  InWorld(2, [](sim::World& world) {
    SegmentHolder holder(world.env());
    AddCopies(world, holder, {7, 6, 5});
    ASSERT_TRUE(holder.DeletePoints(/*op_num=*/10, {kPointId}).ok());
    EXPECT_EQ(LiveCopyCount(holder), 0u);
  });
}

TEST(SegmentHolderTest, PointOpLeavesOnlyTheUpdatedCopy) {
  // An upsert into the newest copy deletes the older ones first (Qdrant PR
  // #5962), so none of them can be revived later.
  InWorld(3, [](sim::World& world) {
    SegmentHolder holder(world.env());
    AddCopies(world, holder, {8, 6, 5});
    const Point point{kPointId, {1, 1}, Payload::object()};
    auto found = holder.ApplyPointsWithConditionalMove(
        /*op_num=*/10, {kPointId},
        [&](PointId, SegmentEntry& segment) { return segment.Upsert(10, point); },
        [](Point&) {});
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(LiveCopyCount(holder), 1u);
  });
}

}  // namespace
}  // namespace engine
