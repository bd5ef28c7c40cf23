// Sim-to-real conformance: the simulated world must be no kinder than the
// real one, and the engine must end in the same state on both.
//
// 1. The process-crash model: what a process leaves written but unsynced
//    (file data, a new file, a rename, a truncation) survives a crash of
//    the process, on a real file system (a child killed with SIGKILL) and
//    in the simulated one (World::Crash(kProcessCrash)), identically.
// 2. The same shard scenario (one client, wait=true ops, snapshots, a clean
//    restart, then a kill -9 after more ops) ends in the same shard state
//    and WAL position, and archives with the same segments, files and file
//    versions, on both worlds.
#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/file_util.h"
#include "engine/env/posix_env.h"
#include "engine/snapshot/manifest.h"
#include "engine/snapshot/restore_steps.h"
#include "engine/snapshot/snapshot_create.h"
#include "engine/shard/local_shard.h"
#include "sim/world.h"

namespace properties {
namespace {

using engine::Env;

std::string FreshDir() {
  char pattern[] = "/tmp/shardsim-conformance-XXXXXX";
  EXPECT_NE(mkdtemp(pattern), nullptr);
  return pattern;
}

// Runs `body` in a child process, which must die by SIGKILL: `body` kills
// it (or it is killed when `body` returns).
void InChildKilled(const std::function<void()>& body) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    body();
    raise(SIGKILL);
    _exit(3);  // (unreachable)
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child wait status " << status;
}

// Every path under `dir` with its contents ("d/" for a directory), sorted.
std::map<std::string, std::string> Tree(engine::FileSystem& fs, const std::string& dir) {
  std::map<std::string, std::string> tree;
  auto entries = fs.ListDir(dir);
  if (!entries.ok()) return {{dir, "<" + entries.status().ToString() + ">"}};
  for (const engine::DirEntry& entry : *entries) {
    const std::string path = dir + "/" + entry.name;
    if (entry.kind == engine::EntryKind::kDirectory) {
      tree[path + "/"] = "";
      tree.merge(Tree(fs, path));
    } else {
      auto contents = engine::ReadWholeFile(fs, path);
      tree[path] = contents.ok() ? *contents : "<" + contents.status().ToString() + ">";
    }
  }
  return tree;
}

void Write(engine::FileSystem& fs, std::string_view path, std::string_view data, engine::OpenMode mode) {
  auto file = fs.Open(path, mode);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append(std::span<const char>(data.data(), data.size())).ok());
}

// What the crashed process did before it died: only "synced.txt" and the
// directory are synced; everything after is in the page cache only.
void UnsyncedSteps(engine::FileSystem& fs) {
  ASSERT_TRUE(fs.Mkdir("d").ok());
  Write(fs, "d/synced.txt", "durable", engine::OpenMode::kCreateExclusive);
  auto synced = fs.Open("d/synced.txt", engine::OpenMode::kReadWrite);
  ASSERT_TRUE(synced.ok());
  ASSERT_TRUE((*synced)->Sync().ok());
  ASSERT_TRUE(fs.SyncDir("d").ok());
  Write(fs, "d/synced.txt", " and appended", engine::OpenMode::kReadWrite);  // unsynced append
  Write(fs, "d/new.txt", "never synced", engine::OpenMode::kCreateExclusive);
  Write(fs, "d/moved.tmp", "renamed", engine::OpenMode::kCreateExclusive);
  ASSERT_TRUE(fs.Rename("d/moved.tmp", "d/moved.txt").ok());  // no directory sync
  Write(fs, "d/cut.txt", "0123456789", engine::OpenMode::kCreateExclusive);
  auto cut = fs.Open("d/cut.txt", engine::OpenMode::kReadWrite);
  ASSERT_TRUE(cut.ok());
  ASSERT_TRUE((*cut)->Truncate(4).ok());
}

TEST(SimRealConformanceTest, UnsyncedDataSurvivesAProcessCrashOnBothWorlds) {
  const std::string dir = FreshDir();
  std::map<std::string, std::string> real;
  {
    engine::PosixEnv env(dir);
    InChildKilled([&] { UnsyncedSteps(env.fs()); });
    real = Tree(env.fs(), "d");
  }
  std::filesystem::remove_all(dir);

  sim::World world(sim::WorldConfig{.seed = 1});
  std::map<std::string, std::string> simulated;
  const sim::RunResult result = world.RunSupervisor([&] {
    const sim::ProcessId process = world.StartProcess("writer", [&] {
      UnsyncedSteps(world.env().fs());
      world.Crash(sim::CrashKind::kProcessCrash);
    });
    ASSERT_TRUE(world.WaitProcess(process));
    simulated = Tree(world.env().fs(), "d");
  });
  ASSERT_EQ(result.outcome, sim::RunOutcome::kCompleted) << result.report;

  const std::map<std::string, std::string> expected = {{"d/cut.txt", "0123"},
                                                       {"d/moved.txt", "renamed"},
                                                       {"d/new.txt", "never synced"},
                                                       {"d/synced.txt", "durable and appended"}};
  EXPECT_EQ(real, expected);
  EXPECT_EQ(simulated, real);
}

