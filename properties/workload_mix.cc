#include "properties/workload_mix.h"

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace properties {

namespace {

// Bounds that keep a hostile scenario line from overflowing the sum.
constexpr uint64_t kMaxWeight = 1'000'000;
constexpr size_t kMaxEntries = 64;

std::vector<std::string_view> SplitCommas(std::string_view text) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t comma = text.find(',');
    parts.push_back(text.substr(0, comma));
    if (comma == std::string_view::npos) return parts;
    text.remove_prefix(comma + 1);
  }
}

absl::StatusOr<uint64_t> ParseWeight(std::string_view text) {
  uint64_t value = 0;
  if (text.empty() || text.size() > 7) return absl::InvalidArgumentError("");
  for (char c : text) {
    if (c < '0' || c > '9') return absl::InvalidArgumentError("");
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > kMaxWeight) return absl::InvalidArgumentError("");
  return value;
}

}  // namespace

WorkloadMix::WorkloadMix(std::vector<Slice> slices, bool is_default)
    : slices_(std::move(slices)), is_default_(is_default) {
  for (const Slice& slice : slices_) {
    SS_ASSERT(slice.weight > 0 && !slice.entries.empty(), "an empty slice is never drawn");
    total_weight_ += slice.weight;
  }
  SS_ASSERT(total_weight_ > 0, "a mix must let some action happen");
}

WorkloadMix WorkloadMix::Default() {
  // Percent of client steps. Vacuum and cancel share the slice merges had
  // before they were split (2:1); partial and collection snapshots share one
  // of the snapshot slices (1:1).
  return WorkloadMix({{47, {{Action::kUpdate, 1}}},
                      {3, {{Action::kDeleteByFilter, 1}}},
                      {12, {{Action::kRetrieve, 1}}},
                      {8, {{Action::kScroll, 1}}},
                      {6, {{Action::kCount, 1}}},
                      {8, {{Action::kSearch, 1}}},
                      {6, {{Action::kPlunge, 1}}},
                      {1, {{Action::kFreeze, 1}}},
                      {1, {{Action::kOptimize, 1}}},
                      {1, {{Action::kVacuum, 2}, {Action::kCancelOptimize, 1}}},
                      {2, {{Action::kSnapshot, 1}}},
                      {1, {{Action::kPartialSnapshot, 1}, {Action::kCollectionSnapshot, 1}}},
                      {4, {{Action::kFlush, 1}}}},
                     /*is_default=*/true);
}

absl::StatusOr<WorkloadMix> WorkloadMix::Parse(std::string_view text) {
  if (text == "default") return Default();
  const std::vector<std::string_view> parts = SplitCommas(text);
  if (parts.size() > kMaxEntries) return absl::InvalidArgumentError("weights: too many entries");
  std::vector<Slice> slices;
  std::vector<Action> named;
  for (std::string_view part : parts) {
    const size_t colon = part.find(':');
    const auto action = ParseAction(part.substr(0, colon));
    const auto weight = colon == std::string_view::npos ? absl::StatusOr<uint64_t>(absl::InvalidArgumentError(""))
                                                        : ParseWeight(part.substr(colon + 1));
    if (!action || !weight.ok()) {
      return absl::InvalidArgumentError(fmt::format(
          "weights: '{}' is not action:weight (a weight in [0, {}], an action of {})", part, kMaxWeight, ActionNames()));
    }
    if (std::find(named.begin(), named.end(), *action) != named.end()) {
      return absl::InvalidArgumentError(fmt::format("weights: '{}' is named twice", ActionName(*action)));
    }
    named.push_back(*action);
    if (*weight > 0) slices.push_back({static_cast<uint32_t>(*weight), {{*action, 1}}});
  }
  if (slices.empty()) return absl::InvalidArgumentError("weights: every weight is 0; some action must happen");
  return WorkloadMix(std::move(slices), /*is_default=*/false);
}

std::string WorkloadMix::ToText() const {
  if (is_default_) return "default";
  std::string text;
  for (const Slice& slice : slices_) {
    SS_ASSERT(slice.entries.size() == 1, "only the default mix shares slices");
    text += fmt::format("{}{}:{}", text.empty() ? "" : ",", ActionName(slice.entries[0].action), slice.weight);
  }
  return text;
}

Action WorkloadMix::Draw(sim::DecisionSource& decisions) const {
  uint64_t roll = decisions.Draw(total_weight_);
  SS_ASSERT(roll < total_weight_, "a draw below {} gave {}", total_weight_, roll);
  for (const Slice& slice : slices_) {
    if (roll >= slice.weight) {
      roll -= slice.weight;
      continue;
    }
    if (slice.entries.size() == 1) return slice.entries[0].action;
    uint64_t slice_total = 0;
    for (const Entry& entry : slice.entries) slice_total += entry.weight;
    uint64_t inner = decisions.Draw(slice_total);
    for (const Entry& entry : slice.entries) {
      if (inner < entry.weight) return entry.action;
      inner -= entry.weight;
    }
    SS_ASSERT(false, "the inner draw {} passed the slice's total {}", inner, slice_total);
  }
  SS_ASSERT(false, "the draw passed the mix's total weight {}", total_weight_);
  std::abort();
}

}  // namespace properties
