#include "sim/cluster/cluster_world.h"

#include <gtest/gtest.h>

#include <string>

#include <fmt/format.h>

#include "engine/common/file_util.h"

namespace sim {
namespace {

void WriteUnsynced(engine::Env& env, const std::string& path, const std::string& text) {
  auto file = env.fs().Open(path, engine::OpenMode::kCreate);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append(std::span<const char>(text.data(), text.size())).ok());
}

std::string ReadOrMissing(engine::Env& env, const std::string& path) {
  auto contents = engine::ReadWholeFile(env.fs(), path);
  return contents.ok() ? *contents : "<missing>";
}

TEST(ClusterWorldTest, PowerLossOfOnePeerTouchesOnlyItsDisk) {
  ClusterWorld world({.seed = 7, .peer_count = 3, .profile = PersistenceProfile::NoFault()});
  std::string peer1_after;
  std::string peer2_after;
  const RunResult result = world.RunSupervisor([&] {
    for (PeerId peer : world.peers()) {
      world.StartPeer(peer, [&world, peer] { WriteUnsynced(world.env(peer), "data", "unsynced"); });
      EXPECT_FALSE(world.WaitPeer(peer));
    }
    // Peers 1 and 2 stay up (a long sleep) so that one can lose power.
    for (PeerId peer : {PeerId{1}, PeerId{2}}) {
      world.StartPeer(peer, [&world, peer] { world.env(peer).SleepForNanos(1'000'000'000); });
    }
    EXPECT_TRUE(world.IsPeerUp(1));
    world.CrashPeer(1, CrashKind::kPowerLoss);
    EXPECT_FALSE(world.IsPeerUp(1));
    EXPECT_TRUE(world.IsPeerUp(2));
    EXPECT_TRUE(world.WaitPeer(1));
    world.CrashPeer(2, CrashKind::kProcessCrash);
    EXPECT_TRUE(world.WaitPeer(2));
    world.StartPeer(1, [&] { peer1_after = ReadOrMissing(world.env(1), "data"); });
    world.StartPeer(2, [&] { peer2_after = ReadOrMissing(world.env(2), "data"); });
    EXPECT_FALSE(world.WaitPeer(1));
    EXPECT_FALSE(world.WaitPeer(2));
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  EXPECT_NE(peer1_after, "unsynced");  // dropped by the power loss
  EXPECT_EQ(peer2_after, "unsynced");  // a process crash keeps the page cache
  ASSERT_EQ(world.crashes().size(), 2u);
  EXPECT_EQ(world.crashes()[0].peer, 1u);
  EXPECT_EQ(world.crashes()[0].kind, CrashKind::kPowerLoss);
  EXPECT_EQ(world.crashes()[1].peer, 2u);
  // Peer 3 was never crashed: its page cache still holds the write.
  auto peer3 = engine::ReadWholeFile(world.fs(3), "data");
  ASSERT_TRUE(peer3.ok()) << peer3.status();
  EXPECT_EQ(*peer3, "unsynced");
}

TEST(ClusterWorldTest, ProcessesMapToPeersAndCrashOfADownPeerIsANoOp) {
  ClusterWorld world({.seed = 1, .peer_count = 2});
  const RunResult result = world.RunSupervisor([&] {
    EXPECT_FALSE(world.current_process_id(1).has_value());
    const ProcessId first = world.StartPeer(1, [] {});
    const ProcessId second = world.StartPeer(2, [&world] { world.env(2).SleepForNanos(1'000'000); });
    EXPECT_EQ(world.PeerOfProcess(first), PeerId{1});
    EXPECT_EQ(world.PeerOfProcess(second), PeerId{2});
    EXPECT_EQ(world.PeerOfProcess(0), std::nullopt);
    EXPECT_FALSE(world.WaitPeer(1));
    world.CrashPeer(1, CrashKind::kPowerLoss);  // down: nothing happens, nothing drawn
    EXPECT_TRUE(world.crashes().empty());
    const ProcessId third = world.StartPeer(1, [] {});
    EXPECT_EQ(third, 3u);
    EXPECT_EQ(world.current_process_id(1), third);
    EXPECT_FALSE(world.WaitPeer(1));
    EXPECT_FALSE(world.WaitPeer(2));
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
}

TEST(ClusterWorldTest, APeerCanCrashItselfAndInjectionsNameThePeer) {
  PersistenceProfile profile = PersistenceProfile::Faulty();
  profile.faults.write_error = 1.0;  // every write fails
  ClusterWorld world({.seed = 3, .peer_count = 2, .profile = profile});
  bool after_crash = false;
  const RunResult result = world.RunSupervisor([&] {
    world.StartPeer(2, [&] {
      auto file = world.env(2).fs().Open("x", engine::OpenMode::kCreate);
      if (file.ok()) (void)(*file)->Append(std::span<const char>("abc", 3));
      world.CrashPeer(2, CrashKind::kProcessCrash);
      after_crash = true;
    });
    EXPECT_TRUE(world.WaitPeer(2));
  });
  ASSERT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  EXPECT_FALSE(after_crash);
  ASSERT_FALSE(world.injections().empty());
  for (const PeerInjection& injection : world.injections()) {
    EXPECT_EQ(injection.peer, 2u);
    EXPECT_EQ(world.PeerOfProcess(injection.injection.process), PeerId{2});
  }
}

// Peers writing with faults and power losses: the run is a pure function of
// its decisions, so a recorded tape replays it exactly.
uint64_t FaultyRunHash(ClusterWorld& world) {
  const RunResult result = world.RunSupervisor([&] {
    for (int round = 0; round < 3; ++round) {
      for (PeerId peer : world.peers()) {
        world.StartPeer(peer, [&world, peer, round] {
          auto file = world.env(peer).fs().Open(fmt::format("f{}", round), engine::OpenMode::kCreate);
          if (!file.ok()) return;
          for (int i = 0; i < 4; ++i) {
            (void)(*file)->Append(std::span<const char>("abcd", 4));
            if (i % 2 == 1) (void)(*file)->Sync();
          }
        });
      }
      world.env(1).SleepForNanos(20'000);
      world.CrashPeer(1 + round % 3, CrashKind::kPowerLoss);
      for (PeerId peer : world.peers()) world.WaitPeer(peer);
    }
  });
  EXPECT_EQ(result.outcome, RunOutcome::kCompleted) << result.report;
  return world.trace().hash();
}

TEST(ClusterWorldTest, SameSeedSameTraceAndATapeReplaysIt) {
  const ClusterConfig config{.seed = 9, .peer_count = 3, .profile = PersistenceProfile::Faulty()};
  ClusterWorld first(config);
  ClusterWorld second(config);
  const uint64_t hash = FaultyRunHash(first);
  EXPECT_EQ(FaultyRunHash(second), hash);
  PrngSource prng(9);
  TapeRecorder recorder(prng);
  ClusterWorld recorded(config, recorder);
  EXPECT_EQ(FaultyRunHash(recorded), hash);
  TapeSource tape(recorder.tape());
  ClusterWorld replayed(config, tape);
  EXPECT_EQ(FaultyRunHash(replayed), hash);
  EXPECT_FALSE(first.crashes().empty());
}

}  // namespace
}  // namespace sim
