// Kill -9 mode of a real-world run: every epoch's engine runs in a child
// process (properties/real/crash_child.h) that reports each step over a
// pipe; the run kills it with SIGKILL at a drawn moment, then loads the
// shard itself and checks that every op the child reported written is back
// and nothing else is (docs/real.md).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/coverage.h"
#include "properties/real/real_run_internal.h"
#include "properties/workload.h"

namespace properties {

namespace {

constexpr uint64_t kKillPlanStream = 0x4b49'4c4c'504c'414eull;  // "KILLPLAN"
// A child that neither ends nor reports for this long is hung.
constexpr auto kChildSilenceLimit = std::chrono::seconds(60);
constexpr size_t kMaxLineBytes = 1 << 20;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;  // (clang 14 does not deduce it)

std::string WaitStatusText(int status) {
  if (WIFEXITED(status)) return fmt::format("exited {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("wait status {}", status);
}

}  // namespace

std::string RealRun::KillPlan::Describe() const {
  if (never) return "no kill planned";
  if (in_write) return fmt::format("SIGKILL by a timer {} ns into multi-page WAL write #{}", delay_ns, ordinal);
  if (phase.empty()) return fmt::format("kill {} ms after the load", at_ms);
  return fmt::format("kill {} us after the start of {} phase #{}", delay_us, phase, ordinal);
}

RealRun::KillPlan RealRun::DrawKillPlan(size_t epoch, bool restore) {
  sim::PrngSource draw(config_.timing_seed ^ kKillPlanStream ^ ((uint64_t{epoch} << 1 | (restore ? 1 : 0)) + 1) *
                                                                   0x9e37'79b9'7f4a'7c15ull);
  KillPlan plan;
  if (restore) {
    // Most restores killed: a restore is the step whose crash is hardest.
    plan.never = !draw.Chance(0.7);
    plan.phase = "restore";
    plan.delay_us = draw.Between(0, 30'000);
    return plan;
  }
  if (drawn_.collection.dimension == kWideDimension && draw.Chance(0.5)) {
    // Half the kills of a wide run come inside a WAL entry's write of
    // several pages (tens of microseconds): a torn WAL tail.
    plan.in_write = true;
    plan.phase = "wal-write";
    plan.ordinal = static_cast<uint32_t>(draw.Between(1, 4));
    plan.delay_ns = static_cast<uint32_t>(draw.Between(0, 40'000));
    return plan;
  }
  // update 30, snapshot 20, optimize 15, flush 10, freeze 10, load 5, vacuum 5, any time 5.
  static constexpr std::pair<const char*, uint64_t> kPhases[] = {
      {"update", 30}, {"snapshot", 20}, {"optimize", 15}, {"flush", 10},
      {"freeze", 10}, {"load", 5},      {"vacuum", 5},    {"", 5}};
  uint64_t roll = draw.Draw(100);
  for (const auto& [phase, weight] : kPhases) {
    if (roll < weight) {
      plan.phase = phase;
      break;
    }
    roll -= weight;
  }
  plan.ordinal = plan.phase == "load" ? 1 : static_cast<uint32_t>(draw.Between(1, 3));
  plan.delay_us = draw.Between(0, 3'000);
  plan.at_ms = draw.Between(0, 150);
  return plan;
}

void RealRun::HandleMessage(const crash::Message& message, ChildOutcome& outcome) {
  if (const auto* failed_call = std::get_if<crash::Failed>(&message)) {
    Fail("unexpected-error", fmt::format("in the engine process: {} (no fault injected)", failed_call->what));
    return;
  }
  std::lock_guard lock(mutex_);
  std::visit(Overloaded{
                 // Every op the history holds is in the WAL the child just
                 // loaded, so applied before any step of this child.
                 [&](const crash::Loaded&) { applied_at_load_ = history_.last_written(); },
                 [&](const crash::Appended& m) {
                   history_.OnWalAppend(m.op_num, m.record);
                   child_ops_.push_back(m.op_num);
                   for (auto it = in_flight_.begin(); it != in_flight_.end(); ++it) {
                     if (it->second == m.record) {
                       in_flight_.erase(it);
                       break;
                     }
                   }
                 },
                 [&](const crash::Synced& m) {
                   history_.OnWalSynced(m.next_index);
                   durable_below_ = std::max(durable_below_, m.next_index);
                 },
                 [&](const crash::Intent& m) { in_flight_[m.client] = m.record; },
                 [&](const crash::Acked& m) {
                   ++stats_.ops_written;
                   history_.NoteAcknowledged(m.op_num);
                   if (m.completed) {
                     ++stats_.ops_completed;
                     history_.NoteCompleted(m.op_num);
                     durable_below_ = std::max(durable_below_, m.op_num + 1);
                   }
                 },
                 [&](const crash::Returned& m) { in_flight_.erase(m.client); },
                 [&](const crash::Plunged& m) { history_.NoteApplied(m.op_num); },
                 [&](const crash::Phase& m) { outcome.phase = m.name; },
                 [&](const crash::SnapshotMade& m) { AddReportedSnapshot(m); },
                 [&](const crash::RestoreDone&) { outcome.restore_done = true; },
                 [&](const crash::Ended&) { outcome.ended = true; },
                 [&](const auto&) {},
             },
             message);
}

// REQUIRES: the mutex is held.
void RealRun::AddReportedSnapshot(const crash::SnapshotMade& made) {
  const SnapshotKind kind = made.kind == "shard"     ? SnapshotKind::kShard
                            : made.kind == "partial" ? SnapshotKind::kPartial
                                                     : SnapshotKind::kCollection;
  engine::SnapshotInfo info;
  info.frozen_through = made.frozen_through;
  info.wal_next_index = made.wal_next_index;
  // The child knows only what it applied itself; what it loaded counts too
  // (a snapshot after a restore over the live shard may otherwise seem
  // frozen before ops that changed no segment but advanced its clocks).
  std::optional<engine::SeqNumber> applied_before = made.applied_before;
  if (applied_at_load_ && (!applied_before || *applied_before < *applied_at_load_)) applied_before = applied_at_load_;
  TakenSnapshot taken = MakeTakenSnapshot(kind, made.path, made.save_wal, info, applied_before, history_);
  if (made.base) {
    for (size_t index = 0; index < snapshots_.size(); ++index) {
      if (snapshots_[index].path == *made.base) taken.base = index;
    }
    if (!taken.base) return;  // (a base this run never heard of: not checkable)
  }
  ++(kind == SnapshotKind::kPartial      ? stats_.partial_snapshots
     : kind == SnapshotKind::kCollection ? stats_.collection_snapshots
     : made.save_wal                     ? stats_.snapshots_with_wal
                                         : stats_.snapshots_without_wal);
  snapshots_.push_back(std::move(taken));
}

RealRun::ChildOutcome RealRun::RunChild(const std::vector<std::string>& arguments, const KillPlan& plan) {
  ChildOutcome outcome;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    Fail("run-outcome", fmt::format("pipe: {}", strerror(errno)));
    return outcome;
  }
  // The child's own output (the engine's log lines) goes to a file of the
  // run's directory, named in the run's log.
  const std::string output_path = fmt::format("{}/engine-{}.log", config_.dir, crash_stats_.children);
  const int output = open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(config_.child_binary.c_str()));
  for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls here. dup2 clears close-on-exec on fd 3.
    if (dup2(fds[1], 3) < 0) _exit(127);
    if (output >= 0 && (dup2(output, 1) < 0 || dup2(output, 2) < 0)) _exit(127);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  if (output >= 0) close(output);
  if (pid < 0) {
    close(fds[0]);
    Fail("run-outcome", fmt::format("fork: {}", strerror(errno)));
    return outcome;
  }
  ++crash_stats_.children;
  ReadChild(fds[0], pid, plan, outcome);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  outcome.status = WaitStatusText(status);
  const bool clean_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (plan.in_write && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) outcome.killed = true;
  if (!outcome.killed && !clean_exit && !failed()) {
    Fail("run-outcome", fmt::format("the engine process {} (last phase '{}')", outcome.status, outcome.phase));
  }
  return outcome;
}

// Reads the child's lines until it closes the pipe (it ended or died),
// killing it when the plan says.
void RealRun::ReadChild(int fd, pid_t pid, const KillPlan& plan, ChildOutcome& outcome) {
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> kill_at;
  std::map<std::string, uint32_t> phase_starts;
  std::string buffer;
  Clock::time_point last_heard = Clock::now();
  for (;;) {
    const Clock::time_point now = Clock::now();
    if (kill_at && now >= *kill_at && !outcome.killed && !outcome.ended) {
      kill(pid, SIGKILL);
      outcome.killed = true;
    }
    if (now - last_heard > kChildSilenceLimit && !outcome.killed) {
      kill(pid, SIGKILL);
      Fail("run-outcome", fmt::format("the engine process said nothing for {} s (last phase '{}')",
                                      std::chrono::seconds(kChildSilenceLimit).count(), outcome.phase));
      outcome.killed = true;
    }
    int timeout_ms = 1000;
    if (kill_at && !outcome.killed) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*kill_at - now).count();
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 1000));
    }
    pollfd readable{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&readable, 1, timeout_ms) <= 0) continue;
    char chunk[65536];
    const ssize_t count = read(fd, chunk, sizeof chunk);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) return;  // closed: the child ended or died (a partial last line is dropped)
    last_heard = Clock::now();
    buffer.append(chunk, static_cast<size_t>(count));
    size_t start = 0;
    for (size_t end; (end = buffer.find('\n', start)) != std::string::npos; start = end + 1) {
      auto message = crash::Decode(std::string_view(buffer).substr(start, end - start));
      if (!message.ok()) {
        Fail("run-outcome", message.status().ToString());
        continue;
      }
      HandleMessage(*message, outcome);
      if (plan.never || plan.in_write || kill_at) continue;
      if (const auto* phase = std::get_if<crash::Phase>(&*message);
          phase != nullptr && phase->name == plan.phase && ++phase_starts[phase->name] == plan.ordinal) {
        kill_at = Clock::now() + std::chrono::microseconds(plan.delay_us);
      } else if (std::holds_alternative<crash::Loaded>(*message) && plan.phase.empty()) {
        kill_at = Clock::now() + std::chrono::milliseconds(plan.at_ms);
      }
    }
    buffer.erase(0, start);
    SS_ASSERT(buffer.size() < kMaxLineBytes, "a child's line of {} bytes", buffer.size());
  }
}

