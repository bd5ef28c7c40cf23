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
  if (auto status = Plunge(); !status.ok()) return status;
  return pinned;
}

uint64_t LocalShard::PinAck() {
  MutexLock wal(*wal_mutex_);
  const uint64_t first_index = wal_->first_index();
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
  MutexLock wal(*wal_mutex_);
  SyncedWal synced{.sync_status = SyncWal(), .directory = paths_.wal(), .file_names = wal_->FileNames(),
                   .first_index = wal_->first_index(), .next_index = wal_->next_index()};
  synced.synced_clocks = [this] {
    MutexLock clocks(*clocks_mutex_);
    return PinnedClocks{.oldest = oldest_clocks_, .newest = synced_newest_clocks_};
  };
  return visit(synced);
}

uint64_t LocalShard::WalNextIndex() {
  MutexLock wal(*wal_mutex_);
  return wal_->next_index();
}

absl::Status LocalShard::ForEachSegmentFlushed(const std::function<absl::Status(const SegmentEntry&)>& visit) {
  if (auto status = health(); !status.ok()) return status;
  ReadLock segments(*segments_lock_);
  MutexLock updates(*updates_mutex_);
  if (auto flushed = FlushSegmentsWalFirst(/*force=*/true); !flushed.ok()) return Escalate(flushed.status());
  for (SegmentId id : holder_.Ids()) {
    if (auto status = visit(*holder_.Get(id)->segment); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace engine
