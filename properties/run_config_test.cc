// The run config's field table: every knob writes a value its parser reads
// back, the config line round-trips, and bad values are refused with the
// key named.
#include "properties/run_config.h"

#include <set>

#include <gtest/gtest.h>

namespace properties {
namespace {

TEST(RunConfig, EveryFieldRoundTripsThroughItsText) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const ShardRunConfig drawn = ShardRunConfig::Draw(seed);
    for (const ConfigField& field : ConfigFields()) {
      ShardRunConfig parsed;
      ASSERT_TRUE(field.parse(parsed, field.format(drawn)).ok()) << field.key << "=" << field.format(drawn);
      EXPECT_EQ(field.format(parsed), field.format(drawn)) << field.key;
    }
  }
}

TEST(RunConfig, ConfigLineRoundTrips) {
  ShardRunConfig drawn = ShardRunConfig::Draw(7);
  ASSERT_TRUE(ApplyConfigField(drawn, "weights", "update:5,snapshot:1,retrieve:2").ok());
  ShardRunConfig parsed;
  ASSERT_TRUE(ParseConfigLine(ConfigLine(drawn), parsed).ok()) << ConfigLine(drawn);
  EXPECT_EQ(ConfigLine(parsed), ConfigLine(drawn));
  EXPECT_EQ(parsed.Describe(), drawn.Describe());
  EXPECT_NE(ConfigLine(parsed).find("weights=update:5,snapshot:1,retrieve:2"), std::string::npos);
}

TEST(RunConfig, TheDefaultMixIsLeftOffTheLine) {
  const ShardRunConfig drawn = ShardRunConfig::Draw(7);
  EXPECT_EQ(ConfigLine(drawn).find("weights="), std::string::npos) << ConfigLine(drawn);
  EXPECT_EQ(ConfigJson(drawn)["weights"], "default");
}

TEST(RunConfig, EveryKeyHasAJsonEntryAndAUniqueName) {
  const nlohmann::json json = ConfigJson(ShardRunConfig::Draw(3));
  std::set<std::string_view> keys;
  for (const ConfigField& field : ConfigFields()) {
    EXPECT_TRUE(json.contains(std::string(field.key))) << field.key;
    EXPECT_TRUE(keys.insert(field.key).second) << "twice: " << field.key;
  }
  EXPECT_EQ(json.size(), keys.size());
}

TEST(RunConfig, BadValuesAreRefusedNamingTheKey) {
  const std::pair<const char*, const char*> bad[] = {
      {"clients", "0"},        {"clients", "65"},     {"clients", "two"},    {"ops_per_client", "-1"},
      {"wait", "1.5"},         {"wait", "x"},         {"crashes", "1000"},   {"power_loss", ""},
      {"ids", "0"},            {"dim", "4097"},       {"wal_segment", "255"}, {"distance", "manhattan"},
      {"strategy", "fifo"},    {"profile", "ext9"},   {"weights", "update"}, {"weights", "jump:3"},
      {"weights", "update:0"}, {"weights", "update:1,update:2"}, {"seed", "18446744073709551616"},
  };
  for (const auto& [key, value] : bad) {
    ShardRunConfig config;
    const absl::Status status = ApplyConfigField(config, key, value);
    EXPECT_FALSE(status.ok()) << key << "=" << value;
  }
  ShardRunConfig config;
  const absl::Status unknown = ApplyConfigField(config, "speed", "9");
  EXPECT_FALSE(unknown.ok());
  EXPECT_NE(std::string(unknown.message()).find("speed"), std::string::npos);
  EXPECT_FALSE(ParseConfigLine("clients", config).ok());
}

}  // namespace
}  // namespace properties
