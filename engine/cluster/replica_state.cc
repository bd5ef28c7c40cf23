#include "engine/cluster/replica_state.h"

#include <array>
#include <charconv>
#include <utility>

#include <fmt/core.h>

#include "engine/common/assert.h"

namespace engine {
namespace {

// Indexed by the enum value; the names are Qdrant's serde names, so a
// replica_state.json written by one is read by the other.
constexpr std::array<std::string_view, 11> kStateNames = {
    "Active",     "Dead",     "Partial",    "Initializing",        "Listener",       "PartialSnapshot",
    "Recovery",   "Resharding", "ReshardingScaleDown", "ActiveRead", "ManualRecovery",
};
static_assert(kStateNames.size() == static_cast<size_t>(ReplicaState::kManualRecovery) + 1);

// One row of BRIEF-cluster §1's table. L is not a flag: it depends on whether
// the op is forced, so it is a rule.
enum class LocalUpdateRule : uint8_t { kAll, kForcedOnly };

struct Predicates {
  bool active;
  bool readable;
  bool updatable;
  LocalUpdateRule local_update;
  bool source_of_truth;
  bool healthy;
  bool partial_or_recovery;
};

constexpr LocalUpdateRule kAll = LocalUpdateRule::kAll;
constexpr LocalUpdateRule kForced = LocalUpdateRule::kForcedOnly;

// Rows in enum order. Dead and ManualRecovery accept only the `force`
// argument, Recovery/PartialSnapshot also a forced clock tag; the caller
// folds both into `forced`, so the rule is the same at this level.
constexpr std::array<Predicates, 11> kTable = {{
    //  A      R      U      L       S      H      P
    {true, true, true, kAll, true, true, false},          // Active
    {false, false, false, kForced, false, false, false},  // Dead
    {false, false, true, kAll, false, false, true},       // Partial
    {false, false, true, kAll, false, false, false},      // Initializing
    {false, false, true, kAll, false, true, false},       // Listener
    {false, false, false, kForced, false, false, true},   // PartialSnapshot
    {false, false, false, kForced, false, false, true},   // Recovery
    {false, false, true, kAll, true, true, true},         // Resharding
    {true, true, true, kAll, true, true, true},           // ReshardingScaleDown
    {false, true, true, kAll, true, false, true},         // ActiveRead
    {false, false, false, kForced, false, true, true},    // ManualRecovery
}};
static_assert(kTable.size() == kStateNames.size());

// Table-wide facts the replica set relies on: an active replica serves
// everything; a coordinator never sends a write to a replica that would
// refuse it; a source of truth accepts every write.
constexpr bool TableIsCoherent() {
  for (const Predicates& row : kTable) {
    if (row.active && !(row.readable && row.updatable && row.source_of_truth && row.healthy)) return false;
    if (row.updatable && row.local_update != LocalUpdateRule::kAll) return false;
    if (row.source_of_truth && row.local_update != LocalUpdateRule::kAll) return false;
  }
  return true;
}
static_assert(TableIsCoherent());

const Predicates& Row(ReplicaState state) {
  const auto index = static_cast<size_t>(state);
  SS_ASSERT(index < kTable.size(), "replica state {} out of range", index);
  return kTable[index];
}

absl::Status Invalid(std::string_view why) {
  return absl::DataLossError(fmt::format("replica_state.json: {}", why));
}

// Peer ids are JSON object keys, so decimal strings: digits only, no sign,
// no overflow.
std::optional<PeerId> ParsePeerKey(std::string_view key) {
  if (key.empty() || key.size() > 20) return std::nullopt;
  PeerId peer = 0;
  const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), peer);
  if (error != std::errc() || end != key.data() + key.size()) return std::nullopt;
  SS_ASSERT(key.front() >= '0' && key.front() <= '9', "peer key '{}'", key);
  return peer;
}

}  // namespace

std::string_view ReplicaStateName(ReplicaState state) {
  const auto index = static_cast<size_t>(state);
  SS_ASSERT(index < kStateNames.size(), "replica state {} out of range", index);
  return kStateNames[index];
}

std::optional<ReplicaState> ReplicaStateFromName(std::string_view name) {
  for (size_t index = 0; index < kStateNames.size(); index++) {
    if (kStateNames[index] != name) continue;
    const auto state = static_cast<ReplicaState>(index);
    SS_ASSERT(ReplicaStateName(state) == name);
    return state;
  }
  return std::nullopt;
}

bool IsActive(ReplicaState state) { return Row(state).active; }
bool IsReadable(ReplicaState state) { return Row(state).readable; }
bool IsUpdatable(ReplicaState state) { return Row(state).updatable; }
bool AcceptsLocalUpdate(ReplicaState state, bool forced) {
  return Row(state).local_update == LocalUpdateRule::kAll || forced;
}
bool CanBeSourceOfTruth(ReplicaState state) { return Row(state).source_of_truth; }
bool IsHealthy(ReplicaState state) { return Row(state).healthy; }
bool IsPartialOrRecovery(ReplicaState state) { return Row(state).partial_or_recovery; }

std::optional<ReplicaState> ReplicaSetState::Get(PeerId peer) const {
  const auto found = peers.find(peer);
  if (found == peers.end()) return std::nullopt;
  return found->second;
}

nlohmann::json ReplicaSetStateToJson(const ReplicaSetState& state) {
  nlohmann::json peers = nlohmann::json::object();
  for (const auto& [peer, replica_state] : state.peers) {
    peers[std::to_string(peer)] = std::string(ReplicaStateName(replica_state));
  }
  nlohmann::json json = {
      {"is_local", state.is_local},
      {"this_peer_id", state.this_peer_id},
      {"peers", std::move(peers)},
  };
  // Encode then decode in memory: the file reads back as this state.
  SS_ASSERT(ReplicaSetStateFromJson(json).value_or(ReplicaSetState{}) == state);
  return json;
}

absl::StatusOr<ReplicaSetState> ReplicaSetStateFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return Invalid("expected an object");
  if (!json.contains("is_local") || !json["is_local"].is_boolean()) {
    return Invalid("'is_local' must be a boolean");
  }
  if (!json.contains("this_peer_id") || !json["this_peer_id"].is_number_unsigned()) {
    return Invalid("'this_peer_id' must be an unsigned integer");
  }
  if (!json.contains("peers") || !json["peers"].is_object()) {
    return Invalid("'peers' must be an object");
  }
  ReplicaSetState state;
  state.is_local = json["is_local"].get<bool>();
  state.this_peer_id = json["this_peer_id"].get<uint64_t>();
  for (const auto& [key, value] : json["peers"].items()) {
    const std::optional<PeerId> peer = ParsePeerKey(key);
    if (!peer) return Invalid(fmt::format("peer key '{}' is not a peer id", key));
    if (!value.is_string()) return Invalid(fmt::format("state of peer {} is not a string", key));
    const std::optional<ReplicaState> replica_state =
        ReplicaStateFromName(value.get_ref<const std::string&>());
    if (!replica_state) {
      return Invalid(fmt::format("peer {}: unknown replica state '{}'",
                                 key, value.get_ref<const std::string&>()));
    }
    // Two keys such as "7" and "07" name the same peer.
    if (!state.peers.emplace(*peer, *replica_state).second) {
      return Invalid(fmt::format("peer {} listed twice", *peer));
    }
  }
  return state;
}

}  // namespace engine
