// SimFileSystem write + sync throughput.
// Run: ./build/default/sim/fs/sim_fs_bench
#include <benchmark/benchmark.h>

#include <string>

#include "sim/fs/sim_fs.h"

namespace {

// Appends `write_bytes` records and syncs every `writes_per_sync` of them.
void BM_AppendAndSync(benchmark::State& state) {
  const size_t write_bytes = static_cast<size_t>(state.range(0));
  const int writes_per_sync = static_cast<int>(state.range(1));
  const std::string record(write_bytes, 'x');
  uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    sim::SimFileSystem fs;
    auto file = fs.Open("log", engine::OpenMode::kCreate);
    state.ResumeTiming();
    for (int i = 0; i < 256; ++i) {
      (void)(*file)->Append(std::span<const char>(record.data(), record.size()));
      if ((i + 1) % writes_per_sync == 0) (void)(*file)->Sync();
      bytes += record.size();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_AppendAndSync)->Args({4096, 1})->Args({4096, 16})->Args({256, 1})->Args({256, 64});

}  // namespace

BENCHMARK_MAIN();
