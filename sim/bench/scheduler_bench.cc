// Scheduler cost against the raw Boost.Context switch it is built on.
// Run: ./build/default/sim/bench/scheduler_bench
// The summary line prints step cost / raw round trip; the target is at most
// 4x at 16 runnable tasks.
#include <benchmark/benchmark.h>

#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>

#include <cstdio>
#include <map>

#include "sim/scheduler.h"

namespace {

namespace ctx = boost::context;

std::map<std::string, double> g_ns_per_iteration;

// One iteration = resume a fiber and have it switch straight back.
void BM_RawSwitchRoundTrip(benchmark::State& state) {
  bool stop = false;
  ctx::fiber fiber(std::allocator_arg, ctx::protected_fixedsize_stack(64 * 1024),
                   [&stop](ctx::fiber&& back) {
                     while (!stop) back = std::move(back).resume();
                     return std::move(back);
                   });
  for (auto _ : state) fiber = std::move(fiber).resume();
  stop = true;
  fiber = std::move(fiber).resume();
  state.counters["ns_per_round_trip"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate |
                                                         benchmark::Counter::kInvert);
}
BENCHMARK(BM_RawSwitchRoundTrip);

// One iteration = one scheduling step: pick a runnable task with the seeded
// PRNG, record the step in the trace hash, switch to it, and it yields back.
void BM_SchedulerStep(benchmark::State& state) {
  const int task_count = static_cast<int>(state.range(0));
  const uint64_t steps = state.max_iterations;
  sim::PrngSource source(1);
  sim::Trace trace;
  sim::Scheduler scheduler(source, trace, {.max_steps = UINT64_MAX});
  uint64_t done = 0;
  bool finished = false;
  for (int i = 0; i < task_count; ++i) {
    scheduler.Spawn("yielder", [&] {
      while (!finished) {
        if (++done >= steps) finished = true;
        scheduler.Yield();
      }
    });
  }
  for (auto _ : state) {
    // The whole run is timed once; the loop body runs only on the first pass.
    if (finished) continue;
    scheduler.Run();
  }
  state.SetItemsProcessed(static_cast<int64_t>(scheduler.decisions()));
  state.counters["ns_per_step"] = benchmark::Counter(
      double(scheduler.decisions()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SchedulerStep)->Arg(2)->Arg(16)->Arg(256)->Iterations(2'000'000);

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      for (const auto& [name, counter] : run.counters) {
        if (name.rfind("ns_per_", 0) == 0) g_ns_per_iteration[run.benchmark_name()] = counter.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const auto raw = g_ns_per_iteration.find("BM_RawSwitchRoundTrip");
  if (raw == g_ns_per_iteration.end()) return 0;
  std::printf("\nraw switch round trip: %.2f ns (counter values are seconds per item x1e9)\n",
              raw->second * 1e9);
  for (const auto& [name, seconds] : g_ns_per_iteration) {
    if (name.rfind("BM_SchedulerStep", 0) != 0) continue;
    std::printf("%-40s %.2f ns/step = %.2fx raw round trip\n", name.c_str(), seconds * 1e9,
                seconds / raw->second);
  }
  benchmark::Shutdown();
  return 0;
}
