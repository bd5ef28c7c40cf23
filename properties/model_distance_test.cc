#include "properties/model_distance.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <vector>

#include "engine/model/distance.h"

namespace properties {
namespace {

using engine::Distance;
using engine::Vector;

TEST(ModelDistanceTest, CosineStoresUnitVectors) {
  EXPECT_EQ(ModelStoredVector(Distance::kCosine, {3, 4}), (Vector{0.6f, 0.8f}));
  EXPECT_EQ(ModelStoredVector(Distance::kCosine, {0, 0}), (Vector{0, 0}));
  EXPECT_EQ(ModelStoredVector(Distance::kDot, {3, 4}), (Vector{3, 4}));
  EXPECT_EQ(ModelStoredVector(Distance::kEuclid, {3, 4}), (Vector{3, 4}));
}

TEST(ModelDistanceTest, ScoresAreHigherForBetterHits) {
  EXPECT_EQ(ModelScore(Distance::kDot, {1, 2}, {3, 4}), 11.0f);
  EXPECT_EQ(ModelScore(Distance::kCosine, {0.6f, 0.8f}, {0.6f, 0.8f}), float(0.6 * 0.6f + 0.8 * 0.8f));
  EXPECT_EQ(ModelScore(Distance::kEuclid, {0, 0}, {3, 4}), -5.0f);  // minus the distance, not its square
  EXPECT_EQ(ModelScore(Distance::kEuclid, {1, 1}, {1, 1}), 0.0f);
}

// Vectors like the workload's: small, with zero components and zero vectors.
rc::Gen<Vector> GenVector(size_t dimension) {
  return rc::gen::container<Vector>(
      dimension, rc::gen::oneOf(rc::gen::just(0.0f), rc::gen::map(rc::gen::inRange<int32_t>(-4000, 4000),
                                                                   [](int32_t value) { return value / 1000.0f; })));
}

// The model restates the engine's arithmetic; a correct engine must agree
// with it bit for bit, or every read of a vector would be a false alarm. A
// change to the engine's rounding (a SIMD sum, say) fails here first, and
// model_distance.h's contract has to change with it.
RC_GTEST_PROP(ModelDistanceProperty, TheEngineAgreesWithTheModel, ()) {
  const auto distance = *rc::gen::element(Distance::kDot, Distance::kCosine, Distance::kEuclid);
  const auto dimension = *rc::gen::inRange<size_t>(1, 17);
  const Vector query = ModelStoredVector(distance, *GenVector(dimension));
  const Vector stored = *GenVector(dimension);
  const Vector model_stored = ModelStoredVector(distance, stored);
  RC_ASSERT(engine::PreprocessVector(distance, stored) == model_stored);
  const float engine_score = engine::Score(distance, query, model_stored);
  const float model_score = ModelScore(distance, query, model_stored);
  if (engine_score != model_score) {
    RC_FAIL(fmt::format("{} of [{}] and [{}]: the engine scores {}, the model {}", engine::DistanceName(distance),
                        fmt::join(query, ", "), fmt::join(model_stored, ", "), engine_score, model_score));
  }
}

}  // namespace
}  // namespace properties
