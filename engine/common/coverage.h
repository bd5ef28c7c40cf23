// Coverage marks: named probes for the rare situations a campaign must
// reach (a torn WAL tail at load, a copy-on-write out of a frozen segment,
// a WAL ack held back by a snapshot, ...). The engine calls
// SS_COVER(Mark::kName) where the situation happens; the campaign reports
// how often each was hit, and a CTest check fails when a CI-sized campaign
// leaves one unhit (a mark never hit is a situation never tested).
//
// Counting is observation only: it never changes what the engine does, so
// it keeps runs deterministic. Counters are process-wide atomics (the real
// world has threads); a simulated run reads them before and after.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace engine {

// X(name, description)
#define SS_COVERAGE_MARKS(X)                                                                        \
  X(kWalTornTailCut, "wal.torn_tail_cut", "a torn WAL tail was cut at load")                        \
  X(kWalEntriesRewritten, "wal.unsynced_entries_rewritten", "WAL entries only in the page cache were rewritten at load") \
  X(kWalAckPinnedBySnapshot, "wal.ack_pinned_by_snapshot", "a WAL ack was held back by a snapshot archiving the WAL") \
  X(kWalAckHeldByWaterline, "wal.ack_held_by_waterline", "a WAL ack stopped at the flushed waterline (unflushed or proxied changes)") \
  X(kCopyOnWrite, "holder.copy_on_write", "a point was moved copy-on-write out of a non-appendable segment") \
  X(kCopyOnWriteFromProxy, "holder.copy_on_write_from_proxy", "a copy-on-write out of a frozen (proxied) segment into the temporary segment") \
  X(kFlushedBeforeProxyingDestination, "holder.flushed_before_proxying_destination", "a segment holding copies whose source deletes were not yet durable was flushed before it became a proxy") \
  X(kDuplicateResolvedAtLoad, "holder.duplicate_resolved_at_load", "two copies of a point on disk, the older one dropped at load") \
  X(kProxyPropagatedDeletes, "proxy.propagated_deletes", "a proxy's recorded deletes were propagated on unproxy") \
  X(kProxyPropagatedIndexChange, "proxy.propagated_index_change", "a proxy's recorded payload-index change was propagated") \
  X(kDoubleProxyPropagated, "proxy.double_propagated", "an outer proxy (a snapshot's) propagated its changes into an inner proxy (an optimizer's)") \
  X(kSnapshotDuringOptimization, "proxy_all.froze_optimizer_proxy", "a snapshot froze a segment an optimization was rebuilding (a proxy of a proxy)") \
  X(kNewSegmentIndexesSynced, "holder.new_segment_indexes_synced", "an index op ran between creating a segment and adding it to the holder; its indexes were synced") \
  X(kTemporarySegmentKept, "proxy_all.temporary_kept", "the temporary segment of proxy_all kept points written during it") \
  X(kTemporarySegmentDropped, "proxy_all.temporary_dropped", "the temporary segment of proxy_all was empty and dropped") \
  X(kSegmentUncommittedTailCut, "segment.uncommitted_tail_cut", "a segment's log tail past its committed length was cut at load") \
  X(kIncompleteSegmentRemoved, "shard.incomplete_segment_removed", "a segment directory without its completion marker was removed at load") \
  X(kClockRejected, "shard.clock_rejected", "an operation was rejected by its clock tag") \
  X(kLoadRefusedDirty, "shard.load_refused_dirty", "a load was refused because a restore was interrupted (initializing flag)") \
  X(kVersionlessSegmentSchemaAdopted, "shard.versionless_schema_adopted", "a segment holding no op had stale indexes at load and took the shard's") \
  X(kWalStopped, "fault.wal_stopped", "a failed WAL write or sync stopped the WAL") \
  X(kWalAppendOutOfSpace, "fault.wal_append_out_of_space", "a WAL append was refused for space and the WAL went on") \
  X(kShardStopped, "fault.shard_stopped", "a failed write or sync of the shard's files stopped the shard") \
  X(kFlushOutOfSpace, "fault.flush_out_of_space", "a flush ran out of space; the shard went on and retried later") \
  X(kFreezeFailedProxiesRestored, "fault.freeze_failed_proxies_restored", "a failed freeze put every proxy back") \
  X(kOptimizationFailed, "fault.optimization_failed", "an optimization failed (not cancelled); its build was removed and its inputs put back") \
  X(kSnapshotFilesRemoved, "fault.snapshot_files_removed", "a failed snapshot removed its partial files") \
  X(kRestoreUndone, "fault.restore_undone", "a failed restore left the live shard as it was and removed its staged copy") \
  X(kDamageDetected, "fault.damage_detected", "a checksum (WAL entry, segment batch, sealed metadata file) caught damaged bytes") \
  X(kFlushedBeforeDedup, "fault.flushed_before_dedup", "a load flushed an interrupted flush's copies before de-duplicating") \
  SS_CLUSTER_COVERAGE_MARKS(X)

