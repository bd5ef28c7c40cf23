// Filters over points, as in Qdrant: field conditions on payload values
// (match keyword, match integer, integer range), has-id, and nested boolean
// clauses (must = and, should = or, must_not = not).
//
// Payload matching: a key is a dotted path ("a.b"); when the value at the
// path is an array, the condition holds if any element matches.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "engine/model/types.h"

namespace engine {

struct MatchKeyword {
  std::string value;
  friend bool operator==(const MatchKeyword&, const MatchKeyword&) = default;
};
struct MatchInteger {
  int64_t value = 0;
  friend bool operator==(const MatchInteger&, const MatchInteger&) = default;
};
// Inclusive bounds; a missing bound is open.
struct IntegerRange {
  std::optional<int64_t> gte;
  std::optional<int64_t> lte;
  friend bool operator==(const IntegerRange&, const IntegerRange&) = default;
};

struct FieldCondition {
  std::string key;
  std::variant<MatchKeyword, MatchInteger, IntegerRange> match;
  friend bool operator==(const FieldCondition&, const FieldCondition&) = default;
};

struct HasIdCondition {
  std::vector<PointId> ids;  // sorted, unique
  friend bool operator==(const HasIdCondition&, const HasIdCondition&) = default;
};

struct Filter;
using Condition = std::variant<FieldCondition, HasIdCondition, std::shared_ptr<Filter>>;

struct Filter {
  std::vector<Condition> must;
  std::vector<Condition> should;  // at least one, when not empty
  std::vector<Condition> must_not;
};

bool operator==(const Filter& a, const Filter& b);

// True if the point with this id and payload passes the filter.
bool Matches(const Filter& filter, PointId id, const Payload& payload);
bool Matches(const Condition& condition, PointId id, const Payload& payload);

// Calls `visit` with each value at a dotted path (one for a scalar, each
// element for an array met on the path, none when missing), in no promised
// order, until one call returns true; returns whether one did. Allocates
// nothing: filters and index updates call it for every point they look at.
bool AnyValueAtPath(const Payload& payload, std::string_view path,
                    absl::FunctionRef<bool(const nlohmann::json&)> visit);

nlohmann::json FilterToJson(const Filter& filter);
absl::StatusOr<Filter> FilterFromJson(const nlohmann::json& json);

}  // namespace engine
