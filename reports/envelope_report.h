// The fault-tolerance envelope of a campaign as Markdown (docs/faults.md):
// what was injected per fault class, and per class and component how many
// injections were survived, detected, repaired or silently lost, with the
// cells that can occur but were never reached listed.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "properties/fault_ledger.h"

namespace reports {

// The (fault class, component) cells this engine's I/O can reach: a fault
// class hits a component only if the engine does that kind of call on its
// files (there are no manifest files outside archives, for example).
std::vector<std::pair<sim::FaultClass, properties::Component>> PossibleCells();

// `campaign` is a `shardsim campaign --json` summary. InvalidArgument when
// it has no fault section.
absl::StatusOr<std::string> RenderEnvelopeMarkdown(const nlohmann::json& campaign);

}  // namespace reports
