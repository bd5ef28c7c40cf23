#include "engine/model/filter.h"

#include <algorithm>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace engine {

namespace {

constexpr int kMaxFilterDepth = 32;

bool MatchesValue(const FieldCondition& condition, const nlohmann::json& value) {
  if (const auto* keyword = std::get_if<MatchKeyword>(&condition.match)) {
    return value.is_string() && value.get_ref<const std::string&>() == keyword->value;
  }
  if (!value.is_number_integer()) return false;
  const int64_t number = value.get<int64_t>();
  if (value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(INT64_MAX)) return false;
  if (const auto* integer = std::get_if<MatchInteger>(&condition.match)) return number == integer->value;
  SS_ASSERT(std::holds_alternative<IntegerRange>(condition.match), "a field condition of no known kind");
  const auto& range = std::get<IntegerRange>(condition.match);
  return (!range.gte || number >= *range.gte) && (!range.lte || number <= *range.lte);
}

bool MatchesAt(const Condition& condition, PointId id, const Payload& payload, int depth);

bool MatchesFilterAt(const Filter& filter, PointId id, const Payload& payload, int depth) {
  SS_ASSERT(depth >= 0);
  if (depth > kMaxFilterDepth) return false;
  for (const Condition& condition : filter.must) {
    if (!MatchesAt(condition, id, payload, depth)) return false;
  }
  if (!filter.should.empty() &&
      std::none_of(filter.should.begin(), filter.should.end(),
                   [&](const Condition& c) { return MatchesAt(c, id, payload, depth); })) {
    return false;
  }
  for (const Condition& condition : filter.must_not) {
    if (MatchesAt(condition, id, payload, depth)) return false;
  }
  return true;
}

bool MatchesAt(const Condition& condition, PointId id, const Payload& payload, int depth) {
  // Conditions are only reached within the depth bound (the recursion's).
  SS_ASSERT(depth >= 0 && depth <= kMaxFilterDepth, "condition at depth {}", depth);
  if (const auto* field = std::get_if<FieldCondition>(&condition)) {
    return AnyValueAtPath(payload, field->key, [&](const nlohmann::json& value) { return MatchesValue(*field, value); });
  }
  if (const auto* has_id = std::get_if<HasIdCondition>(&condition)) {
    return std::binary_search(has_id->ids.begin(), has_id->ids.end(), id);
  }
  const auto& nested = std::get<std::shared_ptr<Filter>>(condition);
  return nested != nullptr && MatchesFilterAt(*nested, id, payload, depth + 1);
}

nlohmann::json ConditionToJson(const Condition& condition);

nlohmann::json ClauseToJson(const std::vector<Condition>& clause) {
  nlohmann::json out = nlohmann::json::array();
  for (const Condition& condition : clause) out.push_back(ConditionToJson(condition));
  return out;
}

nlohmann::json ConditionToJson(const Condition& condition) {
  if (const auto* field = std::get_if<FieldCondition>(&condition)) {
    if (const auto* keyword = std::get_if<MatchKeyword>(&field->match)) {
      return {{"key", field->key}, {"match", {{"keyword", keyword->value}}}};
    }
    if (const auto* integer = std::get_if<MatchInteger>(&field->match)) {
      return {{"key", field->key}, {"match", {{"integer", integer->value}}}};
    }
    const auto& range = std::get<IntegerRange>(field->match);
    nlohmann::json bounds = nlohmann::json::object();
    if (range.gte) bounds["gte"] = *range.gte;
    if (range.lte) bounds["lte"] = *range.lte;
    return {{"key", field->key}, {"range", bounds}};
  }
  if (const auto* has_id = std::get_if<HasIdCondition>(&condition)) {
    // Sorted and unique (filter.h), as the reader makes them: a match
    // binary-searches them.
    SS_ASSERT(std::adjacent_find(has_id->ids.begin(), has_id->ids.end(), std::greater_equal<PointId>()) ==
                  has_id->ids.end(),
              "has_id ids not sorted and unique");
    return {{"has_id", has_id->ids}};
  }
  const auto& nested = std::get<std::shared_ptr<Filter>>(condition);
  // JSON has no null filter: {} would read back as one matching everything,
  // where a null one matches nothing.
  SS_ASSERT(nested != nullptr, "a null nested filter cannot be written");
  return {{"filter", FilterToJson(*nested)}};
}

absl::Status Invalid(std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("filter: {}", why));
}

absl::StatusOr<Filter> FilterFromJsonAt(const nlohmann::json& json, int depth);

absl::StatusOr<int64_t> IntegerField(const nlohmann::json& json, const char* name) {
  if (!json.contains(name) || !json[name].is_number_integer()) {
    return Invalid(fmt::format("'{}' must be an integer", name));
  }
  if (json[name].is_number_unsigned() && json[name].get<uint64_t>() > uint64_t(INT64_MAX)) {
    return Invalid(fmt::format("'{}' out of range", name));
  }
  return json[name].get<int64_t>();
}

