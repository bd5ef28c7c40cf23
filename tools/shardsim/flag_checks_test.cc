#include "tools/shardsim/flag_checks.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tools/shardsim/run_command.h"

namespace shardsim {
namespace {

TEST(FlagChecksTest, DecimalTakesOnlyPlainDigits) {
  EXPECT_EQ(ParseDecimal("0"), 0u);
  EXPECT_EQ(ParseDecimal("007"), 7u);
  EXPECT_EQ(ParseDecimal("18446744073709551615"), UINT64_MAX);
  for (const char* bad : {"", "-1", "+5", " 7", "7 ", "12abc", "0x10", "1e3", "1_000", "18446744073709551616"}) {
    EXPECT_FALSE(ParseDecimal(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(FlagChecksTest, ValidatorNamesTheRange) {
  const CLI::Validator check = DecimalIn(2, 5);
  std::string value = "3";
  EXPECT_EQ(check(value), "");
  value = "6";
  EXPECT_EQ(check(value), "6 is not in 2..5");
  value = "-1";
  EXPECT_EQ(check(value), "'-1' is not a whole decimal number in 2..5");
}

// Parses `args` as `shardsim run` would; the CLI11 error text, or "" when
// the command line parses.
std::string ParseRun(std::vector<std::string> args, RunOptions& options) {
  CLI::App app;
  AddRunFlags(app, options);
  args.insert(args.begin(), "shardsim-run");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& error) {
    return error.what();
  }
  return "";
}

// The issue: `--seed -1` and a seed past uint64 ran a seed (exit 0).
TEST(FlagChecksTest, RunRefusesSeedsThatAreNotDecimalUint64) {
  for (const char* bad : {"-1", "18446744073709551616", "12abc", "0x10", "+5", ""}) {
    RunOptions options;
    EXPECT_NE(ParseRun({"--seed", bad}, options), "") << "'" << bad << "'";
  }
  RunOptions options;
  EXPECT_EQ(ParseRun({"--seed", "18446744073709551615"}, options), "");
  EXPECT_EQ(options.seed, UINT64_MAX);
  EXPECT_TRUE(options.seed_given);
}

TEST(FlagChecksTest, ClusterFlagsRefuseNegativeNumbers) {
  for (const char* flag : {"--peers", "--rf", "--wcf", "--network-stall-percent"}) {
    RunOptions options;
    EXPECT_NE(ParseRun({"--cluster", flag, "-1"}, options), "") << flag;
  }
}

}  // namespace
}  // namespace shardsim
