// fuzz_restore: the input is a snapshot archive (see restore_input.h),
// restored in a simulated world that holds a small live shard.
//
// An error status from RestoreSnapshot is always acceptable; what must hold:
// - a failed restore leaves the live shard's directory byte for byte as it
//   was, and the live shard still loads with the same points;
// - a restore with a wrong .checksum fails;
// - a successful restore yields a shard whose structure check passes, with
//   one live copy per point, that shuts down and reloads with the same
//   points; a restore into a fresh directory leaves the live shard alone.
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/snapshot/restore.h"
#include "engine/archive/sha256.h"
#include "fuzz/fuzz_common.h"
#include "fuzz/restore_input.h"
#include "fuzz/restore_mutator.h"
#include "sim/world.h"

namespace {

using engine::LocalShard;
using engine::Point;

constexpr char kLive[] = "shard";
constexpr char kFresh[] = "restored";
constexpr char kArchive[] = "snap.tar";

struct LiveShard {
  fuzz::Tree tree;  // the shard directory, shut down cleanly
  std::vector<Point> points;
};

std::vector<Point> PointsOf(LocalShard& shard) { return shard.Scroll(nullptr, std::nullopt, SIZE_MAX); }

void Run(sim::World& world, std::function<void()> body) {
  const sim::RunResult result = world.RunSupervisor(std::move(body));
  if (result.outcome != sim::RunOutcome::kCompleted) {
    fuzz::Fail("the simulated run did not complete ({}): {}", sim::RunOutcomeName(result.outcome), result.report);
  }
}

// Built once: loading and populating a shard per input would dominate.
const LiveShard& Live() {
  static const LiveShard live = [] {
    LiveShard out;
    sim::World world(sim::WorldConfig{.seed = 1});
    Run(world, [&] {
      auto shard = LocalShard::Load(world.env(), kLive, fuzz::RestoreShardOptions());
      if (!shard.ok()) fuzz::Fail("live shard: {}", shard.status().ToString());
      if (auto status = fuzz::Populate(**shard, 4, 100); !status.ok()) fuzz::Fail("live shard: {}", status.ToString());
      out.points = PointsOf(**shard);
      if (auto status = (*shard)->Shutdown(); !status.ok()) fuzz::Fail("live shard: {}", status.ToString());
    });
    out.tree = fuzz::TreeOf(world.fs(), kLive);
    return out;
  }();
  return live;
}

void WriteDurably(engine::FileSystem& fs, const std::string& path, std::string_view contents) {
  if (auto status = engine::WriteFileAtomically(fs, path, contents); !status.ok()) {
    fuzz::Fail("writing {}: {}", path, status.ToString());
  }
}

// Recreates the live shard's files, durably, in a fresh world.
void Install(sim::SimFileSystem& fs, const fuzz::Tree& tree) {
  bool ok = fs.Mkdir(kLive).ok();
  for (const auto& [path, contents] : tree) {
    if (path.ends_with('/')) {
      ok = ok && fs.Mkdir(path.substr(0, path.size() - 1)).ok();
      continue;
    }
    auto file = fs.Open(path, engine::OpenMode::kCreateExclusive);
    ok = ok && file.ok() && (*file)->Append(std::span<const char>(contents.data(), contents.size())).ok() &&
         (*file)->Sync().ok();
  }
  for (auto it = tree.rbegin(); it != tree.rend(); ++it) {
    if (it->first.ends_with('/')) ok = ok && fs.SyncDir(it->first.substr(0, it->first.size() - 1)).ok();
  }
  ok = ok && fs.SyncDir(kLive).ok() && fs.SyncDir("").ok();
  if (!ok) fuzz::Fail("cannot install the live shard");
}

void ExpectLiveShardUntouched(sim::World& world, const LiveShard& live, std::string_view after) {
  const fuzz::Tree now = fuzz::TreeOf(world.fs(), kLive);
  if (now != live.tree) fuzz::Fail("{}: the live shard's directory changed: {}", after, fuzz::FirstDifference(live.tree, now));
  auto shard = LocalShard::Load(world.env(), kLive, fuzz::RestoreShardOptions());
  if (!shard.ok()) fuzz::Fail("{}: the live shard no longer loads: {}", after, shard.status().ToString());
  if (PointsOf(**shard) != live.points) fuzz::Fail("{}: the live shard's points changed", after);
  if (auto status = (*shard)->Shutdown(); !status.ok()) fuzz::Fail("{}: shutdown: {}", after, status.ToString());
}

// Structure check, one live copy per point; returns the points.
std::vector<Point> CheckShard(LocalShard& shard, std::string_view when) {
  if (auto broken = shard.CheckStructure()) fuzz::Fail("{}: structure check: {}", when, *broken);
  for (const auto& [id, copies] : shard.LiveCopies()) {
    if (copies.size() != 1) fuzz::Fail("{}: point {} has {} live copies", when, id, copies.size());
  }
  return PointsOf(shard);
}

void ExpectRestoredShardSound(sim::World& world, std::unique_ptr<LocalShard> shard, const std::string& dir) {
  const std::vector<Point> points = CheckShard(*shard, "restored shard");
  if (auto status = shard->Shutdown(); !status.ok()) fuzz::Fail("restored shard: shutdown: {}", status.ToString());
  shard.reset();
  auto reloaded = LocalShard::Load(world.env(), dir, fuzz::RestoreShardOptions());
  if (!reloaded.ok()) fuzz::Fail("the restored shard does not reload: {}", reloaded.status().ToString());
  if (CheckShard(**reloaded, "reloaded restored shard") != points) {
    fuzz::Fail("the restored shard's points changed across a reload");
  }
  if (auto status = (*reloaded)->Shutdown(); !status.ok()) fuzz::Fail("reloaded shard: shutdown: {}", status.ToString());
}

}  // namespace

