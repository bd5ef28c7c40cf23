// Payload field indexes of one segment: for each indexed key, value -> ids
// (keyword: string values; integer: int64 values, range queries). Used to
// narrow a filter's candidates; the caller still checks Matches on each, so
// an index must never miss a matching point (it may over-include).
//
// Not synchronised: owned by a segment, used under its lock.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/model/filter.h"
#include "engine/model/types.h"

namespace engine {

class PayloadIndex {
 public:
  // Returns false if the key was already indexed (with any type).
  bool Create(const std::string& key, FieldType type);
  bool Drop(const std::string& key);
  bool Has(const std::string& key) const { return fields_.contains(key); }
  // The type of the index on `key`, nullopt when there is none.
  std::optional<FieldType> TypeOf(const std::string& key) const {
    const auto it = fields_.find(key);
    return it == fields_.end() ? std::nullopt : std::optional<FieldType>(it->second.type);
  }
  std::map<std::string, FieldType> fields() const;

  void Add(PointId id, const Payload& payload);
  // Add to the index on `key` only (filling an index just created: the
  // others hold the point already). REQUIRES: an index on `key`.
  void AddToField(const std::string& key, PointId id, const Payload& payload);
  void Remove(PointId id, const Payload& payload);

  // Ids that may match: the intersection over the filter's top-level `must`
  // field conditions on indexed keys; nullopt when no index applies.
  std::optional<std::vector<PointId>> Candidates(const Filter& filter) const;

  // The ids indexed under a key (for consistency checks).
  std::set<PointId> IdsIndexedUnder(const std::string& key) const;

 private:
  struct FieldIndex {
    FieldType type;
    std::map<std::string, std::set<PointId>> keywords;
    std::map<int64_t, std::set<PointId>> integers;
  };
  // `field` is an entry of fields_: its key and index belong together.
  static void Update(std::pair<const std::string, FieldIndex>& field, PointId id, const Payload& payload,
                     bool add);
  std::optional<std::set<PointId>> Lookup(const FieldCondition& condition) const;

  std::map<std::string, FieldIndex> fields_;
};

}  // namespace engine
