// shardsim: run, sweep and replay simulated shard runs.
//
//   shardsim run --seed S [--json]           one simulated run; ends with "trace-hash: <hex>"
//   shardsim campaign [--seeds A..B | --budget 60s] [--jobs J] [--json FILE]
//   shardsim check-determinism --seed S      runs S twice, names the first differing step
//
// Exit codes: 0 all runs passed, 1 a failure was found, 2 bad usage.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "tools/shardsim/campaign.h"
#include "tools/shardsim/run_command.h"

int main(int argc, char** argv) {
  CLI::App app{"shardsim: deterministic simulation testbed for a Qdrant-like shard engine"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");

  shardsim::RunOptions run_options;
  CLI::App* run = app.add_subcommand("run", "Run one simulated scenario from a seed");
  shardsim::AddRunFlags(*run, run_options);

  shardsim::CampaignOptions campaign_options;
  CLI::App* campaign = app.add_subcommand("campaign", "Sweep seeds in parallel processes");
  shardsim::AddCampaignFlags(*campaign, campaign_options);

  shardsim::RunOptions determinism_options;
  CLI::App* determinism = app.add_subcommand(
      "check-determinism", "Run a seed twice and name the first step where the traces differ");
  shardsim::AddRunFlags(*determinism, determinism_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  if (*run) return shardsim::RunCommand(run_options);
  if (*campaign) return shardsim::CampaignCommand(campaign_options);
  if (*determinism) return shardsim::CheckDeterminismCommand(determinism_options);
  return 2;
}
