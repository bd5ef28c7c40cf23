// proxy_all_segments_and_apply: the heart of a snapshot (docs/engine.md, "Proxy segments").
#include <fmt/format.h>

#include "engine/common/coverage.h"
#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "engine/shard/local_shard.h"

namespace engine {


absl::Status LocalShard::Unproxy(SegmentId id, const std::shared_ptr<ProxySegment>& proxy) {
  // Upgrade before taking the updates mutex: the update worker takes the
  // segments read lock first, then the updates mutex.
  segments_lock_->Upgrade();
  absl::Status status;
  {
    MutexLock updates(*updates_mutex_);
    status = proxy->Propagate();
    if (status.ok()) {
      const auto replaced = holder_.Replace(id, proxy->wrapped());
      SS_ASSERT(replaced.get() == proxy.get(), "segment {} was not the proxy", id);
    }
  }
  segments_lock_->Downgrade();
  SS_ASSERT(!status.ok() || holder_.Get(id)->segment == proxy->wrapped(), "segment {} not put back", id);
  return status;
}

absl::Status LocalShard::FlushCopyDestinationsBeforeProxying(const std::vector<SegmentId>& ids) {
  SS_ASSERT(segments_lock_->write_held(), "proxies are swapped in under the write lock");
  SS_ASSERT(updates_mutex_->held(), "a flush runs under the updates mutex");
  if (!holder_.MustFlushBeforeOthers(ids)) return absl::OkStatus();
  SS_COVER(kFlushedBeforeProxyingDestination);
  absl::Status status = FlushSegmentsWalFirst(/*force=*/false).status();
  // The flush made every recorded copy durable: none waits any more.
  SS_ASSERT(!status.ok() || !holder_.MustFlushBeforeOthers(ids), "copies still wait for a flush");
  return status;
}

absl::Status LocalShard::SyncIndexesWithSchema(SegmentEntry& created) {
  // No index op may run meanwhile.
  SS_ASSERT(segments_lock_->write_held(), "a new segment's indexes are synced under the write lock");
  SS_ASSERT(updates_mutex_->held(), "the schema is read under the updates mutex");
  SS_ASSERT(created.is_appendable(), "{} is not appendable", created.directory());
  SS_ASSERT(!created.version(), "{} holds ops already", created.directory());
  const std::map<std::string, FieldType> indexed = created.indexed_fields();
  if (indexed == payload_schema_) return absl::OkStatus();
  SS_ASSERT(created.LiveIds().empty(), "segment {} took points before joining the holder",
            created.directory());
  SS_COVER(kNewSegmentIndexesSynced);
  // Op 0: the segment holds no op, so its version must not move.
  for (const auto& [key, type] : indexed) {
    if (payload_schema_.contains(key)) continue;
    if (auto dropped = created.DeleteFieldIndex(0, key); !dropped.ok()) return dropped.status();
  }
  for (const auto& [key, type] : payload_schema_) {
    const auto it = indexed.find(key);
    if (it != indexed.end() && it->second == type) continue;
    if (auto made = created.CreateFieldIndex(0, key, type); !made.ok()) return made.status();
  }
  SS_ASSERT(created.indexed_fields() == payload_schema_, "{} did not take the schema", created.directory());
  // Durable now: the index op may already be acked out of the WAL (an ack
  // can run while the segment waits to join the holder). The op itself is
  // made durable first.
  {
    MutexLock wal(*wal_mutex_);
    if (auto status = SyncWal(); !status.ok()) return status;
  }
  auto flushed = created.Flush(/*force=*/true);
  return flushed.status();
}

absl::Status LocalShard::FreezeOptimizerProxies(const SegmentProxies& proxies) {
  SS_ASSERT(segments_lock_->held(), "a write-through runs under the segments lock");
  SS_ASSERT(updates_mutex_->held(), "a write-through runs at an op boundary");
  // A segment an optimization is rebuilding is the optimizer's proxy: its
  // deletes and index changes live only in memory. The snapshot archives
  // files, so they go into the wrapped segment's files first; the optimizer
  // keeps them for its result.
  for (const auto& [id, proxy] : proxies) {
    SS_ASSERT(holder_.Get(id)->segment == proxy, "segment {} is not this freeze's proxy", id);
    auto* inner = dynamic_cast<ProxySegment*>(proxy->wrapped().get());
    if (inner == nullptr) continue;
    SS_COVER(kSnapshotDuringOptimization);
    WriteLock segment(*holder_.Get(id)->lock);
    if (auto status = inner->ApplyToWrappedKeepingRecord(); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<SegmentId>> LocalShard::ProxyAllSegmentsAndApply(
    const FrozenSegmentFn& apply, std::optional<SeqNumber>* frozen_through) {
  SS_ASSERT(apply != nullptr);
  if (auto status = health(); !status.ok()) return status;
  MutexLock one_at_a_time(*proxy_all_mutex_);
  // 1. The upgradable read lock, kept to the end: no other holder change.
  UpgradableReadLock upgradable(*segments_lock_);
  // 2. A temporary appendable segment (inside segments/, so that what is
  //    written during the snapshot survives a restart) and one proxy each.
  //    Only its number and schema are taken under the updates mutex: writes
  //    go on while its files are made (SwapInProxies syncs its indexes).
  SegmentPlan plan;
  {
    MutexLock updates(*updates_mutex_);
    plan = PlanSegment();
  }
  absl::StatusOr<std::shared_ptr<SegmentEntry>> temporary = CreatePlannedSegment(plan, /*appendable=*/true);
  if (!temporary.ok()) return temporary.status();
  std::vector<std::pair<SegmentId, std::shared_ptr<ProxySegment>>> proxies;
  for (SegmentId id : holder_.Ids()) {
    proxies.emplace_back(id, std::make_shared<ProxySegment>(holder_.Get(id)->segment));
  }
  // 3. Swap at an op boundary.
  const auto temporary_id = SwapInProxies(proxies, *temporary, frozen_through);
  if (!temporary_id.ok()) return temporary_id.status();
  // 4. Freeze: the wrapped segments' files equal their frozen state.
  if (auto status = FlushFrozenSegments(proxies); !status.ok()) return status;
  // 5. Apply to each frozen segment and put it back.
  if (auto status = ApplyAndUnproxy(apply, proxies); !status.ok()) return status;
  // 6. The temporary segment's fate.
  return SettleTemporarySegment(*temporary_id);
}

absl::StatusOr<SegmentId> LocalShard::SwapInProxies(const SegmentProxies& proxies,
                                                    const std::shared_ptr<SegmentEntry>& temporary,
                                                    std::optional<SeqNumber>* frozen_through) {
  SS_ASSERT(proxies.size() == holder_.size(), "{} proxies for {} segments", proxies.size(), holder_.size());
  SS_ASSERT(temporary->is_appendable(), "the temporary segment takes the writes");
  SS_ASSERT(temporary->LiveIds().empty(), "the temporary segment joins empty");
  // The write lock excludes the update worker. The temporary segment joins
  // only with the current schema durable (an index op may have been acked
  // since its creation).
  segments_lock_->Upgrade();
  absl::Status frozen;
  {
    MutexLock updates(*updates_mutex_);
    frozen = SyncIndexesWithSchema(*temporary);
    if (frozen.ok()) frozen = FlushCopyDestinationsBeforeProxying(holder_.Ids());
  }
  if (!frozen.ok()) {
    segments_lock_->Downgrade();
    (void)Escalate(frozen);
    // It never joined: its directory goes, or a later load would
    // take it with a stale schema.
    if (auto removed = RemoveSegmentDirectory(temporary->directory()); !removed.ok()) SetFatal(removed);
    return frozen;
  }
  for (const auto& [id, proxy] : proxies) holder_.Replace(id, proxy);
  const SegmentId temporary_id = holder_.AddNew(temporary);
  {
    MutexLock updates(*updates_mutex_);
    if (frozen_through != nullptr) *frozen_through = last_applied_;
  }
  // Every segment but the temporary one is a proxy now.
  SS_ASSERT(holder_.size() == proxies.size() + 1, "segments joined the holder during the swap");
  SS_ASSERT(holder_.AppendableIds() == std::vector<SegmentId>{temporary_id},
            "writes during the freeze must go to the temporary segment {} alone", temporary_id);
  segments_lock_->Downgrade();
  env_.YieldPoint("proxy_all.swapped");
  return temporary_id;
}

absl::Status LocalShard::FlushFrozenSegments(const SegmentProxies& proxies) {
  SS_ASSERT(segments_lock_->upgradable_held(), "the freeze runs under the upgradable read");
  // The wrapped segments can no longer change: flushing them makes their
  // files equal the frozen state (an optimizer's proxy first writes its
  // recorded changes through).
  absl::Status frozen;
  {
    MutexLock updates(*updates_mutex_);
    frozen = FreezeOptimizerProxies(proxies);
    if (frozen.ok()) frozen = FlushSegmentsWalFirst(/*force=*/true).status();
  }
  if (!frozen.ok()) {
    // Out of space the snapshot fails and the shard goes on; any other
    // failure stops the shard. Either way no proxy of this call stays.
    (void)Escalate(frozen);
    if (auto status = UnproxyAll(proxies); !status.ok()) return status;
    SS_COVER(kFreezeFailedProxiesRestored);
    return frozen;
  }
  return absl::OkStatus();
}

absl::Status LocalShard::ApplyAndUnproxy(const FrozenSegmentFn& apply, const SegmentProxies& proxies) {
  SS_ASSERT(segments_lock_->upgradable_held(), "frozen segments are read under the upgradable read");
  // Each is put back after `apply` — all but the last before the next one's
  // `apply`.
  absl::Status result;
  for (size_t i = 0; i < proxies.size(); ++i) {
    const auto& [id, proxy] = proxies[i];
    if (result.ok()) result = apply(id, *proxy->wrapped());
    env_.YieldPoint("proxy_all.applied");
    if (i + 1 < proxies.size()) {
      if (auto status = Unproxy(id, proxy); !status.ok()) return Escalate(status);
    }
  }
  // The last one.
  if (!proxies.empty()) {
    if (auto status = Unproxy(proxies.back().first, proxies.back().second); !status.ok()) {
      return Escalate(status);
    }
  }
  for (const auto& [id, proxy] : proxies) {
    SS_ASSERT(holder_.Get(id)->segment == proxy->wrapped(), "proxy of segment {} outlives its snapshot", id);
  }
  return result;
}

absl::StatusOr<std::optional<SegmentId>> LocalShard::SettleTemporarySegment(SegmentId temporary_id) {
  segments_lock_->Upgrade();
  std::shared_ptr<SegmentEntry> dropped;
  {
    MutexLock updates(*updates_mutex_);
    const LockedSegment* temp = holder_.Get(temporary_id);
    SS_ASSERT(temp != nullptr, "temporary segment {} gone", temporary_id);
    SS_ASSERT(temp->segment->is_appendable(), "temporary segment {} proxied", temporary_id);
    const bool empty = temp->segment->LiveCount() == 0;
    if (empty && holder_.AppendableIds().size() > 1) {
      dropped = holder_.Remove({temporary_id}).front();
      // Its tombstones may carry the newest op: that op stays acknowledged.
      if (dropped->version()) holder_.BumpPersistedVersionOverwrite(*dropped->version());
      // Removed by the next FlushAndAck before it acks, like an optimizer's
      // replaced inputs: until the removal is durable the directory can come
      // back with the points its unflushed tombstones delete (faulty seed
      // 503469: the removal's directory sync failed, a later flush acked past
      // the deletes, a power loss undid the removal).
      pending_destroy_.push_back(dropped->directory());
      for (SegmentId id : holder_.Ids()) {
        SS_ASSERT(holder_.Get(id)->segment != dropped, "dropped segment {} is still {}", temporary_id, id);
      }
    }
    // Writes always find an appendable segment.
    SS_ASSERT(holder_.HasAppendable(), "no appendable segment after the freeze");
  }
  segments_lock_->Downgrade();
  if (dropped == nullptr) {
    SS_COVER(kTemporarySegmentKept);
    return std::optional<SegmentId>(temporary_id);
  }
  SS_COVER(kTemporarySegmentDropped);
  return std::optional<SegmentId>();
}

absl::Status LocalShard::UnproxyAll(const SegmentProxies& proxies) {
  SS_ASSERT(segments_lock_->upgradable_held(), "proxies are put back from the upgradable read");
  for (const auto& [id, proxy] : proxies) {
    if (auto status = Unproxy(id, proxy); !status.ok()) {
      // Propagation is in memory only: a failure is an engine bug, and the
      // proxy must stay rather than lose its recorded changes.
      SetFatal(status);
      return status;
    }
  }
  for (const auto& [id, proxy] : proxies) {
    SS_ASSERT(holder_.Get(id)->segment == proxy->wrapped(), "proxy of segment {} left in place", id);
  }
  return absl::OkStatus();
}

std::vector<SegmentId> LocalShard::SegmentIds() {
  ReadLock segments(*segments_lock_);
  std::vector<SegmentId> ids = holder_.Ids();
  // A loaded shard always has an appendable segment: writes go there.
  SS_ASSERT(!ids.empty() && holder_.Get(ids.front())->segment->is_appendable(), "no appendable segment");
  return ids;
}

size_t LocalShard::ProxyCount() {
  ReadLock segments(*segments_lock_);
  size_t proxies = 0;
  for (SegmentId id : holder_.Ids()) {
    proxies += dynamic_cast<const ProxySegment*>(holder_.Get(id)->segment.get()) != nullptr;
  }
  // Not every segment: an appendable one is never a proxy.
  SS_ASSERT(proxies < holder_.size(), "{} proxies among {} segments", proxies, holder_.size());
  return proxies;
}

}  // namespace engine
