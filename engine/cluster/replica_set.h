// ShardReplicaSet: one shard's replicas as one peer sees them (Qdrant's
// replica_set/mod.rs). It holds this peer's local replica (if any), the
// consensus view of every replica's state (replica_state.json), the
// peer-local registry of locally disabled peers, the coordinator's clocks,
// and the transfer proxies of an outgoing shard transfer.
//
// Writes: UpdateWithConsistency coordinates a client write (or forwards it
// to the leader of its ordering), tags it with a clock and fans it out to
// the local replica and every updatable remote; see docs/cluster.md for what
// an ack means. Reads go to readable replicas only.
//
// Thread safety: every public method may be called from any task of the
// peer's process. Lock order: write-ordering mutex, then the local lock
// (read for updates and reads, write to swap the local replica or its
// proxy), then the proxy update mutex, then the state mutex. The shard's own
// locks come after all of these. Network calls are made holding at most the
// write-ordering mutex, the local lock's read side and the proxy update
// mutex (a forward proxy forwards under it, as Qdrant's does).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/cluster/clock_set.h"
#include "engine/cluster/meta_log.h"
#include "engine/cluster/meta_ops.h"
#include "engine/cluster/replica_state.h"
#include "engine/cluster/transport.h"
#include "engine/shard/local_shard.h"

namespace engine {

enum class LocalKind : uint8_t { kNone, kLocal, kForwardProxy, kQueueProxy, kDummy };
std::string_view LocalKindName(LocalKind kind);

// Instrumentation for checkers: told what the replica set did. The engine
// never depends on it.
class ReplicaSetObserver {
 public:
  virtual ~ReplicaSetObserver() = default;
  // This peer's local replica served a client read while this peer saw it
  // in `state` (nullopt: not a replica) with a local slot of `kind`.
  virtual void OnReadServed(PeerId peer, ShardId shard, std::optional<ReplicaState> state, LocalKind kind) {}
};

struct ReplicaSetOptions {
  ShardId shard = 0;
  PeerId this_peer = 0;
  std::string dir;  // this shard's directory on the peer's disk
  ShardOptions shard_options;
  int64_t rpc_timeout_ns = 2'000'000'000;
  // Qdrant's DEFAULT_SHARD_DEACTIVATION_TIMEOUT is 30 s.
  int64_t deactivation_timeout_ns = 30'000'000'000;
  // Seeds the clock tags' tokens (drawn by the world; random in real runs).
  uint64_t token_seed = 0;
  ReplicaSetObserver* observer = nullptr;  // not owned; may be null
};

// What the client gets for a write it may count as acknowledged.
struct WriteAck {
  ClockTag clock_tag;
  uint32_t successes = 0;
  uint32_t required = 0;  // minimal = min(write_consistency_factor, replicas)
  bool completed = false; // applied (wait=true) rather than only logged
};


// Creates `path` (its parent must exist) and makes the entry durable.
absl::Status EnsureDurableDir(FileSystem& fs, const std::string& path);

// One registration of a transfer: its key and the id consensus gave it.
using RegistrationId = std::pair<TransferKey, uint64_t>;

// How a write to the local replica meets the batch floor
// (ShardReplicaSet::RefuseBelowBatches).
struct FloorCheck {
  bool applies = false;
  // A forward proxy's copy: exempt while the floor is this registration's.
  std::optional<RegistrationId> unless_floor_of;
};

// Counters a checker or a report reads (observation only).
struct ReplicaSetCounters {
  uint64_t clock_rejections = 0;
  uint64_t failures_reported = 0;
  uint64_t reads_served = 0;
};

class ShardReplicaSet {
 public:
  ShardReplicaSet(Env& env, PeerNetwork& network, MetadataLog& log, ReplicaSetOptions options);
  ~ShardReplicaSet();
  ShardReplicaSet(const ShardReplicaSet&) = delete;
  ShardReplicaSet& operator=(const ShardReplicaSet&) = delete;

  // Loads replica_state.json and, if this peer holds a replica, its local
  // shard (a shard that fails to load becomes a Dummy and this peer reports
  // itself). REQUIRES: called once, before any other call.
  absl::Status Load(const CollectionState& applied);
  // Stops transfers' proxies and the local shard. Idempotent.
  absl::Status Shutdown();

