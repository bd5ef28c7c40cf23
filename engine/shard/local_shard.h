// LocalShard: Qdrant's local shard on engine::Env. The update path is WAL
// first: an op's clock tag is checked (newest clocks advance), the op is
// appended to the WAL (not synced), which assigns its op_num, and it is
// queued on a bounded FIFO channel to the single update worker. wait=false
// answers "acknowledged" at once; wait=true answers "completed" after the
// worker synced the WAL and applied the op. A flush worker periodically syncs
// the WAL, flushes every segment in dependency order, persists the newest
// clocks and acks the WAL up to the waterline.
//
// Thread safety: every public method may be called from any task. Lock order
// (a task holding one of these takes only locks further down the list):
//   1. one of the one-at-a-time mutexes: flush-ack, proxy-all, optimizer
//      (never two of them);
//   2. the segments lock (read, upgradable or write; upgrading only from
//      the upgradable read);
//   3. the updates mutex;
//   4. the segment locks (a copy-on-write source before its destination);
//   5. the WAL mutex;
//   6. the clocks mutex;
//   7. the state mutex, and the locks inside the update channel and the
//      oneshots.
// A lock may be skipped (the WAL mutex is taken alone by Update), never
// taken out of order. Where the shard takes one lock inside another it
// asserts the outer one is held (held_lock.h).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/env/channel.h"
#include "engine/env/env.h"
#include "engine/env/oneshot.h"
#include "engine/model/filter.h"
#include "engine/model/operation.h"
#include "engine/clock/clock_map.h"
#include "engine/clock/wal_delta.h"
#include "engine/segment/proxy_segment.h"
#include "engine/holder/segment_holder.h"
#include "engine/shard/held_lock.h"
#include "engine/wal/wal.h"

namespace engine {

class Segment;

// Instrumentation for checkers: told, under the WAL mutex, what the WAL
// holds. The engine never depends on it; it only reports.
class ShardObserver {
 public:
  virtual ~ShardObserver() = default;
  // An op was appended to the WAL with this op_num (not yet durable).
  virtual void OnWalAppend(SeqNumber op_num, const WalRecord& record) {}
  // Every entry below `next_index` is durable.
  virtual void OnWalSynced(uint64_t next_index) {}
};

struct ShardOptions {
  CollectionConfig collection;
  uint64_t wal_segment_capacity_bytes = 64 * 1024;
  size_t update_queue_capacity = 16;      // REQUIRES: > 0
  int64_t flush_interval_ns = 5'000'000;  // 5 ms; REQUIRES: > 0
  // Flush and ack once more when shutting down.
  bool flush_on_shutdown = true;
  ShardObserver* observer = nullptr;  // not owned; may be null
  // Only RestoreSnapshot loads a shard whose `.initializing` flag is set.
  bool ignore_initializing_flag = false;
  // Vacuum optimizer (Qdrant's deleted_threshold): a segment qualifies when
  // its deleted points exceed this share of all its points (live + deleted)
  // and number at least vacuum_min_deleted_points.
  double vacuum_deleted_ratio = 0.2;  // REQUIRES: in [0, 1]
  size_t vacuum_min_deleted_points = 2;
  // OptimizeIfNeeded merges while the shard has more segments than this.
  size_t merge_max_segments = 8;
};

enum class UpdateStatus : uint8_t { kAcknowledged, kCompleted, kClockRejected };
std::string_view UpdateStatusName(UpdateStatus status);

struct UpdateResult {
  std::optional<SeqNumber> op_num;  // absent when the clock rejected the op
  UpdateStatus status = UpdateStatus::kAcknowledged;
  std::optional<ClockTag> clock_tag;  // corrected on rejection
};

// Shard directory layout (relative to the shard's directory).
struct ShardPaths {
  std::string root;
  std::string wal() const;
  std::string segments() const;
  std::string temp_segments() const;
  std::string newest_clocks() const;
  std::string oldest_clocks() const;
  std::string config() const;
};

class LocalShard {
 public:
  // Opens the shard in `dir` (creating an empty one if the directory is
  // empty or missing), recovers it as after a crash (docs/engine.md, "Load
  // after a crash"), and starts the workers.
  static absl::StatusOr<std::unique_ptr<LocalShard>> Load(Env& env, std::string dir,
                                                          ShardOptions options);
  ~LocalShard();
  LocalShard(const LocalShard&) = delete;
  LocalShard& operator=(const LocalShard&) = delete;

