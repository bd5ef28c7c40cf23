// Flushing and acking: the WAL synced before any segment data it covers is
// flushed, segments flushed in dependency order, the newest clocks stored,
// and the WAL acked up to the waterline; replaced segments removed before.
#include <algorithm>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"
#include "engine/shard/local_shard.h"

namespace engine {

absl::StatusOr<SeqNumber> LocalShard::FlushSegmentsWalFirst(bool force) {
  // The WAL mutex is taken inside both.
  SS_ASSERT(segments_lock_->held(), "a flush runs under the segments lock");
  SS_ASSERT(updates_mutex_->held(), "a flush runs under the updates mutex: no op is applied meanwhile");
  // Under the updates mutex no op is applied meanwhile, so every op whose
  // data the flush persists is in the WAL synced just before: segment data
  // is never durable ahead of its WAL entry.
  {
    MutexLock wal(*wal_mutex_);
    if (auto status = SyncWal(); !status.ok()) return status;
  }
  return holder_.FlushAll(force);
}

absl::Status LocalShard::DestroyReplacedSegments(std::vector<std::string> doomed) {
  // Only FlushAndAck removes them, before it acks (one at a time).
  SS_ASSERT(flush_ack_mutex_->held());
  {
    // Taken on every call, as when the list was taken here: a flush keeps
    // its schedule, so pinned scenarios still replay their interleavings.
    MutexLock updates(*updates_mutex_);
    for (const std::string& dir : doomed) {
      SS_ASSERT(std::find(pending_destroy_.begin(), pending_destroy_.end(), dir) == pending_destroy_.end(),
                "{} is both taken for removal and still pending", dir);
    }
  }
  if (doomed.empty()) return absl::OkStatus();
  // On failure the directories stay pending (RemoveTree of a removed one is a
  // no-op): no later flush may ack while any of them can still come back.
  auto keep_pending = [&](absl::Status status) {
    SS_ASSERT(!status.ok(), "kept pending after a removal that worked");
    MutexLock updates(*updates_mutex_);
    pending_destroy_.insert(pending_destroy_.begin(), doomed.begin(), doomed.end());
    return status;
  };
  for (const std::string& dir : doomed) {
    if (auto status = RemoveSegmentDirectory(dir); !status.ok()) return keep_pending(status);
  }
  return absl::OkStatus();
}

absl::Status LocalShard::RemoveSegmentDirectory(const std::string& dir) {
  SS_ASSERT(ParentDir(dir) == paths_.segments(), "{} is not in {}", dir, paths_.segments());
  SS_ASSERT(!dir.ends_with(".deleted"), "{} is already a leftover", dir);
  FileSystem& fs = env_.fs();
  const std::string doomed = dir + ".deleted";
  auto exists = Exists(fs, dir);
  if (!exists.ok()) return exists.status();
  if (*exists) {
    if (auto status = RemoveTree(fs, doomed); !status.ok()) return status;
    if (auto status = fs.Rename(dir, doomed); !status.ok()) return status;
  }
  // Also when the rename is an earlier attempt's whose sync failed: until
  // it is durable the segment can come back, and an ack after this call
  // would drop deletes it needs (seed 121040: the retry found no "<id>",
  // skipped the sync, and a power loss brought back the merged input).
  if (auto status = fs.SyncDir(paths_.segments()); !status.ok()) return status;
  return RemoveTree(fs, doomed);
}

absl::Status LocalShard::SyncWal() {
  SS_ASSERT(wal_mutex_->held(), "the WAL is synced under its mutex");
  if (auto status = wal_->Sync(); !status.ok()) return status;
  SS_ASSERT(wal_->synced_next_index() == wal_->next_index(), "synced below {} of {}", wal_->synced_next_index(),
            wal_->next_index());
  {
    // Clocks advance with their op's append under the WAL mutex, which the
    // caller holds: every tick here belongs to an op now durable (or one
    // whose append failed, which claims nothing new).
    MutexLock clocks(*clocks_mutex_);
    // Clock ticks only grow: the clocks of an earlier sync are not ahead.
    SS_ASSERT(synced_newest_clocks_.NotAheadOf(newest_clocks_), "newest clocks went back since the last sync");
    synced_newest_clocks_ = newest_clocks_;
  }
  if (options_.observer) options_.observer->OnWalSynced(wal_->next_index());
  return absl::OkStatus();
}

absl::Status LocalShard::StoreSyncedNewestClocks() {
  SS_ASSERT(flush_ack_mutex_->held(), "the stored clocks are guarded by the flush-ack mutex");
  ClockMap synced;
  {
    MutexLock clocks(*clocks_mutex_);
    synced = synced_newest_clocks_;
  }
  if (synced == stored_newest_clocks_) return absl::OkStatus();
  // The stored clocks only advance.
  SS_ASSERT(stored_newest_clocks_.NotAheadOf(synced), "the clocks to store are behind the stored ones");
  if (auto status = synced.Store(env_.fs(), paths_.newest_clocks()); !status.ok()) return status;
  stored_newest_clocks_ = std::move(synced);
  return absl::OkStatus();
}

void LocalShard::FlushWorker() {
  for (;;) {
    {
      MutexLock state(*state_mutex_);
      if (!stopping_) flush_wake_->WaitFor(options_.flush_interval_ns);
      if (stopping_) return;
    }
    // Out of space the flush is retried at the next interval (nothing is
    // acked meanwhile, as in Qdrant); any other failure stopped the shard.
    if (auto status = FlushAndAck(false); !status.ok() && !health().ok()) return;
  }
}

absl::Status LocalShard::FlushAndAck(bool force) {
  // After a fatal error (a failed sync lost pages), nothing may be built on
  // what is on disk until the shard is reloaded.
  if (auto status = health(); !status.ok()) return status;
  absl::Status status = FlushAndAckOnce(force);
  if (absl::IsResourceExhausted(status)) SS_COVER(kFlushOutOfSpace);
  return Escalate(std::move(status));
}

absl::Status LocalShard::FlushAndAckOnce(bool force) {
  // Concurrent calls would let one ack while another is still removing an
  // optimizer's inputs: after a power loss those come back with live copies
  // of points whose deletes the WAL no longer holds.
  MutexLock one_at_a_time(*flush_ack_mutex_);
  // Checked again here: a call that failed while this one waited for the
  // mutex stopped the shard, and nothing may be acked after that (seed
  // 121040: a second flush acked after the first one's removal failed).
  if (auto status = health(); !status.ok()) return status;
  absl::StatusOr<SeqNumber> waterline;
  std::vector<std::string> replaced;
  {
    ReadLock segments(*segments_lock_);
    MutexLock updates(*updates_mutex_);
    waterline = FlushSegmentsWalFirst(force);
    // The waterline claims durable only ops that were applied.
    SS_ASSERT(!waterline.ok() || *waterline <= last_applied_.value_or(0), "waterline {} past the last applied op",
              *waterline);
    // Only segments replaced before this flush: their replacements and every
    // copy-on-write copy made before the swap are now durable. One replaced
    // once the locks are released is left to the next flush, since the
    // copies made since (a point moved out of a sealed input before it was
    // proxied, so that the build left it out) are not (seed 160021257: such
    // an input removed, then a power loss lost the point).
    if (waterline.ok()) replaced.swap(pending_destroy_);
  }
  if (!waterline.ok()) return waterline.status();
  if (auto status = DestroyReplacedSegments(std::move(replaced)); !status.ok()) return status;
  if (auto status = StoreSyncedNewestClocks(); !status.ok()) return status;
  MutexLock wal(*wal_mutex_);
  // Ops applied after the WAL sync above may be in the waterline; the ack
  // stops at what the WAL holds durably.
  uint64_t ack = std::min<uint64_t>(*waterline, wal_->synced_next_index());
  if (*waterline < wal_->synced_next_index() && *waterline > wal_->first_index()) SS_COVER(kWalAckHeldByWaterline);
  // A snapshot archiving the WAL needs every op after its freeze kept.
  if (!ack_pins_.empty() && *ack_pins_.begin() < ack) {
    SS_COVER(kWalAckPinnedBySnapshot);
    ack = *ack_pins_.begin();
  }
  // The ack never passes the waterline (what every segment has flushed), the
  // durable end of the WAL, or a snapshot's pin.
  SS_ASSERT(ack <= *waterline, "ack {} past the waterline {}", ack, *waterline);
  SS_ASSERT(ack <= wal_->synced_next_index(), "ack {} past the synced end {}", ack, wal_->synced_next_index());
  SS_ASSERT(ack_pins_.empty() || ack <= *ack_pins_.begin(), "ack {} past the pin at {}", ack, *ack_pins_.begin());
  // The acked index never decreases.
  if (ack <= wal_->first_index()) return absl::OkStatus();
  absl::Status acked = wal_->Ack(ack);
  SS_ASSERT(!acked.ok() || wal_->first_index() == ack, "acked {} but the WAL starts at {}", ack,
            wal_->first_index());
  return acked;
}

}  // namespace engine
