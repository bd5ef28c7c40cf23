// The data model of a shard: u64 point ids, one dense float vector per point,
// JSON payloads, op numbers. Mirrors Qdrant's segment types within this
// project's scope (no named, sparse or multi vectors).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace engine {

using PointId = uint64_t;
// An operation's number: its WAL index, strictly increasing.
using SeqNumber = uint64_t;
using Vector = std::vector<float>;
// A JSON object. Ordered keys (nlohmann::json's std::map) keep every
// serialisation deterministic.
using Payload = nlohmann::json;

enum class Distance : uint8_t { kDot, kCosine, kEuclid };
std::string_view DistanceName(Distance distance);
std::optional<Distance> ParseDistance(std::string_view name);

struct CollectionConfig {
  uint32_t dimension = 4;
  Distance distance = Distance::kDot;
  friend bool operator==(const CollectionConfig&, const CollectionConfig&) = default;
};

struct Point {
  PointId id = 0;
  Vector vector;
  Payload payload = Payload::object();
  friend bool operator==(const Point&, const Point&) = default;
};

// A scored search hit.
struct ScoredPoint {
  PointId id = 0;
  float score = 0;
  friend bool operator==(const ScoredPoint&, const ScoredPoint&) = default;
};

enum class FieldType : uint8_t { kKeyword, kInteger };
std::string_view FieldTypeName(FieldType type);

}  // namespace engine
