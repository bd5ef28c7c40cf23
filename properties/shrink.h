// Shrinking a failing scenario: fewer steps, fewer crashes, fewer clients,
// simpler operations and a shorter, simpler decision tape, keeping the
// failure's signature (properties/failure_signature.h: the invariant it
// breaks, the check, the component and the error's class; a reduction that
// changes any of them is refused). Deterministic: the same
// scenario always shrinks to the same result.
#pragma once

#include <cstddef>
#include <functional>

#include "properties/scenario.h"

namespace properties {

struct ShrinkOptions {
  // A bound on replays (each costs a few milliseconds).
  size_t max_replays = 3000;
  // Called after each accepted reduction.
  std::function<void(size_t replays, size_t steps, size_t tape_bytes)> progress;
  // Replays a candidate; ReplayScenario when empty (a run that ends in an
  // assertion replays in a child: tools/shardsim/child_runs.h).
  std::function<ShardRunResult(const Scenario&)> replay;
};

struct ShrinkResult {
  bool reproduced = false;  // the input fails with its expected invariant
  Scenario scenario;        // the smallest failing scenario found
  ShardRunResult result;    // its replay
  size_t replays = 0;
};

// REQUIRES: failing.expected_invariant is not empty.
ShrinkResult ShrinkScenario(const Scenario& failing, const ShrinkOptions& options = {});

}  // namespace properties
