#include "properties/history.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace properties {

void History::OnWalAppend(engine::SeqNumber op_num, const engine::WalRecord& record) {
  operations_.Append(op_num, record.operation);
  if (record.clock_tag) written_clocks_.Advance(*record.clock_tag);
  clocks_after_.push_back(written_clocks_);
  if (verbose_) std::printf("op %llu: %s\n", (unsigned long long)op_num,
                            engine::OperationToJson(record.operation).dump().c_str());
}

void History::NoteClockAdvancedWithoutWrite(const engine::ClockTag& tag) {
  written_clocks_.Advance(tag);
  // A snapshot pinning clocks after this freezes at or after the newest op
  // written so far: its bound must allow the tick.
  if (!clocks_after_.empty()) clocks_after_.mutable_back().Advance(tag);
}

std::optional<engine::ClockMap> History::ClocksAfterWriteOf(engine::SeqNumber op_num) const {
  const size_t length = operations_.PrefixLengthThrough(op_num);
  if (length == 0 || operations_.op_num(length - 1) != op_num) return std::nullopt;
  SS_ASSERT(clocks_after_.size() == operations_.size());
  return clocks_after_[length - 1];
}

void History::OnWalSynced(uint64_t next_index) {
  synced_below_ = std::max(synced_below_, next_index);
}

void History::NoteApplied(engine::SeqNumber op_num) {
  applied_through_ = std::max(applied_through_.value_or(0), op_num);
}

void History::NoteCompleted(engine::SeqNumber op_num) {
  NoteApplied(op_num);
  completed_through_ = std::max(completed_through_.value_or(0), op_num);
}

void History::NoteAcknowledged(engine::SeqNumber op_num) {
  acknowledged_through_ = std::max(acknowledged_through_.value_or(0), op_num);
}

std::optional<engine::SeqNumber> History::last_written() const {
  if (operations_.size() == 0) return std::nullopt;
  return operations_.op_num(operations_.size() - 1);
}

void History::NoteCrash(bool power_loss) {
  const uint64_t written_below = WrittenBelow();
  uint64_t at_least = written_below;
  if (power_loss) {
    at_least = std::max<uint64_t>(synced_below_, completed_through_ ? *completed_through_ + 1 : 0);
    at_least = std::min(at_least, written_below);
  }
  // Several crashes before a successful reload: the weakest bound holds.
  recover_at_least_below_ = std::min(recover_at_least_below_.value_or(at_least), at_least);
  recover_at_most_below_ = written_below;
}

uint64_t History::WrittenBelow() const {
  // (A restored WAL-less snapshot's WAL continues past its last op.)
  return std::max<uint64_t>(wal_next_at_start_, last_written() ? *last_written() + 1 : 0);
}

void History::NoteCleanStop() {
  const uint64_t written_below = WrittenBelow();
  recover_at_least_below_ = std::min(recover_at_least_below_.value_or(written_below), written_below);
  recover_at_most_below_ = written_below;
}

void History::RelaxToDurable() {
  if (!recover_at_least_below_) return;
  const uint64_t durable_below =
      std::max<uint64_t>(synced_below_, completed_through_ ? *completed_through_ + 1 : 0);
  recover_at_least_below_ = std::min(*recover_at_least_below_, durable_below);
}

void History::ResetToRestored(const Saved& saved, size_t length, uint64_t next_index,
                              const std::optional<engine::ClockMap>& clocks_bound) {
  SS_ASSERT(length <= saved.operations.size() && saved.clocks_after.size() == saved.operations.size());
  SS_ASSERT(length == 0 || saved.operations.op_num(length - 1) < next_index,
            "restored op {} at or past the WAL's next index {}", saved.operations.op_num(length - 1), next_index);
  // Shares the saved history's chunks (no copy of its ops).
  operations_ = saved.operations;
  operations_.Truncate(length);
  clocks_after_ = saved.clocks_after;
  clocks_after_.Truncate(length);
  // A WAL snapshot whose last ops changed nothing restores to a state that
  // also matches a shorter prefix, with the clocks those ops advanced (seed
  // 300117850): a later snapshot frozen at the restored state's last op may
  // carry them too.
  if (length > 0 && clocks_bound) clocks_after_.mutable_back().AdvanceToAtLeast(*clocks_bound);
  // An upper bound of the restored clocks: every clock advanced by then.
  written_clocks_ = saved.written_clocks;
  const std::optional<engine::SeqNumber> last =
      length == 0 ? std::nullopt : std::optional(operations_.op_num(length - 1));
  applied_through_ = acknowledged_through_ = completed_through_ = last;
  synced_below_ = next_index;
  wal_next_at_start_ = next_index;
  recover_at_least_below_ = recover_at_most_below_ = next_index;
}

std::optional<std::string> History::NoteRecovered(uint64_t next_index) {
  std::optional<std::string> failure;
  if (recover_at_least_below_ && next_index < *recover_at_least_below_) {
    failure = fmt::format(
        "crash recovery lost durable ops: the WAL continues at {} but every op below {} was "
        "durable (synced or completed)", next_index, *recover_at_least_below_);
  } else if (recover_at_most_below_ && next_index > *recover_at_most_below_) {
    failure = fmt::format("crash recovery invented ops: the WAL continues at {} but only ops "
                          "below {} were ever written", next_index, *recover_at_most_below_);
  }
  // Forget what did not survive: later ops reuse those op_nums.
  operations_.Truncate(next_index == 0 ? 0 : operations_.PrefixLengthThrough(next_index - 1));
  clocks_after_.Truncate(operations_.size());
  const auto clamp = [&](std::optional<engine::SeqNumber>& through) {
    if (through && *through >= next_index) {
      through = next_index == 0 ? std::nullopt : std::optional(next_index - 1);
    }
  };
  clamp(applied_through_);
  clamp(acknowledged_through_);
  clamp(completed_through_);
  wal_next_at_start_ = next_index;
  synced_below_ = next_index;
  recover_at_least_below_.reset();
  recover_at_most_below_.reset();
  return failure;
}

ReferenceModel History::ModelBelow(uint64_t next_index) const {
  return operations_.StateAfterPrefix(
      next_index == 0 ? 0 : operations_.PrefixLengthThrough(next_index - 1));
}

void NoteUpdateOutcome(const engine::UpdateResult& result, History& history, ShardRunStats& stats) {
  if (result.status == engine::UpdateStatus::kClockRejected) {
    ++stats.clock_rejections;
    return;
  }
  ++stats.ops_written;
  if (stats.restores_over_live > 0) ++stats.ops_after_restore;
  if (result.op_num) history.NoteAcknowledged(*result.op_num);
  if (result.status == engine::UpdateStatus::kCompleted) {
    ++stats.ops_completed;
    history.NoteCompleted(*result.op_num);
  }
}

}  // namespace properties
