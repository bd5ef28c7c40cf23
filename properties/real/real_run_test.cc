// Seeds' workloads on the real world pass the same checks as in the
// simulation, and a shard changed behind the engine's back is caught.
#include "properties/real/real_run.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace properties {
namespace {

std::string FreshDir() {
  char pattern[] = "/tmp/shardsim-real-test-XXXXXX";
  EXPECT_NE(mkdtemp(pattern), nullptr);
  return pattern;
}

TEST(RealRunTest, SeedsPassOnRealThreadsAndFiles) {
  for (uint64_t seed = 0; seed < 8; ++seed) {
    const std::string dir = FreshDir();
    const RealRunResult result = RunRealShard({.seed = seed, .dir = dir});
    EXPECT_TRUE(result.passed) << "seed " << seed << ": " << result.invariant << ": " << result.failure;
    EXPECT_GT(result.stats.reloads, 0u) << seed;
    std::filesystem::remove_all(dir);
  }
}

// The run checks what it loads: a shard holding ops this run never wrote
// (invented data, as far as its history knows) is a recovery failure.
TEST(RealRunTest, AShardHoldingOpsTheRunNeverWroteFailsRecovery) {
  for (uint64_t seed = 0; seed < 64; ++seed) {
    const std::string dir = FreshDir();
    // A run that always passes fills the directory; a second run on it
    // finds a shard whose history it does not know (ops it never wrote):
    // that must fail, not pass.
    const RealRunResult first = RunRealShard({.seed = seed, .dir = dir});
    ASSERT_TRUE(first.passed) << first.failure;
    if (first.stats.ops_written == 0) {
      std::filesystem::remove_all(dir);
      continue;
    }
    const RealRunResult second = RunRealShard({.seed = seed, .dir = dir});
    EXPECT_FALSE(second.passed);
    EXPECT_EQ(second.invariant, "recovery") << second.failure;
    std::filesystem::remove_all(dir);
    return;
  }
  FAIL() << "no seed of 0..63 writes anything";
}

}  // namespace
}  // namespace properties
