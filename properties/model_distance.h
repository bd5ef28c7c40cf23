// The reference model's own arithmetic for vectors: what a stored vector
// must read back as and what score a search hit must carry. Written apart
// from the engine's engine/model/distance.cc on purpose, as the model's
// filter reading is (model_filter.h): when the model asked the engine's code
// how to normalise and score, a mistake there made the engine and its model
// agree, and no read could show it (planted bugs 39 and 40, tools/bugs/).
//
// The contract (Qdrant's scoring, with this engine's rounding, so that a
// correct engine's answers compare equal bit for bit):
// - dot: the dot product, summed in double in index order, rounded to float;
// - cosine: vectors are normalised when stored and queried: each component
//   times the float nearest 1 / sqrt(sum of squares in double); a zero
//   vector stays zero; the score is then the dot product;
// - euclid: minus the distance: sqrt of the sum of squared differences
//   (in double), rounded to float, negated. Higher is better for all three.
#pragma once

#include "engine/model/types.h"

namespace properties {

// The vector as a correct engine stores it (and prepares a query).
engine::Vector ModelStoredVector(engine::Distance distance, engine::Vector vector);

// The score a correct engine gives a stored vector against a prepared query.
// REQUIRES: query.size() == stored.size().
float ModelScore(engine::Distance distance, const engine::Vector& query, const engine::Vector& stored);

}  // namespace properties
