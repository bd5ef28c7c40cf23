#include "engine/model/distance.h"

#include <cmath>

#include "engine/common/assert.h"

namespace engine {

Vector PreprocessVector(Distance distance, Vector vector) {
  SS_ASSERT(distance == Distance::kDot || distance == Distance::kCosine || distance == Distance::kEuclid);
  if (distance != Distance::kCosine) return vector;
  double norm_squared = 0;
  for (float value : vector) norm_squared += double(value) * value;
  if (norm_squared <= 0) return vector;  // a zero vector stays zero
  const float inverse = static_cast<float>(1.0 / std::sqrt(norm_squared));
  for (float& value : vector) value *= inverse;
  return vector;
}

float Score(Distance distance, const Vector& a, const Vector& b) {
  SS_ASSERT(a.size() == b.size(), "dimension mismatch {} vs {}", a.size(), b.size());
  // Any other value would score as a dot product.
  SS_ASSERT(distance == Distance::kDot || distance == Distance::kCosine || distance == Distance::kEuclid);
  double sum = 0;
  if (distance == Distance::kEuclid) {
    for (size_t i = 0; i < a.size(); ++i) sum += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    const float score = -static_cast<float>(std::sqrt(sum));
    // The negative of a distance: never above zero (NaN for NaN input).
    SS_ASSERT(!(score > 0), "euclid score {}", score);
    return score;
  }
  for (size_t i = 0; i < a.size(); ++i) sum += double(a[i]) * b[i];
  return static_cast<float>(sum);
}

}  // namespace engine