  // ---- Client side. ----
  absl::StatusOr<WriteAck> UpdateWithConsistency(const Operation& operation, bool wait,
                                                 WriteOrdering ordering);
  // Reads `ids` (all points when empty) from `read_factor` readable
  // replicas; a point is returned when every replica asked has it (Qdrant's
  // Factor(n) with the All resolution of retrieve), with the first
  // replica's value. REQUIRES: read_factor >= 1.
  struct ReadResult {
    std::vector<Point> points;
    std::vector<PeerId> served_by;
  };
  absl::StatusOr<ReadResult> Read(const std::vector<PointId>& ids, uint32_t read_factor);

  // ---- Requests from other peers. ----
  absl::StatusOr<UpdateResponse> HandleUpdate(PeerId from, const UpdateRequest& request);
  absl::StatusOr<ReadResponse> HandleRead(const ReadRequest& request);
  absl::Status HandleSyncPoints(const SyncPointsRequest& request);
  absl::StatusOr<ClockMap> RecoveryPoint();
  absl::Status UpdateCutoff(const ClockMap& cutoff);

  // ---- The peer applying the metadata log. ----
  // Mirrors the applied state of this shard and performs the local side
  // effects of `outcome` (clock snapshots, an empty shard for a transfer
  // target, dropping a moved-away replica, unproxying after a transfer
  // ended). Persists replica_state.json. Idempotent under re-apply.
  absl::Status OnApplied(const CollectionState& state, const ApplyOutcome& outcome);

  // ---- Outgoing transfers (transfer_*.cc). ----
  // Runs the transfer to its end (Finish proposed) or failure (Abort
  // proposed, proxies reverted). Called on the sender's driver task.
  absl::Status DriveTransfer(const ShardTransfer& transfer);
  // Receiver side of InitiateTransferRequest: waits for the Start to be
  // applied here and the local shard to exist.
  absl::Status PrepareToReceive(const TransferKey& key);

  // ---- Introspection (checkers, idle hook). ----
  std::optional<ReplicaState> LocalState();
  LocalKind local_kind();
  ReplicaSetState replica_state();
  std::map<PeerId, ReplicaState> locally_disabled();
  // Points of the local replica (sorted), nullopt if it holds none.
  std::optional<std::vector<Point>> LocalPoints();
  LocalShard* local_shard_for_checks();
  ReplicaSetCounters counters();
  // Failure reports due again (Qdrant's re-notification with backoff):
  // the SetReplicaState(Dead) proposals sync_local_state would make now.
  std::vector<SetReplicaState> DueFailureReports();

