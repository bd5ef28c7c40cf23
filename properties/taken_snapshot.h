// A snapshot a run took, with what a restore of it must show, and the
// checks of a restored shard against it (docs/invariants.md I6-I8). Shared
// by the simulated run and the real one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/clock/clock_map.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/manifest.h"
#include "engine/snapshot/snapshot_create.h"
#include "properties/history.h"

namespace properties {

enum class SnapshotKind { kShard, kPartial, kCollection };

// A restore of it must show the model after exactly `frozen_through` (no
// WAL), or after some prefix between it and the archived WAL's end.
struct TakenSnapshot {
  SnapshotKind kind = SnapshotKind::kShard;
  std::string path;
  bool save_wal = false;
  std::optional<engine::SeqNumber> frozen_through;
  uint64_t wal_next_index = 0;
  History::Saved history;  // when it was taken
  // The clocks of every op written up to the last op the snapshot may
  // hold (the freeze without WAL, the archived WAL's end with it): the
  // restored clocks may not be newer (nullopt: no bound known).
  std::optional<engine::ClockMap> clocks_bound;
  engine::SnapshotManifest manifest;  // of its frozen segments
  std::optional<size_t> base;         // a partial snapshot's base (index)
  // Its creation's trace steps (simulated runs): a fault in between may
  // have put a bad byte into the archive (a restore then refuses it).
  uint64_t started_at_step = 0;
  uint64_t ended_at_step = 0;
  // The shard held stored rot while it was archived: the archive may hold
  // the rotten bytes (simulated runs).
  bool source_held_rot = false;
};

// What the history says a snapshot holds, from what its creation returned.
// `applied_before`: the history's applied_through() before the call (every
// op known applied then is in the freeze).
TakenSnapshot MakeTakenSnapshot(SnapshotKind kind, std::string path, bool save_wal, const engine::SnapshotInfo& info,
                                std::optional<engine::SeqNumber> applied_before, const History& history);

// The prefix length of the snapshot's history the shard's state equals,
// within what the snapshot promises; nullopt if none.
std::optional<size_t> MatchRestored(engine::LocalShard& shard, const TakenSnapshot& snapshot,
                                    const engine::CollectionConfig& collection);

struct RestoredProblem {
  std::string invariant;
  std::string what;
};
// Every check of a restored shard: state, structure, clocks, WAL.
std::optional<RestoredProblem> CheckRestored(engine::LocalShard& shard, const TakenSnapshot& snapshot,
                                             const engine::CollectionConfig& collection);

}  // namespace properties
