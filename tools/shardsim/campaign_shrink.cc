#include "tools/shardsim/campaign_shrink.h"

#include <filesystem>

#include <fmt/format.h>

#include "properties/shrink.h"
#include "scenarios/scenario_format.h"
#include "tools/shardsim/campaign_cluster.h"
#include "tools/shardsim/child_runs.h"
#include "tools/shardsim/config_flags.h"
#include "tools/shardsim/in_child.h"
#include "tools/shardsim/scenario_commands.h"

namespace shardsim {

std::optional<nlohmann::json> ShrinkFailure(uint64_t seed, const std::string& invariant,
                                            const CampaignOptions& options) {
  if (IsClusterSeed(seed, options)) return ShrinkClusterFailure(seed, invariant, options);
  std::error_code error;
  std::filesystem::create_directories(options.found_dir, error);
  const std::string path = fmt::format("{}/{}-seed{}.scn", options.found_dir, invariant, seed);
  return InChild([&]() -> std::optional<std::string> {
    properties::ShardRunConfig config;
    if (BuildConfig(seed, options.config, config)) return std::nullopt;
    // (In a grandchild: a run that ends in an engine assertion, run-outcome,
    // comes back recorded through the assertion; the shrinker then replays in
    // children too.)
    const absl::StatusOr<properties::RecordedRun> in_child = RecordShardRunInChild(config);
    if (!in_child.ok()) return std::nullopt;
    const properties::RecordedRun& recorded = *in_child;
    if (recorded.result.passed || recorded.result.invariant != invariant) return std::nullopt;
    const properties::ShrinkResult shrunk = ShrinkWithProgress(recorded.scenario, options.shrink_replays, options.quiet);
    if (!shrunk.reproduced) return std::nullopt;
    const std::string comment = ScenarioComment(shrunk.scenario, shrunk.result,
                                                fmt::format("found by a campaign, seed {}", seed));
    const std::optional<uint64_t> pinned = PinnableTraceHash(shrunk.result);
    if (!scenarios::WriteScenarioFile(path, shrunk.scenario, comment, pinned).ok()) {
      return std::nullopt;
    }
    return nlohmann::json{{"scenario", path},
                          {"shrunk_steps", shrunk.scenario.StepCount()},
                          {"original_steps", recorded.scenario.StepCount()},
                          {"shrink_replays", shrunk.replays}}.dump();
  });
}

}  // namespace shardsim
