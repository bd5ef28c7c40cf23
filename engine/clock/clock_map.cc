#include "engine/clock/clock_map.h"

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"

namespace engine {

std::pair<bool, uint64_t> ClockMap::AdvanceImpl(const ClockTag& tag) {
  const Key key{tag.peer_id, tag.clock_id};
  bool accepted = false;
  uint64_t current_tick = tag.tick;
  auto it = clocks_.find(key);
  if (it == clocks_.end()) {
    accepted = tag.tick > 0;
    if (accepted) clocks_.emplace(key, Clock{tag.tick, tag.token});
  } else {
    Clock& clock = it->second;
    const Clock before = clock;
    SS_ASSERT(before.tick > 0, "clock ({}, {}) at tick 0", key.first, key.second);
    if (clock.tick < tag.tick) clock = Clock{tag.tick, tag.token};
    accepted = clock.tick == tag.tick && clock.token == tag.token;
    current_tick = clock.tick;
    // A clock's tick only grows, and a rejected tag leaves the clock as it was.
    SS_ASSERT(clock.tick >= before.tick && clock.tick >= tag.tick, "clock ({}, {}) went from {} to {}",
              key.first, key.second, before.tick, clock.tick);
    SS_ASSERT(accepted || clock == before, "a rejected tick {} changed clock ({}, {})", tag.tick, key.first,
              key.second);
  }
  // Tick 0 claims no op; an accepted tag is the clock's state now (a retry
  // included).
  SS_ASSERT(!accepted || tag.tick > 0, "tick 0 accepted for clock ({}, {})", key.first, key.second);
  SS_ASSERT(!accepted || clocks_.at(key) == (Clock{tag.tick, tag.token}));
  if (accepted) changed_ = true;
  return {accepted, current_tick};
}

bool ClockMap::AdvanceAndCorrect(ClockTag& tag) {
  const uint64_t sent_tick = tag.tick;
  const auto [clock_accepted, current_tick] = AdvanceImpl(tag);
  const bool accepted = clock_accepted || tag.force;
  if (!accepted) {
    // Corrected to the clock's tick, so the sender can catch up (no clock:
    // the tag was at tick 0); never behind what it sent.
    tag.tick = current_tick;
    const auto it = clocks_.find({tag.peer_id, tag.clock_id});
    SS_ASSERT(it == clocks_.end() ? tag.tick == 0 : it->second.tick == tag.tick);
  }
  SS_ASSERT(tag.tick >= sent_tick, "tick {} corrected down to {}", sent_tick, tag.tick);
  return accepted;
}

void ClockMap::Advance(const ClockTag& tag) {
  (void)AdvanceImpl(tag);
  // Replay leaves the clock at or past every non-zero tick it replayed.
  SS_ASSERT(tag.tick == 0 || clocks_.at({tag.peer_id, tag.clock_id}).tick >= tag.tick);
}

std::optional<ClockMap::Clock> ClockMap::Get(uint64_t peer_id, uint32_t clock_id) const {
  const auto it = clocks_.find({peer_id, clock_id});
  if (it == clocks_.end()) return std::nullopt;
  SS_ASSERT(it->second.tick > 0, "clock ({}, {}) at tick 0", peer_id, clock_id);
  return it->second;
}

bool ClockMap::NotAheadOf(const ClockMap& other) const {
  for (const auto& [key, clock] : clocks_) {
    SS_ASSERT(clock.tick > 0, "clock ({}, {}) at tick 0", key.first, key.second);
    const auto it = other.clocks_.find(key);
    if (it == other.clocks_.end() || it->second.tick < clock.tick) return false;
  }
  // Every clock of this map is in `other`.
  SS_ASSERT(clocks_.size() <= other.clocks_.size());
  return true;
}

bool ClockMap::TakeSnapshot() {
  if (snapshot_) return false;
  snapshot_ = clocks_;
  changed_ = true;
  return true;
}

bool ClockMap::ClearSnapshot() {
  if (!snapshot_) return false;
  snapshot_.reset();
  changed_ = true;
  return true;
}

ClockMap ClockMap::RecoveryClocks() const {
  ClockMap recovery;
  recovery.clocks_ = snapshot_ ? *snapshot_ : clocks_;
  SS_ASSERT(!recovery.snapshot_ && !recovery.changed_);
  return recovery;
}

bool ClockMap::HasClocksNotIn(const ClockMap& other) const {
  for (const auto& [key, clock] : clocks_) {
    if (!other.clocks_.contains(key)) return true;
  }
  // Every clock of this map is in `other`.
  SS_ASSERT(clocks_.size() <= other.clocks_.size());
  return false;
}

void ClockMap::AdvanceToAtLeast(const ClockMap& floor) {
  const size_t clocks_before = clocks_.size();
  for (const auto& [key, clock] : floor.clocks_) {
    SS_ASSERT(clock.tick > 0, "floor clock ({}, {}) at tick 0", key.first, key.second);
    // Raised with no op's token: the op that set `floor`'s tick never ran
    // here, so when it arrives late (a stalled request, cluster seed 9049)
    // it is not a retry of an op this replica applied, and is rejected.
    // Qdrant copies the token and accepts it as one, over newer writes.
    Clock& current = clocks_[key];  // a clock only `floor` has starts at tick 0, below any floor tick
    if (current.tick < clock.tick) {
      current = Clock{clock.tick, kNoOpToken};
      changed_ = true;
    }
  }
  // Every clock of `floor` is here now, at its tick or past it; none was lost.
  SS_ASSERT(floor.NotAheadOf(*this), "a clock stayed below the floor");
  SS_ASSERT(clocks_.size() >= clocks_before);
}

nlohmann::json ClockMap::ClocksToJson(const Clocks& clocks) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [key, clock] : clocks) {
    // A clock starts at its first accepted tick; FromJson refuses tick 0.
    SS_ASSERT(clock.tick > 0, "clock ({}, {}) at tick 0", key.first, key.second);
    list.push_back({{"peer_id", key.first},
                    {"clock_id", key.second},
                    {"tick", clock.tick},
                    {"token", clock.token}});
  }
  SS_ASSERT(list.size() == clocks.size());
  return list;
}

