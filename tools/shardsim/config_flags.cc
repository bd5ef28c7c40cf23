#include "tools/shardsim/config_flags.h"

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "properties/run_config.h"
#include "sim/profile.h"

namespace shardsim {

bool ConfigOverrides::Given(const std::string& key) const { return Value(key).has_value(); }

std::optional<std::string> ConfigOverrides::Value(const std::string& key) const {
  const auto it = values.find(key);
  return it == values.end() ? std::nullopt : it->second;
}

std::string ConfigOverrides::AsFlags() const {
  std::string flags;
  for (const properties::ConfigField& field : properties::ConfigFields()) {
    const auto value = Value(std::string(field.key));
    if (!value) continue;
    const std::string_view flag = field.flag.substr(0, field.flag.find(','));
    flags += fmt::format(" {} '{}'", flag, *value);
  }
  return flags;
}

std::optional<std::string> ConfigOverrides::FirstGivenFlag() const {
  for (const properties::ConfigField& field : properties::ConfigFields()) {
    if (Given(std::string(field.key))) return std::string(field.flag.substr(0, field.flag.find(',')));
  }
  return std::nullopt;
}

nlohmann::json ConfigOverrides::ToJson() const {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [key, value] : values) {
    if (value) json[key] = *value;
  }
  return json;
}

std::string ProfilesHelp() {
  // From the profile table itself, so that a new profile shows up here.
  std::string text = "Profiles (--profile NAME; sim/profile.h, docs/simulation.md):\n";
  for (const std::string& name : sim::PersistenceProfile::Names()) {
    const std::optional<sim::PersistenceProfile> profile = sim::PersistenceProfile::Named(name);
    SS_ASSERT(profile.has_value(), "a listed profile name has a profile: {}", name);
    text += fmt::format("  {}\n", profile->Describe());
  }
  return text;
}

void AddConfigFlags(CLI::App& command, ConfigOverrides& overrides) {
  for (const properties::ConfigField& field : properties::ConfigFields()) {
    if (field.flag.empty()) continue;
    std::optional<std::string>& value = overrides.values[std::string(field.key)];
    command.add_option(std::string(field.flag), value,
                       fmt::format("{} (default: {})", field.help,
                                   field.drawn_per_seed ? std::string("drawn from the seed")
                                                        : "'" + field.format(properties::ShardRunConfig{}) + "'"))
        ->group("Run config (each overrides the seed's draw)");
  }
  command.footer(ProfilesHelp());
}

std::optional<std::string> BuildConfig(uint64_t seed, const ConfigOverrides& overrides,
                                       properties::ShardRunConfig& config) {
  config = properties::ShardRunConfig::Draw(seed);
  for (const properties::ConfigField& field : properties::ConfigFields()) {
    const auto value = overrides.Value(std::string(field.key));
    if (!value) continue;
    if (auto status = field.parse(config, *value); !status.ok()) {
      return fmt::format("{}: {}", field.flag.substr(0, field.flag.find(',')), std::string(status.message()));
    }
  }
  config.profile = config.profile.SizedToWorkload(config.PlannedOps());
  return std::nullopt;
}

}  // namespace shardsim
