// LocalShard's snapshot API (local_shard.h): what engine/snapshot/ needs of
// a shard's locks, clocks and WAL to archive it, and nothing more.
#include "engine/common/assert.h"
#include "engine/shard/local_shard.h"

namespace engine {

absl::StatusOr<LocalShard::PinnedClocks> LocalShard::PinClocksAndPlunge() {
  PinnedClocks pinned;
  {
    // Under the WAL mutex: a tick pinned while its op was still being
    // appended to the WAL would be queued behind the plunger (seed 91511).
    MutexLock wal(*wal_mutex_);
    MutexLock clocks(*clocks_mutex_);
    pinned.oldest = oldest_clocks_;
    pinned.newest = newest_clocks_;
  }
  SS_ASSERT(pinned.oldest.NotAheadOf(pinned.newest), "oldest clocks ahead of the newest");
  // The oldest clocks are pinned as loaded; the newest only grow.
  if (auto status = Plunge(); !status.ok()) return status;
  return pinned;
}

uint64_t LocalShard::PinAck() {
  MutexLock wal(*wal_mutex_);
  const uint64_t first_index = wal_->first_index();
  // Pins are taken at or past the first index then (PinAckFrom's may be
  // past it), and the ack stops at the lowest: none is below it now.
  SS_ASSERT(ack_pins_.empty() || *ack_pins_.begin() >= first_index, "WAL starts at {}, pinned at {}", first_index,
            *ack_pins_.begin());
  ack_pins_.insert(first_index);
  return first_index;
}

void LocalShard::UnpinAck(uint64_t pinned_first_index) {
  MutexLock wal(*wal_mutex_);
  const auto it = ack_pins_.find(pinned_first_index);
  SS_ASSERT(it != ack_pins_.end(), "the WAL ack is not pinned at {}", pinned_first_index);
  ack_pins_.erase(it);
}

absl::Status LocalShard::WithSyncedWal(const std::function<absl::Status(const SyncedWal&)>& visit) {
  SS_ASSERT(visit != nullptr);
  MutexLock wal(*wal_mutex_);
  SyncedWal synced{.sync_status = SyncWal(), .directory = paths_.wal(), .file_names = wal_->FileNames(),
                   .first_index = wal_->first_index(), .next_index = wal_->next_index()};
  SS_ASSERT(synced.first_index <= synced.next_index);
  synced.synced_clocks = [this] {
    // Called by `visit`, under the WAL mutex (the clocks mutex goes inside it).
    SS_ASSERT(wal_mutex_->held(), "synced clocks read outside WithSyncedWal");
    MutexLock clocks(*clocks_mutex_);
    SS_ASSERT(oldest_clocks_.NotAheadOf(synced_newest_clocks_), "oldest clocks ahead of the synced ones");
    return PinnedClocks{.oldest = oldest_clocks_, .newest = synced_newest_clocks_};
  };
  return visit(synced);
}

uint64_t LocalShard::WalNextIndex() {
  MutexLock wal(*wal_mutex_);
  SS_ASSERT(wal_->first_index() <= wal_->next_index());
  return wal_->next_index();
}

absl::Status LocalShard::ForEachSegmentFlushed(const std::function<absl::Status(const SegmentEntry&)>& visit) {
  SS_ASSERT(visit != nullptr);
  if (auto status = health(); !status.ok()) return status;
  ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  if (auto flushed = FlushSegmentsWalFirst(/*force=*/true); !flushed.ok()) return Escalate(flushed.status());
  for (SegmentId id : holder_.Ids()) {
    const SegmentEntry& segment = *holder_.Get(id)->segment;
    // Each segment's files hold its version.
    SS_ASSERT(segment.persisted_version() == segment.version() || dynamic_cast<const ProxySegment*>(&segment),
              "{} unsaved after a forced flush", segment.directory());
    if (auto status = visit(segment); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace engine
