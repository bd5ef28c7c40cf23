#include "sim/fs/power_loss_states.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace sim {

namespace {

using NameKey = std::pair<uint64_t, std::string>;

NameKey KeyOf(const PendingOperation& operation) { return {operation.directory, operation.name}; }

// Beyond this many subsets in one family, a level is sampled rather than
// listed (C(200, 2) is 19,900: two drops among 200 operations still list).
constexpr uint64_t kMaxListedSubsets = 20'000;

// C(n, j), saturating at kMaxListedSubsets + 1.
uint64_t Choose(uint64_t n, uint64_t j) {
  if (j > n) return 0;
  uint64_t result = 1;
  for (uint64_t i = 1; i <= j; ++i) {
    result = result * (n - j + i) / i;  // exact: a product of i consecutive integers is divisible by i!
    if (result > kMaxListedSubsets) return kMaxListedSubsets + 1;
  }
  return result;
}

// The pending operations as units (a rename whose halves are both pending
// is one unit) and, per name, its namespace operations in order: what the
// legality of a subset depends on.
class Structure {
 public:
  explicit Structure(const std::vector<PendingOperation>& pending) : pending_(pending) {
    group_of_.assign(pending.size(), kNoGroup);
    rank_of_.assign(pending.size(), 0);
    std::map<NameKey, size_t> group_by_name;
    for (size_t index = 0; index < pending.size(); ++index) {
      const PendingOperation& operation = pending[index];
      if (operation.partner) {
        SS_ASSERT(*operation.partner < pending.size() && pending[*operation.partner].partner == index,
                  "'{}' names a rename partner that does not name it back", operation.description);
      }
      if (!operation.partner || *operation.partner > index) {
        units_.push_back({index});
        if (operation.partner) units_.back().push_back(*operation.partner);
      }
      if (!operation.IsNamespace()) continue;
      const auto [it, added] = group_by_name.emplace(KeyOf(operation), groups_.size());
      if (added) groups_.emplace_back();
      group_of_[index] = it->second;
      rank_of_[index] = groups_[it->second].size();
      groups_[it->second].push_back(index);
    }
  }

  size_t unit_count() const { return units_.size(); }
  size_t group_count() const { return groups_.size(); }
  const std::vector<size_t>& unit(size_t index) const { return units_[index]; }
  // The name group of a namespace operation; kNoGroup for data.
  size_t group_of(size_t operation) const { return group_of_[operation]; }

  // The keep-vector where the units in `exceptions` are kept (`kept`) or
  // dropped (!kept) and every other unit the opposite; nullopt if the
  // per-name prefix rule refuses it. O(size of exceptions and their names).
  std::optional<std::vector<bool>> WithExceptions(const std::vector<size_t>& exceptions, bool kept) const {
    std::vector<size_t> flagged;  // the exceptions' operations
    for (size_t unit_index : exceptions) {
      for (size_t operation : units_[unit_index]) flagged.push_back(operation);
    }
    const auto is_flagged = [&](size_t operation) {
      return std::find(flagged.begin(), flagged.end(), operation) != flagged.end();
    };
    for (size_t operation : flagged) {
      if (group_of_[operation] == kNoGroup) continue;
      const std::vector<size_t>& group = groups_[group_of_[operation]];
      const size_t rank = rank_of_[operation];
      // A dropped operation needs every later one on its name dropped (an
      // exception too); a kept one needs every earlier one kept.
      const size_t from = kept ? 0 : rank + 1;
      const size_t to = kept ? rank : group.size();
      if (to - from > flagged.size()) return std::nullopt;
      for (size_t position = from; position < to; ++position) {
        if (!is_flagged(group[position])) return std::nullopt;
      }
    }
    std::vector<bool> keep(pending_.size(), !kept);
    for (size_t operation : flagged) keep[operation] = kept;
    return keep;
  }

  static constexpr size_t kNoGroup = SIZE_MAX;

