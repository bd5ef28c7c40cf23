// ClockMap: (peer id, clock id) -> (tick, token), as Qdrant's local shard
// keeps it. The shard holds two: the newest clocks (advanced when an op is
// written to the WAL) and the oldest clocks (pinned for snapshots), each
// persisted atomically as JSON by the flush worker.
//
// The newest clocks may carry a snapshot (Qdrant's `newest_clocks.snapshot`,
// PR #7791): the clocks as of when the replica left Active, kept until it
// is Active again, so that its recovery point does not claim writes it
// stopped receiving in between. Stored in the same file, under "snapshot",
// only when present (a map without one writes the bytes it always did).
//
// Acceptance rule: an op is accepted if its tick is above the clock's
// current tick, or equal with the same token (a retry). force=true is always
// accepted. A new clock is created only for a non-zero tick; tick 0 is
// rejected. A rejected tag is corrected to the current tick so the sender
// can catch up.
//
// Not synchronised: the shard guards it with its own mutex.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "engine/env/env.h"
#include "engine/model/operation.h"

namespace engine {

// The token of a clock raised by a floor (AdvanceToAtLeast), not by an op:
// no op carries it (ShardReplicaSet::NextToken never returns it).
inline constexpr uint64_t kNoOpToken = 0;

class ClockMap {
 public:
  struct Clock {
    uint64_t tick = 0;
    uint64_t token = 0;
    friend bool operator==(const Clock&, const Clock&) = default;
  };
  using Key = std::pair<uint64_t, uint32_t>;  // (peer id, clock id)

  // Advances the tag's clock and returns whether the op is accepted; a
  // rejected tag's tick is corrected to the current tick.
  bool AdvanceAndCorrect(ClockTag& tag);
  // Advances without deciding (WAL replay).
  void Advance(const ClockTag& tag);

  std::optional<Clock> Get(uint64_t peer_id, uint32_t clock_id) const;
  const std::map<Key, Clock>& clocks() const { return clocks_; }
  bool changed() const { return changed_; }
  bool empty() const { return clocks_.empty(); }

  // The snapshot, if one was taken (see the file comment).
  const std::optional<std::map<Key, Clock>>& snapshot() const { return snapshot_; }
  // Copies the clocks into the snapshot unless one exists; returns whether
  // it took one.
  bool TakeSnapshot();
  // Drops the snapshot; returns whether there was one.
  bool ClearSnapshot();
  // Qdrant's to_recovery_point: the snapshot if there is one, else the
  // clocks, as a map without a snapshot.
  ClockMap RecoveryClocks() const;
  // True if some clock of this map is not in `other` (ticks aside).
  bool HasClocksNotIn(const ClockMap& other) const;
  // Advances every clock to at least the tick `floor` has for it (a clock
  // only `floor` has is added): Qdrant's update_cutoff on one map, except
  // that a raised clock gets kNoOpToken, so the op that set the floor's tick
  // is rejected if it arrives later (Qdrant would take it as a retry). The
  // snapshot is left as it is.
  void AdvanceToAtLeast(const ClockMap& floor);

  // True if no clock of this map is ahead of the same clock in `other`
  // (a clock missing from `other` counts as ahead). Snapshots aside.
  bool NotAheadOf(const ClockMap& other) const;

  nlohmann::json ToJson() const;
  static absl::StatusOr<ClockMap> FromJson(const nlohmann::json& json);

  // Missing file = empty map. A corrupt file is a clear error.
  static absl::StatusOr<ClockMap> Load(FileSystem& fs, std::string_view path);
  absl::Status Store(FileSystem& fs, std::string_view path);
  absl::Status StoreIfChanged(FileSystem& fs, std::string_view path);

  friend bool operator==(const ClockMap& a, const ClockMap& b) {
    return a.clocks_ == b.clocks_ && a.snapshot_ == b.snapshot_;
  }

 private:
  using Clocks = std::map<Key, Clock>;
  static nlohmann::json ClocksToJson(const Clocks& clocks);
  static absl::StatusOr<Clocks> ClocksFromJson(const nlohmann::json& json);
  // Returns (accepted, current tick).
  std::pair<bool, uint64_t> AdvanceImpl(const ClockTag& tag);

  std::map<Key, Clock> clocks_;
  std::optional<std::map<Key, Clock>> snapshot_;
  bool changed_ = false;
};

}  // namespace engine