  // Stops the workers (after everything queued is applied), flushes if
  // configured, and closes the shard. Later calls fail. Idempotent.
  absl::Status Shutdown();

  absl::StatusOr<UpdateResult> Update(WalRecord record, bool wait);
  // Resolves the filter to ids now, then deletes them as one op.
  absl::StatusOr<UpdateResult> DeleteByFilter(const Filter& filter, bool wait);
  // Returns once every op queued before the call has been applied.
  absl::Status Plunge();
  // Syncs the WAL, flushes all segments and acks the WAL (what the flush
  // worker does periodically).
  // A failure out of space leaves the shard running (the next flush
  // retries); any other failure stops it (see health()).
  absl::Status FlushAndAck(bool force);

  std::optional<Point> Retrieve(PointId id);
  // Points with id > after_id (all when nullopt) passing the filter, sorted
  // by id, at most `limit`.
  std::vector<Point> Scroll(const Filter* filter, std::optional<PointId> after_id, size_t limit);
  size_t Count(const Filter* filter);
  std::vector<ScoredPoint> Search(const Vector& query, const Filter* filter, size_t k);

  // Qdrant's proxy_all_segments_and_apply: freezes every segment behind a
  // proxy at an op boundary (writes go on, into a temporary appendable
  // segment), force-flushes, calls `apply` on each frozen segment, and puts
  // each back after propagating its proxy's changes. The temporary segment
  // is dropped if it stayed empty and another appendable segment exists.
  // Writes block only for the swaps. Returns the temporary segment's id if
  // it was kept. One call at a time per shard.
  using FrozenSegmentFn = std::function<absl::Status(SegmentId, SegmentEntry& frozen)>;
  // `frozen_through`, if given, receives the last op applied at the freeze.
  absl::StatusOr<std::optional<SegmentId>> ProxyAllSegmentsAndApply(
      const FrozenSegmentFn& apply, std::optional<SeqNumber>* frozen_through = nullptr);
  // ---- For the snapshot layer (engine/snapshot/), which builds archives
  // of a shard from these and nothing else. ----

  // The clocks as of now, copied under the WAL mutex (an update advances
  // the clocks and enqueues its op in one WAL-mutex section, so every tick
  // copied belongs to an op queued before the plunge), then a Plunge: every
  // op those clocks count is applied when this returns.
  struct PinnedClocks {
    ClockMap oldest;
    ClockMap newest;
  };
  absl::StatusOr<PinnedClocks> PinClocksAndPlunge();

  // Holds the WAL's ack at or below its first index as of the call (a
  // snapshot archiving the WAL needs the entries it froze after) until
  // UnpinAck of the returned index. Not a destructor: unpinning takes the WAL
  // mutex, where a crash of the simulated process may unwind the task.
  uint64_t PinAck();
  // REQUIRES: `pinned_first_index` came from PinAck or PinAckFrom and is
  // still pinned.
  void UnpinAck(uint64_t pinned_first_index);

  // The WAL after a sync, seen under the WAL mutex (no op is appended while
  // `visit` runs). `sync_status` is the sync's result; `SyncedClocks` reads
  // the clocks as of that sync (what a flush persists: the clock files could
  // already hold ticks of ops appended after the WAL's end).
  struct SyncedWal {
    absl::Status sync_status;
    std::string directory;
    std::vector<std::string> file_names;
    uint64_t first_index = 0;
    uint64_t next_index = 0;
    std::function<PinnedClocks()> synced_clocks;
  };
  // REQUIRES: `visit` does not call into this shard. Returns its result.
  absl::Status WithSyncedWal(const std::function<absl::Status(const SyncedWal&)>& visit);
  // The index the next op appended to the WAL gets.
  uint64_t WalNextIndex();

  // Force-flushes every segment (a failure is escalated as any flush's) and
  // calls `visit` on each segment in the holder, in id order, under the
  // segments read lock and the updates mutex: no op or flush runs in
  // between, so each segment's files hold its version. Fails first if the
  // shard has failed. REQUIRES: `visit` does not call into this shard.
  absl::Status ForEachSegmentFlushed(const std::function<absl::Status(const SegmentEntry&)>& visit);

  // ---- For the replica set (engine/cluster/): clocks, clocks snapshot,
  // cutoff and WAL delta of shard transfers (BRIEF-cluster §1, §4.4-4.6, §5;
  // local_shard_wal_delta.cc), called only by it. Locks per method, in the
  // order of the list above. ----

