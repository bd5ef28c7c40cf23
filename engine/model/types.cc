#include "engine/model/types.h"

#include "engine/common/assert.h"

namespace engine {

std::string_view DistanceName(Distance distance) {
  SS_ASSERT(distance == Distance::kDot || distance == Distance::kCosine || distance == Distance::kEuclid,
            "distance {}", static_cast<int>(distance));
  switch (distance) {
    case Distance::kDot: return "dot";
    case Distance::kCosine: return "cosine";
    case Distance::kEuclid: return "euclid";
  }
  return "?";
}

std::optional<Distance> ParseDistance(std::string_view name) {
  std::optional<Distance> distance;
  if (name == "dot") distance = Distance::kDot;
  if (name == "cosine") distance = Distance::kCosine;
  if (name == "euclid") distance = Distance::kEuclid;
  // Names and values map one to one (shard_config.json is written with
  // DistanceName and read with this).
  SS_ASSERT(!distance || DistanceName(*distance) == name, "'{}' parsed as another distance", name);
  return distance;
}

std::string_view FieldTypeName(FieldType type) {
  SS_ASSERT(type == FieldType::kKeyword || type == FieldType::kInteger, "field type {}", static_cast<int>(type));
  switch (type) {
    case FieldType::kKeyword: return "keyword";
    case FieldType::kInteger: return "integer";
  }
  return "?";
}

}  // namespace engine