absl::StatusOr<Condition> ConditionFromJson(const nlohmann::json& json, int depth) {
  SS_ASSERT(depth >= 0 && depth <= kMaxFilterDepth, "condition at depth {}", depth);
  if (!json.is_object()) return Invalid("a condition must be an object");
  if (json.contains("has_id")) {
    const auto& ids = json["has_id"];
    if (!ids.is_array()) return Invalid("'has_id' must be an array");
    HasIdCondition has_id;
    for (const auto& id : ids) {
      if (!id.is_number_unsigned()) return Invalid("point ids are unsigned integers");
      has_id.ids.push_back(id.get<uint64_t>());
    }
    std::sort(has_id.ids.begin(), has_id.ids.end());
    has_id.ids.erase(std::unique(has_id.ids.begin(), has_id.ids.end()), has_id.ids.end());
    return Condition{has_id};
  }
  if (json.contains("filter")) {
    auto nested = FilterFromJsonAt(json["filter"], depth + 1);
    if (!nested.ok()) return nested.status();
    return Condition{std::make_shared<Filter>(std::move(*nested))};
  }
  if (!json.contains("key") || !json["key"].is_string()) return Invalid("'key' must be a string");
  FieldCondition field{json["key"].get<std::string>(), MatchKeyword{}};
  if (json.contains("match") && json["match"].is_object()) {
    const auto& match = json["match"];
    if (match.contains("keyword") && match["keyword"].is_string()) {
      field.match = MatchKeyword{match["keyword"].get<std::string>()};
    } else {
      auto value = IntegerField(match, "integer");
      if (!value.ok()) return value.status();
      field.match = MatchInteger{*value};
    }
    return Condition{field};
  }
  if (json.contains("range") && json["range"].is_object()) {
    IntegerRange range;
    for (const char* bound : {"gte", "lte"}) {
      if (!json["range"].contains(bound)) continue;
      auto value = IntegerField(json["range"], bound);
      if (!value.ok()) return value.status();
      (std::string_view(bound) == "gte" ? range.gte : range.lte) = *value;
    }
    field.match = range;
    return Condition{field};
  }
  return Invalid("a field condition needs 'match' or 'range'");
}

absl::StatusOr<Filter> FilterFromJsonAt(const nlohmann::json& json, int depth) {
  SS_ASSERT(depth >= 0);
  if (depth > kMaxFilterDepth) return Invalid("nested too deep");
  if (!json.is_object()) return Invalid("a filter must be an object");
  Filter filter;
  for (auto [name, clause] : {std::pair{"must", &filter.must}, std::pair{"should", &filter.should},
                              std::pair{"must_not", &filter.must_not}}) {
    if (!json.contains(name)) continue;
    if (!json[name].is_array()) return Invalid(fmt::format("'{}' must be an array", name));
    for (const auto& item : json[name]) {
      auto condition = ConditionFromJson(item, depth);
      if (!condition.ok()) return condition.status();
      clause->push_back(std::move(*condition));
    }
  }
  return filter;
}

bool ConditionsEqual(const std::vector<Condition>& a, const std::vector<Condition>& b);

bool ConditionEqual(const Condition& a, const Condition& b) {
  if (a.index() != b.index()) return false;
  if (const auto* nested = std::get_if<std::shared_ptr<Filter>>(&a)) {
    const auto& other = std::get<std::shared_ptr<Filter>>(b);
    if (!*nested || !other) return *nested == other;
    return **nested == *other;
  }
  if (const auto* field = std::get_if<FieldCondition>(&a)) return *field == std::get<FieldCondition>(b);
  return std::get<HasIdCondition>(a) == std::get<HasIdCondition>(b);
}

bool ConditionsEqual(const std::vector<Condition>& a, const std::vector<Condition>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!ConditionEqual(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace

bool operator==(const Filter& a, const Filter& b) {
  return ConditionsEqual(a.must, b.must) && ConditionsEqual(a.should, b.should) &&
         ConditionsEqual(a.must_not, b.must_not);
}

namespace {

// `path` is what is left of the dotted path below `value`, its first
// component at `depth` (0 for the payload's own keys). A path of more than
// kMaxFilterDepth + 1 components reaches nothing.
bool AnyValueBelow(const nlohmann::json& value, std::string_view path, int depth,
                   absl::FunctionRef<bool(const nlohmann::json&)> visit) {
  SS_ASSERT(depth >= 0 && depth <= kMaxFilterDepth, "path component at depth {}", depth);
  if (!value.is_object()) return false;
  const size_t dot = path.find('.');
  const auto it = value.find(path.substr(0, dot));
  if (it == value.end()) return false;
  const auto visit_or_descend = [&](const nlohmann::json& found) {
    if (dot == std::string_view::npos) return visit(found);
    return depth < kMaxFilterDepth && AnyValueBelow(found, path.substr(dot + 1), depth + 1, visit);
  };
  if (!it->is_array()) return visit_or_descend(*it);
  for (const nlohmann::json& element : *it) {
    if (visit_or_descend(element)) return true;
  }
  return false;
}

}  // namespace

bool AnyValueAtPath(const Payload& payload, std::string_view path,
                    absl::FunctionRef<bool(const nlohmann::json&)> visit) {
  return AnyValueBelow(payload, path, 0, visit);
}

bool Matches(const Filter& filter, PointId id, const Payload& payload) {
  return MatchesFilterAt(filter, id, payload, 0);
}

bool Matches(const Condition& condition, PointId id, const Payload& payload) {
  return MatchesAt(condition, id, payload, 0);
}

nlohmann::json FilterToJson(const Filter& filter) {
  nlohmann::json out = nlohmann::json::object();
  if (!filter.must.empty()) out["must"] = ClauseToJson(filter.must);
  if (!filter.should.empty()) out["should"] = ClauseToJson(filter.should);
  if (!filter.must_not.empty()) out["must_not"] = ClauseToJson(filter.must_not);
  // The empty filter (matches everything) is the empty object, both ways.
  SS_ASSERT(out.empty() == (filter.must.empty() && filter.should.empty() && filter.must_not.empty()));
  return out;
}

absl::StatusOr<Filter> FilterFromJson(const nlohmann::json& json) { return FilterFromJsonAt(json, 0); }

}  // namespace engine