  // Copies (the newest with its snapshot, if any). Lock: clocks mutex.
  ClockMap NewestClocks();
  ClockMap OldestClocks();
  // Qdrant's to_recovery_point: the clocks snapshot if one exists, else the
  // newest clocks (no snapshot in the result). Lock: clocks mutex.
  ClockMap RecoveryPoint();
  // When the replica leaves Active: snapshots the newest clocks unless a
  // snapshot exists, durably before returning (newest clocks file replaced
  // atomically, directory synced). Taken right after a WAL sync, under the
  // WAL mutex: no tick of an op whose WAL entry a power loss could take is
  // in it (recovery point honesty, §9.5). A retry after a failure persists
  // the snapshot taken in memory. Locks: flush-ack, WAL, clocks mutexes.
  absl::Status TakeClocksSnapshot();
  // When the replica enters Active: drops the snapshot, durably.
  // Locks: flush-ack mutex, then clocks mutex.
  absl::Status ClearClocksSnapshot();
  // stream_records' update_shard_cutoff_point: advances the oldest and the
  // newest clocks to at least `cutoff` per clock (monotone: a clock already
  // past it stays), both durable before returning. The WAL is synced first.
  // REQUIRES: this shard durably holds every op `cutoff` claims (the
  // transfer's batches, waited for). Locks: flush-ack, WAL, clocks mutexes.
  absl::Status UpdateCutoff(const ClockMap& cutoff);
  // On the source: the first WAL index a replica with this recovery point
  // misses, or nullopt when it misses nothing (BRIEF §5 steps (1)-(8), over
  // this shard's RecoveryPoint() and oldest clocks and its WAL from its
  // first index). Refusals are WalDeltaStatus errors (wal_delta.h); a WAL
  // read or decode failure is its own error. Locks: WAL mutex (held for the
  // scan: no op is appended meanwhile), then clocks mutex. `newest_clocks`,
  // when given, receives the newest clocks resolved against: every tick this
  // shard had seen, its WAL up to its end included.
  absl::StatusOr<std::optional<SeqNumber>> ResolveWalDelta(const ClockMap& recovery_point,
                                                           ClockMap* newest_clocks = nullptr);
  // A write a coordinator led, replayed from the WAL by the load.
  struct ReplayedWrite {
    ClockTag tag;
    std::vector<PointId> ids;
  };
  // What the load knew of the writes before it, for the replica set, whose
  // memory of them a restart lost (cluster seeds 4600015057, 5200049910).
  struct LoadNotes {
    // The clock-tagged, non-forced upserts and deletes the load replayed,
    // in WAL order (the newest kReplayedWritesKept).
    std::vector<ReplayedWrite> writes;
    // The newest clocks once the WAL was replayed: every tick this shard
    // claimed before the restart, including writes a flush already
    // acknowledged out of the WAL (which `writes` cannot name).
    ClockMap newest_clocks;
  };
  // Moved out, once. REQUIRES: called by the shard's owner right after
  // Load, before the shard is shared (no lock: only the load wrote them).
  LoadNotes TakeLoadNotes();
  // Up to `max_records` WAL records from index `from`, in order, for a
  // queue proxy replaying the WAL's suffix. NotFound when `from` is below
  // the WAL's first index (truncated), OutOfRange when past its next index;
  // empty at the next index. Lock: WAL mutex.
  absl::StatusOr<std::vector<std::pair<SeqNumber, WalRecord>>> ReadWalRange(SeqNumber from, size_t max_records);
  // Holds the WAL's ack at or below `from` (the queue proxy's wal_keep_from)
  // until UnpinAck(from); returns `from`. NotFound when `from` is below the
  // first index, OutOfRange when past the next index. Lock: WAL mutex.
  absl::StatusOr<uint64_t> PinAckFrom(SeqNumber from);

  Env& env() const { return env_; }
  const ShardOptions& options() const { return options_; }

