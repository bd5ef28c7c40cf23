#include "sim/scheduler.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "sim/sim_env.h"
#include "sim/sync.h"

namespace sim {
namespace {

// A toy program with locks, conditions, sleeps and yields whose trace
// depends on every scheduling decision.
struct ToyRun {
  uint64_t hash = 0;
  uint64_t steps = 0;
  RunOutcome outcome = RunOutcome::kCompleted;
  std::vector<TaskId> order;  // which task entered the critical section, in order
};

ToyRun RunToy(DecisionSource& decisions, Strategy strategy, bool record = false,
              std::vector<TraceEvent>* events = nullptr) {
  Trace trace;
  trace.set_recording(record);
  Scheduler scheduler(decisions, trace, {.strategy = strategy});
  SimMutex mutex(scheduler, "toy");
  SimCondVar ready(scheduler, mutex, "ready");
  ToyRun result;
  int turn = 0;
  for (int i = 0; i < 4; ++i) {
    scheduler.Spawn(fmt::format("worker{}", i), [&, i] {
      for (int round = 0; round < 3; ++round) {
        mutex.Lock();
        result.order.push_back(scheduler.current());
        ++turn;
        ready.SignalAll();
        mutex.Unlock();
        scheduler.Yield();
        scheduler.SleepUntil(scheduler.now_ns() + 1000 * (i + 1));
      }
    });
  }
  scheduler.Spawn("waiter", [&] {
    mutex.Lock();
    while (turn < 12) ready.Wait();
    mutex.Unlock();
  });
  result.outcome = scheduler.Run().outcome;
  result.hash = trace.hash();
  result.steps = trace.steps();
  if (events) *events = trace.events();
  return result;
}

// A scheduler with its own seeded decisions and trace.
struct SeededScheduler {
  SeededScheduler(uint64_t seed, SchedulerConfig config) : source(seed), scheduler(source, trace, config) {}
  PrngSource source;
  Trace trace;
  Scheduler scheduler;
};

TEST(SchedulerTest, SameSeedSameTraceHashOverThousandSeeds) {
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    PrngSource first(seed), second(seed);
    const ToyRun a = RunToy(first, Strategy::kRandom);
    const ToyRun b = RunToy(second, Strategy::kRandom);
    ASSERT_EQ(a.outcome, RunOutcome::kCompleted) << "seed " << seed;
    ASSERT_EQ(a.hash, b.hash) << "seed " << seed;
    ASSERT_EQ(a.order, b.order) << "seed " << seed;
  }
}

TEST(SchedulerTest, DifferentSeedsGiveDifferentSchedules) {
  std::set<uint64_t> hashes;
  std::set<std::vector<TaskId>> orders;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    PrngSource source(seed);
    const ToyRun run = RunToy(source, Strategy::kRandom);
    hashes.insert(run.hash);
    orders.insert(run.order);
  }
  EXPECT_GT(hashes.size(), 190u);
  EXPECT_GT(orders.size(), 50u);
}

TEST(SchedulerTest, RecordedTapeReplaysTheRunExactly) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    PrngSource prng(seed);
    TapeRecorder recorder(prng);
    const ToyRun original = RunToy(recorder, Strategy::kPct);
    TapeSource tape(recorder.tape());
    const ToyRun replayed = RunToy(tape, Strategy::kPct);
    ASSERT_EQ(original.hash, replayed.hash) << "seed " << seed;
    ASSERT_EQ(tape.consumed_bytes(), recorder.tape().size());
  }
}

TEST(SchedulerTest, EmptyTapeIsAValidRun) {
  TapeSource empty({});
  const ToyRun run = RunToy(empty, Strategy::kRandom);
  EXPECT_EQ(run.outcome, RunOutcome::kCompleted);
}

TEST(SchedulerTest, RoundRobinIsFixedAndCycles) {
  PrngSource a(1), b(999);
  const ToyRun first = RunToy(a, Strategy::kRoundRobin);
  const ToyRun second = RunToy(b, Strategy::kRoundRobin);
  EXPECT_EQ(first.hash, second.hash);  // the seed plays no part
  ASSERT_GE(first.order.size(), 4u);
  EXPECT_EQ(std::vector<TaskId>(first.order.begin(), first.order.begin() + 4),
            (std::vector<TaskId>{1, 2, 3, 4}));
}

TEST(SchedulerTest, DeterminismCheckNamesFirstDifferingStep) {
  PrngSource a(5), b(6);
  std::vector<TraceEvent> first, second;
  RunToy(a, Strategy::kRandom, true, &first);
  RunToy(b, Strategy::kRandom, true, &second);
  const auto difference = FirstDifference(first, second);
  ASSERT_TRUE(difference.has_value());
  for (size_t i = 0; i < *difference; ++i) EXPECT_EQ(first[i].ToString(), second[i].ToString());
  EXPECT_NE(first[*difference].ToString(), second[*difference].ToString());
  PrngSource c(5);
  std::vector<TraceEvent> third;
  RunToy(c, Strategy::kRandom, true, &third);
  EXPECT_FALSE(FirstDifference(first, third).has_value());
}

