#include "sim/cluster/sim_meta_log.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace sim {

namespace {
// An apply task lives as long as its incarnation; this bounds its loop.
constexpr uint64_t kMaxApplyLoopTurns = 100'000'000;
constexpr int kMaxWakeups = 10'000'000;
}  // namespace

// ---------------------------------------------------------------- SimMetaLog

SimMetaLog::SimMetaLog(ClusterWorld& world, LogFaults faults, MetaReducer reducer, MetaDescriber describe)
    : world_(world),
      scheduler_(world.scheduler()),
      decisions_(world.decisions()),
      reducer_(std::move(reducer)),
      describe_(std::move(describe)),
      alive_(std::make_shared<bool>(true)) {
  SS_ASSERT(reducer_ != nullptr, "the metadata log needs a reducer");
  set_faults(faults);
  // A crash of a peer changes who AwaitAllApplied waits for.
  world_.AddCrashListener([this, alive = std::weak_ptr<bool>(alive_)](PeerId) {
    if (!alive.expired()) NotifyChanged();
  });
}

SimMetaLog::~SimMetaLog() {
  // Apply tasks and waiters use this log while they unwind (a run that
  // ended in a deadlock or a stop): unwind them while it still exists.
  SS_ASSERT(!scheduler_.in_task(), "the metadata log is destroyed from inside a task");
  scheduler_.UnwindAll();
  alive_.reset();
}

void SimMetaLog::set_faults(LogFaults faults) {
  SS_ASSERT(faults.loss >= 0 && faults.loss <= 1 && faults.duplication >= 0 && faults.duplication <= 1);
  SS_ASSERT(faults.compaction >= 0 && faults.compaction <= 1);
  SS_ASSERT(faults.min_commit_delay_ns >= 0 && faults.min_commit_delay_ns <= faults.max_commit_delay_ns);
  SS_ASSERT(faults.min_apply_lag_ns >= 0 && faults.min_apply_lag_ns <= faults.max_apply_lag_ns);
  faults_ = faults;
}

std::string SimMetaLog::Describe(const engine::MetaOp& op) const {
  return describe_ ? describe_(op) : fmt::format("op{}", op.index());
}

void SimMetaLog::TraceMeta(uint64_t index, const std::string& detail) {
  scheduler_.trace().Record(EventKind::kMeta, scheduler_.current(), index, scheduler_.now_ns(), detail);
}

int64_t SimMetaLog::DrawBetween(int64_t low_ns, int64_t high_ns) {
  return static_cast<int64_t>(decisions_.Between(static_cast<uint64_t>(low_ns), static_cast<uint64_t>(high_ns)));
}

PeerLogHandle& SimMetaLog::Attach(PeerId peer, engine::MetaApplier& applier) {
  SS_ASSERT(world_.IsPeerUp(peer), "peer {} attaches to the log while down", peer);
  const ProcessId process = *world_.current_process_id(peer);
  const auto previous = current_.find(peer);
  SS_ASSERT(previous == current_.end() || previous->second->process() != process,
            "peer {} attached twice in process {}", peer, process);
  handles_.push_back(std::unique_ptr<PeerLogHandle>(new PeerLogHandle(*this, peer, process, applier)));
  PeerLogHandle* handle = handles_.back().get();
  current_[peer] = handle;
  scheduler_.Spawn(fmt::format("peer{}.meta-apply", peer), [handle] { handle->ApplyLoop(); }, process);
  return *handle;
}

void SimMetaLog::Detach(PeerId peer) {
  PeerLogHandle* attached = handle(peer);
  if (attached == nullptr || attached->detached_) return;
  attached->detached_ = true;
  TraceMeta(attached->cursor_, fmt::format("peer{} detached at #{}", peer, attached->cursor_));
  NotifyChanged();
}

PeerLogHandle* SimMetaLog::handle(PeerId peer) {
  const auto it = current_.find(peer);
  return it == current_.end() ? nullptr : it->second;
}

uint64_t SimMetaLog::ProposeFrom(PeerId proposer, const engine::MetaOp& op) {
  const uint64_t proposal_id = next_proposal_id_++;
  ++stats_.proposals;
  const std::string what = fmt::format("proposal {} from peer{}: {}", proposal_id, proposer, Describe(op));
  // A task being unwound may not spawn: its proposal never leaves.
  if (scheduler_.current_unwinding()) {
    TraceMeta(0, what + " dropped (proposer crashed)");
    return proposal_id;
  }
  const bool lost = decisions_.Rare(faults_.loss);
  const bool duplicated = decisions_.Rare(faults_.duplication);
  const int64_t delay_ns = DrawBetween(faults_.min_commit_delay_ns, faults_.max_commit_delay_ns);
  if (lost) {
    ++stats_.lost;
    TraceMeta(0, what + " lost");
  } else {
    TraceMeta(0, fmt::format("{} in flight, delay {}ns", what, delay_ns));
    SpawnCommit({op, proposal_id, proposer}, delay_ns);
  }
  if (duplicated) {
    const int64_t copy_delay_ns = DrawBetween(faults_.min_commit_delay_ns, faults_.max_commit_delay_ns);
    ++stats_.duplicated;
    TraceMeta(0, fmt::format("{} duplicated, delay {}ns", what, copy_delay_ns));
    SpawnCommit({op, proposal_id, proposer}, copy_delay_ns);
  }
  return proposal_id;
}

