// The run configuration as data: every knob of ShardRunConfig once, with the
// key a scenario's config line, Describe() and the run JSON use, the
// command-line flag that sets it, its help text, and how it is written and
// parsed. Adding a knob is one entry in run_config.cc; the scenario format,
// `shardsim run`/`campaign` flags and the JSON follow.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "properties/shard_run.h"

namespace properties {

struct ConfigField {
  std::string_view key;   // "clients": the config line's and the JSON's name
  std::string_view flag;  // "--clients" (CLI11 syntax, aliases comma-separated); empty: no flag
  std::string_view help;
  std::string (*format)(const ShardRunConfig& config);
  // Sets the knob from `value`; an error names the key and the accepted values.
  absl::Status (*parse)(ShardRunConfig& config, std::string_view value);
  // When set and true, the knob is left off the config line (it is at the
  // value an older line without the key means).
  bool (*omitted)(const ShardRunConfig& config) = nullptr;
  // Whether ShardRunConfig::Draw draws it per seed (else it has one default).
  bool drawn_per_seed = true;
};

// Every knob, in the config line's order.
std::span<const ConfigField> ConfigFields();

// Sets the knob `key` from `value`. An unknown key is an error.
absl::Status ApplyConfigField(ShardRunConfig& config, std::string_view key, std::string_view value);

// "seed=7 strategy=pct ...": every knob that is not omitted, in order.
std::string ConfigLine(const ShardRunConfig& config);
// Applies each "key=value" of a config line (space-separated) in turn.
absl::Status ParseConfigLine(std::string_view text, ShardRunConfig& config);

// {"seed": "7", "strategy": "pct", ...}: the config line as an object.
nlohmann::json ConfigJson(const ShardRunConfig& config);

}  // namespace properties
