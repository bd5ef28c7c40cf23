// Shrinking a campaign's failure into a scenario file, out of process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/shardsim/campaign.h"

namespace shardsim {

// Records the failing seed as a scenario, shrinks it in a child process (a
// run that aborts must not take the campaign down with it) and writes it
// under options.found_dir. Returns {"scenario", "shrunk_steps",
// "original_steps", "shrink_replays"}, or nullopt when the failure does not
// replay in-process (an abort, a hang) or the shrink could not finish.
std::optional<nlohmann::json> ShrinkFailure(uint64_t seed, const std::string& invariant,
                                            const CampaignOptions& options);

}  // namespace shardsim