 private:
  struct LocalSlot;
  struct Attempt;
  // Write path (replica_set_update.cc).
  std::optional<PeerId> LeaderFor(WriteOrdering ordering);
  absl::StatusOr<WriteAck> ForwardToLeader(PeerId leader, const Operation& operation, bool wait,
                                           WriteOrdering ordering);
  absl::StatusOr<WriteAck> Coordinate(const Operation& operation, bool wait);
  // Coordinate's attempts, with the clock it holds (and releases after).
  absl::StatusOr<WriteAck> CoordinateWithClock(const Operation& operation, bool wait, ClockSet::Guard& clock,
                                               int64_t started_ns);
  Attempt FanOut(const WalRecord& record, bool wait);
  // Writes, from `first_round` on, every updatable replica not yet in
  // `attempt.written` (round 0: the write's fan-out; later rounds: replicas
  // that became updatable meanwhile), at most kFanOutRounds rounds.
  void WriteRounds(const WalRecord& record, bool wait, int first_round, Attempt& attempt);
  // Writes one replica (the local one through its slot) and records the
  // outcome in `attempt`.
  void WriteReplica(PeerId peer, const WalRecord& record, bool wait, Attempt& attempt);
  // Reports the replicas that failed `attempt` (and the targets of transfers
  // from them, which leave the successes) and, for a wait=true write, waits
  // for their deactivation.
  // Only attempt.failures from `first_failure` on are handled; the skipped
  // disabled replicas only when `first_failure` is 0 (the first call).
  absl::Status HandleFailures(Attempt& attempt, size_t first_failure, bool wait, int64_t write_started_ns);
  // The error of a write left with too few successes by HandleFailures.
  static absl::Status ErasedError(const Attempt& attempt);
  // True if one of `peers` can be a source of truth in the current state.
  bool AnySourceOfTruth(const std::vector<PeerId>& peers);
  // Targets of transfers from `source` that ran while a write started at
  // `since_ns` was in flight (ongoing, or finished here since then).
  std::vector<PeerId> TransferTargetsFrom(PeerId source, int64_t since_ns);
  void AddLocallyDisabled(PeerId peer);
  absl::Status WaitDeactivated(const std::vector<PeerId>& peers);
  // Receiver path (replica_set_local.cc).
  // `floor`: whether to refuse a write at or below the batch floor (a
  // coordinator's direct write to this peer, or a forward proxy's copy
  // unless the floor is its registration's; not this peer's own write as
  // coordinator). `replay_of`: the wal_delta
  // registration a replayed record belongs to; refused unless registered.
  // `replay_source_clocks`: with `replay_of`, the source's clocks as of the
  // record (UpdateRequest::replay_source_clocks).
  absl::StatusOr<UpdateResponse> UpdateLocal(const WalRecord& record, bool wait, const FloorCheck& floor = {},
                                             const std::optional<ShardTransfer>& replay_of = std::nullopt,
                                             const ClockMap* replay_source_clocks = nullptr);
  absl::StatusOr<UpdateResult> ApplyThroughSlot(const WalRecord& record, bool wait, const FloorCheck& floor = {},
                                                const ClockMap* replay_source_clocks = nullptr);
  // Remembers the clock tag of a write applied to the local replica.
  // REQUIRES: batch_sync_mutex_ held.
  void NoteDirectWrite(const WalRecord& record, const UpdateResult& result);
  // Notes `tag` as the newest direct write of `id`, applied at `now_ns`.
  // REQUIRES: batch_sync_mutex_ held, or local_lock_ held exclusively.
  void NoteWriteOf(PointId id, const ClockTag& tag, int64_t now_ns);
  // After a load: notes again, as applied now, the direct writes the loaded
  // shard's WAL replayed. A restart otherwise forgets them, and a
  // stream_records batch from a source that never had such a write deleted
  // it while the clocks still claimed it, so a later wal_delta sent nothing
  // (cluster seed 4600015057). Only writes the WAL still held replay: one
  // a flush acknowledged before the restart stays forgotten. No lock and
  // no prune, so no scheduling point. REQUIRES: local_lock_ held exclusively,
  // local_->shard just loaded.
  void NoteReplayedWrites();
  // Within the direct-write window after a restart, a batch from a source
  // that has not seen every tick this replica claimed at the load is
  // refused: the restart forgot which points those writes reached (a flush
  // had already acknowledged them out of the WAL), and the batch would
  // erase any the source lacks, still in flight to it (cluster seed
  // 5200049910: a write stalled 957 ms on its way to the source). nullopt:
  // apply it. REQUIRES: batch_sync_mutex_ held.
  std::optional<absl::Status> RefuseBatchAfterRestart(const SyncPointsRequest& request);
  // Applies `record` to the local shard and notes it, under the batch sync
  // mutex. When a cut of it was applied instead (WithoutReplacedRetries,
  // WithoutNewerDirectWrites) and `applied_cut` is given, sets it to that
  // cut. REQUIRES: the local lock held, local_->shard set.
  absl::StatusOr<UpdateResult> UpdateAndNote(const WalRecord& record, bool wait, const FloorCheck& floor = {},
                                             const ClockMap* replay_source_clocks = nullptr,
                                             std::optional<WalRecord>* applied_cut = nullptr);
  // A replayed record without the points this replica wrote directly, with
  // a clock tick `source_clocks` had not seen, recently enough that the
  // write may still reach the source (the window of NewerThanBatch), or
  // nullopt when it keeps them all. Only upserts and deletes are cut (the
  // only writes whose effect on a point does not depend on what it held).
  // REQUIRES: batch_sync_mutex_ held.
  std::optional<WalRecord> WithoutNewerDirectWrites(const WalRecord& record, const ClockMap& source_clocks);
  // A clock-tagged write without the points it already reached here and
  // that another direct write reached after it, recently enough (the window
  // of NewerThanBatch), or nullopt when it keeps them all. Its clock takes
  // such a resend as a retry (equal tick and token) and would put it back
  // above the newer write: a forward proxy's copy stalled 2.3 s behind the
  // coordinator's direct resend and a newer acknowledged upsert (cluster
  // seed 4400031009). Qdrant applies it again. REQUIRES: batch_sync_mutex_.
  std::optional<WalRecord> WithoutReplacedRetries(const WalRecord& record);
  // `record` without the points of `kept` written here within the window;
  // logs the count with `log_format`. REQUIRES: batch_sync_mutex_.
  std::optional<WalRecord> WithoutRecentDirectWrites(const WalRecord& record, std::set<PointId> kept,
                                                     std::string_view log_format);
  // A clock rejection (echoing the floor's tick) for a clock-tagged,
  // unforced write at or below the newest clocks the sender of this
  // transfer's batches had seen: the batches brought that op's effect or a
  // newer one, so the write is a stalled request and would overwrite them
  // (cluster seed 60013531). nullopt: apply it. REQUIRES: batch_sync_mutex_.
  std::optional<UpdateResult> RefuseBelowBatches(const WalRecord& record);
  // Raises the batch floor to the batch's source clocks (a batch of another
  // registration than the floor's starts it anew). REQUIRES: batch_sync_mutex_.
  void RaiseBatchFloor(const SyncPointsRequest& request);
  // How long a write's coordinator may still be sending it: every fan-out
  // round reaching every peer at the RPC timeout, doubled.
  int64_t DirectWriteWindowNs();
  // Forgets direct writes older than the window. REQUIRES: batch_sync_mutex_.
  void PruneDirectWrites();
  // The batch's ids this replica wrote directly, within the window, with a
  // tick the batch's sender had not seen. REQUIRES: batch_sync_mutex_ held.
  std::set<PointId> NewerThanBatch(const SyncPointsRequest& request);
  absl::Status CreateEmptyLocal();
  absl::Status DropLocal();
  // Releases the queue proxy's WAL pin and shuts the local shard down; the
  // slot is empty after. REQUIRES: the local lock held for writing.
  absl::Status CloseLocal();
  absl::Status PersistReplicaState();
  // Transfers (transfer_stream.cc, transfer_wal_delta.cc).
  absl::Status StreamRecords(const ShardTransfer& transfer);
  absl::Status WalDelta(const ShardTransfer& transfer, bool& fell_back);
  // REQUIRES: the transfer is this peer's outgoing one; Cancelled if it is
  // no longer registered.
  absl::Status Proxify(const ShardTransfer& transfer, LocalKind kind, uint64_t queue_from,
                       ClockMap queue_seen_clocks = ClockMap());
  void Unproxify();
  // Unproxies if the proxy is `transfer`'s (key and id) and `transfer` is
  // no longer registered.
  void UnproxifyIfOrphaned(const ShardTransfer& transfer);
  // Unproxies if the proxy is `transfer`'s (a failed attempt's retry).
  void UnproxifyOwn(const ShardTransfer& transfer);
  // The slot is a proxy of `transfer` (key and id). REQUIRES: the local lock.
  bool ProxyIsOwnLocked(const ShardTransfer& transfer) const;
  // Puts the plain local shard back in place of its proxy and releases the
  // queue proxy's WAL pin. REQUIRES: the local lock held for writing; the
  // slot is a proxy.
  void RevertProxy();
  absl::Status SendQueued(const ShardTransfer& transfer, bool until_end);
  absl::StatusOr<RpcResponse> CallPeer(PeerId to, RpcRequest request);
  // CallPeer for a request whose answer must be a `Response`; `what` names
  // the request in the error for any other answer.
  template <typename Response>
  absl::StatusOr<Response> CallPeerFor(PeerId to, RpcRequest request, std::string_view what) {
    absl::StatusOr<RpcResponse> rpc = CallPeer(to, std::move(request));
    if (!rpc.ok()) return rpc.status();
    if (const auto* typed = std::get_if<Response>(&*rpc); typed != nullptr) return *typed;
    return absl::InternalError(std::string(what) + " answered with another response type");
  }
  absl::Status WaitRemoteState(const ShardTransfer& transfer, ReplicaState state);
  bool TransferStillRegistered(const ShardTransfer& transfer);
  // REQUIRES: state_mutex_ held. The same test as TransferStillRegistered,
  // for callers that read other state under the same lock.
  bool TransferRegisteredLocked(const ShardTransfer& transfer) const;
  uint64_t NextToken();

