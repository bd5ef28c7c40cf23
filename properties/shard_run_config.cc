#include <fmt/format.h>

#include "properties/run_config.h"
#include "properties/shard_run.h"
#include "sim/decision.h"

namespace properties {

ShardRunConfig ShardRunConfig::Draw(uint64_t seed) {
  // A separate stream from the run's own decisions: the draw of the mix
  // must not shift when the run's code changes.
  sim::PrngSource mix(seed ^ 0x5357'4152'4d4d'4958ull);  // "SWARMMIX"
  ShardRunConfig config;
  config.seed = seed;
  const sim::Strategy strategies[] = {sim::Strategy::kRandom, sim::Strategy::kPct,
                                      sim::Strategy::kRoundRobin};
  config.strategy = strategies[mix.Draw(3)];
  // The persistence and fault profile: a swarm draw of its own stream, so
  // faults are part of every campaign (about half the seeds have some).
  sim::PrngSource profile_stream(seed ^ 0x5052'4f46'494c'4521ull);  // "PROFILE!"
  config.profile = sim::PersistenceProfile::Draw(profile_stream);
  config.clients = static_cast<int>(mix.Between(1, 4));
  config.ops_per_client = static_cast<int>(mix.Between(4, 20));
  config.wait_probability = static_cast<double>(mix.Draw(5)) / 4.0;
  config.crashes = static_cast<int>(mix.Draw(4));
  config.power_loss_probability = static_cast<double>(mix.Draw(3)) / 2.0;
  config.id_range = mix.Between(3, 30);
  const engine::Distance distances[] = {engine::Distance::kDot, engine::Distance::kCosine,
                                        engine::Distance::kEuclid};
  config.collection.distance = distances[mix.Draw(3)];
  config.collection.dimension = static_cast<uint32_t>(mix.Between(1, 4));
  config.wal_segment_capacity_bytes = mix.Chance(0.5) ? 1024 : 16384;
  config.profile = config.profile.SizedToWorkload(config.PlannedOps());
  return config;
}

std::string ShardRunConfig::Describe() const { return ConfigLine(*this); }

engine::ShardOptions ShardOptionsOf(const ShardRunConfig& config) {
  engine::ShardOptions options;
  options.collection = config.collection;
  options.wal_segment_capacity_bytes = config.wal_segment_capacity_bytes;
  return options;
}

}  // namespace properties
