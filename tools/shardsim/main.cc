// shardsim: run, sweep and replay simulated shard runs.
//
//   shardsim run --seed S [--json] [--trace-json FILE]
//                                            one simulated run; ends with "trace-hash: <hex>" (--json: one
//                                            JSON object and nothing else)
//   shardsim run --cluster [--seed S] [--peers N] [--rf N] [--wcf N] [--trace-json FILE] ...
//                                            one simulated replica-set run (tools/shardsim/cluster_commands.h)
//   shardsim campaign [--seeds A..B | --budget 60s] [--jobs J] [--json FILE] [--cluster | --cluster-share P]
//   shardsim check-determinism --seed S      runs S twice, names the first differing step
//   shardsim check-determinism --cluster --seeds A..B   each cluster seed twice, compares trace hashes
//   shardsim record --seed S -o FILE         writes the scenario that replays a seeded run
//   shardsim replay FILE [--trace] [--trace-json OUT] [--until STEP] [--dump-state STEP]
//   shardsim shrink FILE -o OUT              minimises a failing scenario
//   shardsim pin FILE...                     replays each scenario and pins its trace hash
//   shardsim from-fuzz CRASH [-o OUT]        the scenario of a fuzz_shard input
//   shardsim crash-every FILE                before every file-system call of each engine process: a
//                                            process crash and legal power-loss states, each checked
//   shardsim envelope CAMPAIGN.json... [-o MD]  the fault-tolerance envelope of campaigns, summed, as Markdown
//   shardsim merge A.json B.json ... -o ALL.json  campaign summaries of many machines, summed into one
//   shardsim report CAMPAIGN.json [--catalog C.json] -o INDEX.html [--junit X.xml]  the HTML report, JUnit XML
//   shardsim help [COMMAND]                  this usage, or a command's; shardsim --version
//
// Exit codes: 0 all runs passed, 1 a failure was found, 2 bad usage.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "tools/shardsim/build_info.h"
#include "tools/shardsim/campaign.h"
#include "tools/shardsim/crash_every.h"
#include "tools/shardsim/html_report_command.h"
#include "tools/shardsim/merge_command.h"
#include "tools/shardsim/pin_command.h"
#include "tools/shardsim/report_command.h"
#include "tools/shardsim/real_command.h"
#include "tools/shardsim/run_command.h"
#include "tools/shardsim/scenario_commands.h"

