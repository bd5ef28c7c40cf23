// The read checks of a simulated shard run (docs/invariants.md I1): one
// thread, so the history needs no lock (properties/read_check.h).
#include "properties/read_check.h"
#include "properties/run.h"

namespace properties {

void Run::CheckRead(engine::LocalShard& shard, const Step& step) {
  const auto with_history = [this](const auto& fn) { return fn(history_); };
  const std::optional<std::string> failure = CheckReadStep(shard, step, config_.collection, with_history);
  ++stats_.reads_checked;
  if (failure) Fail("read", *failure);
}

}  // namespace properties
