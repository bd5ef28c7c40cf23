#include "engine/model/payload_index.h"

#include <algorithm>

#include "engine/common/assert.h"

namespace engine {

bool PayloadIndex::Create(const std::string& key, FieldType type) {
  const bool created = fields_.emplace(key, FieldIndex{type, {}, {}}).second;
  // A new index starts empty: the segment fills it from its points (Add).
  SS_ASSERT(!created || (fields_.at(key).type == type && fields_.at(key).keywords.empty() &&
                         fields_.at(key).integers.empty()),
            "index '{}' created non-empty", key);
  return created;
}

bool PayloadIndex::Drop(const std::string& key) {
  const bool dropped = fields_.erase(key) > 0;
  SS_ASSERT(!fields_.contains(key));
  return dropped;
}

std::map<std::string, FieldType> PayloadIndex::fields() const {
  std::map<std::string, FieldType> out;
  for (const auto& [key, index] : fields_) out[key] = index.type;
  SS_ASSERT(out.size() == fields_.size());
  return out;
}

void PayloadIndex::Update(std::pair<const std::string, FieldIndex>& field, PointId id, const Payload& payload,
                          bool add) {
  // Not a structured binding: clang before 16 cannot capture one.
  const std::string& key = field.first;
  FieldIndex& index = field.second;
  // A hint at the end: a new index is filled in id order.
  const auto add_or_remove = [&](std::set<PointId>& ids) { add ? (void)ids.insert(ids.end(), id) : (void)ids.erase(id); };
  AnyValueAtPath(payload, key, [&](const nlohmann::json& value) {
    if (index.type == FieldType::kKeyword && value.is_string()) {
      add_or_remove(index.keywords[value.get_ref<const std::string&>()]);
    } else if (index.type == FieldType::kInteger && value.is_number_integer() &&
               !(value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(INT64_MAX))) {
      add_or_remove(index.integers[value.get<int64_t>()]);
    }
    return false;
  });
  // An index holds values of its own type only.
  SS_ASSERT(index.type == FieldType::kKeyword ? index.integers.empty() : index.keywords.empty(),
            "index '{}' holds values of another type", key);
}

void PayloadIndex::Add(PointId id, const Payload& payload) {
  for (auto& field : fields_) Update(field, id, payload, true);
}

void PayloadIndex::AddToField(const std::string& key, PointId id, const Payload& payload) {
  const auto it = fields_.find(key);
  SS_ASSERT(it != fields_.end(), "no index on '{}' to add point {} to", key, id);
  Update(*it, id, payload, true);
}

void PayloadIndex::Remove(PointId id, const Payload& payload) {
  for (auto& field : fields_) Update(field, id, payload, false);
}

std::optional<std::set<PointId>> PayloadIndex::Lookup(const FieldCondition& condition) const {
  const auto it = fields_.find(condition.key);
  if (it == fields_.end()) return std::nullopt;
  const FieldIndex& index = it->second;
  SS_ASSERT(index.type == FieldType::kKeyword ? index.integers.empty() : index.keywords.empty());
  std::set<PointId> ids;
  if (const auto* keyword = std::get_if<MatchKeyword>(&condition.match)) {
    if (index.type != FieldType::kKeyword) return std::nullopt;
    const auto found = index.keywords.find(keyword->value);
    if (found != index.keywords.end()) ids = found->second;
    return ids;
  }
  if (index.type != FieldType::kInteger) return std::nullopt;
  int64_t low = INT64_MIN, high = INT64_MAX;
  if (const auto* integer = std::get_if<MatchInteger>(&condition.match)) {
    low = high = integer->value;
  } else {
    const auto& range = std::get<IntegerRange>(condition.match);
    low = range.gte.value_or(INT64_MIN);
    high = range.lte.value_or(INT64_MAX);
    if (low > high) return ids;
  }
  SS_ASSERT(low <= high, "range [{}, {}] of '{}'", low, high, condition.key);
  for (auto bucket = index.integers.lower_bound(low);
       bucket != index.integers.end() && bucket->first <= high; ++bucket) {
    ids.insert(bucket->second.begin(), bucket->second.end());
  }
  return ids;
}

std::optional<std::vector<PointId>> PayloadIndex::Candidates(const Filter& filter) const {
  std::optional<std::set<PointId>> candidates;
  for (const Condition& condition : filter.must) {
    const auto* field = std::get_if<FieldCondition>(&condition);
    if (field == nullptr) continue;
    auto ids = Lookup(*field);
    if (!ids) continue;
    if (!candidates) {
      candidates = std::move(*ids);
      continue;
    }
    std::set<PointId> both;
    std::set_intersection(candidates->begin(), candidates->end(), ids->begin(), ids->end(),
                          std::inserter(both, both.end()));
    SS_ASSERT(both.size() <= std::min(candidates->size(), ids->size()));
    candidates = std::move(both);
  }
  if (!candidates) return std::nullopt;
  return std::vector<PointId>(candidates->begin(), candidates->end());
}

std::set<PointId> PayloadIndex::IdsIndexedUnder(const std::string& key) const {
  std::set<PointId> ids;
  const auto it = fields_.find(key);
  if (it == fields_.end()) return ids;
  SS_ASSERT(it->second.type == FieldType::kKeyword ? it->second.integers.empty() : it->second.keywords.empty());
  for (const auto& [value, bucket] : it->second.keywords) ids.insert(bucket.begin(), bucket.end());
  for (const auto& [value, bucket] : it->second.integers) ids.insert(bucket.begin(), bucket.end());
  return ids;
}

}  // namespace engine