std::vector<std::string> RealRun::ChildArguments(size_t epoch, const std::optional<std::string>& restore) const {
  std::vector<std::string> arguments = {"real-child", "--seed", fmt::format("{}", config_.seed), "--dir", config_.dir,
                                        "--epoch", fmt::format("{}", epoch)};
  if (restore) {
    arguments.push_back("--restore");
    arguments.push_back(*restore);
  }
  return arguments;
}

void RealRun::RunChildEpoch(size_t epoch) {
  const KillPlan plan = DrawKillPlan(epoch, false);
  {
    std::lock_guard lock(mutex_);
    in_flight_.clear();
    child_ops_.clear();
    applied_at_load_.reset();
  }
  std::vector<std::string> arguments = ChildArguments(epoch, std::nullopt);
  if (plan.in_write) {
    arguments.insert(arguments.end(), {"--kill-in-wal-write", fmt::format("{}", plan.ordinal), "--kill-delay-ns",
                                       fmt::format("{}", plan.delay_ns)});
  }
  const ChildOutcome outcome = RunChild(arguments, plan);
  log_.push_back(fmt::format("epoch {}: {}; the engine process (engine-{}.log) {}{}", epoch, plan.Describe(),
                             crash_stats_.children - 1, outcome.status,
                             outcome.killed ? fmt::format(" during '{}'", outcome.phase) : ""));
  if (config_.verbose) std::printf("%s\n", log_.back().c_str());
  if (failed()) return;
  if (!outcome.killed) {
    // It shut the shard down: the next load brings back exactly its ops.
    WithHistory([](History& history) { history.NoteCleanStop(); });
    return;
  }
  ++crash_stats_.kills;
  ++crash_stats_.kills_by_phase[outcome.phase.empty() ? "load" : outcome.phase];
  CheckAfterKill();
}

