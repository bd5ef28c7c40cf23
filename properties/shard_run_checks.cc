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

void Run::CheckDeleteByFilter(const Step& step, std::optional<engine::SeqNumber> applied_before,
                              const engine::UpdateResult& result) {
  // A delete carries no clock tag, so it is never rejected.
  SS_ASSERT(result.op_num.has_value(), "a delete-by-filter without an op");
  const auto with_history = [this](const auto& fn) { return fn(history_); };
  const std::optional<std::string> failure =
      CheckDeleteByFilterIds(step.filter, applied_before, *result.op_num, with_history);
  ++stats_.reads_checked;
  if (failure) Fail("read", *failure);
}

}  // namespace properties
