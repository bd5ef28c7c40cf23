// How a peer reaches another peer: typed requests and responses over a
// PeerNetwork (Qdrant's internal gRPC service between peers, in-process
// here). The engine knows only this interface; sim/cluster/ implements it
// with delay, loss, duplication, reordering and partitions. No sockets.
//
// Delivery contract (what a handler and a caller may rely on, nothing more):
// - A request may be delivered zero, one or several times (duplication), in
//   any order relative to other requests; each delivery runs the handler
//   once, as a task of the receiving peer's process.
// - Call returns the response of one delivery, or an error: Unavailable when
//   the peer is unreachable or down, DeadlineExceeded when no response came
//   within the timeout. An error says nothing about whether the handler ran.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/clock/clock_map.h"
#include "engine/cluster/meta_ops.h"
#include "engine/cluster/replica_state.h"
#include "engine/model/operation.h"
#include "engine/model/types.h"

namespace engine {

enum class WriteOrdering : uint8_t { kWeak, kMedium, kStrong };
std::string_view WriteOrderingName(WriteOrdering ordering);

enum class RemoteUpdateStatus : uint8_t { kAcknowledged, kCompleted, kClockRejected };

// A write for the receiver's local replica (ordering unset), or a write the
// receiver must coordinate itself as the ordering's leader (ordering set,
// no clock tag).
struct UpdateRequest {
  ShardId shard = 0;
  WalRecord record;
  bool wait = false;
  std::optional<WriteOrdering> ordering;
  // Sent by a transfer source's forward proxy (a copy of a write it took),
  // not by a coordinator: exempt from the receiver's batch floor
  // (ShardReplicaSet::RefuseBelowBatches) while that floor is this
  // registration's (key sender -> receiver, id forward_transfer_id). A late
  // copy from an aborted registration's proxy meets a later transfer's floor
  // as a direct write does (cluster seed 4400075869).
  bool forwarded = false;
  uint64_t forward_transfer_id = 0;
  // Set by a wal_delta queue's replay (forced: no clock refuses it): the
  // registration it belongs to. The receiver applies it only while that
  // registration (key and id) is in its state, as a stream_records batch, so
  // a replayed record of an aborted transfer that arrives late (a stalled
  // request) cannot overwrite what a later transfer or later writes put
  // there (cluster seed 3700021486).
  std::optional<TransferKey> replay_transfer_key;
  uint64_t replay_transfer_id = 0;
  // With replay_transfer_key: every clock tick the source had seen when this
  // record came next in its WAL (ShardReplicaSet::SendQueued). The receiver
  // keeps a newer direct write of the record's points that the source had
  // not seen (cluster seed 3800000609; docs/cluster.md, "Stale batches").
  ClockMap replay_source_clocks;
};
struct UpdateResponse {
  RemoteUpdateStatus status = RemoteUpdateStatus::kAcknowledged;
  std::optional<ClockTag> clock_tag;  // corrected on rejection
};

// A client read served by the receiver's local replica only.
struct ReadRequest {
  ShardId shard = 0;
  std::vector<PointId> ids;  // empty = every point
};
struct ReadResponse {
  std::vector<Point> points;  // sorted by id
};

// stream_records batch: the receiver deletes its ids in (after_id,
// through_id] that are not in `points` and upserts `points` (Qdrant's
// SyncPoints). nullopt bounds are open: from the first id, to the last.
// `source_clocks` are the sender's newest clocks when it read the batch: a
// point the receiver wrote directly with a tick the sender had not yet seen
// is newer than the batch and is left alone (a deviation from Qdrant, see
// docs/cluster.md "Stale batches").
// `transfer` names the registration the batch belongs to: the receiver
// applies it only while that registration (key and id) is in its state, so
// a batch of an aborted transfer that arrives late (a stalled request,
// cluster seed 10223) cannot overwrite or delete what a later transfer or
// later writes put there.
struct SyncPointsRequest {
  ShardId shard = 0;
  TransferKey transfer_key;
  uint64_t transfer_id = 0;
  std::optional<PointId> after_id;
  std::optional<PointId> through_id;
  std::vector<Point> points;
  bool wait = false;
  ClockMap source_clocks;
};

struct InitiateTransferRequest {
  TransferKey key;
};
struct RecoveryPointRequest {
  ShardId shard = 0;
};
struct RecoveryPointResponse {
  ClockMap recovery_point;
};
struct UpdateCutoffRequest {
  ShardId shard = 0;
  ClockMap cutoff;
};
// The receiver's replica state for `shard` as it has applied the log.
struct ReplicaStateRequest {
  ShardId shard = 0;
};
struct ReplicaStateResponse {
  std::optional<ReplicaState> state;
  uint64_t applied_index = 0;
};
struct EmptyResponse {};

// From a client (peer id 0, outside the cluster) to its entry peer, which
// coordinates the write or read (Qdrant's REST/gRPC API).
struct ClientWriteRequest {
  ShardId shard = 0;
  Operation operation;
  bool wait = true;
  WriteOrdering ordering = WriteOrdering::kWeak;
};
struct ClientWriteResponse {
  ClockTag clock_tag;
  uint32_t successes = 0;
  uint32_t required = 0;
  bool completed = false;
};
struct ClientReadRequest {
  ShardId shard = 0;
  std::vector<PointId> ids;  // empty = every point
  uint32_t read_factor = 1;
};
struct ClientReadResponse {
  std::vector<Point> points;
  std::vector<PeerId> served_by;
};

// The client's peer id in a PeerNetwork.
inline constexpr PeerId kClientPeer = 0;

using RpcRequest = std::variant<UpdateRequest, ReadRequest, SyncPointsRequest, InitiateTransferRequest,
                                RecoveryPointRequest, UpdateCutoffRequest, ReplicaStateRequest,
                                ClientWriteRequest, ClientReadRequest>;
using RpcResponse = std::variant<UpdateResponse, ReadResponse, RecoveryPointResponse,
                                 ReplicaStateResponse, EmptyResponse, ClientWriteResponse,
                                 ClientReadResponse>;

std::string_view RpcRequestName(const RpcRequest& request);

// Implemented by each peer's node; called once per delivery.
class RpcHandler {
 public:
  virtual ~RpcHandler() = default;
  virtual absl::StatusOr<RpcResponse> Handle(PeerId from, const RpcRequest& request) = 0;
};

class PeerNetwork {
 public:
  virtual ~PeerNetwork() = default;
  // Sends `request` from `from` to `to` and waits at most `timeout_ns`
  // (the environment's clock) for a response. REQUIRES: from != to; `from`
  // may be kClientPeer (a client outside the cluster).
  virtual absl::StatusOr<RpcResponse> Call(PeerId from, PeerId to, RpcRequest request,
                                           int64_t timeout_ns) = 0;
};

}  // namespace engine
