#include "tools/shardsim/crash_every.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "scenarios/scenario_format.h"
#include "sim/fs/power_loss_states.h"
#include "tools/shardsim/crash_points.h"
#include "tools/shardsim/flag_checks.h"
#include "tools/shardsim/output_paths.h"

namespace shardsim {

namespace {

// Every pending operation with its index and fate: the key to a saved
// state's keep list.
std::string PendingListing(const std::vector<sim::PendingOperation>& pending, const std::vector<bool>& keep) {
  std::string text = fmt::format("the {} operations pending at the power loss:", pending.size());
  for (size_t index = 0; index < pending.size(); ++index) {
    text += fmt::format("\n  #{} {} {}", index, keep[index] ? "kept   " : "dropped", pending[index].description);
  }
  return text;
}

// What a state dropped, for its failure line and its file's comment.
std::string DroppedText(const std::vector<sim::PendingOperation>& pending, const std::vector<bool>& keep) {
  constexpr size_t kShown = 4;
  std::string text;
  size_t dropped = 0;
  for (size_t index = 0; index < pending.size(); ++index) {
    if (keep[index]) continue;
    if (++dropped <= kShown) text += fmt::format("{}{} #{}", dropped == 1 ? "" : "; ", pending[index].description, index);
  }
  if (dropped == 0) return "nothing dropped";
  if (dropped > kShown) text += fmt::format("; and {} more", dropped - kShown);
  return "dropped " + text;
}

class Sweep {
 public:
  Sweep(const properties::Scenario& scenario, const CrashEveryOptions& options, const CandidateRunner& run,
        std::FILE* out, bool progress)
      : scenario_(scenario), options_(options), run_(run), out_(out), progress_(progress) {
    if (scenario_.epochs.empty()) scenario_.epochs.emplace_back();
  }

  CrashEverySummary Execute() {
    for (size_t epoch = 0; epoch < scenario_.epochs.size() && !Exhausted(); ++epoch) SweepEpoch(epoch);
    if (progress_) std::fprintf(stderr, "\n");
    summary_.stopped_at_max_states = Exhausted();
    return summary_;
  }

 private:
  struct Failed {
    std::string what;  // the crash, for people
    std::string stem;  // its file's name without .scn
    std::string pending_listing;  // a power loss: every pending operation, kept or dropped
  };

  void SweepEpoch(size_t epoch) {
    ProcessSweep process{.epoch = epoch};
    // The epoch run to its end: which calls its engine process makes.
    properties::ShardRunConfig tracing;
    tracing.record_trace = true;
    const properties::Scenario base = CrashCandidate(scenario_, epoch, std::nullopt);
    const properties::ShardRunResult traced = run_(base, tracing);
    std::vector<CrashPointCall> calls = EngineProcessCalls(traced.events, epoch);
    process.calls = calls.size();
    if (!traced.passed) {
      // Every crash state would fail with it: report it once instead.
      Report(base, traced, {fmt::format("no crash in epoch {}", epoch), fmt::format("epoch{}-no-crash", epoch)}, process);
      summary_.processes.push_back(process);
      PrintProcess(process, "the run fails without a crash there; its crash points were not tried");
      return;
    }
    if (calls.size() > options_.max_calls) calls.resize(options_.max_calls);
    for (size_t index = 0; index < calls.size() && !Exhausted(); ++index) {
      SweepPoint(epoch, index, calls[index], process);
      ++process.crash_points;
      ++summary_.crash_points;
      if (progress_) {
        std::fprintf(stderr, "\repoch %zu/%zu: point %zu/%zu, %zu states, %zu failed   ", epoch + 1,
                     scenario_.epochs.size(), index + 1, calls.size(), summary_.states, summary_.failures);
      }
    }
    summary_.processes.push_back(process);
    PrintProcess(process, Exhausted() ? "stopped at --max-states" : "");
  }

