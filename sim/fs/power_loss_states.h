// Which disk states a power loss may leave, as keep-vectors over the pending
// operations (SimFileSystem::PendingOperations), for tools that try them one
// by one as CrashMonkey and ALICE do (`shardsim crash-every`).
//
// Legality is SimFileSystem::PowerLossKeeping's (the strict POSIX,
// per-entry rules of docs/simulation.md, whatever the profile): per name
// (directory inode + entry name) the kept operations are a prefix of that
// name's pending operations, and a rename whose two halves are both pending
// is kept or dropped whole. A file's writes may be kept in any subset.
// A write is kept or dropped whole: torn writes and block mixes are not
// among these states (the drawn crash models reach them).
#pragma once

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "sim/decision.h"
#include "sim/fs/sim_fs.h"

namespace sim {

// OK if a power loss may keep exactly `keep` of `pending`, else
// InvalidArgument naming the rule broken: the same answer PowerLossKeeping
// gives, without a file system.
absl::Status CheckKeepLegal(const std::vector<PendingOperation>& pending, const std::vector<bool>& keep);

struct PowerLossStateBounds {
  // Every legal subset that drops at most this many pending operations, and
  // every one that keeps at most this many (a rename's two halves count as
  // one operation).
  size_t max_dropped = 2;
  // At most this many states in all (at least 1).
  size_t max_states = 32;
};

struct PowerLossStates {
  // Legal, distinct keep-vectors, in the order to try them.
  std::vector<std::vector<bool>> keeps;
  // Subsets of the systematic families the per-name rule refused.
  size_t illegal_skipped = 0;
  // The systematic families did not fit in max_states: the last level tried
  // was sampled, the ones past it not tried.
  bool truncated = false;
};

// The states to try after a power loss with these pending operations:
//   1. keep everything, keep nothing;
//   2. level by level for j = 1..max_dropped: every subset dropping exactly
//      j operations and every one keeping exactly j, illegal ones skipped
//      (a level that does not fit in what is left of max_states is sampled
//      uniformly, and enumeration stops there);
//   3. random legal subsets until max_states: each draws a keep rate r in
//      (0, 1], then walks the operations in order keeping each with
//      probability r, except that a namespace operation on a name that
//      already lost one is dropped (so every draw is legal).
// Every random choice draws from `sample`, so the same pending list and the
// same source give the same states.
PowerLossStates EnumeratePowerLossStates(const std::vector<PendingOperation>& pending,
                                         const PowerLossStateBounds& bounds, DecisionSource& sample);

}  // namespace sim
