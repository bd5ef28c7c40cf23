// The merge optimizer (Qdrant's merge optimizer, on proxies).
#include <algorithm>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "engine/segment/segment.h"
#include "engine/shard/local_shard.h"

namespace engine {


absl::StatusOr<bool> LocalShard::OptimizeMerge() {
  if (auto status = health(); !status.ok()) return status;
  MutexLock one_at_a_time(*proxy_all_mutex_);
  UpgradableReadLock upgradable(*segments_lock_);
  // The two smallest segments (fewest live points, lowest id on ties).
  std::vector<std::pair<size_t, SegmentId>> sizes;
  for (SegmentId id : holder_.Ids()) {
    const LockedSegment* locked = holder_.Get(id);
    ReadLock guard(*locked->lock);
    sizes.emplace_back(locked->segment->LiveIds().size(), id);
  }
  if (sizes.size() < 2) return false;
  std::sort(sizes.begin(), sizes.end());
  const std::vector<SegmentId> inputs{sizes[0].second, sizes[1].second};
  // Writes need an appendable segment outside the inputs.
  std::shared_ptr<SegmentEntry> extra_appendable;
  std::map<std::string, FieldType> schema;
  uint64_t build_number = 0;
  {
    MutexLock updates(*updates_mutex_);
    const auto appendable = holder_.AppendableIds();
    const bool outside = std::any_of(appendable.begin(), appendable.end(), [&](SegmentId id) {
      return std::find(inputs.begin(), inputs.end(), id) == inputs.end();
    });
    if (!outside) {
      auto created = CreateSegment(/*appendable=*/true);
      if (!created.ok()) return created.status();
      extra_appendable = *created;
    }
    schema = payload_schema_;
    build_number = next_segment_number_++;
  }
  std::vector<std::shared_ptr<ProxySegment>> proxies;
  for (SegmentId id : inputs) proxies.push_back(std::make_shared<ProxySegment>(holder_.Get(id)->segment));
  segments_lock_->Upgrade();
  for (size_t i = 0; i < inputs.size(); ++i) holder_.Replace(inputs[i], proxies[i]);
  if (extra_appendable) holder_.AddNew(extra_appendable);
  segments_lock_->Downgrade();
  env_.YieldPoint("optimizer.proxied");

  // Build without holder locks: the wrapped segments no longer change.
  FileSystem& fs = env_.fs();
  const std::string build_dir = JoinPath(paths_.temp_segments(), fmt::format("{}", build_number));
  const std::string final_dir = JoinPath(paths_.segments(), fmt::format("{}", build_number));
  absl::StatusOr<std::shared_ptr<Segment>> built = [&]() -> absl::StatusOr<std::shared_ptr<Segment>> {
    // The result will be durable with every op applied before the swap:
    // those ops must be durable in the WAL first.
    {
      MutexLock wal(*wal_mutex_);
      if (auto status = SyncWal(); !status.ok()) {
        SetFatal(status);
        return status;
      }
    }
    auto segment = Segment::Create(fs, build_dir, options_.collection, /*appendable=*/true, /*complete=*/false);
    if (!segment.ok()) return segment.status();
    for (const auto& [key, type] : schema) {
      if (auto created = (*segment)->CreateFieldIndex(0, key, type); !created.ok()) return created.status();
    }
    std::map<PointId, std::pair<SeqNumber, Point>> newest;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const LockedSegment* locked = holder_.Get(inputs[i]);
      ReadLock guard(*locked->lock);
      const SegmentEntry& source = *proxies[i]->wrapped();
      if (source.version()) (*segment)->RaiseVersion(*source.version());
      for (PointId id : source.LiveIds()) {
        const SeqNumber version = *source.point_version(id);
        const auto it = newest.find(id);
        if (it == newest.end() || it->second.first < version) newest[id] = {version, *source.Retrieve(id)};
      }
    }
    for (const auto& [id, entry] : newest) {
      if (auto upserted = (*segment)->Upsert(entry.first, entry.second); !upserted.ok()) return upserted.status();
      env_.YieldPoint("optimizer.copy");
    }
    if (auto flushed = (*segment)->Flush(/*force=*/true); !flushed.ok()) return flushed.status();
    if (auto status = (*segment)->Seal(); !status.ok()) return status;
    if (auto status = (*segment)->MarkComplete(); !status.ok()) return status;
    if (auto status = fs.Rename(build_dir, final_dir); !status.ok()) return status;
    if (auto status = fs.SyncDir(paths_.temp_segments()); !status.ok()) return status;
    if (auto status = fs.SyncDir(paths_.segments()); !status.ok()) return status;
    (*segment)->set_directory(final_dir);
    return std::shared_ptr<Segment>(std::move(*segment));
  }();

  // Swap (or, on failure, put the inputs back after propagating).
  segments_lock_->Upgrade();
  absl::Status status = built.status();
  {
    MutexLock updates(*updates_mutex_);
    if (status.ok()) {
      for (const auto& proxy : proxies) {
        if (status = proxy->PropagateTo(**built); !status.ok()) break;
      }
    }
    if (status.ok()) {
      holder_.Remove(inputs);
      holder_.AddNew(*built);
      for (const auto& proxy : proxies) pending_destroy_.push_back(proxy->wrapped()->directory());
    } else {
      for (size_t i = 0; i < inputs.size(); ++i) {
        if (auto propagated = proxies[i]->Propagate(); !propagated.ok()) SetFatal(propagated);
        holder_.Replace(inputs[i], proxies[i]->wrapped());
      }
    }
  }
  segments_lock_->Downgrade();
  if (!status.ok()) {
    (void)RemoveTree(fs, build_dir);
    return status;
  }
  return true;
}

}  // namespace engine
