// A cost model for the simulated file system, which has none of its own: a
// file-system call there is one scheduling point, and virtual time moves only
// by the scheduler's step quantum whatever the bytes. SsdCostEnv puts a layer
// in front of an Env's file system that sleeps, on that Env's clock, for a
// modelled SSD's time per call before making it, so that archiving megabytes
// takes realistic virtual time.
#pragma once

#include <cstdint>
#include <string>

#include "engine/env/env.h"
#include "engine/shard/forwarding_env.h"
#include "sim/fs/before_call_fs.h"

namespace bench {

// A modelled SSD, in virtual nanoseconds per call.
struct FsCost {
  int64_t metadata_ns;      // open, mkdir, rmdir, unlink, rename, list, stat, size, truncate
  int64_t data_call_ns;     // fixed part of a read / write / append
  double read_ns_per_byte;  // 1 / bandwidth
  double write_ns_per_byte;
  int64_t sync_ns;  // fdatasync, directory sync
};
inline constexpr FsCost kSsd{.metadata_ns = 10'000,
                             .data_call_ns = 5'000,
                             .read_ns_per_byte = 0.5,   // 2 GB/s
                             .write_ns_per_byte = 1.0,  // 1 GB/s
                             .sync_ns = 250'000};

// "metadata 10000 ns, data call 5000 ns + ..." for the benchmark's header.
std::string Describe(const FsCost& cost);

// Sleeps on `env`'s clock for each call's modelled cost, then makes the call
// on the wrapped file system.
class CostFileSystem final : public sim::BeforeCallFileSystem {
 public:
  // REQUIRES: `env`, `cost` and `inner` outlive this.
  CostFileSystem(engine::Env& env, const FsCost& cost, engine::FileSystem& inner)
      : BeforeCallFileSystem(inner), env_(env), cost_(cost) {}

 private:
  absl::Status BeforeCall(const sim::FsCall& call) override;

  engine::Env& env_;
  const FsCost& cost_;
};

// `inner` with the cost layer in front of its file system.
class SsdCostEnv final : public engine::testing::ForwardingEnv {
 public:
  // REQUIRES: `inner` and `cost` outlive this.
  SsdCostEnv(engine::Env& inner, const FsCost& cost) : ForwardingEnv(inner, fs_), fs_(inner, cost, inner.fs()) {}

 private:
  CostFileSystem fs_;
};

}  // namespace bench
