// PCT (Burckhardt et al., ASPLOS 2010) finds a bug of depth d with
// probability at least 1/(n * k^(d-1)); uniform random scheduling finds deep
// ordering bugs with exponentially small probability. This test measures
// both on a toy program with a depth-2 bug and prints the rates.
#include <gtest/gtest.h>

#include <cstdio>

#include "sim/scheduler.h"

namespace sim {
namespace {

// The bug fires when task B runs its whole body while task A sits exactly
// between its 20th and 21st step: B must first be held back for 20 of A's
// steps (ordering constraint 1), then A must be held back for all of B's
// steps (ordering constraint 2).
bool ToyBugFires(uint64_t seed, Strategy strategy) {
  PrngSource source(seed);
  Trace trace;
  Scheduler scheduler(source, trace,
                      {.strategy = strategy, .pct_depth = 2, .pct_expected_steps = 60});
  int a_progress = 0;
  bool bug = false;
  scheduler.Spawn("A", [&] {
    for (int step = 0; step < 40; ++step) {
      ++a_progress;
      scheduler.Yield();
    }
  });
  scheduler.Spawn("B", [&] {
    const int seen_at_start = a_progress;
    for (int step = 0; step < 10; ++step) scheduler.Yield();
    bug = seen_at_start == 20 && a_progress == 20;
  });
  EXPECT_EQ(scheduler.Run().outcome, RunOutcome::kCompleted);
  return bug;
}

TEST(PctTest, FindsDepthTwoBugFarMoreOftenThanRandom) {
  constexpr int kRuns = 5000;
  int pct_hits = 0, random_hits = 0;
  for (uint64_t seed = 0; seed < kRuns; ++seed) {
    pct_hits += ToyBugFires(seed, Strategy::kPct);
    random_hits += ToyBugFires(seed, Strategy::kRandom);
  }
  const double pct_rate = double(pct_hits) / kRuns;
  const double random_rate = double(random_hits) / kRuns;
  std::printf("depth-2 toy bug over %d seeds: PCT %d hits (%.3f%%), random %d hits (%.3f%%)\n",
              kRuns, pct_hits, 100 * pct_rate, random_hits, 100 * random_rate);
  RecordProperty("pct_hits", pct_hits);
  RecordProperty("random_hits", random_hits);
  // PCT's guarantee here is 1/(2 * 60) per run, about 41 expected hits.
  EXPECT_GE(pct_hits, 15);
  EXPECT_GE(pct_hits, 10 * std::max(random_hits, 1));
}

}  // namespace
}  // namespace sim