// The replica-set layer's marks (engine/cluster/): names start with
// "cluster." and only cluster runs can hit them (IsClusterMark).
#define SS_CLUSTER_COVERAGE_MARKS(X) \
  X(kClusterClockRetry, "cluster.clock_retry", "a write was rejected by a replica's clock and retried with a new tick") \
  X(kClusterPeerDisabled, "cluster.peer_disabled", "a write coordinator locally disabled a failed replica and reported it Dead") \
  X(kClusterDeactivationTimeout, "cluster.deactivation_timeout", "a wait=true write failed: a failed replica was not deactivated in time") \
  X(kClusterForwardedToLeader, "cluster.forwarded_to_leader", "an ordered write was forwarded to its ordering's leader") \
  X(kClusterWriteErasedByTransfer, "cluster.write_erased_by_transfer", "a replica that took a write stopped counting as a success: a transfer from a replica that missed the write reached it") \
  X(kClusterLateReplicaWritten, "cluster.late_replica_written", "a write reached a replica that became updatable while the write ran") \
  X(kClusterReadFellBack, "cluster.read_fell_back", "a read moved on to another replica after a failure") \
  X(kClusterRejectedByState, "cluster.rejected_by_state", "a replica refused a write its state does not accept") \
  X(kClusterStateInstalled, "cluster.state_installed", "a far-behind peer had the collection state installed") \
  X(kTransferStreamBatch, "transfer.stream_batch", "stream_records sent a batch under the proxy's update lock") \
  X(kTransferBatchKeptNewerWrite, "transfer.batch_kept_newer_write", "a stream_records batch or a wal_delta replay left alone a point the receiver wrote directly with a tick the source had not seen") \
  X(kTransferBatchRefusedAfterRestart, "transfer.batch_refused_after_restart", "a stream_records target restarted within the direct-write window refused a batch from a source that had not seen a tick it claimed") \
  X(kWalTickOutOfOrder, "transfer.wal_tick_out_of_order", "a clock-tagged record went into the WAL below a tick an earlier record of its clock holds (a forced replay of an older op)") \
  X(kTransferStaleWriteRefused, "transfer.stale_write_refused", "a transfer target refused a coordinator's write at or below the clocks its batches came with (a stalled request)") \
  X(kTransferForwarded, "transfer.forwarded", "a forward proxy forwarded a live write to the transfer target") \
  X(kTransferCutoffSent, "transfer.cutoff_sent", "stream_records advanced the receiver's cutoff clocks") \
  X(kTransferDeltaResolved, "transfer.delta_resolved", "wal_delta resolved a WAL suffix to replay") \
  X(kTransferDeltaNothing, "transfer.delta_nothing", "wal_delta found the receiver already equal") \
  X(kTransferDeltaFallback, "transfer.delta_fallback", "wal_delta could not be resolved; restarted as stream_records") \
  X(kTransferQueueReplayed, "transfer.queue_replayed", "a queue proxy replayed WAL records (forced) to the receiver") \
  X(kTransferQueueToForward, "transfer.queue_to_forward", "a queue proxy turned into a forward proxy") \
  X(kTransferRetried, "transfer.retried", "a transfer attempt failed and was retried") \
  X(kTransferAborted, "transfer.aborted", "a transfer failed and was aborted") \
  X(kTransferFinished, "transfer.finished", "a transfer finished and its receiver became Active")

enum class Mark : uint32_t {
#define SS_COVERAGE_ENUM(id, name, description) id,
  SS_COVERAGE_MARKS(SS_COVERAGE_ENUM)
#undef SS_COVERAGE_ENUM
  kCount
};

inline constexpr size_t kMarkCount = static_cast<size_t>(Mark::kCount);

struct MarkInfo {
  std::string_view name;
  std::string_view description;
};

inline constexpr std::array<MarkInfo, kMarkCount> kMarkInfo = {{
#define SS_COVERAGE_INFO(id, name, description) {name, description},
    SS_COVERAGE_MARKS(SS_COVERAGE_INFO)
#undef SS_COVERAGE_INFO
}};

inline std::array<std::atomic<uint64_t>, kMarkCount>& CoverageCounters() {
  static std::array<std::atomic<uint64_t>, kMarkCount> counters{};
  return counters;
}

inline constexpr bool IsClusterMark(std::string_view name) {
  return name.starts_with("cluster.") || name.starts_with("transfer.");
}

inline void Cover(Mark mark) {
  CoverageCounters()[static_cast<size_t>(mark)].fetch_add(1, std::memory_order_relaxed);
}

// A copy of every counter (for before/after differences).
inline std::array<uint64_t, kMarkCount> CoverageSnapshot() {
  std::array<uint64_t, kMarkCount> out{};
  for (size_t index = 0; index < kMarkCount; ++index) out[index] = CoverageCounters()[index].load(std::memory_order_relaxed);
  return out;
}

}  // namespace engine

#define SS_COVER(mark) ::engine::Cover(::engine::Mark::mark)