void RealRun::CheckAfterKill() {
  // (The counter is process-wide: exact while this process runs one run at
  // a time, as `shardsim real` does.)
  std::atomic<uint64_t>& torn_tails_cut = engine::CoverageCounters()[static_cast<size_t>(engine::Mark::kWalTornTailCut)];
  const uint64_t torn_tails_before = torn_tails_cut.load();
  auto loaded = engine::LocalShard::Load(env_, kRealShardDir, RestoreOptions());
  if (torn_tails_cut.load() > torn_tails_before) ++crash_stats_.torn_wal_tails_cut;
  if (!loaded.ok()) {
    Fail("recovery", fmt::format("after a kill -9 the shard did not load: {}", loaded.status().ToString()));
    return;
  }
  Count(&ShardRunStats::reloads);
  if (AdoptUnreported(**loaded)) {
    uint64_t durable = 0;
    size_t ops = 0;
    {
      std::lock_guard lock(mutex_);
      history_.NoteCrash(/*power_loss=*/false);
      ops = child_ops_.size();
      for (engine::SeqNumber op : child_ops_) durable += op < durable_below_ ? 1 : 0;
    }
    if (CheckRecovered(**loaded)) {
      ++crash_stats_.recoveries_checked;
      crash_stats_.ops_verified += ops;
      crash_stats_.durable_ops_verified += durable;
    }
  }
  FailOnError("shutdown after the recovery check", (*loaded)->Shutdown());
  WithHistory([](History& history) { history.NoteCleanStop(); });
}

