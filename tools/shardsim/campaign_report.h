// The campaign's reporter: the progress line while it runs, and the summary,
// the failures (shrunk into scenarios), the coverage check and the JSON
// summary when it ends. Reads the totals; writes only to stdout, stderr and
// the --json file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/shardsim/campaign.h"
#include "tools/shardsim/campaign_totals.h"

namespace shardsim {

// The command that runs `seed` again exactly as the campaign ran it: the
// seed, --cluster for a cluster seed, and every run-config flag the campaign
// was given ("shardsim run --seed 53 --profile 'faulty'"); nothing that
// changes the run (not --verbose). Printed with each failure and in the JSON.
std::string FailureReplayCommand(uint64_t seed, const CampaignOptions& options);

// "[####    ] 1234 seeds, 0 failed, 512.3 seeds/s, 12s" on stderr; the bar
// only when the number of seeds is known.
void PrintProgress(const CampaignTotals& totals, double elapsed_seconds, std::optional<uint64_t> planned);

// Said at once: a long campaign's failures are worth starting on before it
// ends (the summary repeats them with shrunk scenarios).
void PrintFailureNow(const nlohmann::json& run);

// The headline, every counter, the faults and (if asked) the coverage marks.
void PrintSummary(const CampaignTotals& totals, double elapsed_seconds, const CampaignOptions& options);

// Each distinct failure: its first seed, the command that replays it, and
// (unless --shrink-replays 0) its shrunk scenario, recorded in totals.shrunk.
void ReportFailures(CampaignTotals& totals, const CampaignOptions& options);

// Where a summary's seeds came from: one campaign, or the merge of many.
struct CampaignProvenance {
  std::vector<std::pair<uint64_t, uint64_t>> seed_ranges;  // as planned, one per part
  std::optional<std::string> shard;                        // "I/N" of a campaign run with --shard
  nlohmann::json identity;                                 // commit, build_type, host (a merge: hosts)
  uint64_t parts = 1;
  double worker_seconds = 0;  // the parts' elapsed seconds, summed
};

// The --json document (docs/campaign-json.md): the figures, the failures by
// signature, the identity, and the totals that `shardsim merge` adds up.
nlohmann::json SummaryJson(const CampaignTotals& totals, double elapsed_seconds, const CampaignOptions& options,
                           const CampaignProvenance& provenance);

// The options a summary depends on (which seeds are cluster seeds, the
// config overrides), and back: a merge renders its parts with them.
nlohmann::json OptionsJson(const CampaignOptions& options);
CampaignOptions OptionsFromJson(const nlohmann::json& json);

// --require-coverage: prints what was never reached; false if anything was not.
bool CheckCoverage(const CampaignTotals& totals, const CampaignOptions& options);

}  // namespace shardsim
