// The same engine on the real world: threads, a temp directory, real time.
// Concurrent clients write through the observer-recorded history; after a
// clean shutdown and a reload, the shard must equal the model after every
// written op. (Run under TSan for data races: the asan preset's clang can
// build it with -fsanitize=thread.)
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include "engine/env/posix_env.h"
#include "engine/shard/local_shard.h"
#include "properties/history.h"
#include "properties/workload.h"

namespace properties {
namespace {

// The History is written by the shard under its WAL mutex and read here
// only after the clients are done; NoteCompleted needs its own lock.
class LockedHistory final : public engine::ShardObserver {
 public:
  void OnWalAppend(engine::SeqNumber op_num, const engine::WalRecord& record) override {
    std::lock_guard lock(mutex_);
    history_.OnWalAppend(op_num, record);
  }
  void OnWalSynced(uint64_t next_index) override {
    std::lock_guard lock(mutex_);
    history_.OnWalSynced(next_index);
  }
  History& history() { return history_; }

 private:
  std::mutex mutex_;
  History history_;
};

TEST(RealEnvTest, ConcurrentClientsThenReloadMatchTheModel) {
  char pattern[] = "/tmp/shardsim-real-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  engine::PosixEnv env(pattern);
  ShardRunConfig config;
  config.id_range = 40;
  config.collection = {.dimension = 4, .distance = engine::Distance::kCosine};
  LockedHistory recorder;
  engine::ShardOptions options{.collection = config.collection,
                               .wal_segment_capacity_bytes = 8192,
                               .flush_interval_ns = 2'000'000,
                               .observer = &recorder};
  {
    auto shard = engine::LocalShard::Load(env, "shard", options);
    ASSERT_TRUE(shard.ok()) << shard.status();
    std::vector<std::thread> clients;
    for (int client = 0; client < 4; ++client) {
      clients.emplace_back([&, client] {
        sim::PrngSource decisions(1000 + client);
        Workload workload(decisions, config);
        for (int op = 0; op < 100; ++op) {
          auto result = (*shard)->Update({workload.NextOperation(), std::nullopt}, decisions.Chance(0.3));
          EXPECT_TRUE(result.ok()) << result.status();
          if (op % 10 == 0) (void)(*shard)->Search(workload.RandomVector(), nullptr, 3);
        }
      });
    }
    for (auto& client : clients) client.join();
    ASSERT_TRUE((*shard)->Shutdown().ok());
  }
  const History& history = recorder.history();
  ASSERT_EQ(history.operations().size(), 400u);
  const uint64_t next = *history.last_written() + 1;
  const auto expected = ExpectedPoints(history.ModelBelow(next), config.collection);
  auto reloaded = engine::LocalShard::Load(env, "shard", {.collection = config.collection});
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ((*reloaded)->Summarize().wal_next_index, next);
  EXPECT_EQ((*reloaded)->Scroll(nullptr, std::nullopt, SIZE_MAX), expected);
  for (const auto& [id, copies] : (*reloaded)->LiveCopies()) EXPECT_EQ(copies.size(), 1u) << id;
  ASSERT_TRUE((*reloaded)->Shutdown().ok());
  std::filesystem::remove_all(pattern);
}

}  // namespace
}  // namespace properties
