// The local replica slot of a ShardReplicaSet (Qdrant's Shard enum: Local,
// ForwardProxy, QueueProxy, Dummy). Private to engine/cluster/.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "engine/cluster/replica_set.h"

namespace engine {

// Bound on a write's fan-out rounds: the first, then replicas that became
// updatable while it ran (replica_set_update.cc, docs/cluster.md).
inline constexpr int kFanOutRounds = 4;
// Direct writes remembered before a prune (replica_set_local.cc).
inline constexpr size_t kPruneDirectWritesAt = 4096;
// Earlier direct writes remembered per point (DirectWrite::replaced).
inline constexpr size_t kReplacedTagsKept = 4;

struct ShardReplicaSet::LocalSlot {
  LocalKind kind = LocalKind::kNone;
  std::unique_ptr<LocalShard> shard;  // set for kLocal and the proxies
  PeerId proxy_target = 0;            // the proxies' receiver
  // The registration (ShardTransfer::id) the proxy serves: a driver of an
  // older registration with the same key must leave it alone.
  uint64_t proxy_transfer_id = 0;
  uint64_t queue_next_index = 0;      // kQueueProxy: next WAL index to send
  // kQueueProxy: the clock ticks this shard had seen when the record at
  // queue_next_index came next (its newest clocks when the delta resolved,
  // advanced by every record sent since).
  ClockMap queue_seen_clocks;
  std::optional<uint64_t> ack_pin;    // kQueueProxy: the WAL pin it holds
};

// One fan-out of a tagged write (replica_set_update.cc).
struct ShardReplicaSet::Attempt {
  bool no_targets = false;
  uint32_t replica_count = 0;
  uint32_t minimal = 0;
  uint32_t successes = 0;
  std::vector<PeerId> succeeded;  // the replicas that took the write
  std::set<PeerId> written;       // the replicas it was sent to (or applied locally)
  bool any_completed = false;
  bool clock_rejected = false;
  uint64_t max_echoed_tick = 0;
  struct Failure {
    PeerId peer = 0;
    absl::Status status;
  };
  std::vector<Failure> failures;
  // Replicas not written because this peer had disabled them, while its
  // view of consensus still shows them as a source of truth.
  std::vector<PeerId> skipped_disabled;
};

// A local apply's result as a remote replica would answer it.
inline UpdateResponse ToResponse(const UpdateResult& result) {
  const RemoteUpdateStatus status = result.status == UpdateStatus::kClockRejected ? RemoteUpdateStatus::kClockRejected
                                    : result.status == UpdateStatus::kCompleted  ? RemoteUpdateStatus::kCompleted
                                                                                 : RemoteUpdateStatus::kAcknowledged;
  return UpdateResponse{.status = status, .clock_tag = result.clock_tag};
}

// Transient = the peer may be fine a moment later (network, timeouts, a
// Dummy shard): such failures deactivate the replica.
inline bool IsTransient(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) || absl::IsAborted(status);
}

}  // namespace engine
