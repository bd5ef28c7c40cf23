// What a client of a simulated run can do, and the names scenario files,
// workload weights and failures use for it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace properties {

enum class Action {
  kUpdate, kDeleteByFilter, kRetrieve, kScroll, kCount, kSearch, kPlunge, kFlush, kFreeze,
  kSnapshot, kOptimize, kVacuum, kCancelOptimize,
  // A partial snapshot against the manifest of the newest WAL-less full
  // snapshot (the receiver is that snapshot restored); and a collection
  // snapshot of the shard (a collection of one shard, id 0).
  kPartialSnapshot, kCollectionSnapshot
};

const char* ActionName(Action action);
std::optional<Action> ParseAction(std::string_view name);
// Every action name, comma-separated, for help texts and errors.
std::string ActionNames();

}  // namespace properties
