#include "engine/clock/clock_map.h"

#include <fmt/format.h>

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
    if (clock.tick < tag.tick) clock = Clock{tag.tick, tag.token};
    accepted = clock.tick == tag.tick && clock.token == tag.token;
    current_tick = clock.tick;
  }
  if (accepted) changed_ = true;
  return {accepted, current_tick};
}

bool ClockMap::AdvanceAndCorrect(ClockTag& tag) {
  const auto [clock_accepted, current_tick] = AdvanceImpl(tag);
  const bool accepted = clock_accepted || tag.force;
  if (!accepted) tag.tick = current_tick;
  return accepted;
}

void ClockMap::Advance(const ClockTag& tag) { (void)AdvanceImpl(tag); }

std::optional<ClockMap::Clock> ClockMap::Get(uint64_t peer_id, uint32_t clock_id) const {
  const auto it = clocks_.find({peer_id, clock_id});
  if (it == clocks_.end()) return std::nullopt;
  return it->second;
}

bool ClockMap::NotAheadOf(const ClockMap& other) const {
  for (const auto& [key, clock] : clocks_) {
    const auto it = other.clocks_.find(key);
    if (it == other.clocks_.end() || it->second.tick < clock.tick) return false;
  }
  return true;
}

nlohmann::json ClockMap::ToJson() const {
  nlohmann::json clocks = nlohmann::json::array();
  for (const auto& [key, clock] : clocks_) {
    clocks.push_back({{"peer_id", key.first},
                      {"clock_id", key.second},
                      {"tick", clock.tick},
                      {"token", clock.token}});
  }
  return {{"clocks", std::move(clocks)}};
}

absl::StatusOr<ClockMap> ClockMap::FromJson(const nlohmann::json& json) {
  const auto invalid = [](std::string_view why) {
    return absl::DataLossError(fmt::format("clock map: {}", why));
  };
  if (!json.is_object() || !json.contains("clocks") || !json["clocks"].is_array()) {
    return invalid("expected an object with a 'clocks' array");
  }
  ClockMap map;
  for (const auto& entry : json["clocks"]) {
    for (const char* field : {"peer_id", "clock_id", "tick", "token"}) {
      if (!entry.is_object() || !entry.contains(field) || !entry[field].is_number_unsigned()) {
        return invalid(fmt::format("entry lacks unsigned '{}'", field));
      }
    }
    const uint64_t clock_id = entry["clock_id"].get<uint64_t>();
    if (clock_id > UINT32_MAX) return invalid("clock_id out of range");
    const Key key{entry["peer_id"].get<uint64_t>(), static_cast<uint32_t>(clock_id)};
    const Clock clock{entry["tick"].get<uint64_t>(), entry["token"].get<uint64_t>()};
    if (!map.clocks_.emplace(key, clock).second) return invalid("duplicate clock");
  }
  return map;
}

absl::StatusOr<ClockMap> ClockMap::Load(FileSystem& fs, std::string_view path) {
  auto contents = ReadSealedFile(fs, path);
  if (absl::IsNotFound(contents.status())) return ClockMap();
  if (!contents.ok()) return contents.status();
  const nlohmann::json json = nlohmann::json::parse(*contents, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::DataLossError(fmt::format("{}: not valid JSON", path));
  auto map = FromJson(json);
  if (!map.ok()) return absl::DataLossError(fmt::format("{}: {}", path, std::string(map.status().message())));
  return map;
}

absl::Status ClockMap::Store(FileSystem& fs, std::string_view path) {
  if (auto status = WriteSealedFileAtomically(fs, path, ToJson().dump()); !status.ok()) return status;
  changed_ = false;
  return absl::OkStatus();
}

absl::Status ClockMap::StoreIfChanged(FileSystem& fs, std::string_view path) {
  if (!changed_) return absl::OkStatus();
  return Store(fs, path);
}

}  // namespace engine