  // The merge optimizer: proxies the two smallest segments (writes go on,
  // into an appendable segment outside them), builds one non-appendable
  // segment from them in temp_segments/ (highest version of each point wins;
  // deleted points are dropped), writes its completion marker last, moves it
  // into segments/, applies the proxies' pending deletes and index changes,
  // and swaps. The inputs' directories are removed only after a later flush
  // proved the result durable. Returns false if there was nothing to merge.
  // `segments_at_pick`, if given, is set to the number of segments the
  // shard had when the inputs were picked (a merge leaves one fewer).
  absl::StatusOr<bool> OptimizeMerge(size_t* segments_at_pick = nullptr);
  // The vacuum optimizer: rebuilds the segment with the highest share of
  // deleted points (above ShardOptions' thresholds) without them, the same
  // way as a merge of one. Returns false if no segment qualified.
  absl::StatusOr<bool> OptimizeVacuum();
  struct OptimizeReport {
    size_t merges = 0;
    size_t vacuums = 0;
  };
  // Runs the optimizers whose thresholds are crossed: merges while there
  // are more than merge_max_segments segments, then vacuums each segment
  // whose deleted ratio qualifies.
  absl::StatusOr<OptimizeReport> OptimizeIfNeeded();
  // Cancels every optimization that started before this call and has not
  // swapped in its result yet: its proxies' changes are propagated into the
  // wrapped segments, which are put back; its build is removed; it returns
  // CancelledError. Shutdown cancels too.
  void CancelOptimizations();

  // Segment ids in the holder (appendable first, then by id).
  std::vector<SegmentId> SegmentIds();
  // Number of proxies currently in the holder.
  size_t ProxyCount();
  // The payload indexes every segment holds (key -> type).
  std::map<std::string, FieldType> PayloadSchema();

  // Introspection for checkers and state dumps.
  struct Summary {
    std::vector<std::string> segments;  // "id: dir appendable version/persisted points"
    uint64_t wal_first_index = 0;
    uint64_t wal_next_index = 0;
    ClockMap newest_clocks;
    size_t points = 0;
  };
  Summary Summarize();
  // Every live copy of every point: a point must have exactly one.
  std::map<PointId, std::vector<SegmentId>> LiveCopies();
  // Structural invariants (docs/invariants.md I5): a description of the first
  // broken one, or nullopt. Payload indexes agree with payloads; nothing is
  // left in temp_segments/. (Whether the WAL's first index is within the
  // waterline cannot be read off the disk after a restart: a dropped empty
  // segment may have held the newest version; it is not checked here.)
  std::optional<std::string> CheckStructure();
  // The first failure that stopped the shard (failed sync, WAL error).
  absl::Status health();
  const ShardPaths& paths() const { return paths_; }

 private:
  struct OperationData {
    SeqNumber op_num;
    WalRecord record;
    bool wait;
    std::shared_ptr<Oneshot<absl::Status>> done;
  };
  struct Plunger {
    std::shared_ptr<Oneshot<absl::Status>> done;
  };
  struct Stop {};
  using UpdateSignal = std::variant<OperationData, Plunger, Stop>;

  using SegmentProxies = std::vector<std::pair<SegmentId, std::shared_ptr<ProxySegment>>>;

