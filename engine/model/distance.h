// Scoring as Qdrant does it for dense vectors: dot product; cosine is the dot
// product of vectors normalised at upsert; euclid scores the negative
// distance, so that a higher score is always better.
#pragma once

#include "engine/model/types.h"

namespace engine {

// What the engine stores for a vector (and uses for a query).
Vector PreprocessVector(Distance distance, Vector vector);

// REQUIRES: a.size() == b.size(); both preprocessed.
float Score(Distance distance, const Vector& a, const Vector& b);

// Top-k order: score descending, then id ascending.
inline bool BetterHit(const ScoredPoint& a, const ScoredPoint& b) {
  return a.score != b.score ? a.score > b.score : a.id < b.id;
}

}  // namespace engine
