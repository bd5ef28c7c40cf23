#include "properties/model_distance.h"

#include <cmath>

#include "engine/common/assert.h"

namespace properties {

namespace {

double SumOfSquares(const engine::Vector& vector) {
  double sum = 0;
  for (const float component : vector) sum += double(component) * double(component);
  return sum;
}

}  // namespace

engine::Vector ModelStoredVector(engine::Distance distance, engine::Vector vector) {
  if (distance != engine::Distance::kCosine) return vector;
  const double sum_of_squares = SumOfSquares(vector);
  if (sum_of_squares == 0) return vector;
  const auto scale = static_cast<float>(1.0 / std::sqrt(sum_of_squares));
  for (float& component : vector) component = component * scale;
  return vector;
}

float ModelScore(engine::Distance distance, const engine::Vector& query, const engine::Vector& stored) {
  SS_ASSERT(query.size() == stored.size(), "query of {} dimensions against a vector of {}", query.size(),
            stored.size());
  double sum = 0;
  switch (distance) {
    case engine::Distance::kDot:
    case engine::Distance::kCosine:
      for (size_t i = 0; i < query.size(); ++i) sum += double(query[i]) * double(stored[i]);
      return static_cast<float>(sum);
    case engine::Distance::kEuclid:
      for (size_t i = 0; i < query.size(); ++i) {
        const double difference = double(query[i]) - double(stored[i]);
        sum += difference * difference;
      }
      return -static_cast<float>(std::sqrt(sum));
  }
  SS_ASSERT(false, "a distance of no known kind");
  return 0;
}

}  // namespace properties