  LocalShard(Env& env, std::string dir, ShardOptions options);
  // ---- Load (local_shard_load.cc). ----
  absl::Status Recover();
  // A restore that was interrupted left the shard dirty: refuse it.
  absl::Status RefuseDirtyShard();
  // Loads every complete segment; collects leftovers to remove later.
  absl::Status LoadSegments(std::vector<std::string>& leftovers);
  // Reads both clock maps (refusing oldest clocks ahead of the newest) and
  // opens the WAL. Changes nothing on disk but what the WAL's own load
  // repairs.
  absl::Status OpenWalAndClocks();
  // Removes interrupted segment creations and deletes, and the optimizer's
  // build area, durably.
  absl::Status RemoveLeftovers(const std::vector<std::string>& leftovers);
  // Resolves copies of a point in several segments (the newest wins) and
  // notes the newest op the segments hold.
  absl::Status DeduplicateLoadedPoints();
  absl::Status EnsureAppendableSegment();
  // At load: computes the shard's indexes from the loaded segments and
  // gives them to segments that hold no op (see local_shard_load.cc).
  // REQUIRES: the segments write lock held.
  void AdoptSchema();
  // A new empty segment in segments/, with the shard's indexes, not yet in
  // the holder. REQUIRES: segments lock (any mode) and updates mutex held.
  absl::StatusOr<std::shared_ptr<SegmentEntry>> CreateSegment(bool appendable);
  // CreateSegment in two steps: the slow one (files, fsyncs) runs without the
  // updates mutex, as Qdrant builds its temporary segment under the
  // upgradable read only. The caller reconciles a schema that moved on since
  // the plan (SyncIndexesWithSchema) before the segment joins the holder.
  struct SegmentPlan {
    std::string directory;                    // a number never used before
    std::map<std::string, FieldType> schema;  // the shard's indexes at the plan
  };
  // REQUIRES: segments lock (any mode) and updates mutex held.
  SegmentPlan PlanSegment();
  // REQUIRES: segments lock (any mode) held; needs no updates mutex.
  absl::StatusOr<std::shared_ptr<SegmentEntry>> CreatePlannedSegment(const SegmentPlan& plan, bool appendable);
  absl::Status ReplayWal();
  void StartWorkers();
  void UpdateWorker();
  void FlushWorker();
  absl::Status ApplyOperation(SeqNumber op_num, const Operation& operation);
  absl::Status ApplyUpsert(SeqNumber op_num, const UpsertPoints& upsert);
  absl::Status ApplyPayloadOperation(SeqNumber op_num, const Operation& operation);
  void SetFatal(const absl::Status& status);
  // The shard's fault policy, applied to a failed write, sync or load of its
  // own files: out of space (ResourceExhausted) the operation is undone and
  // may be retried once space is freed, and a cancellation is no failure;
  // any other error stops the shard (SetFatal) — after a failed sync the
  // kernel may have dropped dirty pages that a later sync would not persist,
  // so nothing may be built on what is on disk until a reload. Returns
  // `status`.
  absl::Status Escalate(absl::Status status);
  // Puts every proxy of a failed ProxyAllSegmentsAndApply back, so that no
  // proxy of a snapshot outlives it (an optimizer restoring its inputs
  // expects its own proxies in the holder). REQUIRES: the segments lock is
  // held in upgradable mode.
  absl::Status UnproxyAll(const SegmentProxies& proxies);
  // Puts a proxied segment back after propagating its changes.
  // REQUIRES: the caller holds the segments lock in upgradable mode.
  absl::Status Unproxy(SegmentId id, const std::shared_ptr<ProxySegment>& proxy);
  // Gives a segment created for the holder (with the schema of its creation)
  // the current schema: index ops may have run between its creation and
  // the write lock that adds it. REQUIRES: segments write lock and updates
  // mutex held; the segment is empty.
  absl::Status SyncIndexesWithSchema(SegmentEntry& created);
  // Flushes every segment if one of ids is still the destination of a move
  // whose source delete waits for it: a proxy of it would be a move source,
  // and no flush order is safe for a segment that is both (a cycle).
  // REQUIRES: segments write lock and updates mutex (no op runs).
  absl::Status FlushCopyDestinationsBeforeProxying(const std::vector<SegmentId>& ids);
  // Writes the recorded changes of every optimizer proxy that `proxies`
  // wrap into the segment below it. REQUIRES: segments lock held (any mode)
  // and updates mutex held.
  absl::Status FreezeOptimizerProxies(const SegmentProxies& proxies);
  // ---- ProxyAllSegmentsAndApply's steps (local_shard_proxy.cc); each
  // REQUIRES the segments lock held in upgradable mode. ----
  // At an op boundary, puts `proxies` in place of their segments and adds
  // `temporary` (a new appendable segment); returns its id. On failure
  // nothing is swapped and `temporary`'s directory is removed.
  absl::StatusOr<SegmentId> SwapInProxies(const SegmentProxies& proxies,
                                          const std::shared_ptr<SegmentEntry>& temporary,
                                          std::optional<SeqNumber>* frozen_through);
  // Makes the frozen segments' files equal their frozen state. On failure
  // every proxy is put back.
  absl::Status FlushFrozenSegments(const SegmentProxies& proxies);
  // Calls `apply` on each frozen segment and puts each back.
  absl::Status ApplyAndUnproxy(const FrozenSegmentFn& apply, const SegmentProxies& proxies);
  // Drops the temporary segment if it stayed empty and another appendable
  // segment exists; returns its id if it was kept.
  absl::StatusOr<std::optional<SegmentId>> SettleTemporarySegment(SegmentId temporary_id);
  // ---- WAL sync (local_shard_flush.cc), reads (local_shard_read.cc). ----
  // REQUIRES: wal mutex held.
  absl::Status SyncWal();
  // Calls `visit` on each segment (appendable first, then by id) under the
  // segments read lock, the updates mutex and the segment's read lock: every
  // segment at the same op boundary. Stops early when `visit` returns false.
  // REQUIRES: no shard lock held (local_shard_read.cc).
  void ReadEverySegment(const std::function<bool(SegmentId, const SegmentEntry&)>& visit);
  // ---- Optimizers (local_shard_optimize.cc). ----
  struct Optimization;
  // The cancellation epoch an optimization starting now compares against;
  // fails if the shard is stopping or stopped.
  absl::StatusOr<uint64_t> BeginOptimization();
  // Cancelled since `epoch` was taken, or shutting down.
  bool OptimizationCancelled(uint64_t epoch);
  // Optimizes the segments `pick` chooses into one new sealed segment
  // (Qdrant's SegmentOptimizer::optimize); false if it chose none. One at a
  // time per shard. The segments lock is held (upgradable) only to pick and
  // proxy the inputs and again to swap: a snapshot may run meanwhile and
  // proxy the optimizer's proxies; the swap then waits for it to end.
  // REQUIRES: no segments lock held. `pick` runs under the upgradable lock.
  absl::StatusOr<bool> OptimizeSegments(uint64_t cancel_epoch,
                                        const std::function<std::vector<SegmentId>()>& pick);
  absl::Status ProxyOptimizationInputs(Optimization& run);
  absl::StatusOr<std::shared_ptr<SegmentEntry>> BuildOptimized(Optimization& run);
  absl::Status CopyNewestPoints(const Optimization& run, Segment& target);
  // REQUIRES: segments lock held in upgradable mode.
  absl::Status FinishOptimization(Optimization& run,
                                  const absl::StatusOr<std::shared_ptr<SegmentEntry>>& built);
  void RestoreOptimizationInputs(Optimization& run);
  absl::Status RemoveOptimizationBuild(const Optimization& run);
  // Candidates. REQUIRE: segments lock held.
  std::vector<SegmentId> PickMergeInputs();
  std::optional<SegmentId> PickVacuumInput();