void SimMetaLog::SpawnCommit(Entry entry, int64_t delay_ns) {
  const int64_t commit_ns = scheduler_.now_ns() + delay_ns;
  const uint64_t proposal_id = entry.proposal_id;
  scheduler_.Spawn(fmt::format("meta.proposal#{}", proposal_id), [this, entry = std::move(entry), commit_ns] {
    scheduler_.SleepUntil(commit_ns);
    Commit(entry);
  });
}

void SimMetaLog::Commit(const Entry& entry) {
  entries_.push_back(entry);
  const uint64_t index = entries_.size();
  SS_ASSERT(compaction_index_ < index, "commit of #{} behind the compaction point #{}", index, compaction_index_);
  reducer_(leader_state_, entry.op);
  const auto [first, inserted] = first_index_of_proposal_.emplace(entry.proposal_id, index);
  SS_ASSERT(inserted || first->second < index, "proposal {} committed out of order", entry.proposal_id);
  ++stats_.committed;
  TraceMeta(index, fmt::format("#{} committed {} (proposal {} from peer{})", index, Describe(entry.op),
                               entry.proposal_id, entry.proposer));
  if (decisions_.Rare(faults_.compaction)) Compact();
  NotifyChanged();
}

void SimMetaLog::Compact() {
  SS_ASSERT(compaction_index_ <= entries_.size());
  compaction_index_ = entries_.size();
  compacted_state_ = leader_state_;
  ++stats_.compactions;
  TraceMeta(compaction_index_, fmt::format("compacted up to #{}", compaction_index_));
  NotifyChanged();
}

bool SimMetaLog::AllLiveApplied(uint64_t index) const {
  return std::all_of(current_.begin(), current_.end(), [index](const auto& peer_and_handle) {
    const PeerLogHandle& handle = *peer_and_handle.second;
    return !handle.live() || handle.cursor_ >= index;
  });
}

bool SimMetaLog::WaitForChange(std::optional<int64_t> deadline_ns) {
  SS_ASSERT(scheduler_.in_task(), "waiting on the metadata log outside any task");
  if (scheduler_.current_unwinding()) return false;
  const TaskId self = scheduler_.current();
  // Removed on every exit (a crash unwinds through Block).
  struct Enqueued {
    WaitQueue& queue;
    TaskId task;
    ~Enqueued() { queue.Remove(task); }
  } enqueued{changed_, self};
  changed_.Add(self);
  return scheduler_.Block(change_waitable_, deadline_ns);
}

// ------------------------------------------------------------- PeerLogHandle

bool PeerLogHandle::live() const { return !detached_ && !log_.scheduler_.IsProcessDead(process_); }

void PeerLogHandle::Propose(const engine::MetaOp& op) { log_.ProposeFrom(peer_, op); }

absl::StatusOr<engine::ApplyOutcome> PeerLogHandle::ProposeAndWait(const engine::MetaOp& op, int64_t timeout_ns) {
  SS_ASSERT(log_.scheduler_.in_task(), "ProposeAndWait outside any task");
  SS_ASSERT(timeout_ns >= 0);
  const int64_t deadline_ns = log_.scheduler_.now_ns() + timeout_ns;
  const uint64_t proposal_id = log_.ProposeFrom(peer_, op);
  const bool inserted = waiting_.emplace(proposal_id, std::nullopt).second;
  SS_ASSERT(inserted, "proposal id {} reused", proposal_id);
  struct Forget {
    PeerLogHandle& handle;
    uint64_t proposal_id;
    ~Forget() { handle.waiting_.erase(proposal_id); }
  } forget{*this, proposal_id};
  for (int wakeups = 0; wakeups < kMaxWakeups; ++wakeups) {
    std::optional<absl::StatusOr<engine::ApplyOutcome>>& outcome = waiting_.at(proposal_id);
    if (outcome.has_value()) return std::move(*outcome);
    if (detached_) return absl::UnavailableError(fmt::format("peer {} left the metadata log", peer_));
    if (!log_.WaitForChange(deadline_ns)) break;
  }
  return absl::DeadlineExceededError(
      fmt::format("proposal {} of peer {} not applied here in {}ns", proposal_id, peer_, timeout_ns));
}

