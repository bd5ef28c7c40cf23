// The read checks (brief §5 items 1 and 7) and the restore checks (items 3
// and 4) of a simulated shard run.
#include <cstdio>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/file_util.h"
#include "engine/model/distance.h"
#include "engine/shard/restore.h"
#include "properties/run.h"

namespace properties {

// Restores each snapshot into its own directory (on an empty part of the
// world), checks it is the promised point in time, then crashes and
// reloads it: the same state again (brief §5 items 3 and 4).
void Run::CheckRestores() {
  for (size_t index = 0; index < snapshots_.size() && index < kMaxRestoresChecked && !stopping(); ++index) {
    RestoreOne(index);
  }
}

// Brief §5 item 5: a crash during a restore leaves the old state (here an
// empty shard: the directory did not exist), the new state, or a shard that
// says it is dirty and refuses to load — never a mix. The crash point comes
// from the world's decisions, so a scenario replays it.
void Run::CrashDuringRestore(size_t index, const std::string& dir) {
  sim::DecisionSource& decisions = world_.decisions();
  if (!decisions.Chance(0.3)) return;
  const sim::CrashKind kind = decisions.Chance(0.5) ? sim::CrashKind::kPowerLoss : sim::CrashKind::kProcessCrash;
  // (A restore takes a few hundred to a few thousand steps: the trial load
  // of the staged copy, the swap, the final load.)
  world_.CrashAtStep(world_.trace().steps() + decisions.Between(2, 1500), kind);
  const sim::ProcessId restorer = world_.StartProcess("restore-crashing", [&, index] {
    auto restored = engine::RestoreSnapshot(world_.env(), snapshots_[index].path, dir, RestoreOptions());
    if (restored.ok()) (void)(*restored)->Shutdown();
  });
  const bool crashed = world_.WaitProcess(restorer);
  world_.DisarmCrash();
  if (!crashed) return;  // it finished first; the restore below replaces it
  ++stats_.restore_crashes;
  const sim::ProcessId checker = world_.StartProcess("restore-crash-check", [&, index] {
    auto shard = engine::LocalShard::Load(world_.env(), dir, RestoreOptions());
    if (!shard.ok()) {
      if (absl::IsFailedPrecondition(shard.status())) return;  // dirty, says so
      Fail("restore-atomicity", fmt::format("after a crash during the restore of {}, the load failed: {}",
                                            snapshots_[index].path, shard.status().ToString()));
      return;
    }
    const std::vector<engine::Point> actual = (*shard)->Scroll(nullptr, std::nullopt, SIZE_MAX);
    if (!actual.empty()) CheckRestoredState(**shard, index);  // else the old (empty) state
    (void)(*shard)->Shutdown();
  });
  world_.WaitProcess(checker);
}

// Bad input loses nothing: an archive with one flipped byte (anywhere: file
// contents, tar headers, padding) is refused, whatever else it passes.
void Run::RestoreDamaged(size_t index) {
  sim::DecisionSource& decisions = world_.decisions();
  if (!decisions.Chance(0.25)) return;
  const sim::ProcessId restorer = world_.StartProcess("restore-damaged", [&, index] {
    engine::FileSystem& fs = world_.env().fs();
    const std::string& path = snapshots_[index].path;
    auto archive = engine::ReadWholeFile(fs, path);
    auto checksum = engine::ReadWholeFile(fs, path + ".checksum");
    if (!archive.ok() || !checksum.ok() || archive->empty()) return;  // a crash left no archive
    const size_t position = decisions.Draw(archive->size());
    (*archive)[position] = static_cast<char>((*archive)[position] ^ (1u << decisions.Draw(8)));
    const std::string damaged = fmt::format("damaged-{}.tar", index);
    if (!engine::WriteFileAtomically(fs, damaged, *archive).ok()) return;
    if (!engine::WriteFileAtomically(fs, damaged + ".checksum", *checksum).ok()) return;
    auto restored = engine::RestoreSnapshot(world_.env(), damaged, fmt::format("damaged-restore-{}", index),
                                            RestoreOptions());
    if (restored.ok()) {
      (void)(*restored)->Shutdown();
      Fail("restore-integrity", fmt::format("{} with byte {} of {} flipped was restored", path, position,
                                            archive->size()));
    }
  });
  world_.WaitProcess(restorer);
}

void Run::RestoreOne(size_t index) {
  {
    const std::string dir = fmt::format("restored-{}", index);
    RestoreDamaged(index);
    if (stopping()) return;
    CrashDuringRestore(index, dir);
    if (stopping()) return;
    const sim::ProcessId restorer = world_.StartProcess("restore", [&, index] {
      auto restored = engine::RestoreSnapshot(world_.env(), snapshots_[index].path, dir, RestoreOptions());
      if (!restored.ok()) {
        // A crash during CreateSnapshot can leave no archive at all.
        if (!absl::IsNotFound(restored.status())) {
          Fail("snapshot-point-in-time", fmt::format("restore of {} failed: {}", snapshots_[index].path, restored.status().ToString()));
        }
        return;
      }
      ++stats_.restores;
      CheckRestoredState(**restored, index);
      (void)(*restored)->Shutdown();
    });
    world_.WaitProcess(restorer);
    if (failed()) return;
    const sim::ProcessId crasher = world_.StartProcess("restored-crash", [&, index] {
      auto shard = engine::LocalShard::Load(world_.env(), dir, RestoreOptions());
      if (!shard.ok()) {
        if (!absl::IsNotFound(shard.status())) Fail("snapshot-point-in-time", fmt::format("reload of a restored shard failed: {}", shard.status().ToString()));
        return;
      }
      world_.Crash(sim::CrashKind::kPowerLoss);
    });
    world_.WaitProcess(crasher);
    const sim::ProcessId reloader = world_.StartProcess("restored-reload", [&, index] {
      auto shard = engine::LocalShard::Load(world_.env(), dir, RestoreOptions());
      if (!shard.ok()) return;  // never restored (no archive)
      CheckRestoredState(**shard, index);
      (void)(*shard)->Shutdown();
    });
    world_.WaitProcess(reloader);
  }
}

bool Run::CheckRestoredState(engine::LocalShard& shard, size_t index) {
  const TakenSnapshot& snapshot = snapshots_[index];
  if (config_.verbose) {
    const auto summary = shard.Summarize();
    std::printf("restored %s: WAL [%llu, %llu), segments:\n", snapshot.path.c_str(),
                (unsigned long long)summary.wal_first_index, (unsigned long long)summary.wal_next_index);
    for (const auto& line : summary.segments) std::printf("  %s\n", line.c_str());
  }
  const std::vector<engine::Point> actual = shard.Scroll(nullptr, std::nullopt, SIZE_MAX);
  const auto matches = [&](const ReferenceModel& model) {
    return ExpectedPoints(model, config_.collection) == actual;
  };
  const size_t frozen_length = snapshot.frozen_through
                                   ? snapshot.operations.PrefixLengthThrough(*snapshot.frozen_through)
                                   : 0;
  bool ok = false;
  if (!snapshot.save_wal) {
    ok = matches(snapshot.operations.StateAfterPrefix(frozen_length));
  } else {
    const size_t last = snapshot.wal_next_index == 0
                            ? 0
                            : snapshot.operations.PrefixLengthThrough(snapshot.wal_next_index - 1);
    ReferenceModel model = snapshot.operations.StateAfterPrefix(frozen_length);
    for (size_t length = frozen_length; !ok; ++length) {
      ok = matches(model);
      if (length >= last) break;
      model.Apply(snapshot.operations.op_num(length), snapshot.operations.operation(length));
    }
  }
  if (!ok) {
    Fail("snapshot-point-in-time", fmt::format("snapshot {} ({} WAL, frozen through op {}, WAL continues at {}) restored to {} "
                     "but the model at the freeze holds {}",
                     snapshot.path, snapshot.save_wal ? "with" : "without",
                     OpLabel(snapshot.frozen_through), snapshot.wal_next_index, DescribePoints(actual),
                     DescribePoints(ExpectedPoints(snapshot.operations.StateAfterPrefix(frozen_length),
                                                   config_.collection))));
    return false;
  }
  if (auto broken = shard.CheckStructure()) {
    Fail("structure", fmt::format("restored snapshot {}: {}", snapshot.path, *broken));
    return false;
  }
  // Brief §5 item 6, clocks never ahead of the data: a restored clock newer
  // than every op the snapshot holds would reject a retry of an op it lacks.
  if (const engine::ClockMap clocks = shard.Summarize().newest_clocks;
      snapshot.clocks_bound && !clocks.NotAheadOf(*snapshot.clocks_bound)) {
    Fail("snapshot-point-in-time",
         fmt::format("restored snapshot {} ({} WAL, frozen through op {}): its newest clocks {} are ahead of "
                     "the clocks {} of every op written through the last op it holds",
                     snapshot.path, snapshot.save_wal ? "with" : "without", OpLabel(snapshot.frozen_through),
                     clocks.ToJson().dump(), snapshot.clocks_bound->ToJson().dump()));
    return false;
  }
  // Brief §5 item 3: new ops after a restore are never skipped, so the
  // restored WAL continues after the live WAL's end at the snapshot (an
  // earlier start reuses op numbers that segments already hold).
  if (const uint64_t next = shard.Summarize().wal_next_index; next < snapshot.wal_next_index) {
    Fail("snapshot-point-in-time",
         fmt::format("restored snapshot {} ({} WAL): its WAL continues at {}, before the live WAL's end {} at the "
                     "snapshot, so new ops would reuse op numbers",
                     snapshot.path, snapshot.save_wal ? "with" : "without", next, snapshot.wal_next_index));
    return false;
  }
  return true;
}

void Run::CheckRetrieve(engine::LocalShard& shard, engine::PointId id) {
  const auto low = history_.applied_through();
  const std::optional<engine::Point> actual = shard.Retrieve(id);
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) {
    return ExpectedPoint(model, id, config_.collection) == actual;
  });
  if (!prefix) {
    Fail("read", fmt::format("read of point {} returned {}, which no model state between op {} and op "
                     "{} holds",
                     id, actual ? DescribePoint(*actual) : "nothing", OpLabel(low),
                     OpLabel(high)));
  }
}