  Env& env_;
  PeerNetwork& network_;
  MetadataLog& log_;
  const ReplicaSetOptions options_;
  ClockSet clocks_;

  std::unique_ptr<Mutex> write_ordering_mutex_;
  std::unique_ptr<RwLock> local_lock_;
  std::unique_ptr<LocalSlot> local_;  // guarded by local_lock_
  // A proxy's update lock: a batch read+send and a proxied write exclude
  // each other, so no write slips between a batch's read and its send.
  std::unique_ptr<Mutex> proxy_update_mutex_;
  // Orders a plain local slot's writes against stream_records batches, so a
  // batch never overwrites a direct write it has not seen (docs/cluster.md
  // "Stale batches"). Lock order: local lock, then this, then the state
  // mutex.
  std::unique_ptr<Mutex> batch_sync_mutex_;
  // The newest clock-tagged write applied to each point by a coordinator or
  // forward proxy, kept while its coordinator may still be sending it
  // (DirectWriteWindowNs); after a restart, those its WAL replayed, as if
  // applied at the load (NoteReplayedWrites). Guarded by batch_sync_mutex_
  // (readers and writers hold the local lock too, so the load, holding it
  // exclusively, needs no more).
  struct DirectWrite {
    ClockTag tag;
    int64_t applied_ns = 0;
    // Earlier direct writes of the point this one followed here, oldest
    // first, at most kReplacedTagsKept (WithoutReplacedRetries).
    std::vector<ClockTag> replaced;
  };
  std::map<PointId, DirectWrite> direct_writes_;
  // The clocks the local shard claimed at its load, and when it loaded
  // (RefuseBatchAfterRestart); emptied once the window has passed. Guarded
  // like direct_writes_.
  ClockMap restart_clocks_;
  int64_t restart_ns_ = 0;
  // The batch floor: the newest clocks the sender of the stream_records
  // batches applied here had seen, merged over the batches of one
  // registration (`batch_floor_transfer_`), kept until a batch of another
  // one arrives. In memory only: a restart drops it (docs/cluster.md "Late
  // requests"). Guarded by batch_sync_mutex_.
  ClockMap batch_floor_;
  std::optional<RegistrationId> batch_floor_transfer_;

  std::unique_ptr<Mutex> state_mutex_;
  std::unique_ptr<CondVar> state_changed_;  // signalled on every OnApplied
  CollectionParams params_;                  // guarded by state mutex
  ReplicaSetState state_;                    // guarded by state mutex
  std::map<TransferKey, ShardTransfer> transfers_;  // of this shard; guarded by state mutex
  // Transfers of this shard whose Finish this peer applied, with when (the
  // newest 32); guarded by state mutex.
  struct FinishedTransfer {
    TransferKey key;
    int64_t applied_ns = 0;
  };
  std::vector<FinishedTransfer> recent_finished_;
  struct DisabledPeer {
    std::optional<ReplicaState> from_state;
    int64_t next_report_ns = 0;
    int64_t backoff_ns = 1'000'000'000;
  };
  std::map<PeerId, DisabledPeer> disabled_;  // guarded by state mutex
  ReplicaSetCounters counters_;              // guarded by state mutex
  uint64_t token_counter_ = 0;               // guarded by state mutex
  std::atomic<bool> shut_down_ = false;
};

}  // namespace engine