absl::Status PeerLogHandle::AwaitAllApplied(uint64_t index, int64_t timeout_ns) {
  SS_ASSERT(log_.scheduler_.in_task(), "AwaitAllApplied outside any task");
  SS_ASSERT(timeout_ns >= 0);
  const int64_t deadline_ns = log_.scheduler_.now_ns() + timeout_ns;
  for (int wakeups = 0; wakeups < kMaxWakeups; ++wakeups) {
    if (log_.AllLiveApplied(index)) return absl::OkStatus();
    if (!log_.WaitForChange(deadline_ns)) break;
  }
  return absl::DeadlineExceededError(fmt::format("not every live peer applied #{} in {}ns", index, timeout_ns));
}

uint64_t PeerLogHandle::committed_index() { return log_.committed_index(); }

bool PeerLogHandle::Idle() { return cursor_ >= log_.compaction_index_ && cursor_ == log_.entries_.size(); }

void PeerLogHandle::ApplyLoop() {
  ResumeFromDurableIndex();
  for (uint64_t turn = 0; turn < kMaxApplyLoopTurns; ++turn) {
    if (detached_) return;
    if (cursor_ < log_.compaction_index_) {
      InstallCompacted();
      continue;
    }
    if (cursor_ < log_.entries_.size()) {
      const int64_t lag_ns = log_.DrawBetween(log_.faults_.min_apply_lag_ns, log_.faults_.max_apply_lag_ns);
      if (lag_ns > 0) log_.scheduler_.SleepUntil(log_.scheduler_.now_ns() + lag_ns);
      // A compaction or a detach during the lag comes first.
      if (detached_ || cursor_ < log_.compaction_index_) continue;
      ApplyNext();
      continue;
    }
    log_.WaitForChange(std::nullopt);
  }
  SS_ASSERT(false, "peer {} apply loop ran {} turns", peer_, kMaxApplyLoopTurns);
}

void PeerLogHandle::ResumeFromDurableIndex() {
  const uint64_t durable = applier_.DurableAppliedIndex();
  const uint64_t committed = log_.entries_.size();
  // The applier read it from its disk: it may claim more than the log has.
  cursor_ = std::min(durable, committed);
  log_.TraceMeta(cursor_, durable <= committed ? fmt::format("peer{} resumes after #{}", peer_, cursor_)
                                               : fmt::format("peer{} durable index #{} beyond the log's #{}",
                                                             peer_, durable, committed));
}

void PeerLogHandle::InstallCompacted() {
  const uint64_t index = log_.compaction_index_;
  const engine::CollectionState state = log_.compacted_state_;  // a compaction may replace it meanwhile
  SS_ASSERT(index > cursor_, "install of #{} at cursor #{}", index, cursor_);
  applier_.InstallState(index, state);
  cursor_ = index;
  ++log_.stats_.installs;
  log_.TraceMeta(index, fmt::format("#{} peer{} installed the compacted state", index, peer_));
  // Proposals whose entries the install skipped: their outcome here is unknown.
  for (auto& [proposal_id, outcome] : waiting_) {
    const auto committed = log_.first_index_of_proposal_.find(proposal_id);
    if (outcome.has_value() || committed == log_.first_index_of_proposal_.end() || committed->second > index) {
      continue;
    }
    outcome = absl::AbortedError(
        fmt::format("entry #{} reached peer {} inside an installed state; outcome unknown", committed->second, peer_));
  }
  log_.NotifyChanged();
}

void PeerLogHandle::ApplyNext() {
  const uint64_t index = cursor_ + 1;
  SS_ASSERT(index <= log_.entries_.size() && index > log_.compaction_index_, "apply of #{}: log #{}, compacted #{}",
            index, log_.entries_.size(), log_.compaction_index_);
  // A copy: the log grows while the applier yields.
  const SimMetaLog::Entry entry = log_.entries_[index - 1];
  engine::ApplyOutcome outcome = applier_.ApplyEntry(index, entry.op);
  SS_ASSERT(cursor_ + 1 == index, "peer {} cursor moved during apply of #{}", peer_, index);
  cursor_ = index;
  ++log_.stats_.applied;
  log_.TraceMeta(index, fmt::format("#{} peer{} applied {}{}", index, peer_, log_.Describe(entry.op),
                                    outcome.applied ? "" : " (rejected: " + outcome.rejection + ")"));
  const auto waiter = waiting_.find(entry.proposal_id);
  if (waiter != waiting_.end() && !waiter->second.has_value()) waiter->second = std::move(outcome);
  log_.NotifyChanged();
}

}  // namespace sim