nlohmann::json ClockMap::ToJson() const {
  nlohmann::json json = {{"clocks", ClocksToJson(clocks_)}};
  // Absent without a snapshot: the file is what it was before snapshots.
  if (snapshot_) json["snapshot"] = ClocksToJson(*snapshot_);
  return json;
}

absl::StatusOr<ClockMap::Clocks> ClockMap::ClocksFromJson(const nlohmann::json& json) {
  const auto invalid = [](std::string_view why) {
    return absl::DataLossError(fmt::format("clock map: {}", why));
  };
  if (!json.is_array()) return invalid("expected an array of clocks");
  Clocks clocks;
  for (const auto& entry : json) {
    for (const char* field : {"peer_id", "clock_id", "tick", "token"}) {
      if (!entry.is_object() || !entry.contains(field) || !entry[field].is_number_unsigned()) {
        return invalid(fmt::format("entry lacks unsigned '{}'", field));
      }
    }
    const uint64_t clock_id = entry["clock_id"].get<uint64_t>();
    if (clock_id > UINT32_MAX) return invalid("clock_id out of range");
    const Key key{entry["peer_id"].get<uint64_t>(), static_cast<uint32_t>(clock_id)};
    const Clock clock{entry["tick"].get<uint64_t>(), entry["token"].get<uint64_t>()};
    // No clock this engine wrote is at tick 0: a tag at tick 0 never creates one.
    if (clock.tick == 0) return invalid("tick 0");
    if (!clocks.emplace(key, clock).second) return invalid("duplicate clock");
  }
  SS_ASSERT(clocks.size() == json.size());
  return clocks;
}

absl::StatusOr<ClockMap> ClockMap::FromJson(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("clocks") || !json["clocks"].is_array()) {
    return absl::DataLossError("clock map: expected an object with a 'clocks' array");
  }
  ClockMap map;
  auto clocks = ClocksFromJson(json["clocks"]);
  if (!clocks.ok()) return clocks.status();
  map.clocks_ = std::move(*clocks);
  if (json.contains("snapshot")) {
    auto snapshot = ClocksFromJson(json["snapshot"]);
    if (!snapshot.ok()) return snapshot.status();
    map.snapshot_ = std::move(*snapshot);
  }
  SS_ASSERT(!map.changed_);
  return map;
}

absl::StatusOr<ClockMap> ClockMap::Load(FileSystem& fs, std::string_view path) {
  SS_ASSERT(!path.empty(), "a clock map is a file, not the root");
  auto contents = ReadSealedFile(fs, path);
  if (absl::IsNotFound(contents.status())) return ClockMap();
  if (!contents.ok()) return contents.status();
  const nlohmann::json json = nlohmann::json::parse(*contents, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::DataLossError(fmt::format("{}: not valid JSON", path));
  auto map = FromJson(json);
  if (!map.ok()) return absl::DataLossError(fmt::format("{}: {}", path, std::string(map.status().message())));
  // The file holds this map: StoreIfChanged has nothing to write until it advances.
  SS_ASSERT(!map->changed());
  return map;
}

absl::Status ClockMap::Store(FileSystem& fs, std::string_view path) {
  SS_ASSERT(!path.empty(), "a clock map is a file, not the root");
  const std::string encoded = ToJson().dump();
  // What Load will read back is this map.
  const auto decoded = FromJson(nlohmann::json::parse(encoded, nullptr, /*allow_exceptions=*/false));
  SS_ASSERT(decoded.ok() && *decoded == *this, "clock map does not read back: {}", encoded);
  if (auto status = WriteSealedFileAtomically(fs, path, encoded); !status.ok()) return status;
  changed_ = false;
  return absl::OkStatus();
}

absl::Status ClockMap::StoreIfChanged(FileSystem& fs, std::string_view path) {
  if (!changed_) return absl::OkStatus();
  return Store(fs, path);
}

}  // namespace engine
