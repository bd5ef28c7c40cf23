#include "sim/profile.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sim {

namespace {
const std::vector<CrashModel> kAllCrashModels = {
    CrashModel::kDropAllUnsynced, CrashModel::kRandomPrefix, CrashModel::kRandomBlocks,
    CrashModel::kTornLastBlock};
}  // namespace

std::string_view CrashModelName(CrashModel model) {
  switch (model) {
    case CrashModel::kDropAllUnsynced: return "drop-unsynced";
    case CrashModel::kRandomPrefix: return "random-prefix";
    case CrashModel::kRandomBlocks: return "random-blocks";
    case CrashModel::kTornLastBlock: return "torn-last-block";
  }
  return "?";
}

std::string_view CrashKindName(CrashKind kind) {
  switch (kind) {
    case CrashKind::kProcessCrash: return "process-crash";
    case CrashKind::kPowerLoss: return "power-loss";
  }
  return "?";
}

PersistenceProfile PersistenceProfile::NoFault() {
  return {.name = "no-fault", .crash_models = {CrashModel::kDropAllUnsynced}};
}

PersistenceProfile PersistenceProfile::StrictPosix() {
  return {.name = "strict-posix", .crash_models = kAllCrashModels};
}

PersistenceProfile PersistenceProfile::Faulty() {
  PersistenceProfile profile{.name = "faulty", .crash_models = kAllCrashModels};
  profile.faults.read_error = 0.002;
  profile.faults.write_error = 0.002;
  profile.faults.sync_error = 0.01;
  profile.faults.bit_flip_on_read = 0.001;
  return profile;
}

PersistenceProfile PersistenceProfile::SmallDisk() {
  return {.name = "small-disk", .crash_models = kAllCrashModels, .capacity_bytes = 4 << 20};
}

std::vector<std::string> PersistenceProfile::Names() {
  return {"no-fault", "strict-posix", "faulty", "small-disk"};
}

std::optional<PersistenceProfile> PersistenceProfile::Named(std::string_view name) {
  if (name == "no-fault") return NoFault();
  if (name == "strict-posix") return StrictPosix();
  if (name == "faulty") return Faulty();
  if (name == "small-disk") return SmallDisk();
  return std::nullopt;
}

PersistenceProfile PersistenceProfile::Draw(DecisionSource& decisions) {
  PersistenceProfile profile{.name = "drawn"};
  for (CrashModel model : kAllCrashModels) {
    if (decisions.Chance(0.5)) profile.crash_models.push_back(model);
  }
  if (profile.crash_models.empty()) profile.crash_models.push_back(CrashModel::kDropAllUnsynced);
  const auto maybe_rate = [&](double rate) { return decisions.Chance(0.25) ? rate : 0.0; };
  profile.faults.read_error = maybe_rate(0.002);
  profile.faults.write_error = maybe_rate(0.002);
  profile.faults.sync_error = maybe_rate(0.01);
  profile.faults.bit_flip_on_read = maybe_rate(0.001);
  if (decisions.Chance(0.1)) profile.capacity_bytes = 4 << 20;
  return profile;
}

bool PersistenceProfile::HasFaults() const {
  return faults.read_error > 0 || faults.write_error > 0 || faults.sync_error > 0 ||
         faults.bit_flip_on_read > 0 || capacity_bytes > 0;
}

std::string PersistenceProfile::Describe() const {
  std::vector<std::string_view> models;
  for (CrashModel model : crash_models) models.push_back(CrashModelName(model));
  return fmt::format(
      "{} (crash models: {}; faults: read {}, write {}, sync {}, bit flip {}; capacity {})", name,
      fmt::join(models, ", "), faults.read_error, faults.write_error, faults.sync_error,
      faults.bit_flip_on_read,
      capacity_bytes == 0 ? std::string("unlimited") : fmt::format("{} bytes", capacity_bytes));
}

}  // namespace sim
