// The engine processes of a run and their loads: starting each epoch's
// process, retrying loads a fault refused (and telling a refusal the
// faults explain from a bug), the final check, and judging what a reload
// recovered against the history.
#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "properties/run.h"

namespace properties {

bool Run::PowerLossSince(uint64_t step) const {
  for (const sim::CrashRecord& crash : world_.crashes()) {
    if (crash.step >= step && crash.kind == sim::CrashKind::kPowerLoss) return true;
  }
  return false;
}

bool Run::RunEngineProcess(size_t epoch) {
  int replacements = 0;
  for (int attempt = 0;; ++attempt) {
    load_failed_ = false;
    attempt_start_step_ = TraceStep();
    const sim::ProcessId process =
        world_.StartProcess(fmt::format("shard{}", epoch), [this] { EngineProcess(false); });
    const bool crashed = world_.WaitProcess(process);
    // An injected fault can fail a load; the operator restarts the shard.
    if (!load_failed_ || crashed || stopping()) return crashed;
    if (attempt + 1 >= kMaxLoadAttempts) {
      // Rot of the shard's stored bytes, detected: it refuses to load for
      // good. Anything else that keeps a shard from loading is a bug.
      if (ShardRefusesForNoReason()) {
        Fail("recovery", fmt::format("the shard did not load in {} attempts under injected faults: last refusal: {}",
                                     kMaxLoadAttempts, last_load_error_));
        return false;
      }
      if (!ShardHoldsRot() || replacements == kMaxShardReplacements) {
        EndByFaults();
        return false;
      }
      ++replacements;
      ReplaceDamagedShard();
      attempt = -1;  // the replacement loads afresh
      if (stopping()) return false;
    }
  }
}

bool Run::ShardHoldsRot() {
  // Rot since the last good load, or older rot still on disk: a load can
  // succeed over rotten bytes when a bad read happens to flip them back
  // (seed 81998), and the rot is there for every later load.
  return ledger_.AnyOf(sim::FaultClass::kStoredRot, rot_counts_from_step_, std::string(kShardDir) + "/") ||
         world_.fs().HoldsRot(kShardDir);
}

void Run::EndByFaults() {
  ++stats_.runs_ended_by_faults;
  if (config_.verbose) std::printf("every load attempt hit an injected fault: the run ends unjudged\n");
  ended_by_faults_ = true;
}

bool Run::ShardRefusesForNoReason() {
  // Every attempt refused by a fault injected in it (a high fault rate, as
  // a shrinker's rate 1) says nothing about the engine; rot is detection.
  return refusals_without_fault_in_attempt_ > 0 && !ShardHoldsRot();
}

void Run::VerifyFinalState() {
  process_start_step_ = TraceStep();
  for (int attempt = 0; attempt < kMaxLoadAttempts && !stopping(); ++attempt) {
    load_failed_ = false;
    attempt_start_step_ = TraceStep();
    const sim::ProcessId verifier = world_.StartProcess("verify", [this] { EngineProcess(true); });
    world_.WaitProcess(verifier);
    if (!load_failed_) return;
  }
  if (stopping()) return;
  if (!ShardRefusesForNoReason()) {
    if (!ShardHoldsRot()) EndByFaults();
  } else {
    Fail("recovery", fmt::format("the shard did not load for the final check under injected faults: last refusal: {}",
                                 last_load_error_));
  }
}

void Run::EngineProcess(bool final_check) {
  auto loaded = engine::LocalShard::Load(world_.env(), kShardDir, Options());
  if (!loaded.ok()) {
    NoteError(loaded.status());
    // A load refused without any fault since the shard last loaded (rot
    // stays until the shard is replaced) is a bug.
    if (!ledger_.Any(std::min(process_end_step_, last_good_load_step_)) && !ShardHoldsRot()) {
      Fail("recovery", fmt::format("shard load failed: {}", loaded.status().ToString()));
      return;
    }
    last_load_error_ = loaded.status().ToString();
    if (config_.verbose) std::printf("load failed: %s\n", last_load_error_.c_str());
    if (!ledger_.Any(attempt_start_step_)) ++refusals_without_fault_in_attempt_;
    ++stats_.failed_loads;
    load_failed_ = true;
    return;
  }
  engine::LocalShard& shard = **loaded;
  ++stats_.reloads;
  if (!CheckRecovered(shard) || final_check || stopping()) {
    (void)shard.Shutdown();
    return;
  }
  last_good_load_step_ = TraceStep();
  rot_counts_from_step_ = last_good_load_step_;
  refusals_without_fault_in_attempt_ = 0;
  std::vector<std::unique_ptr<engine::Task>> clients;
  for (int client = 0; client < config_.clients; ++client) {
    clients.push_back(world_.env().Spawn(fmt::format("client{}", client),
                                         [this, &shard, client] { Client(shard, client); }));
  }
  for (auto& client : clients) client->Join();
  CheckShardAfterClients(shard);
  if (auto status = shard.Shutdown(); !status.ok()) FailUnlessFaulty(shard, "shutdown", status);
}

void Run::CheckShardAfterClients(engine::LocalShard& shard) {
  CheckFaultPolicy(shard);
  // No operation leaves its proxies behind, even one a fault stopped.
  if (const size_t proxies = shard.ProxyCount(); proxies != 0 && !halted_) {
    Fail("structure", fmt::format("{} proxies left in the holder after every client finished", proxies));
  }
  for (const auto& [id, segments] : shard.LiveCopies()) {
    if (segments.size() != 1) {
      Fail("structure", fmt::format("point {} has {} live copies", id, segments.size()));
      break;
    }
  }
}

bool Run::CheckRecovered(engine::LocalShard& shard) {
  // A fault on the WAL's files since the shard went down may have cut
  // unsynced entries that looked torn; and a power loss of another process
  // since (a restore's) takes the shard's unsynced data too (a shard
  // stopped by a failed sync shuts down without syncing).
  // Since the last good load, not only since the last process: a load
  // that crashed before it finished may already have cut what a bad read
  // made look torn (seed 281376).
  const uint64_t since = std::min(process_end_step_, last_good_load_step_);
  if (ledger_.Any(since, std::string(kShardDir) + "/wal/") || PowerLossSince(process_end_step_)) {
    history_.RelaxToDurable();
  }
  const engine::LocalShard::Summary summary = shard.Summarize();
  if (config_.verbose) {
    std::printf("reload: WAL [%llu, %llu), segments:\n", (unsigned long long)summary.wal_first_index,
                (unsigned long long)summary.wal_next_index);
    for (const auto& line : summary.segments) std::printf("  %s\n", line.c_str());
  }
  // After a crashed restore over it, a shard that is neither the snapshot
  // nor the old one recovered is a mix.
  const std::string invariant = recovery_context_.empty() ? "recovery" : "restore-atomicity";
  const std::string context = recovery_context_.empty() ? "" : recovery_context_ + ": ";
  if (auto failure = history_.NoteRecovered(summary.wal_next_index)) {
    Fail(invariant, context + *failure);
    return false;
  }
  const ReferenceModel model = history_.ModelBelow(summary.wal_next_index);
  const std::vector<engine::Point> actual = shard.Scroll(nullptr, std::nullopt, SIZE_MAX);
  const std::vector<engine::Point> expected = ExpectedPoints(model, config_.collection);
  if (actual != expected) {
    Fail(invariant,
         context + fmt::format("after reload (WAL continues at {}), the shard holds {} but the model after "
                     "every op below {} holds {}",
                     summary.wal_next_index, DescribePoints(actual), summary.wal_next_index,
                     DescribePoints(expected)));
    return false;
  }
  if (auto broken = shard.CheckStructure()) {
    Fail("structure", fmt::format("after reload: {}", *broken));
    return false;
  }
  for (const auto& [id, segments] : shard.LiveCopies()) {
    if (segments.size() != 1) {
      Fail("structure", fmt::format("point {} has {} live copies after reload", id, segments.size()));
      return false;
    }
  }
  return true;
}

}  // namespace properties