  void SweepPoint(size_t epoch, size_t index, const CrashPointCall& call, ProcessSweep& process) {
    const std::string where = fmt::format("before call {} ({}) of epoch {}'s engine process", index, call.call, epoch);
    const std::string stem = fmt::format("epoch{}-call{}", epoch, index);
    // A process crash: the page cache survives.
    properties::Scenario candidate =
        CrashCandidate(scenario_, epoch, properties::CrashPoint{call.after_steps, sim::CrashKind::kProcessCrash});
    Count(candidate, run_(candidate, {}), {"process crash " + where, stem + "-process-crash"}, process);
    if (Exhausted()) return;

    // A power loss keeping everything, recording what was pending.
    properties::CrashPoint& crash = *candidate.epochs[epoch].crash;
    crash.kind = sim::CrashKind::kPowerLoss;
    std::optional<std::vector<sim::PendingOperation>> pending;
    properties::ShardRunConfig recording;
    recording.crash_point_chooser_epoch = epoch;
    recording.crash_point_chooser = [&pending](const std::vector<sim::PendingOperation>& operations) {
      pending = operations;
      return std::vector<bool>(operations.size(), true);
    };
    const properties::ShardRunResult kept_all = run_(candidate, recording);
    // (Written with its list, so that its file replays a chosen power loss.)
    if (pending) crash.keep = std::vector<bool>(pending->size(), true);
    ++process.power_loss_states;
    Count(candidate, kept_all,
          {fmt::format("power loss keeping all {} pending operations {}", pending ? pending->size() : 0, where),
           stem + "-power-loss-0", pending ? PendingListing(*pending, *crash.keep) : ""},
          process);
    if (!pending) return;  // the crash never came (the run ended first): nothing to choose from

    // The other legal states, drawn reproducibly per crash point.
    sim::PrngSource sample((uint64_t{epoch} << 32) | index);
    const sim::PowerLossStates states = sim::EnumeratePowerLossStates(
        *pending, {.max_dropped = options_.max_dropped, .max_states = options_.states_per_point}, sample);
    process.illegal_skipped += states.illegal_skipped;
    if (states.truncated) ++process.sampled_points;
    SS_ASSERT(states.keeps.front() == *crash.keep, "the first state keeps everything");
    for (size_t state = 1; state < states.keeps.size() && !Exhausted(); ++state) {
      crash.keep = states.keeps[state];
      ++process.power_loss_states;
      const auto kept = std::count(crash.keep->begin(), crash.keep->end(), true);
      Count(candidate, run_(candidate, {}),
            {fmt::format("power loss keeping {} of {} pending operations ({}) {}", kept, pending->size(),
                         DroppedText(*pending, *crash.keep), where),
             fmt::format("{}-power-loss-{}", stem, state), PendingListing(*pending, *crash.keep)},
            process);
    }
  }

  void Count(const properties::Scenario& candidate, const properties::ShardRunResult& result, const Failed& what,
             ProcessSweep& process) {
    ++process.states;
    ++summary_.states;
    if (!result.passed) Report(candidate, result, what, process);
  }

  // Prints a failure and writes its scenario (up to --max-saved).
  void Report(const properties::Scenario& candidate, const properties::ShardRunResult& result, const Failed& what,
              ProcessSweep& process) {
    ++process.failures;
    ++summary_.failures;
    if (progress_) std::fprintf(stderr, "\n");
    std::fprintf(out_, "FAIL %s: %s: %s\n", what.what.c_str(), result.invariant.c_str(), result.failure.c_str());
    // (A candidate ends with the empty epoch after the crashed one.)
    const auto& crash = candidate.epochs[candidate.epochs.size() - 2].crash;
    if (crash) std::fprintf(out_, "  crash line: %s\n", scenarios::CrashLine(*crash).c_str());
    if (!options_.failures_dir) return;
    if (summary_.saved.size() >= options_.max_saved) {
      std::fprintf(out_, "  (not saved: --max-saved %zu reached)\n", options_.max_saved);
      return;
    }
    std::error_code error;
    std::filesystem::create_directories(*options_.failures_dir, error);
    const std::string path = fmt::format("{}/{}.scn", *options_.failures_dir, what.stem);
    properties::Scenario failing = candidate;
    failing.expected_invariant = result.invariant;
    const absl::Status written = scenarios::WriteScenarioFile(
        path, failing,
        fmt::format("crash-every {}: {}\n{}: {}{}{}", options_.path, what.what, result.invariant, result.failure,
                    what.pending_listing.empty() ? "" : "\n", what.pending_listing),
        result.trace_hash);
    if (!written.ok()) {
      std::fprintf(out_, "  (not saved: %s)\n", std::string(written.message()).c_str());
      return;
    }
    summary_.saved.push_back(path);
    std::fprintf(out_, "  replay: shardsim replay %s\n", path.c_str());
  }

