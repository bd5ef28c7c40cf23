// Pins the on-disk layout of WAL records: entry and slot bytes, segment
// names, and decoders that refuse damaged input.
#include "engine/wal/wal_format.h"

#include <gtest/gtest.h>

#include "engine/common/checksum.h"

namespace engine::wal_format {
namespace {

TEST(WalFormatTest, EntryIsLengthCrcIndexThenPayload) {
  const std::string entry = EncodeEntry(5, "ab");
  ASSERT_EQ(entry.size(), kEntryHeaderBytes + 2);
  EXPECT_EQ(GetFixed32(entry.data() + kEntryLengthOffset), 2u);
  EXPECT_EQ(GetFixed64(entry.data() + kEntryIndexOffset), 5u);
  EXPECT_EQ(entry.substr(kEntryHeaderBytes), "ab");
  EXPECT_EQ(ValidEntryAt(entry, 0, 5), entry.size());
  EXPECT_EQ(ValidEntryAt(entry, 0, 6), 0u);  // another index
  std::string flipped = entry;
  flipped.back() ^= 1;
  EXPECT_EQ(ValidEntryAt(flipped, 0, 5), 0u);
  EXPECT_EQ(ValidEntryAt(entry.substr(0, entry.size() - 1), 0, 5), 0u);  // torn
}

TEST(WalFormatTest, HeaderKeepsTheLargerIntactSlot) {
  std::string header = EncodeSlot(100) + EncodeSlot(64);
  EXPECT_EQ(DecodeSegmentHeader(header), 100u);
  header[kSlotCrcOffset] ^= 1;  // the first slot torn: the other still vouches
  EXPECT_EQ(DecodeSlot(std::string_view(header).substr(0, kSlotBytes)), std::nullopt);
  EXPECT_EQ(DecodeSegmentHeader(header), 64u);
  EXPECT_EQ(DecodeSegmentHeader("short"), kSegmentHeaderBytes);
}

TEST(WalFormatTest, SegmentNamesAreTwentyDigits) {
  EXPECT_EQ(SegmentName(42), "wal-00000000000000000042");
  EXPECT_EQ(ParseSegmentName("wal-00000000000000000042"), 42u);
  EXPECT_EQ(ParseSegmentName("wal-42"), std::nullopt);
  EXPECT_EQ(ParseSegmentName("wal-0000000000000000004x"), std::nullopt);
  EXPECT_EQ(ParseSegmentName("wal-+0000000000000000042"), std::nullopt);
  EXPECT_EQ(ParseSegmentName("wal-99999999999999999999"), std::nullopt);  // past 2^64 - 1
}

TEST(WalFormatTest, FirstIndexRoundTripsAndRefusesNonsense) {
  EXPECT_EQ(*DecodeFirstIndex(EncodeFirstIndex(7), "first-index"), 7u);
  EXPECT_TRUE(absl::IsDataLoss(DecodeFirstIndex("{nonsense", "first-index").status()));
}

}  // namespace
}  // namespace engine::wal_format
