// The campaign JSON's mergeable part: a campaign's totals written whole
// (every counter, every failing run kept, per signature), read back and
// added, so that `shardsim merge` sums the runs of many machines exactly and
// renders the same summary one campaign over all their seeds would.
// docs/campaign-json.md is the schema.
#pragma once

#include <cstdint>
#include <string>

#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

#include "tools/shardsim/campaign_totals.h"

namespace shardsim {

// Bumped on any change a reader must know about; `merge` refuses others.
inline constexpr int kCampaignSchemaVersion = 1;
inline constexpr std::string_view kCampaignSchemaName = "shardsim-campaign";

// Every field of the totals; TotalsFromJson(TotalsToJson(t)) == t.
nlohmann::json TotalsToJson(const CampaignTotals& totals);
// An error naming the field for a malformed document; never aborts.
absl::StatusOr<CampaignTotals> TotalsFromJson(const nlohmann::json& json);
// Sums `more` into `sum`: counters add, failing runs join their signature's
// group (bounded by kRunsKeptPerSignature), the first failure is the
// earliest of the two, a shrunk scenario is kept from whichever has one.
void AddTotals(CampaignTotals& sum, const CampaignTotals& more);

// A JSON file the user named (a summary, a catalog): the errors of
// scenarios::ReadInputFile (directory, missing, unreadable, too large,
// empty), or "X is not JSON".
absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

// {"commit", "build_type", "host"} of this binary and machine.
nlohmann::json IdentityJson();

}  // namespace shardsim
