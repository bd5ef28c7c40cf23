// The recorded history of a simulated shard run, kept by the supervisor
// (it survives crashes): every op the shard wrote to its WAL with its op_num
// (told by the ShardObserver hook), what was durable, what clients saw
// completed, and the checks of reads and recoveries against the reference
// model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/clock/clock_map.h"
#include "engine/shard/local_shard.h"
#include "properties/reference_model.h"
#include "properties/run_stats.h"

namespace properties {

class History final : public engine::ShardObserver {
 public:
  void OnWalAppend(engine::SeqNumber op_num, const engine::WalRecord& record) override;
  void OnWalSynced(uint64_t next_index) override;
  // Print every op as it is written (for debugging a failing seed).
  void set_verbose(bool verbose) { verbose_ = verbose; }

  // A plunger returned after op_num was queued: every op through op_num is
  // applied (visible to reads; not necessarily durable).
  void NoteApplied(engine::SeqNumber op_num);
  // A wait=true update returned "completed": the WAL was synced through it
  // and every op through op_num is applied and durable.
  void NoteCompleted(engine::SeqNumber op_num);
  // An update call returned with this op_num: the op is in the update queue
  // (a later plunger proves it applied).
  void NoteAcknowledged(engine::SeqNumber op_num);
  std::optional<engine::SeqNumber> acknowledged_through() const { return acknowledged_through_; }
  // Every op written so far is below this (the WAL's next index, as far as
  // the history knows).
  uint64_t WrittenBelow() const;
  // The highest op_num written to the WAL so far (nullopt if none).
  std::optional<engine::SeqNumber> last_written() const;
  std::optional<engine::SeqNumber> applied_through() const { return applied_through_; }

  // A crash happened: a process crash keeps every written op, a power loss
  // keeps at least the synced and completed ones.
  void NoteCrash(bool power_loss);
  // The engine process ended without a crash (a shutdown, after a fatal
  // error too): every written op is on disk or in the page cache, and the
  // next reload must bring back exactly those.
  void NoteCleanStop();
  // A fault hit the WAL's files between the end of the last process and
  // the reload (a bad read or rotten bytes in its unsynced tail look like a
  // torn write and are cut): only the durable ops (synced or completed) must
  // come back; the others may be lost (as after a power loss).
  void RelaxToDurable();

  // What a snapshot's checks and a later restore of it need of the history.
  struct Saved {
    OperationHistory operations;
    SharedChunks<engine::ClockMap> clocks_after;  // per op of `operations`
    engine::ClockMap written_clocks;              // every clock advanced so far
  };
  Saved Save() const { return {operations_, clocks_after_, written_clocks_}; }
  // The live shard was replaced by a restore holding exactly the first
  // `length` ops of `saved`, fully durable, with its WAL continuing at
  // `next_index`: the history continues from there. `clocks_bound` is the
  // restored snapshot's own bound on its clocks (docs/invariants.md I7);
  // the restored shard's clocks may reach it even when its state is that
  // of a shorter prefix.
  void ResetToRestored(const Saved& saved, size_t length, uint64_t next_index,
                       const std::optional<engine::ClockMap>& clocks_bound);

  // After a reload whose WAL continues at `next_index`: checks the
  // recovered prefix is within what the crash allowed, then forgets ops at
  // or above it. Returns a failure description, or nullopt.
  std::optional<std::string> NoteRecovered(uint64_t next_index);

  // An update whose clock tag the shard accepted (and advanced its clocks
  // by) failed to reach the WAL: the clocks may hold the tick anyway.
  void NoteClockAdvancedWithoutWrite(const engine::ClockTag& tag);
  // Every clock advanced by the ops written up to and including `op_num`
  // (in every process so far): a shard whose data ends at op_num may not
  // have newer clocks (docs/invariants.md I7). nullopt if op_num is unknown.
  std::optional<engine::ClockMap> ClocksAfterWriteOf(engine::SeqNumber op_num) const;

  // The model through every op below `next_index`.
  ReferenceModel ModelBelow(uint64_t next_index) const;
  const OperationHistory& operations() const { return operations_; }

  // Searches prefixes whose last op_num lies in [low, high] (low = nullopt:
  // from the empty prefix) for one that satisfies `matches`. Returns the
  // matching prefix length.
  template <typename Predicate>
  std::optional<size_t> FindPrefix(std::optional<engine::SeqNumber> low,
                                   std::optional<engine::SeqNumber> high,
                                   const Predicate& matches) const;

 private:
  OperationHistory operations_;
  // Clocks advanced by every op written so far, and their value after each
  // op of operations_ (same index). Never rolled back: a crash may lose an
  // op whose tick the persisted clocks already hold.
  engine::ClockMap written_clocks_;
  SharedChunks<engine::ClockMap> clocks_after_;
  std::optional<engine::SeqNumber> applied_through_;
  std::optional<engine::SeqNumber> acknowledged_through_;
  std::optional<engine::SeqNumber> completed_through_;
  uint64_t synced_below_ = 0;
  // Where the WAL continued at the last reload or restore: ops written
  // since are at or above it.
  uint64_t wal_next_at_start_ = 0;
  bool verbose_ = false;
  // Bounds on the prefix a reload must recover, set by NoteCrash.
  std::optional<uint64_t> recover_at_least_below_;
  std::optional<uint64_t> recover_at_most_below_;
};

template <typename Predicate>
std::optional<size_t> History::FindPrefix(std::optional<engine::SeqNumber> low,
                                          std::optional<engine::SeqNumber> high,
                                          const Predicate& matches) const {
  const size_t first = low ? operations_.PrefixLengthThrough(*low) : 0;
  const size_t last = high ? operations_.PrefixLengthThrough(*high) : 0;
  ReferenceModel model = operations_.StateAfterPrefix(first);
  for (size_t length = first;; ++length) {
    if (matches(model)) return length;
    if (length >= last) return std::nullopt;
    model.Apply(operations_.op_num(length), operations_.operation(length));
  }
}

// What an update call's result tells the history (acknowledged, completed)
// and the run's counters.
void NoteUpdateOutcome(const engine::UpdateResult& result, History& history, ShardRunStats& stats);

}  // namespace properties