  // Removes the directories `doomed` of segments an optimizer replaced,
  // taken from pending_destroy_ under the same locks as the flush that made
  // their replacement durable; on failure they go back to pending_destroy_.
  // REQUIRES: flush-ack mutex held.
  absl::Status DestroyReplacedSegments(std::vector<std::string> doomed);
  // Removes a segment's directory in segments/ durably: renamed to
  // `<id>.deleted` and synced first, so that a power loss at any later
  // point leaves a directory the load removes (unlinking the completion
  // marker first is not enough: without a sync of the segment directory a
  // power loss may keep later unlinks and drop the marker's, bringing back
  // a "complete" segment with files missing). A missing directory is fine.
  absl::Status RemoveSegmentDirectory(const std::string& dir);
  // Stores the synced newest clocks if they differ from the stored ones.
  // REQUIRES: flush-ack mutex held (it guards stored_newest_clocks_).
  absl::Status StoreSyncedNewestClocks();
  // `clocks` with the cutoff's token at every tick a cutoff set last.
  // REQUIRES: clocks mutex held.
  ClockMap WithCutoffIdentities(const ClockMap& clocks) const;
  // Syncs the WAL; a failure stops the shard. REQUIRES: WAL mutex held.
  absl::Status SyncWalOrStop();
  // Adds `tag`'s token to known_tokens_. REQUIRES: the WAL mutex held, or
  // the load's replay (nothing else runs).
  void RememberToken(const ClockTag& tag);
  // Notes the clock tick of the record at WAL `index`: one below a tick an
  // earlier record of its clock holds (a forced replay of an older op), or
  // below `floor_tick`, is out of order, and ResolveWalDelta resolves no
  // delta while the WAL holds it. REQUIRES: the WAL mutex held, or the
  // load's replay.
  void NoteWalTick(uint64_t index, const ClockTag& tag, uint64_t floor_tick = 0);
  // Adds a replayed non-forced upsert or delete to replayed_writes_.
  // REQUIRES: the load's replay, `record` clock-tagged.
  void KeepReplayedWrite(const WalRecord& record);
  // The encoded record, or InvalidArgument for one replay would refuse (a
  // payload that is no object, too many ids) or larger than a WAL segment.
  absl::StatusOr<std::string> EncodeForWal(const WalRecord& record) const;
  // FlushAndAck's body, without the fault policy.
  absl::Status FlushAndAckOnce(bool force);
  // Syncs the WAL, then flushes every segment; returns the waterline.
  // REQUIRES: segments lock (any mode) and updates mutex held.
  absl::StatusOr<SeqNumber> FlushSegmentsWalFirst(bool force);

