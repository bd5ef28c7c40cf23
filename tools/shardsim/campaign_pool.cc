#include "tools/shardsim/campaign_pool.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "tools/shardsim/child_runs.h"

namespace shardsim {

namespace {

// A seed that runs longer than this in wall time is reported as hung and its
// worker is replaced (a livelock without scheduling points is a bug too).
constexpr unsigned kSeedTimeoutSeconds = 60;
constexpr int kExitHung = 4;
// A run ended in an engine assertion; its line, naming the assertion, is out.
constexpr int kExitAsserted = 6;
volatile sig_atomic_t g_hung_seed_fd = -1;
char g_hung_line[256];

void OnSeedTimeout(int) {
  const ssize_t ignored = write(g_hung_seed_fd, g_hung_line, strlen(g_hung_line));
  (void)ignored;
  _exit(kExitHung);
}

[[noreturn]] void WorkerMain(int write_fd, uint64_t first, SeedRange range, uint64_t stride,
                             const SeedRunner& runner) {
  // Ctrl-C is the parent's to handle (it stops the sweep and reports); a
  // worker ends with its parent, whatever kills the parent.
  signal(SIGINT, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  g_hung_seed_fd = write_fd;
  signal(SIGALRM, OnSeedTimeout);
  uint64_t running_seed = first;
  // The seed's failure names the assertion (the report's first failure and
  // the shrunk scenario's comment say which), not only "signal 6".
  AssertionHookSlot() = [write_fd, &running_seed](std::string_view assertion) {
    const std::string line = nlohmann::json{{"seed", running_seed},
                                            {"passed", false},
                                            {"failure", std::string(kEngineAssertionPrefix) + std::string(assertion)}}
                                 .dump() +
                             "\n";
    const ssize_t ignored = write(write_fd, line.data(), line.size());
    (void)ignored;
    _exit(kExitAsserted);
  };
  for (uint64_t seed = first; seed <= range.last; seed += stride) {
    running_seed = seed;
    snprintf(g_hung_line, sizeof g_hung_line,
             "{\"seed\":%llu,\"passed\":false,\"failure\":\"hung: the run took over %us of wall time\"}\n",
             (unsigned long long)seed, kSeedTimeoutSeconds);
    alarm(kSeedTimeoutSeconds);
    const std::string line = runner(seed) + "\n";
    alarm(0);
    if (write(write_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
    if (seed > range.last - stride) break;  // no overflow past UINT64_MAX
  }
  _exit(0);
}

}  // namespace

CampaignPool::CampaignPool(SeedRange range, int jobs, SeedRunner runner)
    : range_(range), stride_(static_cast<uint64_t>(jobs)), runner_(std::move(runner)) {
  SS_ASSERT(jobs >= 1 && range.first <= range.last, "jobs {} over {}..{}", jobs, range.first, range.last);
  for (int j = 0; j < jobs; ++j) workers_.push_back(Start(range.first + static_cast<uint64_t>(j)));
}

CampaignPool::~CampaignPool() { KillAll(); }

CampaignPool::Worker CampaignPool::Start(uint64_t first) {
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("shardsim campaign: pipe");
    std::exit(2);
  }
  std::fflush(nullptr);  // (a child must not flush the parent's buffered output again)
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("shardsim campaign: fork");
    std::exit(2);
  }
  if (pid == 0) {
    close(fds[0]);
    WorkerMain(fds[1], first, range_, stride_, runner_);
  }
  close(fds[1]);
  return Worker{pid, fds[0], {}, false, first};
}

void CampaignPool::Drain(Worker& worker, const std::function<void(const nlohmann::json&)>& on_run) {
  size_t newline;
  while ((newline = worker.buffer.find('\n')) != std::string::npos) {
    const std::string line = worker.buffer.substr(0, newline);
    worker.buffer.erase(0, newline + 1);
    const nlohmann::json run = nlohmann::json::parse(line, nullptr, false);
    if (run.is_discarded()) continue;
    const uint64_t seed = run.value("seed", 0ull);
    SS_ASSERT(seed == worker.next_seed, "a worker reported seed {} out of turn (expected {})", seed,
              worker.next_seed);
    on_run(run);
    worker.next_seed = seed + stride_;
  }
}

// The worker's pipe closed: a clean end, a hang, or a run that died. A dead
// run is that seed's failure; the worker is replaced for the seeds after it.
void CampaignPool::Reap(Worker& worker, const std::function<void(const nlohmann::json&)>& on_run) {
  close(worker.read_fd);
  int status = 0;
  waitpid(worker.pid, &status, 0);
  worker.done = true;
  const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  // A hung or asserting run wrote its seed's line itself.
  const bool line_out =
      WIFEXITED(status) && (WEXITSTATUS(status) == kExitHung || WEXITSTATUS(status) == kExitAsserted);
  if (clean) return;
  if (!line_out && InRange(worker.next_seed)) {
    const std::string why = WIFSIGNALED(status) ? fmt::format("the run aborted with signal {}", WTERMSIG(status))
                                                : fmt::format("the run exited with code {}", WEXITSTATUS(status));
    on_run(nlohmann::json{{"seed", worker.next_seed}, {"passed", false}, {"failure", why}});
    worker.next_seed += stride_;
  }
  if (InRange(worker.next_seed)) {
    worker = Start(worker.next_seed);
  }
}

bool CampaignPool::Poll(int timeout_ms, const std::function<void(const nlohmann::json&)>& on_run) {
  std::vector<pollfd> fds;
  for (const Worker& worker : workers_) {
    if (!worker.done) fds.push_back({worker.read_fd, POLLIN, 0});
  }
  if (fds.empty()) return false;
  poll(fds.data(), fds.size(), timeout_ms);
  for (Worker& worker : workers_) {
    if (worker.done) continue;
    pollfd one{worker.read_fd, POLLIN, 0};
    if (poll(&one, 1, 0) <= 0) continue;
    char chunk[65536];
    const ssize_t got = read(worker.read_fd, chunk, sizeof chunk);
    if (got <= 0) {
      Reap(worker, on_run);
      continue;
    }
    worker.buffer.append(chunk, static_cast<size_t>(got));
    Drain(worker, on_run);
  }
  return true;
}

void CampaignPool::KillAll() {
  for (Worker& worker : workers_) {
    if (worker.done) continue;
    kill(worker.pid, SIGKILL);
    int status = 0;
    waitpid(worker.pid, &status, 0);
    close(worker.read_fd);
    worker.done = true;
  }
}

}  // namespace shardsim
