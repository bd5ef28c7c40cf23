// Shrinking a failing cluster scenario (properties/shrink.h's approach for
// the shard run): fewer steps (chunks of halving size, then one by one),
// shorter sleeps, fewer peers, lossless network and log, a shorter tape,
// keeping the failure's signature (invariant, check, component, error
// class). Deterministic: the same scenario always shrinks to the same result.
#pragma once

#include <cstddef>
#include <functional>

#include "properties/cluster/cluster_run.h"

namespace properties {

struct ClusterShrinkOptions {
  // A bound on replays (a cluster replay costs more than a shard one).
  size_t max_replays = 400;
  // Called after each accepted reduction.
  std::function<void(size_t replays, size_t steps, size_t tape_bytes)> progress;
  // Replays a candidate; ReplayCluster when empty (tests plant their own).
  std::function<ClusterRunResult(const ClusterScenario&)> replay;
};

struct ClusterShrinkResult {
  bool reproduced = false;   // the input fails with its expected invariant
  ClusterScenario scenario;  // the smallest failing scenario found
  ClusterRunResult result;   // its replay
  size_t replays = 0;
};

// REQUIRES: failing.expected_invariant is not empty.
ClusterShrinkResult ShrinkClusterScenario(const ClusterScenario& failing, const ClusterShrinkOptions& options = {});

}  // namespace properties
