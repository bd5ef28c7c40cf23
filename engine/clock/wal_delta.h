// WAL delta resolution: which suffix of a source replica's WAL a recovering
// replica misses, from the recovering replica's recovery point (Qdrant's
// resolve_wal_delta, lib/collection/src/wal_delta.rs, as of v1.19.0; see
// docs BRIEF-cluster §5). Pure: the shard feeds it its clocks and then its
// WAL records, newest first.
//
// Ticks here are last-seen ticks, as the clock maps keep them; Qdrant adds
// one to every tick (the first unseen tick) and compares those, which is
// the same comparison shifted (a clock the recovery point lacks counts as
// seen up to tick 0).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/clock/clock_map.h"
#include "engine/model/operation.h"

namespace engine {

// Why no delta can be resolved. Each is a FailedPrecondition status whose
// message starts with "wal delta: " and the name (stable, for callers that
// fall back to another transfer method).
enum class WalDeltaError : uint8_t {
  kEmpty,              // "empty recovery point"
  kUnknownClocks,      // "unknown clocks": the recovery point has a clock the source lacks
  kHigherThanCurrent,  // "higher than current": it is ahead of the source on some clock
  kCutoff,             // "cutoff": it needs a tick below the source's oldest clocks
  kUntaggedRecords,    // "untagged records": the WAL suffix holds an op without a clock tag
  kNotFound,           // "not found (truncated)": the WAL ends before every clock is covered
  kDiverged,           // "diverged": it saw another op than the source's under the source's newest tick of a clock
};
std::string_view WalDeltaErrorName(WalDeltaError error);
// The status for `error`; `detail`, if not empty, follows the name after ": ".
absl::Status WalDeltaStatus(WalDeltaError error, std::string_view detail = {});
// The error a status of WalDeltaStatus carries, or nullopt for any other
// status (OK, a read or decode failure of the WAL, ...).
std::optional<WalDeltaError> ClassifyWalDeltaStatus(const absl::Status& status);

// The token of the op a source took under a clock's tick, where it still
// knows it: ((peer id, clock id), tick) -> token.
using KnownTokens = std::map<std::pair<ClockMap::Key, uint64_t>, uint64_t>;

class WalDeltaResolver {
 public:
  // Steps (1)-(7) of BRIEF §5 against the source's clocks: `newest` as its
  // recovery point gives them (snapshot-aware), `oldest` its cutoff.
  // Unlike Qdrant, a clock at the source's tick but with another op's token
  // is Diverged, not "nothing to send": a coordinator's clocks restart at 0
  // when its process does, so it can tag a new op with a tick its own Dead
  // replica saw on an older one, and comparing ticks alone then skips the
  // new op (cluster seed 40013669: an acknowledged write lost). A token of
  // no op (a tick raised by a cutoff) compares with any. The same holds
  // below the source's tick when `known_tokens` names the source's op under
  // the replica's tick: a reused tick is as often below the newest one
  // (cluster seed 4800007101: a coordinator's reused tick 1 named another
  // op on its own replica than on the source, which was at tick 2).
  // REQUIRES: the maps carry no snapshot (take RecoveryClocks()).
  static absl::StatusOr<WalDeltaResolver> Start(const ClockMap& recovery_point, const ClockMap& newest,
                                                const ClockMap& oldest, const KnownTokens& known_tokens = {});

  // Whether the answer is known: from Start when every clock is equal, or
  // after the record that covered the last clock.
  bool resolved() const { return resolved_; }
  // The first WAL index to send, or nullopt when nothing is missing.
  // REQUIRES: resolved().
  std::optional<SeqNumber> from() const;

  // Step (8), one record, newest first: drops each wanted clock the tag
  // covers. UntaggedRecords for a record without a tag.
  // REQUIRES: !resolved(); `op_num` below every op visited before.
  absl::Status Visit(SeqNumber op_num, const std::optional<ClockTag>& tag);
  // The WAL's first record was visited and clocks are still wanted.
  // REQUIRES: !resolved().
  absl::Status Exhausted() const;

  // Per wanted clock, the last tick the recovering replica has seen.
  const std::map<ClockMap::Key, uint64_t>& wanted() const { return wanted_; }

 private:
  WalDeltaResolver() = default;

  std::map<ClockMap::Key, uint64_t> wanted_;
  bool resolved_ = false;
  std::optional<SeqNumber> from_;
  std::optional<SeqNumber> last_visited_;
};

}  // namespace engine
