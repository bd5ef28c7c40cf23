// The run config's knobs as command-line flags: one flag per entry of the
// field table (properties/run_config.h), so `run`, `record`,
// `check-determinism` and `campaign` take the same overrides and a new knob
// needs no change here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "properties/shard_run.h"

namespace shardsim {

struct ConfigOverrides {
  // Key (as in the config line) -> the text given on the command line; an
  // entry exists for every flag, with a value only when the flag was given.
  std::map<std::string, std::optional<std::string>> values;

  bool Given(const std::string& key) const;
  std::optional<std::string> Value(const std::string& key) const;
  // " --profile 'faulty' --weights '...'" for the flags given, to print a
  // command that runs the same config again.
  std::string AsFlags() const;
  // The first flag given (its first name, "--ops" for --ops,--steps), if any.
  std::optional<std::string> FirstGivenFlag() const;
  nlohmann::json ToJson() const;
};

// Adds a flag for every knob that has one (the seed is each command's own),
// and sets the command's help footer to ProfilesHelp().
void AddConfigFlags(CLI::App& command, ConfigOverrides& overrides);
// "Profiles (--profile NAME ...):" and a line per named profile saying what
// it is (PersistenceProfile::Describe), from sim::PersistenceProfile's table.
std::string ProfilesHelp();

// The seed's swarm draw, then each given override in the table's order, then
// the fault profile sized to the workload. Returns an error message (naming
// the flag) for a value the knob does not take.
std::optional<std::string> BuildConfig(uint64_t seed, const ConfigOverrides& overrides,
                                       properties::ShardRunConfig& config);

}  // namespace shardsim
