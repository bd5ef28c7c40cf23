#include "properties/cluster/cluster_shrink.h"

#include <algorithm>
#include <set>

#include "engine/common/assert.h"
#include "properties/failure_signature.h"

namespace properties {

namespace {


class ClusterShrinker {
 public:
  ClusterShrinker(const ClusterScenario& failing, const ClusterShrinkOptions& options)
      : options_(options), best_(failing) {}

  ClusterShrinkResult Run();

 private:
  ClusterRunResult Replay(const ClusterScenario& candidate) {
    return options_.replay ? options_.replay(candidate) : ReplayCluster(candidate, {});
  }
  // The same signature, not only the same invariant (properties/shrink.cc).
  bool StillFails(const ClusterRunResult& result) const {
    if (!result.failure.has_value() || result.failure->invariant != best_.expected_invariant) return false;
    return signature_key_.empty() ||
           SignatureOf(result.failure->invariant, result.failure->message).Key() == signature_key_;
  }
  std::string signature_key_;
  bool BudgetLeft() const { return replays_ < options_.max_replays; }
  // Replays a candidate; keeps it if it still fails the same way.
  bool TryCandidate(ClusterScenario candidate);
  bool DropStepChunks();
  bool ShortenSleeps();
  bool LosslessConfig();
  bool FewerPeers();
  bool FewerClients();
  void TrimTape();