void Run::CheckScroll(engine::LocalShard& shard, const engine::Filter& filter) {
  const auto low = history_.applied_through();
  const std::vector<engine::Point> actual = shard.Scroll(&filter, std::nullopt, SIZE_MAX);
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) {
    return ExpectedFiltered(model, filter, config_.collection) == actual;
  });
  if (!prefix) {
    Fail("read", fmt::format("scroll with filter {} returned {}, which no model state between op {} and "
                     "op {} gives (the model at op {} gives {})",
                     engine::FilterToJson(filter).dump(), DescribePoints(actual), OpLabel(low),
                     OpLabel(high), OpLabel(high),
                     DescribePoints(ExpectedFiltered(history_.ModelBelow(high ? *high + 1 : 0), filter,
                                                     config_.collection))));
  }
}

void Run::CheckCount(engine::LocalShard& shard, const engine::Filter& filter) {
  const auto low = history_.applied_through();
  const size_t actual = shard.Count(&filter);
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) {
    return ExpectedFiltered(model, filter, config_.collection).size() == actual;
  });
  if (!prefix) {
    Fail("read", fmt::format("count with filter {} returned {}, which no model state between op {} and "
                     "op {} gives",
                     engine::FilterToJson(filter).dump(), actual, OpLabel(low), OpLabel(high)));
  }
}

void Run::CheckSearch(engine::LocalShard& shard, const engine::Vector& query, size_t k) {
  const auto low = history_.applied_through();
  const std::vector<engine::ScoredPoint> actual = shard.Search(query, nullptr, k);
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) {
    return ExpectedSearch(model, query, k, config_.collection) == actual;
  });
  if (!prefix) {
    const auto hits = [](const std::vector<engine::ScoredPoint>& list) {
      std::vector<std::string> parts;
      for (const auto& hit : list) parts.push_back(fmt::format("{}:{}", hit.id, hit.score));
      return fmt::format("[{}]", fmt::join(parts, ", "));
    };
    Fail("read", fmt::format("search for [{}] (k={}) returned {}, which no model state between op {} and "
                     "op {} gives (the model at op {} gives {})",
                     fmt::join(query, ", "), k, hits(actual), OpLabel(low), OpLabel(high),
                     OpLabel(high),
                     hits(ExpectedSearch(history_.ModelBelow(high ? *high + 1 : 0), query, k,
                                         config_.collection))));
  }
}

}  // namespace properties
