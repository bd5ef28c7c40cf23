// Runs a piece of work in a forked child, so that a run that aborts (an
// engine assertion, a crash) cannot take the campaign down.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/common/run_in_child.h"

namespace shardsim {

// Runs `work` in a child and returns the JSON line it returned, or nullopt
// when it returned nullopt, wrote no JSON or the child died.
template <typename Work>
std::optional<nlohmann::json> InChild(Work work) {
  const absl::StatusOr<std::string> text = engine::RunInChild(work);
  if (!text.ok()) return std::nullopt;
  nlohmann::json facts = nlohmann::json::parse(*text, nullptr, false);
  if (facts.is_discarded()) return std::nullopt;
  return facts;
}

}  // namespace shardsim
