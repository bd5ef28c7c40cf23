// Why a write stalled during a snapshot, from the simulated world's trace:
// BlockLog keeps every block of a task (what it waited for, and when it ran
// again) and every file call and engine mark; Explain turns them into what
// the worst write and the update worker waited on and what every task was
// doing meanwhile.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/scheduler.h"
#include "sim/world.h"

namespace bench {

class BlockLog {
 public:
  struct Block {
    uint32_t task;
    std::string on;
    int64_t from_ns, to_ns;
  };
  struct Activity {
    uint32_t task;
    int64_t at_ns;
    std::string what;  // "read shard/...", or an engine mark
  };

  // Listens to `world`'s trace (records only while on). REQUIRES: this
  // outlives the world's run.
  void Attach(sim::World& world);
  void set_on(bool on) { on_ = on; }
  const std::vector<Block>& blocks() const { return blocks_; }
  const std::vector<Activity>& activity() const { return activity_; }

 private:
  void Record(const sim::TraceEvent& event);

  bool on_ = false;
  std::map<uint32_t, Block> open_;
  std::vector<Block> blocks_;
  std::vector<Activity> activity_;
};

// One write: when it began and ended, on the virtual clock and in
// scheduler steps.
struct WriteSample {
  int64_t start_ns, end_ns;
  uint64_t start_step, end_step;
};

// Why `worst`, a write during the snapshot [snap_start_ns, snap_end_ns),
// took long: what the writer and the update worker waited on (summed per
// lock), the longest single wait of each on each lock during the whole
// snapshot, and every task's file calls while the write ran.
std::string Explain(const BlockLog& log, sim::Scheduler& scheduler, const WriteSample& worst, int64_t snap_start_ns,
                    int64_t snap_end_ns);

}  // namespace bench
