#include "bench/ssd_cost_env.h"

#include <fmt/format.h>

namespace bench {

namespace {

int64_t CostOf(const FsCost& cost, const sim::FsCall& call) {
  switch (call.kind) {
    case sim::FsCallKind::kSyncDir:
    case sim::FsCallKind::kSync:
      return cost.sync_ns;
    case sim::FsCallKind::kRead:
      return cost.data_call_ns + int64_t(cost.read_ns_per_byte * double(call.bytes));
    case sim::FsCallKind::kWrite:
    case sim::FsCallKind::kAppend:
      return cost.data_call_ns + int64_t(cost.write_ns_per_byte * double(call.bytes));
    default:
      return cost.metadata_ns;
  }
}

}  // namespace

std::string Describe(const FsCost& cost) {
  return fmt::format("metadata {} ns, data call {} ns + {:.1f} ns/B read, {:.1f} ns/B write, sync {} ns",
                     cost.metadata_ns, cost.data_call_ns, cost.read_ns_per_byte, cost.write_ns_per_byte, cost.sync_ns);
}

absl::Status CostFileSystem::BeforeCall(const sim::FsCall& call) {
  const int64_t cost_ns = CostOf(cost_, call);
  if (cost_ns > 0) env_.SleepForNanos(cost_ns);
  return absl::OkStatus();
}

}  // namespace bench
