#include <bit>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "engine/common/assert.h"
#include "engine/model/types.h"
#include "properties/run_config.h"
#include "scenarios/parse_util.h"
#include "scenarios/scenario_codec.h"
#include "scenarios/scenario_format.h"

namespace scenarios {

namespace {

using properties::Action;
using properties::Step;

std::string ClockText(const engine::ClockTag& tag) {
  return fmt::format("clock={}:{}:{}:{}{}", tag.peer_id, tag.clock_id, tag.tick, tag.token,
                     tag.force ? ":force" : "");
}

std::string StepArguments(const Step& step) {
  switch (step.action) {
    case Action::kUpdate: {
      std::string text = step.wait ? "wait" : "nowait";
      if (step.record->clock_tag) text += " " + ClockText(*step.record->clock_tag);
      return text + " " + ReadableOperationJson(step.record->operation).dump();
    }
    case Action::kDeleteByFilter:
      return fmt::format("{} {}", step.wait ? "wait" : "nowait", engine::FilterToJson(step.filter).dump());
    case Action::kRetrieve: return fmt::format("{}", step.id);
    case Action::kScroll:
    case Action::kCount: return engine::FilterToJson(step.filter).dump();
    case Action::kSearch: return fmt::format("k={} {}", step.k, VectorJson(step.vector).dump());
    case Action::kSnapshot:
    case Action::kCollectionSnapshot: return step.save_wal ? "wal" : "nowal";
    case Action::kPartialSnapshot:
    case Action::kPlunge:
    case Action::kFlush:
    case Action::kFreeze:
    case Action::kOptimize:
    case Action::kVacuum:
    case Action::kCancelOptimize: return "";
  }
  return "";
}

// The shorter of the two lists (drop= on a tie): "pending=7 drop=2",
// "pending=7 keep=0,1,3", "pending=0 drop=none".
std::string KeepListText(const std::vector<bool>& keep) {
  std::vector<size_t> kept, dropped;
  for (size_t index = 0; index < keep.size(); ++index) (keep[index] ? kept : dropped).push_back(index);
  const bool list_dropped = dropped.size() <= kept.size();
  const std::vector<size_t>& listed = list_dropped ? dropped : kept;
  return fmt::format("pending={} {}={}", keep.size(), list_dropped ? "drop" : "keep",
                     listed.empty() ? "none" : fmt::format("{}", fmt::join(listed, ",")));
}

std::string StepLine(const Step& step) {
  std::string arguments = StepArguments(step);
  return fmt::format("c{} {}{}{}", step.client, properties::ActionName(step.action),
                     arguments.empty() ? "" : " ", arguments);
}

}  // namespace

nlohmann::json VectorJson(const engine::Vector& vector) {
  nlohmann::json out = nlohmann::json::array();
  for (float value : vector) out.push_back(static_cast<double>(value));
  return out;
}

nlohmann::json ReadableOperationJson(const engine::Operation& operation) {
  nlohmann::json json = engine::OperationToJson(operation);
  // The engine's JSON keeps vectors as float bit patterns (exact in CBOR);
  // people read decimals, which print and parse back exactly too.
  if (const auto* upsert = std::get_if<engine::UpsertPoints>(&operation)) {
    for (size_t index = 0; index < upsert->points.size(); ++index) {
      json["points"][index]["vector"] = VectorJson(upsert->points[index].vector);
    }
  }
  return json;
}

std::string CrashLine(const properties::CrashPoint& crash) {
  SS_ASSERT(!crash.keep || crash.kind == sim::CrashKind::kPowerLoss, "a keep list belongs to a power loss");
  std::string line = fmt::format("crash {} after={}", sim::CrashKindName(crash.kind), crash.after_steps);
  if (crash.keep) line += " " + KeepListText(*crash.keep);
  return line;
}

std::string WriteScenario(const properties::Scenario& scenario, std::string_view comment,
                          std::optional<uint64_t> trace_hash) {
  std::string text;
  size_t start = 0;
  while (start < comment.size()) {
    const size_t end = std::min(comment.find('\n', start), comment.size());
    text += fmt::format("# {}\n", comment.substr(start, end - start));
    start = end + 1;
  }
  text += fmt::format("shardsim-scenario {}\n", kFormatVersion);
  text += fmt::format("expect {}\n", scenario.expected_invariant.empty() ? "pass" : scenario.expected_invariant);
  if (trace_hash) text += TraceHashLine(*trace_hash) + "\n";
  text += "config " + properties::ConfigLine(scenario.config) + "\n";
  for (const properties::Epoch& epoch : scenario.epochs) {
    text += "epoch\n";
    if (epoch.restore_archive) text += fmt::format("restore {}\n", *epoch.restore_archive);
    if (epoch.crash) text += CrashLine(*epoch.crash) + "\n";
    for (const Step& step : epoch.steps) text += StepLine(step) + "\n";
  }
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

absl::Status WriteScenarioFile(const std::string& path, const properties::Scenario& scenario,
                               std::string_view comment, std::optional<uint64_t> trace_hash) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::UnavailableError(fmt::format("cannot write {}", path));
  out << WriteScenario(scenario, comment, trace_hash);
  out.close();
  if (!out) return absl::UnavailableError(fmt::format("write to {} failed", path));
  return absl::OkStatus();
}

}  // namespace scenarios