  const ClusterShrinkOptions& options_;
  ClusterScenario best_;
  ClusterRunResult best_result_;
  size_t replays_ = 0;
};

ClusterScenario WithoutSteps(const ClusterScenario& scenario, size_t begin, size_t end) {
  SS_ASSERT(begin < end, "an empty chunk [{}, {})", begin, end);
  ClusterScenario out = scenario;
  out.steps.clear();
  for (size_t index = 0; index < scenario.steps.size(); ++index) {
    if (index < begin || index >= end) out.steps.push_back(scenario.steps[index]);
  }
  return out;
}

bool ClusterShrinker::TryCandidate(ClusterScenario candidate) {
  if (!BudgetLeft()) return false;
  ++replays_;
  ClusterRunResult result = Replay(candidate);
  if (!StillFails(result)) return false;
  best_ = std::move(candidate);
  best_result_ = std::move(result);
  if (options_.progress) options_.progress(replays_, best_.StepCount(), best_.tape.size());
  return true;
}

// Delta debugging over the step list: chunks of halving size, down to one.
bool ClusterShrinker::DropStepChunks() {
  bool changed = false;
  for (size_t chunk = std::max<size_t>(1, best_.steps.size() / 2); chunk >= 1 && BudgetLeft(); chunk /= 2) {
    for (size_t begin = 0; begin < best_.steps.size() && BudgetLeft();) {
      const size_t end = std::min(begin + chunk, best_.steps.size());
      if (TryCandidate(WithoutSteps(best_, begin, end))) {
        changed = true;  // the same begin now names the next chunk
      } else {
        begin = end;
      }
    }
    if (chunk == 1) break;
  }
  return changed;
}

// A sleep goes, or halves; the schedule the failure needs usually survives.
bool ClusterShrinker::ShortenSleeps() {
  bool changed = false;
  for (size_t index = 0; index < best_.steps.size() && BudgetLeft(); ++index) {
    if (best_.steps[index].kind != ClusterStepKind::kSleep || best_.steps[index].sleep_ms == 0) continue;
    const uint64_t sleep_ms = best_.steps[index].sleep_ms;
    for (uint64_t shorter : {uint64_t{0}, sleep_ms / 2}) {
      if (shorter == sleep_ms) break;
      ClusterScenario candidate = best_;
      candidate.steps[index].sleep_ms = shorter;
      if (TryCandidate(std::move(candidate))) {
        changed = true;
        break;
      }
    }
  }
  return changed;
}

bool ClusterShrinker::LosslessConfig() {
  bool changed = false;
  if (best_.config.lossy_network) {
    ClusterScenario candidate = best_;
    candidate.config.lossy_network = false;
    changed |= TryCandidate(std::move(candidate));
  }
  if (best_.config.lossy_log) {
    ClusterScenario candidate = best_;
    candidate.config.lossy_log = false;
    changed |= TryCandidate(std::move(candidate));
  }
  if (best_.config.network_stalls) {
    ClusterScenario candidate = best_;
    candidate.config.network_stalls = false;
    candidate.config.network_stall_percent = kDefaultNetworkStallPercent;
    changed |= TryCandidate(std::move(candidate));
  }
  if (best_.config.network_stalls && best_.config.network_stall_percent != kDefaultNetworkStallPercent) {
    ClusterScenario candidate = best_;
    candidate.config.network_stall_percent = kDefaultNetworkStallPercent;
    changed |= TryCandidate(std::move(candidate));
  }
  if (best_.config.slow_log) {
    ClusterScenario candidate = best_;
    candidate.config.slow_log = false;
    changed |= TryCandidate(std::move(candidate));
  }
  return changed;
}

// As many peers as the steps name (at least two); the factors follow.
bool ClusterShrinker::FewerPeers() {
  uint32_t named = kMinPeers;
  for (const ClusterStep& step : best_.steps) {
    const bool names_peer = step.kind != ClusterStepKind::kSleep && step.kind != ClusterStepKind::kHeal &&
                            step.kind != ClusterStepKind::kPartition;
    if (names_peer) named = std::max<uint32_t>(named, static_cast<uint32_t>(std::max(step.peer, step.to)));
    if (!step.side.empty()) named = std::max<uint32_t>(named, static_cast<uint32_t>(*step.side.rbegin()));
  }
  if (named >= best_.config.peers) return false;
  ClusterScenario candidate = best_;
  candidate.config.peers = named;
  for (const ClusterStep& step : candidate.steps) {
    if (step.side.size() >= named) return false;  // it would cut off nobody
  }
  candidate.config.replication_factor = std::min(candidate.config.replication_factor, named);
  candidate.config.write_consistency_factor =
      std::min(candidate.config.write_consistency_factor, candidate.config.replication_factor);
  for (ClusterStep& step : candidate.steps) step.read_factor = std::min(step.read_factor, named);
  return TryCandidate(std::move(candidate));
}

// Renumbers the clients that still have steps to 1.., fewer actors.
bool ClusterShrinker::FewerClients() {
  std::set<uint32_t> used;
  for (const ClusterStep& step : best_.steps) {
    if (step.actor != 0) used.insert(step.actor);
  }
  const uint32_t wanted = std::max<uint32_t>(1, static_cast<uint32_t>(used.size()));
  if (wanted >= best_.config.clients) return false;
  ClusterScenario candidate = best_;
  candidate.config.clients = wanted;
  for (ClusterStep& step : candidate.steps) {
    if (step.actor != 0) step.actor = static_cast<uint32_t>(std::distance(used.begin(), used.find(step.actor))) + 1;
  }
  return TryCandidate(std::move(candidate));
}

// An exhausted tape answers 0, so trailing zero bytes change nothing.
void ClusterShrinker::TrimTape() {
  while (!best_.tape.empty() && best_.tape.back() == 0) best_.tape.pop_back();
}

ClusterShrinkResult ClusterShrinker::Run() {
  SS_ASSERT(!best_.expected_invariant.empty(), "only a failing scenario shrinks");
  SS_ASSERT(options_.max_replays >= 1);
  ClusterShrinkResult out;
  ++replays_;
  best_result_ = Replay(best_);
  if (StillFails(best_result_)) {
    out.reproduced = true;
    signature_key_ = SignatureOf(best_result_.failure->invariant, best_result_.failure->message).Key();
    constexpr int kMaxRounds = 20;
    for (int round = 0; round < kMaxRounds && BudgetLeft(); ++round) {
      bool changed = false;
      changed |= LosslessConfig();
      changed |= DropStepChunks();
      changed |= FewerClients();
      changed |= FewerPeers();
      changed |= ShortenSleeps();
      if (!changed) break;
    }
    TrimTape();
  }
  SS_ASSERT(replays_ <= options_.max_replays, "{} replays over the bound {}", replays_, options_.max_replays);
  out.scenario = best_;
  out.result = best_result_;
  out.replays = replays_;
  return out;
}

}  // namespace

ClusterShrinkResult ShrinkClusterScenario(const ClusterScenario& failing, const ClusterShrinkOptions& options) {
  return ClusterShrinker(failing, options).Run();
}

}  // namespace properties
