// The collection meta operations a metadata log orders (Qdrant's
// CollectionMetaOperations that touch one collection's shards), the
// consensus-replicated collection state they act on, and the pure apply
// function every peer runs on the same log (BRIEF-cluster §1, §4.2, §4.8,
// §4.9, §8).
//
// Apply is total and deterministic: a validation failure is a user error and
// leaves the state unchanged (the entry is a no-op); nothing halts the log.
// Apply is idempotent for a re-apply after a crash between persisting the
// state and the side effects (a Start whose key is already registered with
// the target still partial/recovery-like is a duplicate; any other
// registered key is a re-apply and proceeds).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "engine/cluster/replica_state.h"

namespace engine {

enum class TransferMethod : uint8_t { kStreamRecords, kWalDelta, kSnapshot };
std::string_view TransferMethodName(TransferMethod method);

// (shard, from, to): at most one transfer per key.
struct TransferKey {
  ShardId shard = 0;
  PeerId from = 0;
  PeerId to = 0;
  auto operator<=>(const TransferKey&) const = default;
};

struct ShardTransfer {
  TransferKey key;
  bool sync = true;  // replicate (source kept); false = move
  TransferMethod method = TransferMethod::kStreamRecords;
  // Which registration this is: set on apply to the collection's count of
  // transfers started so far (a proposal's value is ignored). A key can be
  // registered again after an abort; a driver, or a late or duplicated
  // proposal, of the earlier registration must not act on the new one
  // (cluster seed 1234: a driver stuck 10 s waiting for consensus finished
  // the transfer that replaced its own, whose target had received nothing).
  // Qdrant keys transfers by (shard, from, to) only and cancels the driver
  // task on abort; docs/cluster.md "Transfer identity".
  uint64_t id = 0;
  friend bool operator==(const ShardTransfer&, const ShardTransfer&) = default;
};

struct CollectionParams {
  uint32_t replication_factor = 1;
  uint32_t write_consistency_factor = 1;
  friend bool operator==(const CollectionParams&, const CollectionParams&) = default;
};

// What consensus replicates for one collection.
struct CollectionState {
  CollectionParams params;
  std::set<PeerId> peers;  // peers of the cluster
  std::map<ShardId, std::map<PeerId, ReplicaState>> shards;
  std::map<TransferKey, ShardTransfer> transfers;
  uint64_t transfers_started = 0;  // registrations so far; the last one's id
  friend bool operator==(const CollectionState&, const CollectionState&) = default;

  std::optional<ReplicaState> StateOf(ShardId shard, PeerId peer) const;
  // Transfers of `shard` whose source or target is `peer`.
  std::vector<TransferKey> RelatedTransfers(ShardId shard, PeerId peer) const;
  // Qdrant's is_last_source_of_truth_replica.
  bool IsLastSourceOfTruth(ShardId shard, PeerId peer) const;
  // OK when every replica lives on a known peer, every transfer is keyed by
  // its own key, names an existing shard and known peers (from != to), and no
  // peer is in two transfers of one shard. ApplyMetaOp preserves it;
  // CollectionStateFromJson refuses a state without it.
  absl::Status CheckConsistency() const;
};

// ---- Operations ----
struct CreateCollection {
  CollectionParams params;
  std::set<PeerId> peers;
  std::map<ShardId, std::map<PeerId, ReplicaState>> shards;  // initial states
};
struct SetReplicaState {
  ShardId shard = 0;
  PeerId peer = 0;
  ReplicaState state = ReplicaState::kActive;
  std::optional<ReplicaState> from_state;
};
struct StartTransfer {
  ShardTransfer transfer;
};
// The ops below act on the transfer registered under `key`, and with a
// nonzero `id` only when that is its id (ShardTransfer::id); 0 acts on
// whichever is registered (a hand-written op).
// Abort of the running transfer + Start with another method (sync kept).
struct RestartTransfer {
  TransferKey key;
  TransferMethod method = TransferMethod::kStreamRecords;
  uint64_t id = 0;
};
struct FinishTransfer {
  TransferKey key;
  uint64_t id = 0;
};
struct RecoveryToPartial {
  TransferKey key;
  uint64_t id = 0;
};
struct AbortTransfer {
  TransferKey key;
  std::string reason;
  uint64_t id = 0;
};
struct SetReplicationFactor {
  uint32_t replication_factor = 1;
  uint32_t write_consistency_factor = 1;
};
struct RemovePeer {
  PeerId peer = 0;
};

using MetaOp = std::variant<CreateCollection, SetReplicaState, StartTransfer, RestartTransfer,
                            FinishTransfer, RecoveryToPartial, AbortTransfer, SetReplicationFactor,
                            RemovePeer>;

std::string_view MetaOpName(const MetaOp& op);
// One line for traces and failure reports.
std::string DescribeMetaOp(const MetaOp& op);

// What applying one entry did to the state, for the peer's side effects.
struct ApplyOutcome {
  bool applied = false;
  // The user error when !applied. Also set when applied: a Restart whose
  // Abort part applied but whose Start part was rejected (Qdrant applies the
  // two steps one after the other and keeps the first).
  std::string rejection;
  // Replica state changes (shard, peer, before, after); after = nullopt when
  // the replica was removed.
  struct StateChange {
    ShardId shard = 0;
    PeerId peer = 0;
    std::optional<ReplicaState> before;
    std::optional<ReplicaState> after;
  };
  std::vector<StateChange> state_changes;
  std::vector<ShardTransfer> transfers_started;
  std::vector<ShardTransfer> transfers_finished;
  std::vector<ShardTransfer> transfers_aborted;
};

// Applies `op` to `state`. Never fails: a rejected op leaves `state`
// unchanged and says why.
ApplyOutcome ApplyMetaOp(CollectionState& state, const MetaOp& op);

nlohmann::json CollectionStateToJson(const CollectionState& state);
absl::StatusOr<CollectionState> CollectionStateFromJson(const nlohmann::json& json);
nlohmann::json MetaOpToJson(const MetaOp& op);
absl::StatusOr<MetaOp> MetaOpFromJson(const nlohmann::json& json);

}  // namespace engine