// Structure-aware (restore_mutator.h): seven mutations in eight change one
// archive entry and re-derive its manifest record; the eighth, or one whose
// archive does not parse, is libFuzzer's own byte mutation.
// SHARDSIM_FUZZ_PLAIN_MUTATOR=1 leaves every mutation to libFuzzer, to
// measure what the structure-aware ones add (fuzz/README.md).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  static const bool plain = [] {
    const char* value = std::getenv("SHARDSIM_FUZZ_PLAIN_MUTATOR");
    return value != nullptr && std::string_view(value) == "1";
  }();
  std::minstd_rand rng(seed);
  if (!plain && size >= 1 && rng() % 8 != 0) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (auto mutated = fuzz::MutateArchiveEntry(input, max_size, rng)) {
      if (rng() % 16 == 0) (*mutated)[0] = static_cast<char>((*mutated)[0] ^ (1 << (rng() % 3)));
      std::copy(mutated->begin(), mutated->end(), data);
      return mutated->size();
    }
  }
  return LLVMFuzzerMutate(data, size, max_size);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const LiveShard& live = Live();
  const uint8_t flags = size > 0 ? data[0] : 0;
  const std::string_view archive =
      size > 0 ? std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1) : std::string_view();
  sim::World world(sim::WorldConfig{.seed = 0});
  Install(world.fs(), live.tree);
  std::string checksum = engine::Sha256Hex(archive);
  if (flags & fuzz::kWrongChecksum) checksum[0] = checksum[0] == '0' ? '1' : '0';
  WriteDurably(world.fs(), kArchive, archive);
  WriteDurably(world.fs(), std::string(kArchive) + ".checksum", checksum);
  const std::string target = (flags & fuzz::kOverLiveShard) ? kLive : kFresh;
  Run(world, [&] {
    auto restored = engine::RestoreSnapshot(world.env(), kArchive, target, fuzz::RestoreShardOptions());
    if (!restored.ok()) {
      fuzz::Note("restore failed: {}", restored.status().ToString());
      ExpectLiveShardUntouched(world, live, fmt::format("after a failed restore ({})", restored.status().ToString()));
      return;
    }
    if (flags & fuzz::kWrongChecksum) fuzz::Fail("a restore with a wrong .checksum succeeded");
    fuzz::Note("restored {} points into {}", (*restored)->Count(nullptr), target);
    ExpectRestoredShardSound(world, std::move(*restored), target);
    if (target == kFresh) ExpectLiveShardUntouched(world, live, "after a restore into another directory");
  });
  return 0;
}
