// What the snapshot benchmarks share: the collection they write to (dense,
// dimension 64), the points they write (a deterministic function of id and
// salt) and the filling of a shard with them.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "engine/model/types.h"
#include "engine/shard/local_shard.h"

namespace bench {

inline constexpr uint32_t kDimension = 64;
inline const engine::CollectionConfig kCollection{.dimension = kDimension, .distance = engine::Distance::kDot};

inline void Skip(benchmark::State& state, const std::string& why) { state.SkipWithError(why.c_str()); }

// "12.3 us".
std::string Us(int64_t ns);

// Upserts of points [first, first + count), each with a vector and a payload
// drawn from its id and `salt`.
engine::WalRecord UpsertOf(engine::PointId first, size_t count, uint64_t salt);

// The process's resident set, from /proc/self/status (Linux), in MiB:
// now (VmRSS) and its peak (VmHWM) since the last ResetPeakRss. Zeros where
// /proc is missing.
struct Rss {
  double now_mb = 0;
  double peak_mb = 0;
};
Rss ReadRss();
// Makes the peak the current resident set (writes 5 to
// /proc/self/clear_refs), so that a peak read later is one of what ran in
// between; returns the resident set after it, with memory freed so far
// handed back to the system first (malloc_trim) so that it does not count.
Rss ResetPeakRss();

// Upserts points [0, points) in batches, then forces a flush so that the
// segment files hold every point and the WAL is acked.
absl::Status Fill(engine::LocalShard& shard, size_t points);

}  // namespace bench
