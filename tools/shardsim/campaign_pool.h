// The campaign's worker pool: J forked processes sweep a seed range in
// blocks of B consecutive seeds dealt round-robin (worker j runs blocks j,
// j+J, j+2J, ...), each writing one JSON line per seed to a pipe. B is the
// period of the campaign's mix (cluster seeds repeat every B seeds), so
// every worker runs the mix asked for: a plain stride of J gave worker 1 of
// 2 every cluster seed (seed % 10 == 9), and a budgeted sweep then ran half
// the cluster share, its slow seeds all queued behind one worker.
//
// A process, not a thread, per worker: a run that aborts (an always-on
// assertion) or hangs takes down only its worker, which is replaced and
// goes on with its next seed.
//
// REQUIRES: one pool per process at a time (the hang timer is a signal).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace shardsim {

struct SeedRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};

// Runs one seed in a worker and returns its JSON line (no newline).
using SeedRunner = std::function<std::string(uint64_t seed)>;

class CampaignPool {
 public:
  // Starts `jobs` workers over `range`, dealing it in blocks of
  // `block_seeds`. REQUIRES: jobs >= 1, block_seeds >= 1, range.first <= range.last.
  CampaignPool(SeedRange range, int jobs, uint64_t block_seeds, SeedRunner runner);
  ~CampaignPool();
  CampaignPool(const CampaignPool&) = delete;
  CampaignPool& operator=(const CampaignPool&) = delete;

  // Waits up to `timeout_ms` for output and hands every finished seed's line
  // to `on_run`, a seed whose worker died included (as a failed run naming
  // the signal or exit code). Returns false once every worker is done.
  bool Poll(int timeout_ms, const std::function<void(const nlohmann::json&)>& on_run);

  // Kills the workers still running (a budget or a stop ends the sweep; their
  // seeds in flight are not reported) and reaps every worker.
  void KillAll();

 private:
  struct Worker {
    pid_t pid = -1;
    int read_fd = -1;
    std::string buffer;
    bool done = false;
    std::optional<uint64_t> next_seed;  // the first seed this worker has not reported (none: all reported)
  };

  Worker Start(uint64_t first);
  // The seed after `seed` in its worker's sequence, or nullopt past the range.
  std::optional<uint64_t> NextSeed(uint64_t seed) const;
  void Drain(Worker& worker, const std::function<void(const nlohmann::json&)>& on_run);
  void Reap(Worker& worker, const std::function<void(const nlohmann::json&)>& on_run);

  SeedRange range_;
  uint64_t jobs_;
  uint64_t block_seeds_;
  SeedRunner runner_;
  std::vector<Worker> workers_;
};

}  // namespace shardsim
