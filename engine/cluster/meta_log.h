// The metadata log as one peer sees it: Qdrant's consensus (Raft) reduced to
// its contract (BRIEF-cluster §8, docs/cluster.md): a totally ordered log of
// MetaOps that every peer applies in the same order, each at its own pace.
//
// Proposals may be lost or applied twice; a caller that must know uses
// ProposeAndWait and retries. A peer that is far behind may get the state
// installed instead of the entries.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "engine/cluster/meta_ops.h"

namespace engine {

// How long a transfer step waits for the log before it gives up (the step
// fails and the transfer aborts; the op may still be applied later).
inline constexpr int64_t kConsensusWaitNs = 10'000'000'000;  // 10 s

class MetadataLog {
 public:
  virtual ~MetadataLog() = default;
  // Fire and forget: the op may never reach the log, or reach it twice.
  virtual void Propose(const MetaOp& op) = 0;
  // Proposes and waits until this peer has applied the entry that carries
  // it, at most `timeout_ns`. Returns the apply outcome on this peer
  // (a rejected op is a user error, not a failure of the call);
  // DeadlineExceeded when it did not happen in time (it may still happen).
  virtual absl::StatusOr<ApplyOutcome> ProposeAndWait(const MetaOp& op, int64_t timeout_ns) = 0;
  // The index of the last entry this peer has applied (0 = none).
  virtual uint64_t applied_index() = 0;
  // The index of the newest committed entry, as the other peers report it
  // (Qdrant's GetConsensusCommit, which its readiness check asks for).
  virtual uint64_t committed_index() = 0;
  // Waits until every live peer has applied `index`, at most `timeout_ns`.
  virtual absl::Status AwaitAllApplied(uint64_t index, int64_t timeout_ns) = 0;
  // True when this peer has applied every committed entry (Qdrant's idle
  // consensus loop, where sync_local_state runs).
  virtual bool Idle() = 0;
};

// The peer side of applying: the log calls these on the peer's apply task,
// one at a time, in log order. `index` is the entry's log index.
class MetaApplier {
 public:
  virtual ~MetaApplier() = default;
  // Returns what the entry did on this peer (ProposeAndWait reports it).
  virtual ApplyOutcome ApplyEntry(uint64_t index, const MetaOp& op) = 0;
  // A far-behind peer gets the state as of `index` instead of the entries.
  virtual void InstallState(uint64_t index, const CollectionState& state) = 0;
  // The last index this peer has durably applied (the log resumes after it).
  virtual uint64_t DurableAppliedIndex() = 0;
};

}  // namespace engine
