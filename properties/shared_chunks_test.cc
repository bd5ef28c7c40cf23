#include "properties/shared_chunks.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <vector>

namespace properties {
namespace {

// A small chunk, so a few dozen operations cross many chunk edges.
using Sequence = SharedChunks<int, 4>;

std::vector<int> Contents(const Sequence& sequence) {
  std::vector<int> out;
  for (size_t i = 0; i < sequence.size(); ++i) out.push_back(sequence[i]);
  return out;
}

// Every copy ever taken still reads as it did when taken, however the
// sequence it came from (and the copies themselves) are written to after.
RC_GTEST_PROP(SharedChunksProperty, CopiesNeverSeeLaterWrites, ()) {
  Sequence live;
  std::vector<int> model;
  std::vector<std::pair<Sequence, std::vector<int>>> copies;
  const int steps = *rc::gen::inRange(1, 80);
  for (int step = 0; step < steps; ++step) {
    switch (*rc::gen::inRange(0, 5)) {
      case 0:
      case 1:
        live.push_back(step);
        model.push_back(step);
        break;
      case 2:
        if (!model.empty()) {
          live.mutable_back() += 1000;
          model.back() += 1000;
        }
        break;
      case 3: {
        const size_t length = *rc::gen::inRange<size_t>(0, model.size() + 1);
        live.Truncate(length);
        model.resize(length);
        break;
      }
      default:
        copies.emplace_back(live, model);
        // A write to a copy stays in the copy.
        if (!copies.back().second.empty() && *rc::gen::arbitrary<bool>()) {
          copies.back().first.mutable_back() = -1;
          copies.back().second.back() = -1;
        }
        break;
    }
    RC_ASSERT(Contents(live) == model);
  }
  for (const auto& [copy, expected] : copies) RC_ASSERT(Contents(copy) == expected);
}

TEST(SharedChunksTest, CopiesShareFullChunks) {
  Sequence live;
  for (int i = 0; i < 9; ++i) live.push_back(i);
  const Sequence saved = live;
  live.mutable_back() = 99;  // clones only the last (partial) chunk
  live.Truncate(2);          // clones the first chunk, which the copy shares
  live.push_back(7);
  EXPECT_EQ(Contents(saved), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(Contents(live), (std::vector<int>{0, 1, 7}));
}

}  // namespace
}  // namespace properties