  void PrintProcess(const ProcessSweep& process, std::string_view note) {
    std::fprintf(out_,
                 "epoch %zu engine process: %zu file-system calls, %zu crash points, %zu states (%zu process "
                 "crashes, %zu power losses), %zu illegal subsets skipped, %zu points sampled, %zu failed%s%s\n",
                 process.epoch, process.calls, process.crash_points, process.states,
                 process.states - process.power_loss_states, process.power_loss_states, process.illegal_skipped,
                 process.sampled_points, process.failures, note.empty() ? "" : ": ", std::string(note).c_str());
  }

  bool Exhausted() const { return summary_.states >= options_.max_states; }

  properties::Scenario scenario_;
  const CrashEveryOptions& options_;
  const CandidateRunner& run_;
  std::FILE* out_;
  bool progress_;
  CrashEverySummary summary_;
};

}  // namespace

CrashEverySummary CrashEvery(const properties::Scenario& scenario, const CrashEveryOptions& options,
                             const CandidateRunner& run, std::FILE* out, bool progress) {
  return Sweep(scenario, options, run, out, progress).Execute();
}

void AddCrashEveryFlags(CLI::App& command, CrashEveryOptions& options) {
  command.add_option("file", options.path, "A small scenario file")->required();
  command.add_option("--max-calls", options.max_calls, "Crash before the first N file-system calls of each engine process (default 2000)")
      ->check(DecimalIn(1, 1'000'000));
  command.add_option("--max-dropped", options.max_dropped,
                     "Try every legal subset of the pending operations that drops at most K of them, and every one "
                     "that keeps at most K (default 2)")
      ->check(DecimalIn(0, 16));
  command.add_option("--states-per-point", options.states_per_point,
                     "Power-loss states per crash point, the systematic ones first, then drawn (default 32)")
      ->check(DecimalIn(1, 1'000'000));
  command.add_option("--max-states", options.max_states, "States checked in all (default 200000)")
      ->check(DecimalIn(1, 1'000'000'000));
  command.add_option("--failures-dir", options.failures_dir, "Write each failing state there as a scenario");
  command
      .add_option("--max-saved", options.max_saved,
                  "With --failures-dir: write at most this many failing states (default 20)")
      ->check(DecimalIn(0, 100'000))
      ->each([&options](const std::string&) { options.max_saved_given = true; });
  command.add_flag("--quiet", options.quiet, "No progress line");
  command.footer(
      "Crash points: every file-system call of each epoch's engine process. Not crashed: the restores the "
      "supervisor runs (over the live shard at an epoch start, and every snapshot's at the end of the run), whose "
      "crash points come from the tape; a scenario line cannot place them. Power-loss states are legal subsets of "
      "the pending operations under the strict POSIX per-entry rules (docs/simulation.md), each write kept or "
      "dropped whole; the drawn ones come from a PCG64 seeded with (epoch << 32) | point index. A failing state is "
      "saved as a scenario whose crash line lists the kept operations (scenarios/README.md).\n");
}

int CrashEveryCommand(const CrashEveryOptions& options) {
  if (options.max_saved_given && !options.failures_dir) {
    std::fprintf(stderr, "shardsim crash-every: --max-saved bounds the files --failures-dir writes; give both\n");
    return 2;
  }
  if (options.failures_dir) {
    if (auto status = CheckOutputDirectory("--failures-dir", *options.failures_dir); !status.ok()) {
      std::fprintf(stderr, "shardsim crash-every: %s\n", std::string(status.message()).c_str());
      return 2;
    }
  }
  auto loaded = scenarios::ReadScenarioFile(options.path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "shardsim crash-every: %s\n", std::string(loaded.status().message()).c_str());
    return 2;
  }
  std::printf("crash-every %s: %zu epochs; per crash point a process crash and up to %zu power-loss states (every "
              "legal subset dropping or keeping at most %zu pending operations, then drawn)\n",
              options.path.c_str(), std::max<size_t>(loaded->scenario.epochs.size(), 1), options.states_per_point,
              options.max_dropped);
  const bool progress = !options.quiet && isatty(STDERR_FILENO);
  const CrashEverySummary summary =
      CrashEvery(loaded->scenario, options, properties::ReplayScenario, stdout, progress);
  std::printf("crash-every: %zu processes, %zu crash points, %zu states checked, %zu failed%s\n",
              summary.processes.size(), summary.crash_points, summary.states, summary.failures,
              summary.stopped_at_max_states ? " (stopped at --max-states)" : "");
  if (summary.failures > summary.saved.size() && options.failures_dir) {
    std::printf("crash-every: %zu failing states saved under %s\n", summary.saved.size(), options.failures_dir->c_str());
  }
  return summary.failures == 0 ? 0 : 1;
}

}  // namespace shardsim