// ---- 2. The same shard scenario on both worlds ----

constexpr char kShard[] = "shard";

engine::ShardOptions Options() {
  engine::ShardOptions options;
  options.collection = {.dimension = 2, .distance = engine::Distance::kDot};
  options.wal_segment_capacity_bytes = 1024;
  return options;
}

void Write(engine::LocalShard& shard, uint64_t first, uint64_t count) {
  for (uint64_t i = first; i < first + count; ++i) {
    const engine::PointId id = i % 7;
    engine::Operation op = i % 5 == 4 ? engine::Operation(engine::DeletePoints{{id}})
                                       : engine::Operation(engine::UpsertPoints{{engine::Point{
                                             .id = id,
                                             .vector = {static_cast<float>(i), 1.0f},
                                             .payload = engine::Payload{{"i", i}}}}});
    auto result = shard.Update({op, std::nullopt}, /*wait=*/true);
    ASSERT_TRUE(result.ok()) << result.status();
  }
}

// A clean process: writes, a WAL-less snapshot, shutdown.
void FirstProcess(Env& env) {
  auto shard = engine::LocalShard::Load(env, kShard, Options());
  ASSERT_TRUE(shard.ok()) << shard.status();
  Write(**shard, 0, 20);
  ASSERT_TRUE(CreateSnapshot(**shard, /*save_wal=*/false, "first.tar").ok());
  ASSERT_TRUE((*shard)->Shutdown().ok());
}

// A process that is killed (`die`, with the shard open): writes, a
// snapshot with its WAL, more writes.
void SecondProcess(Env& env, const std::function<void()>& die) {
  auto shard = engine::LocalShard::Load(env, kShard, Options());
  ASSERT_TRUE(shard.ok()) << shard.status();
  Write(**shard, 20, 15);
  ASSERT_TRUE(CreateSnapshot(**shard, /*save_wal=*/true, "second.tar").ok());
  Write(**shard, 35, 10);
  die();
}

struct Outcome {
  std::vector<engine::Point> points;
  uint64_t wal_next_index = 0;
  std::map<std::string, std::string> archives;  // archive: its segments manifest, without checksums
  friend bool operator==(const Outcome&, const Outcome&) = default;
};

void Reload(Env& env, Outcome& outcome) {
  auto shard = engine::LocalShard::Load(env, kShard, Options());
  ASSERT_TRUE(shard.ok()) << shard.status();
  outcome.points = (*shard)->Scroll(nullptr, std::nullopt, SIZE_MAX);
  outcome.wal_next_index = (*shard)->Summarize().wal_next_index;
  ASSERT_TRUE((*shard)->Shutdown().ok());
  for (const char* archive : {"first.tar", "second.tar"}) {
    auto entries = engine::ReadVerifiedTar(env.fs(), archive, {});
    ASSERT_TRUE(entries.ok()) << entries.status();
    const engine::TarEntry* manifest = engine::FindEntry(*entries, engine::kSegmentsManifestName);
    ASSERT_NE(manifest, nullptr) << archive;
    // Segments, files and their versions must agree; the files' bytes need
    // not: segment files are logs appended at each flush, and the flush
    // worker's timer (virtual or real) batches the same ops differently.
    nlohmann::json segments = nlohmann::json::parse(manifest->contents, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(segments.is_discarded()) << archive;
    for (auto& [id, segment] : segments["segments"].items()) segment.erase("file_checksums");
    outcome.archives[archive] = segments.dump();
  }
}

TEST(SimRealConformanceTest, TheSameScenarioEndsTheSameOnBothWorlds) {
  const std::string dir = FreshDir();
  Outcome real;
  {
    engine::PosixEnv env(dir, [](std::string_view) {});
    FirstProcess(env);
    InChildKilled([&] { SecondProcess(env, [] { raise(SIGKILL); }); });
    Reload(env, real);
  }
  std::filesystem::remove_all(dir);

  Outcome simulated;
  sim::World world(sim::WorldConfig{.seed = 3});
  const sim::RunResult result = world.RunSupervisor([&] {
    world.WaitProcess(world.StartProcess("first", [&] { FirstProcess(world.env()); }));
    const sim::ProcessId second = world.StartProcess("second", [&] {
      SecondProcess(world.env(), [&] { world.Crash(sim::CrashKind::kProcessCrash); });
    });
    ASSERT_TRUE(world.WaitProcess(second));
    world.WaitProcess(world.StartProcess("reload", [&] { Reload(world.env(), simulated); }));
  });
  ASSERT_EQ(result.outcome, sim::RunOutcome::kCompleted) << result.report;

  EXPECT_EQ(real.wal_next_index, 45u);
  EXPECT_FALSE(real.points.empty());
  EXPECT_EQ(simulated.points, real.points);
  EXPECT_EQ(simulated.wal_next_index, real.wal_next_index);
  EXPECT_EQ(simulated.archives, real.archives);
}

}  // namespace
}  // namespace properties