TEST(SchedulerTest, DeadlockReportNamesTheCycle) {
  SeededScheduler seeded(3, {.strategy = Strategy::kRoundRobin});
  Scheduler& scheduler = seeded.scheduler;
  SimMutex first(scheduler, "first"), second(scheduler, "second");
  scheduler.Spawn("left", [&] {
    engine::MutexLock hold_first(first);
    scheduler.Yield();
    engine::MutexLock hold_second(second);
  });
  scheduler.Spawn("right", [&] {
    engine::MutexLock hold_second(second);
    scheduler.Yield();
    engine::MutexLock hold_first(first);
  });
  const RunResult result = scheduler.Run();
  ASSERT_EQ(result.outcome, RunOutcome::kDeadlock) << result.report;
  EXPECT_NE(result.report.find("task 1 (left) waits for mutex second, held by task(s) 2"),
            std::string::npos) << result.report;
  EXPECT_NE(result.report.find("task 2 (right) waits for mutex first, held by task(s) 1"),
            std::string::npos) << result.report;
  EXPECT_NE(result.report.find("cycle: task 1 (left) -> task 2 (right) -> task 1 (left)"),
            std::string::npos) << result.report;
  scheduler.UnwindAll();  // the guards release both locks while unwinding
  EXPECT_EQ(first.owner(), kNoTask);
  EXPECT_EQ(second.owner(), kNoTask);
}

TEST(SchedulerTest, TimersAdvanceVirtualTimeInDeadlineOrder) {
  SeededScheduler seeded(1, {.step_time_ns = 0});
  Scheduler& scheduler = seeded.scheduler;
  std::vector<std::string> woke;
  for (int delay_ms : {30, 10, 20}) {
    scheduler.Spawn(fmt::format("sleep{}", delay_ms), [&, delay_ms] {
      scheduler.SleepUntil(int64_t{delay_ms} * 1'000'000);
      woke.push_back(fmt::format("{}@{}", delay_ms, scheduler.now_ns() / 1'000'000));
    });
  }
  ASSERT_EQ(scheduler.Run().outcome, RunOutcome::kCompleted);
  EXPECT_EQ(woke, (std::vector<std::string>{"10@10", "20@20", "30@30"}));
}

TEST(SchedulerTest, CondVarWaitForTimesOut) {
  SeededScheduler seeded(2, {});
  Scheduler& scheduler = seeded.scheduler;
  SimMutex mutex(scheduler, "m");
  SimCondVar never(scheduler, mutex, "never");
  bool signalled = true;
  scheduler.Spawn("waiter", [&] {
    mutex.Lock();
    signalled = never.WaitFor(5'000'000);
    mutex.Unlock();
  });
  ASSERT_EQ(scheduler.Run().outcome, RunOutcome::kCompleted);
  EXPECT_FALSE(signalled);
  EXPECT_GE(scheduler.now_ns(), 5'000'000);
}

TEST(SchedulerTest, KilledProcessUnwindsNewestFirstAndOthersGoOn) {
  SeededScheduler seeded(4, {});
  Scheduler& scheduler = seeded.scheduler;
  SimMutex mutex(scheduler, "m");
  SimCondVar forever(scheduler, mutex, "forever");
  std::vector<std::string> destroyed;
  struct Noisy {
    std::vector<std::string>& log;
    std::string name;
    ~Noisy() { log.push_back(name); }
  };
  bool supervisor_done = false;
  scheduler.Spawn("supervisor", [&] {
    const TaskId owner = scheduler.Spawn("owner", [&] {
      Noisy noisy{destroyed, "owner"};
      scheduler.Spawn("worker", [&] {
        Noisy noisy{destroyed, "worker"};
        mutex.Lock();
        forever.Wait();  // never signalled
        mutex.Unlock();
      });
      for (;;) scheduler.Yield();  // runs until killed
    }, ProcessId{1});
    scheduler.SleepUntil(1'000'000);
    scheduler.KillProcess(1);
    scheduler.Join(owner);
    EXPECT_TRUE(scheduler.IsFinished(owner));
    supervisor_done = true;
  }, ProcessId{0});
  const RunResult result = scheduler.Run();
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  EXPECT_TRUE(supervisor_done);
  EXPECT_EQ(destroyed, (std::vector<std::string>{"worker", "owner"}));
  EXPECT_EQ(mutex.owner(), kNoTask);  // released while unwinding
}

TEST(SchedulerTest, StepLimitStopsARunawayTask) {
  SeededScheduler seeded(1, {.max_steps = 1000});
  Scheduler& scheduler = seeded.scheduler;
  scheduler.Spawn("spinner", [&] {
    for (;;) scheduler.Yield();
  });
  EXPECT_EQ(scheduler.Run().outcome, RunOutcome::kStepLimit);
}

TEST(SchedulerTest, RwLockUpgradableExcludesWritersButNotReaders) {
  SeededScheduler seeded(8, {.strategy = Strategy::kRoundRobin});
  Scheduler& scheduler = seeded.scheduler;
  SimRwLock lock(scheduler, "holder");
  std::vector<std::string> log;
  scheduler.Spawn("upgrader", [&] {
    lock.LockUpgradable();
    log.push_back("upgradable");
    for (int i = 0; i < 5; ++i) scheduler.Yield();
    lock.Upgrade();
    log.push_back("upgraded");
    lock.Downgrade();
    lock.UnlockUpgradable();
  });
  scheduler.Spawn("reader", [&] {
    lock.LockShared();
    log.push_back("read");
    scheduler.Yield();
    lock.UnlockShared();
    log.push_back("read-done");
  });
  scheduler.Spawn("writer", [&] {
    lock.Lock();
    log.push_back("write");
    lock.Unlock();
  });
  ASSERT_EQ(scheduler.Run().outcome, RunOutcome::kCompleted);
  const auto at = [&](const std::string& what) {
    return std::find(log.begin(), log.end(), what) - log.begin();
  };
  EXPECT_LT(at("read"), at("upgraded"));       // a reader coexisted with the upgradable read
  EXPECT_LT(at("read-done"), at("upgraded"));  // the upgrade waited for it
  EXPECT_GT(at("write"), at("upgraded"));      // the writer waited for the upgradable holder
}

}  // namespace
}  // namespace sim
