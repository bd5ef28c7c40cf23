// TEMPORARY STUB (branch cluster-tools): stands in for cluster_run.cc until
// the simulated cluster exists, so that the tools, the format and the
// shrinker build and test. Every run passes; the trace hash is a hash of the
// scenario. THE LEAD DELETES THIS FILE (and its CMake line) AT MERGE.
#include <cstdint>

#include "properties/cluster/cluster_run.h"
#include "properties/cluster/cluster_stats.h"

namespace properties {

namespace {

class Fnv {
 public:
  void Add(uint64_t value) {
    for (int byte = 0; byte < 8; ++byte) {
      hash_ ^= (value >> (8 * byte)) & 0xff;
      hash_ *= 0x100000001b3ull;
    }
  }
  uint64_t hash() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ull;
};

uint64_t HashScenario(const ClusterConfig& config, const std::vector<ClusterStep>& steps,
                      const std::vector<uint8_t>& tape) {
  Fnv fnv;
  for (uint64_t field : {config.seed, uint64_t{config.peers}, uint64_t{config.replication_factor},
                         uint64_t{config.write_consistency_factor}, uint64_t{config.clients},
                         uint64_t{config.point_ids}, uint64_t{config.lossy_network}, uint64_t{config.lossy_log},
                         uint64_t(config.default_transfer_method)}) {
    fnv.Add(field);
  }
  for (const ClusterStep& step : steps) {
    for (uint64_t field : {uint64_t(step.kind), uint64_t{step.actor}, step.peer, step.to, step.id, step.value,
                           uint64_t{step.wait}, uint64_t(step.ordering), uint64_t{step.read_factor},
                           uint64_t(step.crash_kind), uint64_t{step.one_way}, uint64_t(step.method), step.sleep_ms}) {
      fnv.Add(field);
    }
    for (engine::PeerId peer : step.side) fnv.Add(peer);
  }
  for (uint8_t byte : tape) fnv.Add(byte);
  return fnv.hash();
}

ClusterRunResult PassingResult(const ClusterConfig& config, const std::vector<ClusterStep>& steps,
                               const std::vector<uint8_t>& tape) {
  ClusterRunResult result;
  result.stats.peers = config.peers;
  result.trace_hash = HashScenario(config, steps, tape);
  result.trace_steps = steps.size();
  return result;
}

}  // namespace

nlohmann::json ClusterRunResult::ToJson() const {
  return {{"passed", !failure.has_value()},
          {"invariant", failure ? failure->invariant : ""},
          {"failure", failure ? failure->message : ""},
          {"trace_steps", trace_steps},
          {"stats", ClusterStatsToJson(stats)}};
}

ClusterRunResult RunClusterFromSeed(const ClusterConfig& config, const ClusterRunOptions& options) {
  return PassingResult(config, DrawClusterSteps(config), {});
}

ClusterRunResult ReplayCluster(const ClusterScenario& scenario, const ClusterRunOptions& options) {
  return PassingResult(scenario.config, scenario.steps, scenario.tape);
}

RecordedClusterRun RecordClusterRun(const ClusterConfig& config, const ClusterRunOptions& options) {
  RecordedClusterRun recorded;
  recorded.scenario.config = config;
  recorded.scenario.steps = DrawClusterSteps(config);
  recorded.result = PassingResult(config, recorded.scenario.steps, {});
  return recorded;
}

}  // namespace properties
