#include "properties/taken_snapshot.h"

#include <fmt/format.h>

#include "properties/workload.h"

namespace properties {

TakenSnapshot MakeTakenSnapshot(SnapshotKind kind, std::string path, bool save_wal, const engine::SnapshotInfo& info,
                                std::optional<engine::SeqNumber> applied_before, const History& history) {
  // Every op known applied before the call is in the freeze. The engine
  // knows only the ops that changed a segment (after a restore, its count
  // starts at the segments' highest version), so trailing ops that changed
  // nothing may be missing from its frozen_through.
  std::optional<engine::SeqNumber> frozen = info.frozen_through;
  if (applied_before && (!frozen || *frozen < *applied_before)) frozen = applied_before;
  std::optional<engine::SeqNumber> last_held = frozen;
  if (save_wal) last_held = info.wal_next_index == 0 ? std::nullopt : std::optional(info.wal_next_index - 1);
  return TakenSnapshot{.kind = kind,
                       .path = std::move(path),
                       .save_wal = save_wal,
                       .frozen_through = frozen,
                       .wal_next_index = info.wal_next_index,
                       .history = history.Save(),
                       .clocks_bound = last_held ? history.ClocksAfterWriteOf(*last_held) : std::nullopt,
                       .manifest = info.manifest};
}

std::optional<size_t> MatchRestored(engine::LocalShard& shard, const TakenSnapshot& snapshot,
                                    const engine::CollectionConfig& collection) {
  const std::vector<engine::Point> actual = shard.Scroll(nullptr, std::nullopt, SIZE_MAX);
  const OperationHistory& operations = snapshot.history.operations;
  const auto matches = [&](const ReferenceModel& model) { return ExpectedPoints(model, collection) == actual; };
  const size_t frozen_length = snapshot.frozen_through ? operations.PrefixLengthThrough(*snapshot.frozen_through) : 0;
  if (!snapshot.save_wal) {
    if (matches(operations.StateAfterPrefix(frozen_length))) return frozen_length;
    return std::nullopt;
  }
  const size_t last = snapshot.wal_next_index == 0 ? 0 : operations.PrefixLengthThrough(snapshot.wal_next_index - 1);
  ReferenceModel model = operations.StateAfterPrefix(frozen_length);
  for (size_t length = frozen_length;; ++length) {
    if (matches(model)) return length;
    if (length >= last) return std::nullopt;
    model.Apply(operations.op_num(length), operations.operation(length));
  }
}

std::optional<RestoredProblem> CheckRestored(engine::LocalShard& shard, const TakenSnapshot& snapshot,
                                             const engine::CollectionConfig& collection) {
  if (!MatchRestored(shard, snapshot, collection)) {
    const OperationHistory& operations = snapshot.history.operations;
    const size_t frozen_length = snapshot.frozen_through ? operations.PrefixLengthThrough(*snapshot.frozen_through) : 0;
    return RestoredProblem{
        "snapshot-point-in-time",
        fmt::format("snapshot {} ({} WAL, frozen through op {}, WAL continues at {}) restored to {} "
                    "but the model at the freeze holds {}",
                    snapshot.path, snapshot.save_wal ? "with" : "without", OpLabel(snapshot.frozen_through),
                    snapshot.wal_next_index, DescribePoints(shard.Scroll(nullptr, std::nullopt, SIZE_MAX)),
                    DescribePoints(ExpectedPoints(operations.StateAfterPrefix(frozen_length), collection)))};
  }
  if (auto broken = shard.CheckStructure()) {
    return RestoredProblem{"structure", fmt::format("restored snapshot {}: {}", snapshot.path, *broken)};
  }
  const engine::LocalShard::Summary summary = shard.Summarize();
  // I7, clocks never ahead of the data: a restored clock newer
  // than every op the snapshot holds would reject a retry of an op it lacks.
  if (snapshot.clocks_bound && !summary.newest_clocks.NotAheadOf(*snapshot.clocks_bound)) {
    return RestoredProblem{
        "snapshot-point-in-time",
        fmt::format("restored snapshot {} ({} WAL, frozen through op {}): its newest clocks {} are ahead "
                    "of the clocks {} of every op written through the last op it holds",
                    snapshot.path, snapshot.save_wal ? "with" : "without", OpLabel(snapshot.frozen_through),
                    summary.newest_clocks.ToJson().dump(), snapshot.clocks_bound->ToJson().dump())};
  }
  // I8: new ops after a restore are never skipped, so the
  // restored WAL continues after the live WAL's end at the snapshot (an
  // earlier start reuses op numbers that segments already hold).
  if (summary.wal_next_index < snapshot.wal_next_index) {
    return RestoredProblem{
        "snapshot-point-in-time",
        fmt::format("restored snapshot {} ({} WAL): its WAL continues at {}, before the live WAL's end {} "
                    "at the snapshot, so new ops would reuse op numbers",
                    snapshot.path, snapshot.save_wal ? "with" : "without", summary.wal_next_index,
                    snapshot.wal_next_index)};
  }
  return std::nullopt;
}

}  // namespace properties