namespace {

// `shardsim help [COMMAND]`: the usage `--help` prints, on stdout, exit 0.
// (Through the formatter: App::help() would describe the `help` command
// itself, the subcommand this parse selected.)
int PrintHelp(CLI::App& app, const std::string& topic) {
  if (topic.empty()) {
    std::fputs(app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal).c_str(), stdout);
    return 0;
  }
  for (const CLI::App* command : app.get_subcommands({})) {
    if (command->get_name() == topic && !command->get_group().empty()) {
      const std::string usage = app.get_name() + " " + topic;
      std::fputs(app.get_formatter()->make_help(command, usage, CLI::AppFormatMode::Normal).c_str(), stdout);
      return 0;
    }
  }
  std::fprintf(stderr, "shardsim help: no command '%s' (shardsim help lists them)\n", topic.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shardsim: deterministic simulation testbed for a Qdrant-like shard engine"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  app.set_version_flag("--version", fmt::format("shardsim {} (commit {}, {})", shardsim::BuildVersion(),
                                                shardsim::BuildCommit(), shardsim::BuildType()));

  std::string help_topic;
  CLI::App* help = app.add_subcommand("help", "Print this usage, or a command's (shardsim help run)");
  help->add_option("command", help_topic, "The command to describe");

  shardsim::RunOptions run_options;
  CLI::App* run = app.add_subcommand("run", "Run one simulated scenario from a seed");
  shardsim::AddRunFlags(*run, run_options, shardsim::kRunCommandFlags);

  shardsim::CampaignOptions campaign_options;
  CLI::App* campaign = app.add_subcommand("campaign", "Sweep seeds in parallel processes");
  shardsim::AddCampaignFlags(*campaign, campaign_options);

  shardsim::RunOptions determinism_options;
  CLI::App* determinism = app.add_subcommand(
      "check-determinism", "Run a seed twice and name the first step where the traces differ");
  shardsim::AddRunFlags(*determinism, determinism_options, {.cluster = {.seeds = true}});

  shardsim::RunOptions record_options;
  std::string record_path;
  CLI::App* record = app.add_subcommand("record", "Write the scenario file that replays a seeded run");
  shardsim::AddRunFlags(*record, record_options);
  record->add_option("-o,--output", record_path, "Scenario file to write")->required();

  shardsim::ReplayOptions replay_options;
  CLI::App* replay = app.add_subcommand("replay", "Replay a scenario file bit for bit");
  shardsim::AddReplayFlags(*replay, replay_options);

  shardsim::ShrinkOptions shrink_options;
  CLI::App* shrink = app.add_subcommand(
      "shrink", "Minimise a failing scenario, keeping its failure signature (invariant, check, component, error class)");
  shardsim::AddShrinkFlags(*shrink, shrink_options);

  shardsim::PinOptions pin_options;
  CLI::App* pin = app.add_subcommand(
      "pin", "Replay scenario files and rewrite them with their trace hash pinned (and in the current format)");
  shardsim::AddPinFlags(*pin, pin_options);

  shardsim::FromFuzzOptions from_fuzz_options;
  CLI::App* from_fuzz = app.add_subcommand("from-fuzz", "Convert a fuzz_shard input into a scenario file");
  shardsim::AddFromFuzzFlags(*from_fuzz, from_fuzz_options);

  shardsim::CrashEveryOptions crash_every_options;
  CLI::App* crash_every = app.add_subcommand(
      "crash-every", "Before every file-system call of each engine process, crash and try legal power-loss states");
  shardsim::AddCrashEveryFlags(*crash_every, crash_every_options);

  shardsim::EnvelopeOptions envelope_options;
  CLI::App* envelope = app.add_subcommand("envelope", "The fault-tolerance envelope of campaign summaries, summed (Markdown)");
  shardsim::AddEnvelopeFlags(*envelope, envelope_options);

  shardsim::MergeOptions merge_options;
  CLI::App* merge = app.add_subcommand(
      "merge", "Sum the --json summaries of campaigns run on many machines (--shard I/N) into one");
  shardsim::AddMergeFlags(*merge, merge_options);

  shardsim::HtmlReportOptions report_options;
  CLI::App* report = app.add_subcommand(
      "report", "Render a campaign summary as one self-contained HTML page (and JUnit XML for CI dashboards)");
  shardsim::AddHtmlReportFlags(*report, report_options);

  shardsim::RealOptions real_options;
  CLI::App* real = app.add_subcommand(
      "real", "Run seeds' workloads on real threads and real files (PosixEnv), checked by the same model");
  shardsim::AddRealFlags(*real, real_options);
  shardsim::RealChildOptions real_child_options;
  CLI::App* real_child = app.add_subcommand("real-child", "The engine process of `real --crash` (not run by hand)");
  real_child->group("");  // hidden from --help
  shardsim::AddRealChildFlags(*real_child, real_child_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  if (*help) return PrintHelp(app, help_topic);
  if (*run) return shardsim::RunCommand(run_options);
  if (*campaign) return shardsim::CampaignCommand(campaign_options);
  if (*determinism) return shardsim::CheckDeterminismCommand(determinism_options);
  if (*record) return shardsim::RecordCommand(record_options, record_path);
  if (*replay) return shardsim::ReplayCommand(replay_options);
  if (*shrink) return shardsim::ShrinkCommand(shrink_options);
  if (*pin) return shardsim::PinCommand(pin_options);
  if (*from_fuzz) return shardsim::FromFuzzCommand(from_fuzz_options);
  if (*crash_every) return shardsim::CrashEveryCommand(crash_every_options);
  if (*envelope) return shardsim::EnvelopeCommand(envelope_options);
  if (*merge) return shardsim::MergeCommand(merge_options);
  if (*report) return shardsim::HtmlReportCommand(report_options);
  if (*real) return shardsim::RealCommand(real_options);
  if (*real_child) return shardsim::RealChildCommand(real_child_options);
  return 2;
}
