#include "reports/envelope_report.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "engine/common/assert.h"

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
  // Rot hits any stored file while no process runs: besides the shard's own
  // files, a staging directory a crash left behind, and the files a restore
  // unpacked beside the shard (shard_config.json: other; the archive's
  // segment manifest: manifests), which the engine never reads again.
  for (Component component : {Component::kWal, Component::kSegments, Component::kClocks, Component::kManifests,
                              Component::kArchives, Component::kRestoreStaging, Component::kOther}) {
    cells.emplace_back(FaultClass::kStoredRot, component);
  }
  // A power loss can drop any unsynced entry, the restored manifest's too.
  for (Component component : files) cells.emplace_back(FaultClass::kDirEntryLoss, component);
  cells.emplace_back(FaultClass::kDirEntryLoss, Component::kManifests);
  cells.emplace_back(FaultClass::kDirEntryLoss, Component::kOther);
  return cells;
}

namespace {

struct Totals {
  properties::Envelope envelope;
  std::array<uint64_t, sim::kFaultClassCount> seeds_with{};
  uint64_t seeds = 0;
  uint64_t failed = 0;
  uint64_t seeds_with_any = 0;
  std::string campaigns_table;  // one row per summary
};

// `position` (from 1) names the summary in an error; 0 when it is the only one.
absl::Status AddCampaign(const nlohmann::json& campaign, size_t position, Totals& totals) {
  const auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(position == 0 ? std::string(why) : fmt::format("summary {}: {}", position, why));
  };
  if (!campaign.is_object() || !campaign.contains("faults") || !campaign["faults"].is_object() ||
      !campaign["faults"].contains("envelope")) {
    return invalid("not a campaign summary with a fault section (shardsim campaign --json)");
  }
  const nlohmann::json& faults = campaign["faults"];
  auto envelope = properties::EnvelopeFromJson(faults["envelope"]);
  if (!envelope.ok()) return invalid(std::string(envelope.status().message()));
  totals.envelope.Add(*envelope);
  for (size_t f = 0; f < sim::kFaultClassCount; ++f) {
    const std::string name = ClassName(FaultClass(f));
    if (faults.contains("seeds_with") && faults["seeds_with"].is_object()) {
      totals.seeds_with[f] += faults["seeds_with"].value(name, uint64_t{0});
    }
  }
  const uint64_t seeds = campaign.value("seeds", uint64_t{0});
  const uint64_t failed = campaign.value("failed", uint64_t{0});
  const double elapsed_seconds = campaign.value("elapsed_seconds", 0.0);
  totals.seeds += seeds;
  totals.failed += failed;
  totals.seeds_with_any += faults.value("seeds_with_any", uint64_t{0});
  totals.campaigns_table += fmt::format("| {} | {} | {} | {:.1f} | {:.1f} |\n", campaign.value("profile", std::string("?")),
                                        seeds, failed, elapsed_seconds,
                                        elapsed_seconds > 0 ? static_cast<double>(seeds) / elapsed_seconds : 0.0);
  return absl::OkStatus();
}

std::string CellsTable(const properties::Envelope& envelope, std::vector<std::string>& unreached) {
  const auto possible = PossibleCells();
  std::string out = "| fault class | component | survived | detected | repaired | silently lost |\n";
  out += "| --- | --- | ---: | ---: | ---: | ---: |\n";
  for (size_t f = 0; f < sim::kFaultClassCount; ++f) {
    for (size_t c = 0; c < properties::kComponentCount; ++c) {
      const FaultClass fault = FaultClass(f);
      const Component component = Component(c);
      const uint64_t survived = envelope.get(fault, component, Outcome::kSurvived);
      const uint64_t detected = envelope.get(fault, component, Outcome::kDetected);
      const uint64_t repaired = envelope.get(fault, component, Outcome::kRepaired);
      const uint64_t lost = envelope.get(fault, component, Outcome::kLost);
      if (survived + detected + repaired + lost == 0) {
        if (std::find(possible.begin(), possible.end(), std::pair{fault, component}) != possible.end()) {
          unreached.push_back(fmt::format("{} / {}", ClassName(fault), ComponentLabel(component)));
        }
        continue;
      }
      out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", ClassName(fault), ComponentLabel(component), survived,
                         detected, repaired, lost == 0 ? "0" : fmt::format("**{}**", lost));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> RenderEnvelopeMarkdown(const std::vector<nlohmann::json>& campaigns) {
  SS_ASSERT(!campaigns.empty(), "an envelope needs at least one campaign summary");
  Totals totals;
  for (size_t i = 0; i < campaigns.size(); ++i) {
    const size_t position = campaigns.size() == 1 ? 0 : i + 1;
    if (auto status = AddCampaign(campaigns[i], position, totals); !status.ok()) return status;
  }
  std::string out = fmt::format("Campaigns: {} seeds ({} failed); {} seeds had at least one fault.\n\n", totals.seeds,
                                totals.failed, totals.seeds_with_any);
  out += "| profile | seeds | failed | seconds | seeds/s |\n| --- | ---: | ---: | ---: | ---: |\n";
  out += totals.campaigns_table + "\n";
  out += "| fault class | injected | seeds with it |\n| --- | ---: | ---: |\n";
  const auto injected = properties::InjectionsByClass(totals.envelope);
  for (size_t f = 0; f < sim::kFaultClassCount; ++f) {
    out += fmt::format("| {} | {} | {} |\n", ClassName(FaultClass(f)), injected[f], totals.seeds_with[f]);
  }
  std::vector<std::string> unreached;
  out += "\n" + CellsTable(totals.envelope, unreached);
  out += fmt::format("\nSilently lost in all: {}.\n", totals.envelope.Total(Outcome::kLost));
  if (!unreached.empty()) {
    out += "\nCells that can occur but were not reached: ";
    for (size_t i = 0; i < unreached.size(); ++i) out += (i == 0 ? "" : ", ") + unreached[i];
    out += ".\n";
  }
  return out;
}

}  // namespace reports
