// The vacuum optimizer (Qdrant's vacuum optimizer), the threshold trigger
// that runs the optimizers, and cancellation. The optimization itself is the
// routine shared with merge (local_shard_optimize.cc).
#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/segment/segment.h"
#include "engine/shard/local_shard.h"

namespace engine {

absl::StatusOr<uint64_t> LocalShard::BeginOptimization() {
  if (auto status = health(); !status.ok()) return status;
  MutexLock state(*state_mutex_);
  SS_ASSERT(!shut_down_ || stopping_, "a shut-down shard that is not stopping");
  if (stopping_) return absl::UnavailableError("the shard is shutting down");
  // Taken before waiting for a running optimization or snapshot, so that a
  // cancel issued meanwhile applies to this one too.
  return optimization_cancel_epoch_;
}

bool LocalShard::OptimizationCancelled(uint64_t epoch) {
  MutexLock state(*state_mutex_);
  // Epochs only grow: an optimization never holds one from the future.
  SS_ASSERT(epoch <= optimization_cancel_epoch_, "epoch {} ahead of {}", epoch, optimization_cancel_epoch_);
  return stopping_ || optimization_cancel_epoch_ != epoch;
}

void LocalShard::CancelOptimizations() {
  MutexLock state(*state_mutex_);
  SS_ASSERT(optimization_cancel_epoch_ < UINT64_MAX, "the cancel epoch would wrap");
  ++optimization_cancel_epoch_;
}

absl::StatusOr<bool> LocalShard::OptimizeVacuum() {
  auto epoch = BeginOptimization();
  if (!epoch.ok()) return epoch.status();
  return OptimizeSegments(*epoch, [this] {
    const std::optional<SegmentId> input = PickVacuumInput();
    return input ? std::vector<SegmentId>{*input} : std::vector<SegmentId>{};
  });
}

std::optional<SegmentId> LocalShard::PickVacuumInput() {
  SS_ASSERT(segments_lock_->held(), "inputs are picked under the segments lock");
  // The most littered segment (highest deleted share, lowest id on ties)
  // among those past both thresholds.
  std::optional<SegmentId> worst;
  double worst_ratio = 0;
  for (SegmentId id : holder_.Ids()) {
    const LockedSegment* locked = holder_.Get(id);
    ReadLock guard(*locked->lock);
    // Only plain segments keep tombstones; a proxy belongs to a running
    // optimization or snapshot.
    const auto* segment = dynamic_cast<const Segment*>(locked->segment.get());
    if (segment == nullptr) continue;
    const size_t deleted = segment->deleted_count();
    const size_t total = deleted + segment->LiveCount();
    if (deleted == 0 || deleted < options_.vacuum_min_deleted_points) continue;
    const double ratio = static_cast<double>(deleted) / static_cast<double>(total);
    if (ratio <= options_.vacuum_deleted_ratio) continue;
    if (!worst || ratio > worst_ratio || (ratio == worst_ratio && id < *worst)) {
      worst = id;
      worst_ratio = ratio;
    }
  }
  SS_ASSERT(!worst || worst_ratio > options_.vacuum_deleted_ratio, "segment {} under the threshold", *worst);
  SS_ASSERT(worst_ratio <= 1, "more deleted points than points");
  return worst;
}

absl::StatusOr<LocalShard::OptimizeReport> LocalShard::OptimizeIfNeeded() {
  OptimizeReport report;
  // Bounded by the segments there are now: writes going on meanwhile must
  // not keep the loops running.
  const size_t rounds = SegmentIds().size();
  for (size_t round = 0; round < rounds && SegmentIds().size() > options_.merge_max_segments; ++round) {
    auto merged = OptimizeMerge();
    if (!merged.ok()) return merged.status();
    if (!*merged) break;
    ++report.merges;
  }
  for (size_t round = 0; round < rounds; ++round) {
    auto vacuumed = OptimizeVacuum();
    if (!vacuumed.ok()) return vacuumed.status();
    if (!*vacuumed) break;
    ++report.vacuums;
  }
  SS_ASSERT(report.merges <= rounds, "{} merges in {} rounds", report.merges, rounds);
  SS_ASSERT(report.vacuums <= rounds, "{} vacuums in {} rounds", report.vacuums, rounds);
  return report;
}

}  // namespace engine
