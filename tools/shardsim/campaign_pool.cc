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

[[noreturn]] void WorkerMain(int write_fd, uint64_t first,
                             const std::function<std::optional<uint64_t>(uint64_t)>& next_seed,
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
  for (std::optional<uint64_t> next = first; next; next = next_seed(*next)) {
    const uint64_t seed = *next;
    running_seed = seed;
    snprintf(g_hung_line, sizeof g_hung_line,
             "{\"seed\":%llu,\"passed\":false,\"failure\":\"hung: the run took over %us of wall time\"}\n",
             (unsigned long long)seed, kSeedTimeoutSeconds);
    alarm(kSeedTimeoutSeconds);
    const std::string line = runner(seed) + "\n";
    alarm(0);
    if (write(write_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
  }
  _exit(0);
}

}  // namespace

CampaignPool::CampaignPool(SeedRange range, int jobs, uint64_t block_seeds, SeedRunner runner)
    : range_(range), jobs_(static_cast<uint64_t>(jobs)), block_seeds_(block_seeds), runner_(std::move(runner)) {
  SS_ASSERT(jobs >= 1 && block_seeds >= 1 && range.first <= range.last, "jobs {} in blocks of {} over {}..{}", jobs,
            block_seeds, range.first, range.last);
  // Worker j starts at block j; a worker whose first block lies past the
  // range has nothing to run.
  for (uint64_t j = 0; j < jobs_; ++j) {
    const unsigned __int128 first = static_cast<unsigned __int128>(range.first) + j * block_seeds;
    if (first > range.last) break;
    workers_.push_back(Start(static_cast<uint64_t>(first)));
  }
  SS_ASSERT(!workers_.empty(), "no worker over {}..{}", range.first, range.last);
}

std::optional<uint64_t> CampaignPool::NextSeed(uint64_t seed) const {
  SS_ASSERT(seed >= range_.first && seed <= range_.last, "seed {} outside {}..{}", seed, range_.first, range_.last);
  // Within a block, the next seed; at a block's end, the first seed of this
  // worker's next block (the J-1 blocks between belong to the others).
  // 128-bit: a sweep of every seed ends at UINT64_MAX.
  const uint64_t offset = seed - range_.first;
  unsigned __int128 next = static_cast<unsigned __int128>(seed) + 1;
  if ((offset + 1) % block_seeds_ == 0) next += static_cast<unsigned __int128>(jobs_ - 1) * block_seeds_;
  if (next > range_.last) return std::nullopt;
  return static_cast<uint64_t>(next);
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
    WorkerMain(fds[1], first, [this](uint64_t seed) { return NextSeed(seed); }, runner_);
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
    SS_ASSERT(worker.next_seed && seed == *worker.next_seed, "a worker reported seed {} out of turn (expected {})",
              seed, worker.next_seed ? fmt::to_string(*worker.next_seed) : "none");
    on_run(run);
    worker.next_seed = NextSeed(seed);
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
  if (!line_out && worker.next_seed) {
    const std::string why = WIFSIGNALED(status) ? fmt::format("the run aborted with signal {}", WTERMSIG(status))
                                                : fmt::format("the run exited with code {}", WEXITSTATUS(status));
    on_run(nlohmann::json{{"seed", *worker.next_seed}, {"passed", false}, {"failure", why}});
    worker.next_seed = NextSeed(*worker.next_seed);
  }
  if (worker.next_seed) {
    worker = Start(*worker.next_seed);
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