  Env& env_;
  const ShardPaths paths_;
  const ShardOptions options_;

  std::unique_ptr<HeldRwLock> segments_lock_;
  std::unique_ptr<HeldMutex> updates_mutex_;
  SegmentHolder holder_;
  std::map<std::string, FieldType> payload_schema_;  // guarded by updates mutex
  uint64_t next_segment_number_ = 1;                 // guarded by updates mutex

  std::unique_ptr<HeldMutex> proxy_all_mutex_;  // one proxy_all at a time
  std::unique_ptr<HeldMutex> optimizer_mutex_;  // one optimization at a time
  // One FlushAndAck at a time: an ack may pass an optimizer's propagated
  // deletes only after its replaced inputs are durably gone (see FlushAndAck).
  std::unique_ptr<HeldMutex> flush_ack_mutex_;
  // The newest op the segments hold (loaded or applied since).
  std::optional<SeqNumber> last_applied_;    // guarded by updates mutex
  // The last op ApplyOperation was given, by WAL replay or the update
  // worker: WAL order, so strictly increasing.
  std::optional<SeqNumber> last_op_applied_here_;  // guarded by updates mutex
  // WAL-including snapshots and queue proxies in progress hold the ack at
  // or below these; every pin is at or past the WAL's first index.
  std::multiset<uint64_t> ack_pins_;  // guarded by wal mutex
  // Optimizer inputs to delete once a flush made their replacement durable.
  std::vector<std::string> pending_destroy_;  // guarded by updates mutex

  std::unique_ptr<HeldMutex> wal_mutex_;
  std::unique_ptr<Wal> wal_;

  std::unique_ptr<HeldMutex> clocks_mutex_;
  ClockMap newest_clocks_;
  // The newest clocks as of the last WAL sync (guarded by clocks mutex):
  // what the flush persists, so the persisted clocks never claim an op
  // whose WAL entry a power loss can still take (seed 219457: a tick of a
  // lost op came back at the reload and into a WAL-less snapshot).
  ClockMap synced_newest_clocks_;
  ClockMap stored_newest_clocks_;  // guarded by the flush-ack mutex
  // Guarded by the clocks mutex; UpdateCutoff (its only writer) also holds
  // the flush-ack mutex, which orders the file writes.
  ClockMap oldest_clocks_;
  // Per clock, the tick and token of the newest cutoff: after a transfer's
  // batches this shard holds the source's data up to that tick, so that
  // op's token, not the one this shard's own op at the same tick had (a
  // coordinator restarted with its clocks at 0 reuses ticks), names the
  // tick to a WAL delta (WithCutoffIdentities). In memory only (guarded by
  // the clocks mutex): a restart forgets it, and the stored tokens decide.
  std::map<ClockMap::Key, ClockMap::Clock> cutoff_identities_;
  // The tokens of the newest ops appended or replayed here, by clock and
  // tick, for ResolveWalDelta (a reused tick below the newest: cluster seed
  // 4800007101). At most kKnownTokensKept, oldest dropped first (in
  // `known_token_order_`). In memory only. Guarded by the WAL mutex.
  KnownTokens known_tokens_;
  std::deque<KnownTokens::key_type> known_token_order_;
  // The highest tick each clock has in a record of this WAL, and the
  // indexes of the records below it (NoteWalTick), at most
  // kOutOfOrderKept: past that, they are forgotten and
  // `out_of_order_overflow_below_` says the WAL below it may hold some.
  // In memory; the load's replay rebuilds them. Guarded by the WAL mutex.
  std::map<ClockMap::Key, uint64_t> wal_max_ticks_;
  std::set<uint64_t> out_of_order_indexes_;
  uint64_t out_of_order_overflow_below_ = 0;
  // Filled by ReplayWal, taken once by TakeLoadNotes.
  std::deque<ReplayedWrite> replayed_writes_;
  ClockMap load_newest_clocks_;

  BoundedChannel<UpdateSignal> update_channel_;
  std::unique_ptr<Task> update_worker_;
  std::unique_ptr<Task> flush_worker_;

  std::unique_ptr<Mutex> state_mutex_;
  std::unique_ptr<CondVar> flush_wake_;
  bool stopping_ = false;
  bool shut_down_ = false;
  uint64_t optimization_cancel_epoch_ = 0;  // bumped by CancelOptimizations
  absl::Status fatal_;
};

}  // namespace engine
