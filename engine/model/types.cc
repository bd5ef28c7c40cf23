#include "engine/model/types.h"

namespace engine {

std::string_view DistanceName(Distance distance) {
  switch (distance) {
    case Distance::kDot: return "dot";
    case Distance::kCosine: return "cosine";
    case Distance::kEuclid: return "euclid";
  }
  return "?";
}

std::optional<Distance> ParseDistance(std::string_view name) {
  if (name == "dot") return Distance::kDot;
  if (name == "cosine") return Distance::kCosine;
  if (name == "euclid") return Distance::kEuclid;
  return std::nullopt;
}

std::string_view FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kKeyword: return "keyword";
    case FieldType::kInteger: return "integer";
  }
  return "?";
}

}  // namespace engine
