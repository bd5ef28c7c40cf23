#include "properties/run_config.h"

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/assert.h"
#include "engine/model/types.h"

namespace properties {

namespace {

// Bounds that keep a hostile scenario line from asking for unbounded work.
constexpr uint64_t kMaxClients = 64;
constexpr uint64_t kMaxOpsPerClient = 100'000;
constexpr uint64_t kMaxCrashes = 999;
constexpr uint64_t kMaxIdRange = 1'000'000;
constexpr uint64_t kMaxDimension = 4096;
constexpr uint64_t kMinWalSegmentBytes = 256;
constexpr uint64_t kMaxWalSegmentBytes = uint64_t{1} << 30;
constexpr size_t kMaxConfigFields = 64;

absl::StatusOr<uint64_t> Number(std::string_view key, std::string_view value, uint64_t low, uint64_t high) {
  uint64_t parsed = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (value.empty() || error != std::errc() || end != value.data() + value.size() || parsed < low || parsed > high) {
    return absl::InvalidArgumentError(fmt::format("{}={} is not a number in [{}, {}]", key, value, low, high));
  }
  return parsed;
}

absl::StatusOr<double> Probability(std::string_view key, std::string_view value) {
  const std::string copy(value);
  char* end = nullptr;
  const double parsed = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || !(parsed >= 0.0 && parsed <= 1.0)) {
    return absl::InvalidArgumentError(fmt::format("{}={} is not a probability in [0, 1]", key, value));
  }
  return parsed;
}

// Sets `target` from a number in [low, high] (the lambdas below stay one line each).
template <typename Target>
absl::Status SetNumber(Target& target, std::string_view key, std::string_view value, uint64_t low, uint64_t high) {
  const absl::StatusOr<uint64_t> parsed = Number(key, value, low, high);
  if (parsed.ok()) target = static_cast<Target>(*parsed);
  return parsed.status();
}

absl::Status SetProbability(double& target, std::string_view key, std::string_view value) {
  const absl::StatusOr<double> parsed = Probability(key, value);
  if (parsed.ok()) target = *parsed;
  return parsed.status();
}

absl::Status SetStrategy(ShardRunConfig& config, std::string_view value) {
  const auto strategy = sim::ParseStrategy(value);
  if (!strategy) return absl::InvalidArgumentError(fmt::format("unknown strategy '{}' (random, pct, round-robin)", value));
  config.strategy = *strategy;
  return absl::OkStatus();
}

absl::Status SetProfile(ShardRunConfig& config, std::string_view value) {
  const auto profile = sim::PersistenceProfile::FromSpec(value);
  if (!profile) {
    return absl::InvalidArgumentError(fmt::format("unknown or malformed profile '{}' (a name: {}, or a spec as "
                                                  "docs/simulation.md describes)",
                                                  value, fmt::join(sim::PersistenceProfile::Names(), ", ")));
  }
  config.profile = *profile;
  return absl::OkStatus();
}

absl::Status SetDistance(ShardRunConfig& config, std::string_view value) {
  const auto distance = engine::ParseDistance(value);
  if (!distance) return absl::InvalidArgumentError(fmt::format("unknown distance '{}' (dot, cosine, euclid)", value));
  config.collection.distance = *distance;
  return absl::OkStatus();
}

absl::Status SetMix(ShardRunConfig& config, std::string_view value) {
  absl::StatusOr<WorkloadMix> mix = WorkloadMix::Parse(value);
  if (mix.ok()) config.mix = *std::move(mix);
  return mix.status();
}

using C = ShardRunConfig;
using V = std::string_view;

const ConfigField kFields[] = {
    {"seed", "", "Seed of the run (decides everything)",
     [](const C& c) { return fmt::format("{}", c.seed); },
     [](C& c, V v) { return SetNumber(c.seed, "seed", v, 0, UINT64_MAX); }},
    {"strategy", "--strategy", "Scheduler: random, pct, round-robin",
     [](const C& c) { return std::string(sim::StrategyName(c.strategy)); }, SetStrategy},
    {"profile", "--profile",
     "Persistence and fault profile: a name (the profiles are listed below) or a spec as a failure prints it",
     [](const C& c) { return c.profile.ToSpec(); }, SetProfile},
    {"clients", "--clients", "Concurrent clients",
     [](const C& c) { return fmt::format("{}", c.clients); },
     [](C& c, V v) { return SetNumber(c.clients, "clients", v, 1, kMaxClients); }},
    {"ops_per_client", "--ops,--steps,--ops-per-client", "Client steps (operations and reads) per client per process",
     [](const C& c) { return fmt::format("{}", c.ops_per_client); },
     [](C& c, V v) { return SetNumber(c.ops_per_client, "ops_per_client", v, 0, kMaxOpsPerClient); }},
    {"wait", "--wait", "Probability that an update waits for its result (wait=true)",
     [](const C& c) { return fmt::format("{}", c.wait_probability); },
     [](C& c, V v) { return SetProbability(c.wait_probability, "wait", v); }},
    {"crashes", "--crashes", "Crashes to inject (each ends an engine process)",
     [](const C& c) { return fmt::format("{}", c.crashes); },
     [](C& c, V v) { return SetNumber(c.crashes, "crashes", v, 0, kMaxCrashes); }},
    {"power_loss", "--power-loss", "Probability that a crash is a power loss rather than a process crash",
     [](const C& c) { return fmt::format("{}", c.power_loss_probability); },
     [](C& c, V v) { return SetProbability(c.power_loss_probability, "power_loss", v); }},
    {"ids", "--ids", "Point ids are drawn from [0, ids)",
     [](const C& c) { return fmt::format("{}", c.id_range); },
     [](C& c, V v) { return SetNumber(c.id_range, "ids", v, 1, kMaxIdRange); }},
    {"distance", "--distance", "Vector distance: dot, cosine, euclid",
     [](const C& c) { return std::string(engine::DistanceName(c.collection.distance)); }, SetDistance},
    {"dim", "--dim", "Vector dimension",
     [](const C& c) { return fmt::format("{}", c.collection.dimension); },
     [](C& c, V v) { return SetNumber(c.collection.dimension, "dim", v, 1, kMaxDimension); }},
    {"wal_segment", "--wal-segment", "WAL segment capacity in bytes",
     [](const C& c) { return fmt::format("{}", c.wal_segment_capacity_bytes); },
     [](C& c, V v) {
       return SetNumber(c.wal_segment_capacity_bytes, "wal_segment", v, kMinWalSegmentBytes, kMaxWalSegmentBytes);
     }},
    {"weights", "--weights",
     "Workload mix: 'default' or action:weight,... (actions not named get 0), e.g. update:50,snapshot:10,retrieve:20",
     [](const C& c) { return c.mix.ToText(); }, SetMix, [](const C& c) { return c.mix.IsDefault(); },
     /*drawn_per_seed=*/false},
};

}  // namespace

