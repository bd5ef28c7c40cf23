// The workload mix: how often a client of a simulated run takes each action.
// A run draws it from its config (`weights=` on a scenario's config line,
// `--weights` on the command line), so a campaign can lean on snapshots or
// on reads without a rebuild.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "properties/action.h"
#include "sim/decision.h"

namespace properties {

class WorkloadMix {
 public:
  // The mix every seed ran with before weights were configurable. Its draw
  // is kept exactly (two actions share a slice and are split by a second
  // draw), so seeds and recorded runs replay as before.
  static WorkloadMix Default();

  // "default", or "action:weight,action:weight,..." with the names of
  // ActionNames(); actions not named get weight 0. Errors name the bad part.
  static absl::StatusOr<WorkloadMix> Parse(std::string_view text);

  // The text Parse reads back to this mix ("default" for the default).
  std::string ToText() const;
  bool IsDefault() const { return is_default_; }

  // Draws one action. Consumes one draw, and a second one in a shared slice.
  Action Draw(sim::DecisionSource& decisions) const;

 private:
  struct Entry {
    Action action;
    uint32_t weight;
  };
  // One range of the first draw; its actions split it by their weights.
  struct Slice {
    uint32_t weight;
    std::vector<Entry> entries;
  };

  explicit WorkloadMix(std::vector<Slice> slices, bool is_default);

  std::vector<Slice> slices_;
  uint64_t total_weight_ = 0;
  bool is_default_ = false;
};

}  // namespace properties
