#include "engine/clock/wal_delta.h"

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace engine {

namespace {

constexpr std::string_view kPrefix = "wal delta: ";
constexpr WalDeltaError kAllErrors[] = {WalDeltaError::kEmpty,          WalDeltaError::kUnknownClocks,
                                        WalDeltaError::kHigherThanCurrent, WalDeltaError::kCutoff,
                                        WalDeltaError::kUntaggedRecords, WalDeltaError::kNotFound,
                                        WalDeltaError::kDiverged};

}  // namespace

std::string_view WalDeltaErrorName(WalDeltaError error) {
  switch (error) {
    case WalDeltaError::kEmpty: return "empty recovery point";
    case WalDeltaError::kUnknownClocks: return "unknown clocks";
    case WalDeltaError::kHigherThanCurrent: return "higher than current";
    case WalDeltaError::kCutoff: return "cutoff";
    case WalDeltaError::kUntaggedRecords: return "untagged records";
    case WalDeltaError::kNotFound: return "not found (truncated)";
    case WalDeltaError::kDiverged: return "diverged";
  }
  SS_ASSERT(false, "unknown WAL delta error {}", static_cast<int>(error));
  return "?";
}

absl::Status WalDeltaStatus(WalDeltaError error, std::string_view detail) {
  std::string message = fmt::format("{}{}", kPrefix, WalDeltaErrorName(error));
  if (!detail.empty()) message += fmt::format(": {}", detail);
  absl::Status status = absl::FailedPreconditionError(message);
  // Every status built here classifies back as its error.
  SS_ASSERT(ClassifyWalDeltaStatus(status) == error, "'{}' does not classify back", message);
  return status;
}

std::optional<WalDeltaError> ClassifyWalDeltaStatus(const absl::Status& status) {
  if (!absl::IsFailedPrecondition(status)) return std::nullopt;
  const std::string full_message(status.message());
  std::string_view message = full_message;
  if (!message.starts_with(kPrefix)) return std::nullopt;
  message.remove_prefix(kPrefix.size());
  for (WalDeltaError error : kAllErrors) {
    const std::string_view name = WalDeltaErrorName(error);
    // The name, alone or followed by its detail.
    if (message.starts_with(name) && (message.size() == name.size() || message[name.size()] == ':')) return error;
  }
  return std::nullopt;
}

absl::StatusOr<WalDeltaResolver> WalDeltaResolver::Start(const ClockMap& recovery_point, const ClockMap& newest,
                                                         const ClockMap& oldest, const KnownTokens& known_tokens) {
  SS_ASSERT(!recovery_point.snapshot() && !newest.snapshot() && !oldest.snapshot(),
            "WAL delta of clock maps with a snapshot");
  // (1)-(3): the recovering replica must know something, nothing the source
  // does not know, and nothing newer than the source.
  if (recovery_point.empty()) return WalDeltaStatus(WalDeltaError::kEmpty);
  if (recovery_point.HasClocksNotIn(newest)) return WalDeltaStatus(WalDeltaError::kUnknownClocks);
  if (!recovery_point.NotAheadOf(newest)) return WalDeltaStatus(WalDeltaError::kHigherThanCurrent);
  WalDeltaResolver resolver;
  // (4)-(5): a clock only the source knows is wanted from its first tick.
  for (const auto& [key, clock] : recovery_point.clocks()) resolver.wanted_.emplace(key, clock.tick);
  for (const auto& [key, clock] : newest.clocks()) resolver.wanted_.emplace(key, 0);
  SS_ASSERT(resolver.wanted_.size() == newest.clocks().size(), "a wanted clock the source lacks");
  // (6), before (7) (PR #8475): a tick below the cutoff is not in this WAL,
  // even when it equals the source's (snapshot) recovery point.
  for (const auto& [key, seen] : resolver.wanted_) {
    const auto cutoff = oldest.clocks().find(key);
    if (cutoff != oldest.clocks().end() && seen < cutoff->second.tick) {
      return WalDeltaStatus(WalDeltaError::kCutoff, fmt::format("clock ({}, {}) seen to {}, cut off below {}",
                                                                key.first, key.second, seen, cutoff->second.tick));
    }
  }
  // Before (7): under the replica's tick, the same op as here (wal_delta.h).
  for (const auto& [key, seen] : recovery_point.clocks()) {
    const ClockMap::Clock& source = newest.clocks().at(key);
    uint64_t source_token = source.token;
    if (source.tick != seen.tick) {
      const auto known = known_tokens.find({key, seen.tick});
      if (known == known_tokens.end()) continue;
      source_token = known->second;
    }
    if (source_token != seen.token && source_token != kNoOpToken && seen.token != kNoOpToken) {
      return WalDeltaStatus(WalDeltaError::kDiverged,
                            fmt::format("clock ({}, {}) tick {}: token {} here, {} in the recovery point", key.first,
                                        key.second, seen.tick, source_token, seen.token));
    }
  }
  // (7): clocks the recovering replica has up to the source's tick need nothing.
  std::erase_if(resolver.wanted_,
                [&](const auto& wanted) { return newest.clocks().at(wanted.first).tick == wanted.second; });
  // Each clock left is one the replica has seen less of than the source.
  for (const auto& [key, seen] : resolver.wanted_) {
    SS_ASSERT(seen < newest.clocks().at(key).tick, "clock ({}, {}) wanted though seen to {}", key.first, key.second,
              seen);
  }
  resolver.resolved_ = resolver.wanted_.empty();
  return resolver;
}

std::optional<SeqNumber> WalDeltaResolver::from() const {
  SS_ASSERT(resolved_, "the WAL delta is not resolved yet");
  return from_;
}

absl::Status WalDeltaResolver::Visit(SeqNumber op_num, const std::optional<ClockTag>& tag) {
  SS_ASSERT(!resolved_ && !wanted_.empty(), "record {} visited after the delta was resolved", op_num);
  SS_ASSERT(!last_visited_ || op_num < *last_visited_, "record {} visited after record {}", op_num,
            *last_visited_);
  if (!tag) return WalDeltaStatus(WalDeltaError::kUntaggedRecords, fmt::format("WAL record {}", op_num));
  bool removed_equal = false;
  const auto it = wanted_.find({tag->peer_id, tag->clock_id});
  // Covered when the replica's first unseen tick (seen + 1) is at or below
  // this record's: it has seen everything before it (no overflow at tick 0).
  if (it != wanted_.end() && (tag->tick == 0 || it->second >= tag->tick - 1)) {
    removed_equal = tag->tick > 0 && it->second == tag->tick - 1;
    wanted_.erase(it);
  }
  if (wanted_.empty()) {
    // The record holding the first unseen tick is sent; a record the
    // replica already has is not, only the later ones.
    resolved_ = true;
    from_ = removed_equal ? std::optional<SeqNumber>(op_num) : last_visited_;
    // This record or a later one: the scan only goes back.
    SS_ASSERT(!from_ || *from_ >= op_num, "delta from {} below the record {} that resolved it", *from_, op_num);
  }
  last_visited_ = op_num;
  return absl::OkStatus();
}

absl::Status WalDeltaResolver::Exhausted() const {
  SS_ASSERT(!resolved_ && !wanted_.empty(), "exhausted after the delta was resolved");
  const auto& [key, seen] = *wanted_.begin();
  return WalDeltaStatus(WalDeltaError::kNotFound,
                        fmt::format("{} clocks left, e.g. ({}, {}) seen to {}", wanted_.size(), key.first,
                                    key.second, seen));
}

}  // namespace engine