std::span<const ConfigField> ConfigFields() { return kFields; }

absl::Status ApplyConfigField(ShardRunConfig& config, std::string_view key, std::string_view value) {
  for (const ConfigField& field : kFields) {
    if (field.key == key) return field.parse(config, value);
  }
  std::vector<std::string_view> keys;
  for (const ConfigField& field : kFields) keys.push_back(field.key);
  return absl::InvalidArgumentError(fmt::format("unknown config key '{}' (keys: {})", key, fmt::join(keys, ", ")));
}

std::string ConfigLine(const ShardRunConfig& config) {
  std::string line;
  for (const ConfigField& field : kFields) {
    if (field.omitted && field.omitted(config)) continue;
    const std::string value = field.format(config);
    SS_ASSERT(!value.empty() && value.find(' ') == std::string::npos, "config {} writes '{}'", field.key, value);
    line += fmt::format("{}{}={}", line.empty() ? "" : " ", field.key, value);
  }
  return line;
}

absl::Status ParseConfigLine(std::string_view text, ShardRunConfig& config) {
  size_t fields = 0;
  while (!text.empty()) {
    const size_t space = text.find(' ');
    const std::string_view item = text.substr(0, space);
    text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
    if (item.empty()) continue;
    if (++fields > kMaxConfigFields) return absl::InvalidArgumentError("config line has too many fields");
    const size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format("config field '{}' is not key=value", item));
    }
    if (auto status = ApplyConfigField(config, item.substr(0, equals), item.substr(equals + 1)); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

nlohmann::json ConfigJson(const ShardRunConfig& config) {
  nlohmann::json json = nlohmann::json::object();
  for (const ConfigField& field : kFields) json[std::string(field.key)] = field.format(config);
  return json;
}

}  // namespace properties
