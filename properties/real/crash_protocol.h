// What a crash child (the engine process of a kill -9 campaign) tells its
// parent, one line per message over a pipe. Each message is written with a
// single write(2) as soon as it happens, so when the parent kills the child
// it knows everything that happened before the last complete line.
//
//   L <wal_next_index>                    the shard loaded
//   A <op_num> <record hex>               OnWalAppend: the op is in the WAL
//   S <next_index>                        OnWalSynced: every entry below is durable
//   I <client> <record hex>               an update is about to be called
//   K <client> <op_num>                   it returned acknowledged
//   C <client> <op_num>                   it returned completed (wait=true)
//   R <client>                            it returned (after K or C, or rejected)
//   P <op_num>                            a plunger returned: ops through op_num applied
//   H <phase>                             a phase begins: load, update, flush, freeze,
//                                         optimize, vacuum, snapshot, restore
//   T <kind> <path> <save_wal> <frozen> <wal_next> <applied_before> <base>
//                                         a snapshot was made ("-" for none)
//   D                                     a restore over the live shard returned
//   F <what>: <status>                    an engine call failed (nothing is injected)
//   E                                     the clients finished and the shard shut down
//
// The `I` line comes before the engine can append the op, so an op the
// parent finds in the WAL after a kill without its `A` line must be one of
// the updates in flight (their `I` without `R`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"
#include "engine/model/operation.h"

namespace properties::crash {

struct Loaded {
  uint64_t wal_next_index = 0;
};
struct Appended {
  engine::SeqNumber op_num = 0;
  engine::WalRecord record;
};
struct Synced {
  uint64_t next_index = 0;
};
struct Intent {
  int client = 0;
  engine::WalRecord record;
};
struct Acked {
  int client = 0;
  engine::SeqNumber op_num = 0;
  bool completed = false;
};
struct Returned {
  int client = 0;
};
struct Plunged {
  engine::SeqNumber op_num = 0;
};
struct Phase {
  std::string name;
};
struct SnapshotMade {
  std::string kind;  // shard, partial, collection
  std::string path;
  bool save_wal = false;
  std::optional<engine::SeqNumber> frozen_through;
  uint64_t wal_next_index = 0;
  std::optional<engine::SeqNumber> applied_before;
  std::optional<std::string> base;  // a partial snapshot's base archive
};
struct RestoreDone {};
struct Failed {
  std::string what;
};
struct Ended {};

using Message = std::variant<Loaded, Appended, Synced, Intent, Acked, Returned, Plunged, Phase, SnapshotMade,
                             RestoreDone, Failed, Ended>;

// The line for `message`, with its trailing newline.
std::string Encode(const Message& message);
// REQUIRES: `line` without its newline. InvalidArgument for a malformed line.
absl::StatusOr<Message> Decode(std::string_view line);

}  // namespace properties::crash
