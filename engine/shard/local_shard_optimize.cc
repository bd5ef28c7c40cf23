// The optimizers' common routine (Qdrant's SegmentOptimizer::optimize, on
// proxies) and the merge optimizer. The vacuum optimizer, the threshold
// trigger and cancellation are in local_shard_vacuum.cc.
//
// One optimization: proxy the inputs (writes go on, into an appendable
// segment outside them); build one sealed segment from the frozen inputs in
// temp_segments/ without holder locks, checking for cancellation between
// points; write its completion marker last and move it into segments/; then,
// under the write lock and the updates mutex, apply the proxies' recorded
// deletes and index changes (each at its own op) to it and swap. A cancelled
// or failed optimization instead removes its build and puts the inputs back
// after propagating the proxies' changes into them.
#include <algorithm>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"
#include "engine/segment/segment.h"
#include "engine/shard/local_shard.h"

namespace engine {

struct LocalShard::Optimization {
  uint64_t cancel_epoch = 0;
  std::vector<SegmentId> inputs;
  std::vector<std::shared_ptr<ProxySegment>> proxies;  // one per input
  // The inputs' segment locks: the build reads the wrapped segments without
  // the segments lock, and a snapshot may write an optimizer proxy's
  // recorded changes through into them meanwhile (under these locks).
  std::vector<std::shared_ptr<RwLock>> input_locks;
  // Each input's version when proxied. The result's version starts there,
  // not at the input's current one: changes a snapshot writes through into
  // an input reach the result only at the swap, where a result already at
  // their version would skip them (an index change, by the version rule).
  std::vector<std::optional<SeqNumber>> input_versions;
  std::map<std::string, FieldType> schema;             // indexes at the freeze
  std::string build_dir;                               // in temp_segments/
  std::string final_dir;                               // in segments/
  bool moved = false;  // the build was renamed into segments/
};

absl::StatusOr<bool> LocalShard::OptimizeMerge(size_t* segments_at_pick) {
  auto epoch = BeginOptimization();
  if (!epoch.ok()) return epoch.status();
  return OptimizeSegments(*epoch, [this, segments_at_pick] {
    if (segments_at_pick != nullptr) *segments_at_pick = holder_.Ids().size();
    std::vector<SegmentId> inputs = PickMergeInputs();
    if (inputs.size() < 2) inputs.clear();
    return inputs;
  });
}

std::vector<SegmentId> LocalShard::PickMergeInputs() {
  SS_ASSERT(segments_lock_->held(), "inputs are picked under the segments lock");
  // The two smallest segments (fewest live points, lowest id on ties).
  std::vector<std::pair<size_t, SegmentId>> sizes;
  for (SegmentId id : holder_.Ids()) {
    const LockedSegment* locked = holder_.Get(id);
    ReadLock guard(*locked->lock);
    sizes.emplace_back(locked->segment->LiveCount(), id);
  }
  std::sort(sizes.begin(), sizes.end());
  std::vector<SegmentId> inputs;
  for (size_t i = 0; i < sizes.size() && i < 2; ++i) inputs.push_back(sizes[i].second);
  SS_ASSERT(inputs.size() < 2 || inputs[0] != inputs[1], "segment {} merged with itself", inputs[0]);
  return inputs;
}

absl::StatusOr<bool> LocalShard::OptimizeSegments(
    uint64_t cancel_epoch, const std::function<std::vector<SegmentId>()>& pick) {
  SS_ASSERT(pick != nullptr);
  MutexLock one_at_a_time(*optimizer_mutex_);
  Optimization run{.cancel_epoch = cancel_epoch};
  {
    // Waits for a running snapshot: the inputs are picked and proxied
    // between snapshots, never among a snapshot's own proxies.
    UpgradableReadLock upgradable(*segments_lock_);
    run.inputs = pick();
    if (run.inputs.empty()) return false;
    for (SegmentId id : run.inputs) SS_ASSERT(holder_.Get(id) != nullptr, "picked segment {} is not in the holder", id);
    if (auto status = ProxyOptimizationInputs(run); !status.ok()) return status;
  }
  env_.YieldPoint("optimizer.proxied");
  const auto built = BuildOptimized(run);
  // A build that succeeded is in segments/ already.
  SS_ASSERT(!built.ok() || run.moved, "a built segment outside segments/");
  UpgradableReadLock upgradable(*segments_lock_);
  if (auto status = FinishOptimization(run, built); !status.ok()) return status;
  return true;
}

absl::Status LocalShard::ProxyOptimizationInputs(Optimization& run) {
  SS_ASSERT(segments_lock_->upgradable_held(), "inputs are proxied from the upgradable read");
  SS_ASSERT(!run.inputs.empty(), "an optimization of nothing");
  SS_ASSERT(run.proxies.empty(), "an optimization proxies its inputs once");
  // Writes need an appendable segment outside the inputs.
  std::shared_ptr<SegmentEntry> extra_appendable;
  uint64_t build_number = 0;
  {
    MutexLock updates(*updates_mutex_);
    const auto appendable = holder_.AppendableIds();
    const bool outside = std::any_of(appendable.begin(), appendable.end(), [&](SegmentId id) {
      return std::find(run.inputs.begin(), run.inputs.end(), id) == run.inputs.end();
    });
    if (!outside) {
      auto created = CreateSegment(/*appendable=*/true);
      if (!created.ok()) return created.status();
      extra_appendable = *created;
    }
    build_number = next_segment_number_++;
  }
  run.build_dir = JoinPath(paths_.temp_segments(), fmt::format("{}", build_number));
  run.final_dir = JoinPath(paths_.segments(), fmt::format("{}", build_number));
  for (SegmentId id : run.inputs) {
    const LockedSegment* locked = holder_.Get(id);
    SS_ASSERT(dynamic_cast<const ProxySegment*>(locked->segment.get()) == nullptr,
              "optimizer input {} is already a proxy", id);
    run.proxies.push_back(std::make_shared<ProxySegment>(locked->segment));
    run.input_locks.push_back(locked->lock);
  }
  // The swap is at an op boundary: the write lock excludes the update worker.
  segments_lock_->Upgrade();
  absl::Status status;
  {
    // The schema at the freeze: index ops from here on are recorded by the
    // proxies (taken earlier, it could miss one applied to the inputs while
    // this waited for the write lock).
    MutexLock updates(*updates_mutex_);
    run.schema = payload_schema_;
    if (extra_appendable) status = SyncIndexesWithSchema(*extra_appendable);
    if (status.ok()) status = FlushCopyDestinationsBeforeProxying(run.inputs);
    if (status.ok()) {
      if (extra_appendable) holder_.AddNew(extra_appendable);
      for (size_t i = 0; i < run.inputs.size(); ++i) {
        holder_.Replace(run.inputs[i], run.proxies[i]);
        ReadLock guard(*run.input_locks[i]);
        run.input_versions.push_back(run.proxies[i]->wrapped()->version());
      }
    }
  }
  segments_lock_->Downgrade();
  if (status.ok()) {
    SS_ASSERT(run.proxies.size() == run.inputs.size() && run.input_locks.size() == run.inputs.size());
    SS_ASSERT(run.input_versions.size() == run.inputs.size());
    return status;
  }
  // Nothing was proxied; the extra segment never joined and goes (marker
  // first), or a later load would take it with a stale schema.
  (void)Escalate(status);
  if (extra_appendable == nullptr) return status;
  if (auto removed = RemoveSegmentDirectory(extra_appendable->directory()); !removed.ok()) SetFatal(removed);
  return status;
}

absl::StatusOr<std::shared_ptr<SegmentEntry>> LocalShard::BuildOptimized(Optimization& run) {
  SS_ASSERT(!run.moved, "a build starts once");
  SS_ASSERT(run.proxies.size() == run.inputs.size(), "a build reads one proxy per input");
  // Built where a load wipes it, moved where a load finds it.
  SS_ASSERT(ParentDir(run.build_dir) == paths_.temp_segments(), "build in {}", run.build_dir);
  SS_ASSERT(ParentDir(run.final_dir) == paths_.segments(), "result in {}", run.final_dir);
  // The result will be durable with every op applied before the swap: those
  // ops must be durable in the WAL first.
  {
    MutexLock wal(*wal_mutex_);
    if (auto status = SyncWal(); !status.ok()) {
      SetFatal(status);
      return status;
    }
  }
  const auto cancelled = [&] { return absl::CancelledError("optimization cancelled"); };
  if (OptimizationCancelled(run.cancel_epoch)) return cancelled();
  FileSystem& fs = env_.fs();
  auto segment = Segment::Create(fs, run.build_dir, options_.collection, /*appendable=*/true,
                                 /*complete=*/false);
  if (!segment.ok()) return segment.status();
  for (const auto& [key, type] : run.schema) {
    if (auto created = (*segment)->CreateFieldIndex(0, key, type); !created.ok()) return created.status();
  }
  if (auto status = CopyNewestPoints(run, **segment); !status.ok()) return status;
  if (auto flushed = (*segment)->Flush(/*force=*/true); !flushed.ok()) return flushed.status();
  if (auto status = (*segment)->Seal(); !status.ok()) return status;
  if (auto status = (*segment)->MarkComplete(); !status.ok()) return status;
  // Last chance to cancel while the build is only in temp_segments/ (which
  // a load wipes).
  env_.YieldPoint("optimizer.built");
  if (OptimizationCancelled(run.cancel_epoch)) return cancelled();
  if (auto status = fs.Rename(run.build_dir, run.final_dir); !status.ok()) return status;
  run.moved = true;
  if (auto status = fs.SyncDir(paths_.temp_segments()); !status.ok()) return status;
  if (auto status = fs.SyncDir(paths_.segments()); !status.ok()) return status;
  (*segment)->set_directory(run.final_dir);
  // A merge result is sealed: writes go to appendable segments.
  SS_ASSERT(!(*segment)->is_appendable(), "{} built unsealed", run.final_dir);
  SS_ASSERT(!(*segment)->has_unsaved_changes(), "{} moved before it was durable", run.final_dir);
  env_.YieldPoint("optimizer.moved");
  return std::shared_ptr<SegmentEntry>(std::move(*segment));
}

absl::Status LocalShard::CopyNewestPoints(const Optimization& run, Segment& target) {
  // Read without the segments lock. The wrapped segments change only when a
  // snapshot writes this optimization's recorded changes through, which the
  // result receives at the swap anyway. The highest version of each point
  // wins; tombstones are dropped.
  SS_ASSERT(target.LiveIds().empty(), "{} is not a fresh build", target.directory());
  SS_ASSERT(run.input_locks.size() == run.inputs.size() && run.input_versions.size() == run.inputs.size());
  std::map<PointId, std::pair<SeqNumber, Point>> newest;
  for (size_t i = 0; i < run.inputs.size(); ++i) {
    ReadLock guard(*run.input_locks[i]);
    const SegmentEntry& source = *run.proxies[i]->wrapped();
    if (run.input_versions[i]) target.RaiseVersion(*run.input_versions[i]);
    for (PointId id : source.LiveIds()) {
      const SeqNumber version = *source.point_version(id);
      const auto it = newest.find(id);
      if (it == newest.end() || it->second.first < version) newest[id] = {version, *source.Retrieve(id)};
    }
  }
  for (const auto& [id, entry] : newest) {
    if (OptimizationCancelled(run.cancel_epoch)) return absl::CancelledError("optimization cancelled");
    if (auto upserted = target.Upsert(entry.first, entry.second); !upserted.ok()) return upserted.status();
    // At its newest version: the version rule sees the op that wrote it.
    SS_ASSERT(target.point_version(id) == entry.first, "point {} copied off version {}", id, entry.first);
    env_.YieldPoint("optimizer.copy");
  }
  // Each point once.
  SS_ASSERT(target.LiveIds().size() == newest.size(), "{} holds {} of {} points", target.directory(),
            target.LiveIds().size(), newest.size());
  return absl::OkStatus();
}

absl::Status LocalShard::FinishOptimization(
    Optimization& run, const absl::StatusOr<std::shared_ptr<SegmentEntry>>& built) {
  SS_ASSERT(segments_lock_->upgradable_held(), "the swap runs from the upgradable read");
  absl::Status status = built.status();
  segments_lock_->Upgrade();
  {
    MutexLock updates(*updates_mutex_);
    if (status.ok() && OptimizationCancelled(run.cancel_epoch)) {
      status = absl::CancelledError("optimization cancelled before the swap");
    }
    for (size_t i = 0; status.ok() && i < run.proxies.size(); ++i) {
      status = run.proxies[i]->PropagateTo(**built);
      // The result holds every op its inputs held when proxied.
      SS_ASSERT(!status.ok() || (*built)->version() >= run.input_versions[i], "{} behind input {}",
                (*built)->directory(), run.inputs[i]);
    }
    if (status.ok()) {
      holder_.Remove(run.inputs);
      const SegmentId result_id = holder_.AddNew(*built);
      SS_ASSERT(std::find(run.inputs.begin(), run.inputs.end(), result_id) == run.inputs.end());
      // The inputs' directories go once no segment in the holder uses them.
      for (SegmentId id : holder_.Ids()) {
        for (const auto& proxy : run.proxies) {
          SS_ASSERT(holder_.Get(id)->segment->directory() != proxy->wrapped()->directory(),
                    "replaced {} is still segment {}", proxy->wrapped()->directory(), id);
        }
      }
      for (const auto& proxy : run.proxies) pending_destroy_.push_back(proxy->wrapped()->directory());
    }
  }
  segments_lock_->Downgrade();
  if (status.ok()) return status;
  if (!absl::IsCancelled(status)) SS_COVER(kOptimizationFailed);
  // The build goes first, while the proxies still hold the WAL ack below
  // their changes: a complete leftover in segments/ would otherwise bring
  // back, after a restart, points deleted during the optimization.
  if (auto removed = RemoveOptimizationBuild(run); !removed.ok() && run.moved) SetFatal(removed);
  RestoreOptimizationInputs(run);
  return status;
}

void LocalShard::RestoreOptimizationInputs(Optimization& run) {
  SS_ASSERT(run.proxies.size() == run.inputs.size(), "inputs and proxies out of step");
  // Upgrade before taking the updates mutex (the update worker's order).
  segments_lock_->Upgrade();
  {
    MutexLock updates(*updates_mutex_);
    // Every change recorded during the optimization reaches the wrapped
    // segments before they are put back.
    for (const auto& proxy : run.proxies) {
      if (auto propagated = proxy->Propagate(); !propagated.ok()) SetFatal(propagated);
    }
    for (size_t i = 0; i < run.inputs.size(); ++i) {
      const auto replaced = holder_.Replace(run.inputs[i], run.proxies[i]->wrapped());
      SS_ASSERT(replaced.get() == run.proxies[i].get(), "segment {} was not the proxy", run.inputs[i]);
    }
  }
  segments_lock_->Downgrade();
}

absl::Status LocalShard::RemoveOptimizationBuild(const Optimization& run) {
  SS_ASSERT(!run.build_dir.empty(), "a build without its directory");
  SS_ASSERT(!run.moved || !run.final_dir.empty(), "a moved build without its directory");
  FileSystem& fs = env_.fs();
  if (!run.moved) {
    // temp_segments/ is wiped at load: a leftover there is harmless.
    return RemoveTree(fs, run.build_dir);
  }
  return RemoveSegmentDirectory(run.final_dir);
}

}  // namespace engine
