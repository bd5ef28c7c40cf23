#include "sim/profile.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "absl/strings/charconv.h"
#include "engine/common/assert.h"
#include "sim/split.h"

namespace sim {

namespace {

const std::vector<CrashModel> kAllCrashModels = {
    CrashModel::kDropAllUnsynced, CrashModel::kRandomPrefix, CrashModel::kRandomBlocks,
    CrashModel::kTornLastBlock};

// Faulty's rates; a drawn profile uses the same ones for the classes it turns on.
constexpr FaultRates kModestRates{.read_error = 0.002,
                                  .write_error = 0.002,
                                  .sync_error = 0.005,
                                  .fsync_failure = 0.005,
                                  .dir_sync_error = 0.005,
                                  .bit_flip_on_read = 0.001,
                                  .stored_rot = 0.05};
constexpr uint64_t kSmallDiskHeadroomBytes = 48 * 1024;
// Sized from the workload: a load fits in the base (smaller bases refused
// loads for good), and a flat 48 KiB reached ENOSPC in only 18% of seeds
// (byte-exact, 3 KiB: 73% of seeds 0..299). With 512-byte units 3 KiB made
// 1,649 of 10,000 seeds' loads refuse for space and halved the snapshots
// that succeed; 6 KiB reaches ENOSPC in 77% of seeds 0..9999.
constexpr uint64_t kSmallDiskBaseHeadroomBytes = 6 * 1024;
constexpr uint64_t kSmallDiskHeadroomPerOpBytes = 48;
constexpr uint64_t kPlannedOpsBound = 1'000'000;
constexpr double kSmallDiskSpaceFreedProbability = 0.5;
// Room for a snapshot archive of a small shard (a tar is at least 10 KiB,
// and staging its files takes whole units).
constexpr uint64_t kSmallDiskArchiveRoomBytes = 32 * 1024;
// A sector: block-granular allocation makes a new file's first write need a
// whole unit while an append inside the last unit needs none, as on a real
// file system (byte-exact accounting reached an out-of-space WAL rollover in
// ~1 of 7,000 small-disk seeds).
constexpr uint64_t kSmallDiskAllocationUnitBytes = 512;
// Each of the 8 fault classes is on in a drawn profile with this chance, so
// 1 - (1 - 0.075)^8 = 46% of seeds have at least one on.
constexpr double kDrawnClassOnProbability = 0.075;

// Short names in specs.
std::string_view CrashModelSpecName(CrashModel model) {
  switch (model) {
    case CrashModel::kDropAllUnsynced: return "drop";
    case CrashModel::kRandomPrefix: return "prefix";
    case CrashModel::kRandomBlocks: return "blocks";
    case CrashModel::kTornLastBlock: return "torn";
  }
  return "?";
}

std::optional<CrashModel> ParseCrashModel(std::string_view text) {
  for (CrashModel model : kAllCrashModels) {
    if (CrashModelSpecName(model) == text) return model;
  }
  return std::nullopt;
}

std::optional<DirectoryModel> ParseDirectoryModel(std::string_view text) {
  for (DirectoryModel model : {DirectoryModel::kPerEntry, DirectoryModel::kOrderedJournal}) {
    if (DirectoryModelName(model) == text) return model;
  }
  return std::nullopt;
}

// A probability: a plain decimal in [0, 1] (no sign, no exponent-only junk).
std::optional<double> ParseProbability(std::string_view text) {
  if (text.empty() || text.front() == '-' || text.front() == '+') return std::nullopt;
  double value = 0;
  // absl::from_chars: std::from_chars for double is missing from libc++
  // before LLVM 20 (the OSS-Fuzz build uses libc++); same grammar, same
  // correctly rounded result.
  const auto [end, error] = absl::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (!std::isfinite(value) || value < 0 || value > 1) return std::nullopt;
  return value;
}

std::optional<uint64_t> ParseBytes(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// Every key of a spec, in the order ToSpec prints them.
const std::vector<std::string_view> kSpecKeys = {"models", "dirs", "read", "write", "sync", "fsync",
                                                 "dirsync", "flip", "rot", "headroom", "freed"};
// Printed only when set: specs written before they existed still read.
constexpr std::string_view kOptionalRoomKey = "room";
constexpr std::string_view kOptionalUnitKey = "unit";

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

std::string_view DirectoryModelName(DirectoryModel model) {
  switch (model) {
    case DirectoryModel::kPerEntry: return "per-entry";
    case DirectoryModel::kOrderedJournal: return "ordered-journal";
  }
  return "?";
}

PersistenceProfile PersistenceProfile::NoFault() {
  return {.name = "no-fault", .crash_models = {CrashModel::kDropAllUnsynced}};
}

PersistenceProfile PersistenceProfile::StrictPosix() {
  return {.name = "strict-posix", .crash_models = kAllCrashModels};
}

PersistenceProfile PersistenceProfile::Ext4Ordered() {
  return {.name = "ext4-ordered",
          .crash_models = {CrashModel::kRandomPrefix},
          .directory_model = DirectoryModel::kOrderedJournal};
}

PersistenceProfile PersistenceProfile::Faulty() {
  return {.name = "faulty", .crash_models = kAllCrashModels, .faults = kModestRates};
}

PersistenceProfile PersistenceProfile::SmallDisk() {
  return {.name = "small-disk",
          .crash_models = kAllCrashModels,
          .capacity_headroom_bytes = kSmallDiskHeadroomBytes,
          .space_freed_probability = kSmallDiskSpaceFreedProbability,
          .headroom_from_workload = true,
          .archive_room_bytes = kSmallDiskArchiveRoomBytes,
          .allocation_unit_bytes = kSmallDiskAllocationUnitBytes};
}

PersistenceProfile PersistenceProfile::SizedToWorkload(uint64_t planned_ops) const {
  if (!headroom_from_workload) return *this;
  PersistenceProfile sized = *this;
  sized.headroom_from_workload = false;
  sized.capacity_headroom_bytes =
      kSmallDiskBaseHeadroomBytes + kSmallDiskHeadroomPerOpBytes * std::min(planned_ops, kPlannedOpsBound);
  return sized;
}

std::vector<std::string> PersistenceProfile::Names() {
  return {"no-fault", "strict-posix", "ext4-ordered", "faulty", "small-disk"};
}

std::optional<PersistenceProfile> PersistenceProfile::Named(std::string_view name) {
  if (name == "no-fault") return NoFault();
  if (name == "strict-posix") return StrictPosix();
  if (name == "ext4-ordered") return Ext4Ordered();
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
  if (decisions.Chance(0.5)) profile.directory_model = DirectoryModel::kOrderedJournal;
  const auto maybe = [&](double rate) { return decisions.Chance(kDrawnClassOnProbability) ? rate : 0.0; };
  profile.faults.read_error = maybe(kModestRates.read_error);
  profile.faults.write_error = maybe(kModestRates.write_error);
  profile.faults.sync_error = maybe(kModestRates.sync_error);
  profile.faults.fsync_failure = maybe(kModestRates.fsync_failure);
  profile.faults.dir_sync_error = maybe(kModestRates.dir_sync_error);
  profile.faults.bit_flip_on_read = maybe(kModestRates.bit_flip_on_read);
  profile.faults.stored_rot = maybe(kModestRates.stored_rot);
  if (decisions.Chance(kDrawnClassOnProbability)) {
    profile.capacity_headroom_bytes = kSmallDiskHeadroomBytes;
    profile.space_freed_probability = kSmallDiskSpaceFreedProbability;
    profile.headroom_from_workload = true;
    profile.archive_room_bytes = kSmallDiskArchiveRoomBytes;
    profile.allocation_unit_bytes = kSmallDiskAllocationUnitBytes;
  }
  SS_ASSERT(!profile.crash_models.empty());
  return profile;
}

bool PersistenceProfile::HasFaults() const {
  return faults.read_error > 0 || faults.write_error > 0 || faults.sync_error > 0 ||
         faults.fsync_failure > 0 || faults.dir_sync_error > 0 || faults.bit_flip_on_read > 0 ||
         faults.stored_rot > 0 || capacity_headroom_bytes > 0;
}

std::string PersistenceProfile::ToSpec() const {
  if (const auto named = Named(name); named && *named == *this) return name;
  std::vector<std::string_view> models;
  for (CrashModel model : crash_models) models.push_back(CrashModelSpecName(model));
  // {} prints a double as the shortest text that reads back to the same value.
  return fmt::format(
      "{}{{models={};dirs={};read={};write={};sync={};fsync={};dirsync={};flip={};rot={};headroom={};freed={}{}{}}}",
      name, fmt::join(models, "+"), DirectoryModelName(directory_model), faults.read_error, faults.write_error,
      faults.sync_error, faults.fsync_failure, faults.dir_sync_error, faults.bit_flip_on_read, faults.stored_rot,
      capacity_headroom_bytes, space_freed_probability,
      archive_room_bytes == 0 ? std::string() : fmt::format(";room={}", archive_room_bytes),
      allocation_unit_bytes == 0 ? std::string() : fmt::format(";unit={}", allocation_unit_bytes));
}

std::optional<PersistenceProfile> PersistenceProfile::FromSpec(std::string_view spec) {
  const size_t brace = spec.find('{');
  if (brace == std::string_view::npos) return Named(spec);
  const std::string_view name = spec.substr(0, brace);
  if (!ValidName(name) || spec.back() != '}' || spec.size() < brace + 2) return std::nullopt;
  std::map<std::string_view, std::string_view> values;
  for (std::string_view field : Split(spec.substr(brace + 1, spec.size() - brace - 2), ';')) {
    const size_t equals = field.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    const std::string_view key = field.substr(0, equals);
    if (std::find(kSpecKeys.begin(), kSpecKeys.end(), key) == kSpecKeys.end() && key != kOptionalRoomKey &&
        key != kOptionalUnitKey) {
      return std::nullopt;
    }
    if (!values.emplace(key, field.substr(equals + 1)).second) return std::nullopt;
  }
  const bool has_room = values.contains(kOptionalRoomKey);
  const bool has_unit = values.contains(kOptionalUnitKey);
  if (values.size() != kSpecKeys.size() + (has_room ? 1 : 0) + (has_unit ? 1 : 0)) return std::nullopt;

  PersistenceProfile profile{.name = std::string(name)};
  for (std::string_view text : Split(values["models"], '+')) {
    const auto model = ParseCrashModel(text);
    if (!model) return std::nullopt;
    if (std::find(profile.crash_models.begin(), profile.crash_models.end(), *model) != profile.crash_models.end()) {
      return std::nullopt;
    }
    profile.crash_models.push_back(*model);
  }
  const auto directory_model = ParseDirectoryModel(values["dirs"]);
  if (!directory_model) return std::nullopt;
  profile.directory_model = *directory_model;
  const std::pair<std::string_view, double*> rates[] = {
      {"read", &profile.faults.read_error},         {"write", &profile.faults.write_error},
      {"sync", &profile.faults.sync_error},         {"fsync", &profile.faults.fsync_failure},
      {"dirsync", &profile.faults.dir_sync_error},  {"flip", &profile.faults.bit_flip_on_read},
      {"rot", &profile.faults.stored_rot},          {"freed", &profile.space_freed_probability}};
  for (const auto& [key, field] : rates) {
    const auto value = ParseProbability(values[key]);
    if (!value) return std::nullopt;
    *field = *value;
  }
  const auto headroom = ParseBytes(values["headroom"]);
  if (!headroom) return std::nullopt;
  profile.capacity_headroom_bytes = *headroom;
  if (has_room) {
    const auto room = ParseBytes(values[kOptionalRoomKey]);
    if (!room) return std::nullopt;
    profile.archive_room_bytes = *room;
  }
  if (has_unit) {
    const auto unit = ParseBytes(values[kOptionalUnitKey]);
    if (!unit || (*unit != 0 && !std::has_single_bit(*unit))) return std::nullopt;
    profile.allocation_unit_bytes = *unit;
  }
  return profile;
}

std::string PersistenceProfile::Describe() const {
  std::vector<std::string_view> models;
  for (CrashModel model : crash_models) models.push_back(CrashModelName(model));
  const std::string headroom =
      capacity_headroom_bytes == 0 ? std::string("unlimited") : fmt::format("{} bytes", capacity_headroom_bytes);
  return fmt::format(
      "{} (crash models: {}; directories: {}; faults: read {}, write {}, sync {}, fsync failure {}, dir sync {}, "
      "bit flip {}, stored rot {}; capacity headroom: {}; space freed after ENOSPC: {}; archive room: {} bytes in "
      "half the processes; allocation unit: {} bytes)",
      name, fmt::join(models, ", "), DirectoryModelName(directory_model), faults.read_error, faults.write_error,
      faults.sync_error, faults.fsync_failure, faults.dir_sync_error, faults.bit_flip_on_read, faults.stored_rot,
      headroom, space_freed_probability, archive_room_bytes, allocation_unit_bytes);
}

}  // namespace sim
