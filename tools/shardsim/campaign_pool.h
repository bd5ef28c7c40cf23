// The campaign's worker pool: J forked processes sweep a seed range, each
// running seeds first+j, first+j+J, ... and writing one JSON line per seed
// to a pipe. A process, not a thread, per worker: a run that aborts (an
// always-on assertion) or hangs takes down only its worker, which is
// replaced and goes on with its next seed.
//
// REQUIRES: one pool per process at a time (the hang timer is a signal).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
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
  // Starts `jobs` workers over `range`. REQUIRES: jobs >= 1, range.first <= range.last.
  CampaignPool(SeedRange range, int jobs, SeedRunner runner);
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
    uint64_t next_seed = 0;  // the first seed this worker has not reported
  };

  Worker Start(uint64_t first);
  void Drain(Worker& worker, const std::function<void(const nlohmann::json&)>& on_run);
  void Reap(Worker& worker, const std::function<void(const nlohmann::json&)>& on_run);
  bool InRange(uint64_t seed) const { return seed >= range_.first && seed <= range_.last; }

  SeedRange range_;
  uint64_t stride_;
  SeedRunner runner_;
  std::vector<Worker> workers_;
};

}  // namespace shardsim