bool RealRun::AdoptUnreported(engine::LocalShard& shard) {
  const uint64_t next_index = shard.Summarize().wal_next_index;
  History base;
  std::vector<engine::WalRecord> candidates;
  {
    std::lock_guard lock(mutex_);
    base = history_;
    for (const auto& [client, record] : in_flight_) candidates.push_back(record);
  }
  const uint64_t known_below = base.WrittenBelow();
  if (next_index <= known_below) return true;  // (fewer: the recovery check's business)
  const size_t extra = next_index - known_below;
  if (extra <= candidates.size()) {
    const std::vector<engine::Point> actual = shard.Scroll(nullptr, std::nullopt, SIZE_MAX);
    std::vector<size_t> order(candidates.size());
    std::iota(order.begin(), order.end(), 0);
    // Every order of the updates in flight (at most 4! = 24), its first
    // `extra` taken as the unreported ops.
    do {
      History trial = base;
      for (size_t i = 0; i < extra; ++i) trial.OnWalAppend(known_below + i, candidates[order[i]]);
      if (ExpectedPoints(trial.ModelBelow(next_index), drawn_.collection) != actual) continue;
      std::lock_guard lock(mutex_);
      history_ = std::move(trial);
      for (size_t i = 0; i < extra; ++i) child_ops_.push_back(known_below + i);
      crash_stats_.unreported_ops += extra;
      return true;
    } while (std::next_permutation(order.begin(), order.end()));
  }
  Fail("recovery", fmt::format("after a kill -9 the WAL continues at {}, but the engine process reported ops below "
                               "{} only, and no {} of its {} updates in flight explain the shard's state {}",
                               next_index, known_below, extra, candidates.size(),
                               DescribePoints(shard.Scroll(nullptr, std::nullopt, SIZE_MAX))));
  return false;
}

}  // namespace properties
