// Replica states of a shard replica and what each permits, as Qdrant's
// replica_set_state.rs defines them (docs/cluster.md, BRIEF-cluster §1).
//
// The predicates are pure functions of the state; the peer-local registry of
// locally disabled peers is applied on top of them by the replica set.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace engine {

using PeerId = uint64_t;
using ShardId = uint32_t;

// Every state of Qdrant v1.19. The simulated cluster reaches Active, Dead,
// Partial, Initializing, Listener and Recovery; the others are kept so that
// replica_state.json files and the predicate table stay complete.
enum class ReplicaState : uint8_t {
  kActive,
  kDead,
  kPartial,
  kInitializing,
  kListener,
  kPartialSnapshot,
  kRecovery,
  kResharding,
  kReshardingScaleDown,
  kActiveRead,
  kManualRecovery,
};

std::string_view ReplicaStateName(ReplicaState state);
std::optional<ReplicaState> ReplicaStateFromName(std::string_view name);

// A: counts as a source of truth that must never disappear.
bool IsActive(ReplicaState state);
// R: may serve client reads.
bool IsReadable(ReplicaState state);
// U: a write coordinator sends writes to it.
bool IsUpdatable(ReplicaState state);
// L: the receiving peer accepts a non-forced write into its local replica.
bool AcceptsLocalUpdate(ReplicaState state, bool forced);
// S: a success there makes a write acceptable (and Medium ordering's leader).
bool CanBeSourceOfTruth(ReplicaState state);
// H
bool IsHealthy(ReplicaState state);
// P: partial or recovery-like (receiving a transfer).
bool IsPartialOrRecovery(ReplicaState state);

// replica_state.json: this peer's copy of the consensus view of one shard.
struct ReplicaSetState {
  PeerId this_peer_id = 0;
  bool is_local = false;
  std::map<PeerId, ReplicaState> peers;
  friend bool operator==(const ReplicaSetState&, const ReplicaSetState&) = default;

  std::optional<ReplicaState> Get(PeerId peer) const;
};

nlohmann::json ReplicaSetStateToJson(const ReplicaSetState& state);
// A clear error (never a crash) for malformed input.
absl::StatusOr<ReplicaSetState> ReplicaSetStateFromJson(const nlohmann::json& json);

}  // namespace engine
