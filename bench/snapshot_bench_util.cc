#include "bench/snapshot_bench_util.h"

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace bench {

namespace {

constexpr size_t kBatch = 100;  // points per upsert while filling a shard

engine::Vector VectorFor(uint64_t id, uint64_t salt) {
  engine::Vector vector(kDimension);
  uint64_t x = id * 0x9E3779B97F4A7C15ull + salt * 0xBF58476D1CE4E5B9ull + 1;
  for (float& value : vector) {
    x ^= x >> 31;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 29;
    value = float(x % 20001) / 10000.0f - 1.0f;
  }
  return vector;
}

}  // namespace

Rss ReadRss() {
  Rss rss;
  std::ifstream status("/proc/self/status");
  std::string line;
  // A few dozen lines: bounded by the file.
  while (std::getline(status, line)) {
    double kib = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %lf kB", &kib) == 1) rss.now_mb = kib / 1024;
    if (std::sscanf(line.c_str(), "VmHWM: %lf kB", &kib) == 1) rss.peak_mb = kib / 1024;
  }
  return rss;
}

Rss ResetPeakRss() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
  return ReadRss();
}

std::string Us(int64_t ns) { return fmt::format("{:.1f} us", double(ns) / 1000.0); }

engine::WalRecord UpsertOf(engine::PointId first, size_t count, uint64_t salt) {
  engine::UpsertPoints upsert;
  for (engine::PointId id = first; id < first + count; ++id) {
    upsert.points.push_back({id, VectorFor(id, salt), engine::Payload{{"n", int64_t(id)}, {"salt", int64_t(salt)}}});
  }
  return {std::move(upsert), std::nullopt};
}

absl::Status Fill(engine::LocalShard& shard, size_t points) {
  for (size_t first = 0; first < points; first += kBatch) {
    const size_t count = std::min(kBatch, points - first);
    const bool last = first + count >= points;
    auto result = shard.Update(UpsertOf(first, count, 0), /*wait=*/last);
    if (!result.ok()) return result.status();
  }
  return shard.FlushAndAck(/*force=*/true);
}

}  // namespace bench
