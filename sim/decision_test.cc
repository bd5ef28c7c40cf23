#include "sim/decision.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace sim {
namespace {

TEST(DecisionTest, WidthBytes) {
  EXPECT_EQ(DrawWidthBytes(1), 0);
  EXPECT_EQ(DrawWidthBytes(2), 1);
  EXPECT_EQ(DrawWidthBytes(256), 1);
  EXPECT_EQ(DrawWidthBytes(257), 2);
  EXPECT_EQ(DrawWidthBytes(UINT64_MAX), 8);
}

TEST(DecisionTest, RateZeroAndOneDrawNothing) {
  PrngSource prng(1);
  TapeRecorder recorder(prng);
  EXPECT_FALSE(recorder.Chance(0.0));
  EXPECT_TRUE(recorder.Chance(1.0));
  EXPECT_EQ(recorder.draws(), 0u);
}

TEST(DecisionTest, ExhaustedTapeAnswersZero) {
  const std::vector<uint8_t> bytes{0x01, 0x02};
  TapeSource tape(bytes);
  EXPECT_EQ(tape.Draw(65536), 0x0102u);
  EXPECT_EQ(tape.Draw(1000), 0u);
  EXPECT_TRUE(tape.exhausted());
}

TEST(DecisionTest, PrngIsUniformEnough) {
  PrngSource prng(42);
  std::vector<int> counts(10);
  for (int i = 0; i < 100000; ++i) ++counts[prng.Draw(10)];
  for (int count : counts) EXPECT_NEAR(count, 10000, 500);
}

RC_GTEST_PROP(DecisionProperty, RecordedTapeReplaysEveryDraw, (uint64_t seed)) {
  const auto bounds = *rc::gen::container<std::vector<uint64_t>>(rc::gen::inRange<uint64_t>(1, UINT64_MAX));
  PrngSource prng(seed);
  TapeRecorder recorder(prng);
  std::vector<uint64_t> drawn;
  for (uint64_t bound : bounds) drawn.push_back(recorder.Draw(bound));
  TapeSource tape(recorder.tape());
  for (size_t i = 0; i < bounds.size(); ++i) {
    const uint64_t value = tape.Draw(bounds[i]);
    RC_ASSERT(value == drawn[i]);
    RC_ASSERT(value < bounds[i]);
  }
  RC_ASSERT(tape.consumed_bytes() == recorder.tape().size());
}

RC_GTEST_PROP(DecisionProperty, AnyTapeGivesInRangeDraws, (std::vector<uint8_t> bytes)) {
  const auto bounds = *rc::gen::container<std::vector<uint64_t>>(rc::gen::inRange<uint64_t>(1, 1'000'000));
  TapeSource tape(bytes);
  for (uint64_t bound : bounds) RC_ASSERT(tape.Draw(bound) < bound);
}

}  // namespace
}  // namespace sim
