// The fault-tolerance envelope of one or more campaigns as Markdown
// (docs/faults.md): what was injected per fault class, and per class and
// component how many injections were survived, detected, repaired or
// silently lost, with the cells that can occur but were never reached listed.
// Several summaries (the default mix and the fault profiles, say) are summed:
// rare paths show up under the profiles that inject more often.
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
// files (manifests reach the disk only as files a restore unpacked beside the
// shard, never read again, for example). A row reached outside this list is
// still shown.
std::vector<std::pair<sim::FaultClass, properties::Component>> PossibleCells();

// Each of `campaigns` is a `shardsim campaign --json` summary. REQUIRES: at
// least one. InvalidArgument when one has no fault section (naming it by its
// position, from 1, when there are several).
absl::StatusOr<std::string> RenderEnvelopeMarkdown(const std::vector<nlohmann::json>& campaigns);

}  // namespace reports
