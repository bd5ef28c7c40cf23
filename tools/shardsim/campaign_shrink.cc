#include "tools/shardsim/campaign_shrink.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "properties/shrink.h"
#include "scenarios/scenario_format.h"
#include "tools/shardsim/campaign_cluster.h"
#include "tools/shardsim/config_flags.h"
#include "tools/shardsim/scenario_commands.h"

namespace shardsim {

std::optional<nlohmann::json> ShrinkFailure(uint64_t seed, const std::string& invariant,
                                            const CampaignOptions& options) {
  if (invariant == "run-outcome") return std::nullopt;  // aborts and hangs replay out of process only
  if (IsClusterSeed(seed, options)) return ShrinkClusterFailure(seed, invariant, options);
  std::error_code error;
  std::filesystem::create_directories(options.found_dir, error);
  const std::string path = fmt::format("{}/{}-seed{}.scn", options.found_dir, invariant, seed);
  int fds[2];
  if (pipe(fds) != 0) return std::nullopt;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    properties::ShardRunConfig config;
    if (BuildConfig(seed, options.config, config)) _exit(2);
    const properties::RecordedRun recorded = properties::RecordShardRun(config);
    if (recorded.result.passed || recorded.result.invariant != invariant) _exit(5);
    const properties::ShrinkResult shrunk = ShrinkWithProgress(recorded.scenario, options.shrink_replays, options.quiet);
    if (!shrunk.reproduced) _exit(6);
    const std::string comment = ScenarioComment(shrunk.scenario, shrunk.result,
                                                fmt::format("found by a campaign, seed {}", seed));
    if (!scenarios::WriteScenarioFile(path, shrunk.scenario, comment).ok()) _exit(7);
    const std::string line = nlohmann::json{{"scenario", path},
                                            {"shrunk_steps", shrunk.scenario.StepCount()},
                                            {"original_steps", recorded.scenario.StepCount()},
                                            {"shrink_replays", shrunk.replays}}.dump();
    const ssize_t ignored = write(fds[1], line.data(), line.size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char chunk[4096];
  for (ssize_t got; (got = read(fds[0], chunk, sizeof chunk)) > 0;) text.append(chunk, static_cast<size_t>(got));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  nlohmann::json facts = nlohmann::json::parse(text, nullptr, false);
  if (facts.is_discarded()) return std::nullopt;
  return facts;
}

}  // namespace shardsim