 private:
  const std::vector<PendingOperation>& pending_;
  std::vector<std::vector<size_t>> units_;
  std::vector<std::vector<size_t>> groups_;  // per name, its namespace operations in order
  std::vector<size_t> group_of_;
  std::vector<size_t> rank_of_;
};

// Chooses `count` of `size` indices uniformly, returned sorted.
std::vector<size_t> SampleIndices(size_t size, size_t count, DecisionSource& sample) {
  std::vector<size_t> indices(size);
  for (size_t index = 0; index < size; ++index) indices[index] = index;
  for (size_t index = 0; index < count; ++index) {
    std::swap(indices[index], indices[index + sample.Draw(size - index)]);
  }
  indices.resize(count);
  std::sort(indices.begin(), indices.end());
  return indices;
}

// The legal subsets of one level (exactly `j` units dropped, then exactly
// `j` kept) not chosen yet, listing every combination when there are few,
// else drawing up to `wanted` combinations at random.
std::vector<std::vector<bool>> LevelStates(const Structure& structure, size_t j, size_t wanted,
                                           const std::set<std::vector<bool>>& chosen, DecisionSource& sample,
                                           size_t& illegal_skipped, bool& sampled) {
  std::vector<std::vector<bool>> states;
  std::set<std::vector<bool>> seen;
  const auto consider = [&](const std::vector<size_t>& exceptions, bool kept) {
    auto keep = structure.WithExceptions(exceptions, kept);
    if (!keep) {
      ++illegal_skipped;
      return;
    }
    if (chosen.contains(*keep) || !seen.insert(*keep).second) return;
    states.push_back(*std::move(keep));
  };
  const size_t units = structure.unit_count();
  if (Choose(units, j) <= kMaxListedSubsets) {
    for (const bool kept : {false, true}) {
      std::vector<size_t> combination(j);
      for (size_t index = 0; index < j; ++index) combination[index] = index;
      while (true) {
        consider(combination, kept);
        // The next combination in lexicographic order.
        size_t position = j;
        while (position > 0 && combination[position - 1] == units - j + position - 1) --position;
        if (position == 0) break;
        ++combination[position - 1];
        for (size_t next = position; next < j; ++next) combination[next] = combination[next - 1] + 1;
      }
    }
    return states;
  }
  // Too many to list: random combinations, half of each family.
  sampled = true;
  const size_t attempts = 20 * wanted + 64;
  for (size_t attempt = 0; attempt < attempts && states.size() < wanted; ++attempt) {
    std::vector<size_t> combination = SampleIndices(units, j, sample);
    consider(combination, attempt % 2 == 1);
  }
  return states;
}

// A random legal subset: a keep rate, then each unit in order kept at that
// rate unless one of its names already lost an operation.
std::vector<bool> RandomState(const std::vector<PendingOperation>& pending, const Structure& structure,
                              DecisionSource& sample) {
  constexpr uint64_t kRateSteps = 1024;
  const uint64_t rate = sample.Draw(kRateSteps) + 1;  // keep with probability rate / kRateSteps
  std::vector<bool> closed(structure.group_count(), false);
  std::vector<bool> keep(pending.size(), false);
  for (size_t unit_index = 0; unit_index < structure.unit_count(); ++unit_index) {
    const std::vector<size_t>& unit = structure.unit(unit_index);
    bool forced_drop = false;
    for (size_t operation : unit) {
      const size_t group = structure.group_of(operation);
      if (group != Structure::kNoGroup && closed[group]) forced_drop = true;
    }
    const bool kept = !forced_drop && sample.Draw(kRateSteps) < rate;
    for (size_t operation : unit) {
      keep[operation] = kept;
      const size_t group = structure.group_of(operation);
      if (!kept && group != Structure::kNoGroup) closed[group] = true;
    }
  }
  return keep;
}

}  // namespace

absl::Status CheckKeepLegal(const std::vector<PendingOperation>& pending, const std::vector<bool>& keep) {
  if (keep.size() != pending.size()) {
    return absl::InvalidArgumentError(
        fmt::format("{} keep decisions for {} pending operations", keep.size(), pending.size()));
  }
  std::map<NameKey, size_t> first_dropped;
  for (size_t index = 0; index < pending.size(); ++index) {
    const PendingOperation& operation = pending[index];
    if (operation.partner && (*operation.partner >= keep.size() || keep[*operation.partner] != keep[index])) {
      return absl::InvalidArgumentError(fmt::format("'{}' is {} but the other half of its rename is not",
                                                    operation.description, keep[index] ? "kept" : "dropped"));
    }
    if (!operation.IsNamespace()) continue;
    const auto dropped = first_dropped.find(KeyOf(operation));
    if (!keep[index]) {
      if (dropped == first_dropped.end()) first_dropped.emplace(KeyOf(operation), index);
    } else if (dropped != first_dropped.end()) {
      return absl::InvalidArgumentError(fmt::format("'{}' is kept after the earlier '{}' on the same name was dropped",
                                                    operation.description, pending[dropped->second].description));
    }
  }
  return absl::OkStatus();
}

PowerLossStates EnumeratePowerLossStates(const std::vector<PendingOperation>& pending,
                                         const PowerLossStateBounds& bounds, DecisionSource& sample) {
  SS_ASSERT(bounds.max_states >= 1, "at least one power-loss state per crash point");
  const Structure structure(pending);
  PowerLossStates states;
  std::set<std::vector<bool>> chosen;
  const auto add = [&](std::vector<bool> keep) {
    if (states.keeps.size() >= bounds.max_states || chosen.contains(keep)) return;
    const absl::Status legal = CheckKeepLegal(pending, keep);
    SS_ASSERT(legal.ok(), "an enumerated power-loss state is illegal: {}", legal.ToString());
    chosen.insert(keep);
    states.keeps.push_back(std::move(keep));
  };
  add(std::vector<bool>(pending.size(), true));
  add(std::vector<bool>(pending.size(), false));
  for (size_t j = 1; j <= bounds.max_dropped && j <= structure.unit_count(); ++j) {
    const size_t wanted = bounds.max_states - states.keeps.size();
    if (wanted == 0) {
      states.truncated = true;
      break;
    }
    bool sampled = false;
    std::vector<std::vector<bool>> level =
        LevelStates(structure, j, wanted, chosen, sample, states.illegal_skipped, sampled);
    if (level.size() > wanted) {
      for (size_t index : SampleIndices(level.size(), wanted, sample)) add(level[index]);
      states.truncated = true;
      break;
    }
    for (std::vector<bool>& keep : level) add(std::move(keep));
    if (sampled) {
      states.truncated = true;
      break;
    }
  }
  // Random legal subsets for what is left (a few attempts per state: small
  // pending lists have fewer legal states than the bound).
  const size_t attempts = 8 * bounds.max_states + 64;
  for (size_t attempt = 0; attempt < attempts && states.keeps.size() < bounds.max_states; ++attempt) {
    add(RandomState(pending, structure, sample));
  }
  return states;
}

}  // namespace sim
