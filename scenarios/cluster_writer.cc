// The cluster scenario writer (cluster_format.h); the parser reads back
// exactly what this writes.
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/assert.h"
#include "scenarios/cluster_format.h"
#include "scenarios/cluster_names.h"
#include "scenarios/parse_util.h"

namespace scenarios {

namespace {

using properties::ClusterStep;
using properties::ClusterStepKind;

std::string ClientStepText(const ClusterStep& step) {
  switch (step.kind) {
    case ClusterStepKind::kUpsert:
      return fmt::format("upsert id={} value={} via peer {} {} ordering={}", step.id, step.value, step.peer,
                         step.wait ? "wait" : "nowait", OrderingName(step.ordering));
    case ClusterStepKind::kDelete:
      return fmt::format("delete id={} via peer {} {} ordering={}", step.id, step.peer,
                         step.wait ? "wait" : "nowait", OrderingName(step.ordering));
    case ClusterStepKind::kRead: return fmt::format("read factor={} via peer {}", step.read_factor, step.peer);
    case ClusterStepKind::kSleep: return fmt::format("sleep {}ms", step.sleep_ms);
    default: break;
  }
  SS_ASSERT(false, "a client does not {}", properties::ClusterStepKindName(step.kind));
  return "";
}

std::string NemesisStepText(const ClusterStep& step) {
  switch (step.kind) {
    case ClusterStepKind::kCrash: return fmt::format("crash peer {} {}", step.peer, CrashName(step.crash_kind));
    case ClusterStepKind::kRestart: return fmt::format("restart peer {}", step.peer);
    case ClusterStepKind::kPartition:
      return fmt::format("partition {{{}}} {}", fmt::join(step.side, ","), step.one_way ? "one-way" : "two-way");
    case ClusterStepKind::kHeal: return "heal";
    case ClusterStepKind::kTransfer:
      return fmt::format("transfer {}->{} {}", step.peer, step.to, MethodName(step.method));
    case ClusterStepKind::kSleep: return fmt::format("sleep {}ms", step.sleep_ms);
    default: break;
  }
  SS_ASSERT(false, "the nemesis does not {}", properties::ClusterStepKindName(step.kind));
  return "";
}

}  // namespace

std::string ClusterConfigLine(const properties::ClusterConfig& config) {
  return fmt::format(
      "seed={} peers={} replication_factor={} write_consistency_factor={} clients={} steps_per_client={} "
      "nemesis_steps={} point_ids={} lossy_network={} lossy_log={} default_transfer_method={}",
      config.seed, config.peers, config.replication_factor, config.write_consistency_factor, config.clients,
      config.steps_per_client, config.nemesis_steps, config.point_ids, config.lossy_network, config.lossy_log,
      MethodName(config.default_transfer_method)) +
         // Written only when on: files from before the key existed read and
         // write back unchanged.
         (config.network_stalls ? " network_stalls=true" : "") +
         (config.network_stalls && config.network_stall_percent != properties::kDefaultNetworkStallPercent
              ? fmt::format(" network_stall_percent={}", config.network_stall_percent)
              : std::string()) +
         (config.paced_clients ? " paced_clients=true" : "") + (config.slow_log ? " slow_log=true" : "") +
         (config.flush_interval_ms != properties::kLegacyFlushIntervalMs
              ? fmt::format(" flush_interval_ms={}", config.flush_interval_ms)
              : std::string());
}

std::string ClusterStepLine(const ClusterStep& step) {
  if (step.actor == 0) return "nemesis: " + NemesisStepText(step);
  return fmt::format("client {}: {}", step.actor, ClientStepText(step));
}

std::string WriteClusterScenario(const properties::ClusterScenario& scenario, std::string_view comment,
                                 std::optional<uint64_t> trace_hash) {
  std::string text;
  size_t start = 0;
  while (start < comment.size()) {
    const size_t end = std::min(comment.find('\n', start), comment.size());
    text += fmt::format("# {}\n", comment.substr(start, end - start));
    start = end + 1;
  }
  text += fmt::format("{}\n", kClusterHeader);
  text += fmt::format("expect {}\n", scenario.expected_invariant.empty() ? "pass" : scenario.expected_invariant);
  if (trace_hash) text += TraceHashLine(*trace_hash) + "\n";
  text += "config " + ClusterConfigLine(scenario.config) + "\n";
  for (const ClusterStep& step : scenario.steps) text += ClusterStepLine(step) + "\n";
  constexpr size_t kTapeBytesPerLine = 32;
  for (size_t offset = 0; offset < scenario.tape.size(); offset += kTapeBytesPerLine) {
    text += "tape ";
    for (size_t index = offset; index < std::min(offset + kTapeBytesPerLine, scenario.tape.size()); ++index) {
      text += fmt::format("{:02x}", scenario.tape[index]);
    }
    text += "\n";
  }
  return text + EndLine(scenario.StepCount(), scenario.tape.size()) + "\n";
}

absl::Status WriteClusterScenarioFile(const std::string& path, const properties::ClusterScenario& scenario,
                                      std::string_view comment, std::optional<uint64_t> trace_hash) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::UnavailableError(fmt::format("cannot write {}", path));
  out << WriteClusterScenario(scenario, comment, trace_hash);
  out.close();
  if (!out) return absl::UnavailableError(fmt::format("write to {} failed", path));
  return absl::OkStatus();
}

}  // namespace scenarios
