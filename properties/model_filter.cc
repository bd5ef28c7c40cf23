#include "properties/model_filter.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "engine/common/assert.h"

namespace properties {

namespace {

using Json = nlohmann::json;

// Deeper than any filter FilterFromJson accepts (32 levels of "filter").
constexpr int kDepthBound = 64;

// Calls `visit` for every value the dotted `path` names below `node`: its
// first component is a key of `node`, the rest a path below that key's value
// (below each element, for an array).
template <typename Visit>
void ForEachValue(const Json& node, std::string_view path, const Visit& visit) {
  if (!node.is_object()) return;
  const size_t dot = path.find('.');
  const auto child = node.find(path.substr(0, dot));  // nlohmann's objects compare with std::less<>
  if (child == node.end()) return;
  const auto step = [&](const Json& value) {
    if (dot == std::string_view::npos) {
      visit(value);
    } else {
      ForEachValue(value, path.substr(dot + 1), visit);
    }
  };
  if (!child->is_array()) {
    step(*child);
    return;
  }
  for (const Json& element : *child) step(element);
}

std::optional<int64_t> AsInteger(const Json& value) {
  if (value.is_number_unsigned()) {
    const uint64_t number = value.get<uint64_t>();
    if (number > uint64_t{INT64_MAX}) return std::nullopt;
    return static_cast<int64_t>(number);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return std::nullopt;  // strings, floats, booleans, objects, arrays, null
}

bool ValueSatisfies(const engine::FieldCondition& condition, const Json& value) {
  if (const auto* keyword = std::get_if<engine::MatchKeyword>(&condition.match)) {
    return value.is_string() && value.get_ref<const std::string&>() == keyword->value;
  }
  const std::optional<int64_t> number = AsInteger(value);
  if (!number) return false;
  if (const auto* exact = std::get_if<engine::MatchInteger>(&condition.match)) return *number == exact->value;
  const auto& range = std::get<engine::IntegerRange>(condition.match);
  if (range.gte && *number < *range.gte) return false;
  if (range.lte && *number > *range.lte) return false;
  return true;
}

bool FilterHolds(const engine::Filter& filter, engine::PointId id, const engine::Payload& payload, int depth);

bool ConditionHolds(const engine::Condition& condition, engine::PointId id, const engine::Payload& payload,
                    int depth) {
  if (const auto* field = std::get_if<engine::FieldCondition>(&condition)) {
    bool any = false;
    ForEachValue(payload, field->key, [&](const Json& value) { any = any || ValueSatisfies(*field, value); });
    return any;
  }
  if (const auto* has_id = std::get_if<engine::HasIdCondition>(&condition)) {
    return std::find(has_id->ids.begin(), has_id->ids.end(), id) != has_id->ids.end();
  }
  const auto& nested = std::get<std::shared_ptr<engine::Filter>>(condition);
  // A null nested filter matches nothing (engine/model/filter.h).
  return nested != nullptr && FilterHolds(*nested, id, payload, depth + 1);
}

bool FilterHolds(const engine::Filter& filter, engine::PointId id, const engine::Payload& payload, int depth) {
  SS_ASSERT(depth <= kDepthBound, "a filter nested {} deep", depth);
  for (const engine::Condition& condition : filter.must) {
    if (!ConditionHolds(condition, id, payload, depth)) return false;
  }
  for (const engine::Condition& condition : filter.must_not) {
    if (ConditionHolds(condition, id, payload, depth)) return false;
  }
  if (filter.should.empty()) return true;
  for (const engine::Condition& condition : filter.should) {
    if (ConditionHolds(condition, id, payload, depth)) return true;
  }
  return false;
}

}  // namespace

bool ModelMatches(const engine::Filter& filter, engine::PointId id, const engine::Payload& payload) {
  return FilterHolds(filter, id, payload, 0);
}

}  // namespace properties
