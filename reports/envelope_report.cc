#include "reports/envelope_report.h"

#include <fmt/format.h>

namespace reports {

namespace {

using properties::Component;
using properties::Outcome;
using sim::FaultClass;

std::string ClassName(FaultClass fault) { return std::string(sim::FaultClassName(fault)); }
std::string ComponentLabel(Component component) { return std::string(properties::ComponentName(component)); }

}  // namespace

std::vector<std::pair<FaultClass, Component>> PossibleCells() {
  // Files the engine reads, writes and syncs: the WAL, segment files, the
  // clock maps, archives and restore staging. Directory syncs hit the WAL
  // and segment directories, staging, and the directories above (other).
  const std::vector<Component> files = {Component::kWal, Component::kSegments, Component::kClocks,
                                        Component::kArchives, Component::kRestoreStaging};
  std::vector<std::pair<FaultClass, Component>> cells;
  for (FaultClass fault : {FaultClass::kReadError, FaultClass::kWriteError, FaultClass::kSyncError,
                           FaultClass::kFsyncFailure, FaultClass::kNoSpace, FaultClass::kReadFlip,
                           FaultClass::kTornWrite, FaultClass::kLostUnsynced}) {
    for (Component component : files) cells.emplace_back(fault, component);
  }
  for (Component component :
       {Component::kWal, Component::kSegments, Component::kRestoreStaging, Component::kOther}) {
    cells.emplace_back(FaultClass::kDirSyncError, component);
  }
  // Rot hits stored files while no process runs: staging exists only while
  // a restore runs, so it is not reached.
  for (Component component : {Component::kWal, Component::kSegments, Component::kClocks, Component::kArchives}) {
    cells.emplace_back(FaultClass::kStoredRot, component);
  }
  for (Component component : files) cells.emplace_back(FaultClass::kDirEntryLoss, component);
  cells.emplace_back(FaultClass::kDirEntryLoss, Component::kOther);
  return cells;
}

absl::StatusOr<std::string> RenderEnvelopeMarkdown(const nlohmann::json& campaign) {
  if (!campaign.is_object() || !campaign.contains("faults") || !campaign["faults"].is_object() ||
      !campaign["faults"].contains("envelope")) {
    return absl::InvalidArgumentError("not a campaign summary with a fault section (shardsim campaign --json)");
  }
  const nlohmann::json& faults = campaign["faults"];
  auto envelope = properties::EnvelopeFromJson(faults["envelope"]);
  if (!envelope.ok()) return envelope.status();
  std::string out;
  out += fmt::format("Campaign: {} seeds ({} failed), profile: {}; {} seeds had at least one fault.\n\n",
                     campaign.value("seeds", uint64_t{0}), campaign.value("failed", uint64_t{0}),
                     campaign.value("profile", std::string("?")), faults.value("seeds_with_any", uint64_t{0}));
  out += "| fault class | injected | seeds with it |\n| --- | ---: | ---: |\n";
  const auto injected = properties::InjectionsByClass(*envelope);
  for (size_t f = 0; f < sim::kFaultClassCount; ++f) {
    const std::string name = ClassName(FaultClass(f));
    const uint64_t seeds = faults.contains("seeds_with") ? faults["seeds_with"].value(name, uint64_t{0}) : 0;
    out += fmt::format("| {} | {} | {} |\n", name, injected[f], seeds);
  }
  out += "\n| fault class | component | survived | detected | repaired | silently lost |\n";
  out += "| --- | --- | ---: | ---: | ---: | ---: |\n";
  std::vector<std::string> unreached;
  for (const auto& [fault, component] : PossibleCells()) {
    const uint64_t survived = envelope->get(fault, component, Outcome::kSurvived);
    const uint64_t detected = envelope->get(fault, component, Outcome::kDetected);
    const uint64_t repaired = envelope->get(fault, component, Outcome::kRepaired);
    const uint64_t lost = envelope->get(fault, component, Outcome::kLost);
    if (survived + detected + repaired + lost == 0) {
      unreached.push_back(fmt::format("{} / {}", ClassName(fault), ComponentLabel(component)));
      continue;
    }
    out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", ClassName(fault), ComponentLabel(component), survived,
                       detected, repaired, lost == 0 ? "0" : fmt::format("**{}**", lost));
  }
  out += fmt::format("\nSilently lost in all: {}.\n", envelope->Total(Outcome::kLost));
  if (!unreached.empty()) {
    out += "\nCells that can occur but were not reached: ";
    for (size_t i = 0; i < unreached.size(); ++i) out += (i == 0 ? "" : ", ") + unreached[i];
    out += ".\n";
  }
  return out;
}

}  // namespace reports
