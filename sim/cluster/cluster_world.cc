#include "sim/cluster/cluster_world.h"

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace sim {

ClusterWorld::ClusterWorld(ClusterConfig config)
    : config_(std::move(config)),
      own_decisions_(std::make_unique<PrngSource>(config_.seed)),
      decisions_(own_decisions_.get()) {
  Build();
}

ClusterWorld::ClusterWorld(ClusterConfig config, DecisionSource& decisions)
    : config_(std::move(config)), decisions_(&decisions) {
  Build();
}

ClusterWorld::~ClusterWorld() {
  // Unwind every task while the objects they use still exist.
  scheduler_->UnwindAll();
}

void ClusterWorld::Build() {
  SS_ASSERT(config_.peer_count >= 1 && config_.peer_count <= kMaxClusterPeers, "peer count {}",
            config_.peer_count);
  SS_ASSERT(!config_.profile.crash_models.empty(), "profile '{}' has no crash model", config_.profile.name);
  trace_.set_recording(config_.record_trace);
  scheduler_ = std::make_unique<Scheduler>(*decisions_, trace_, config_.scheduler);
  peers_.resize(static_cast<size_t>(config_.peer_count));
  for (size_t index = 0; index < peers_.size(); ++index) {
    peers_[index].id = index + 1;
    BuildPeer(peers_[index]);
  }
}

// The same disk stack World::Build makes, once per peer.
void ClusterWorld::BuildPeer(PeerSlot& peer) {
  const PeerId id = peer.id;
  peer.sim_fs = std::make_unique<SimFileSystem>();
  peer.sim_fs->set_directory_model(config_.profile.directory_model);
  peer.sim_fs->set_allocation_unit_bytes(config_.profile.allocation_unit_bytes);
  peer.sim_fs->set_injection_sink([this, id](Injection injection) { RecordInjection(id, std::move(injection)); });
  peer.fault_fs = std::make_unique<FaultInjectingFileSystem>(*peer.sim_fs, config_.profile.faults, *decisions_);
  SimFileSystem* sim_fs = peer.sim_fs.get();
  peer.fault_fs->set_sync_failure_hook([sim_fs](std::string_view path) { sim_fs->DropDirtyPages(path); });
  peer.fault_fs->set_injection_sink([this, id](Injection injection) { RecordInjection(id, std::move(injection)); });
  peer.env = std::make_unique<SimEnv>(*scheduler_, *peer.fault_fs);
}

ClusterWorld::PeerSlot& ClusterWorld::slot(PeerId peer) {
  SS_ASSERT(peer >= 1 && peer <= peers_.size(), "unknown peer {}", peer);
  return peers_[peer - 1];
}

const ClusterWorld::PeerSlot& ClusterWorld::slot(PeerId peer) const {
  SS_ASSERT(peer >= 1 && peer <= peers_.size(), "unknown peer {}", peer);
  return peers_[peer - 1];
}

std::vector<PeerId> ClusterWorld::peers() const {
  std::vector<PeerId> ids;
  for (const PeerSlot& peer : peers_) ids.push_back(peer.id);
  return ids;
}

RunResult ClusterWorld::RunSupervisor(std::function<void()> body) {
  scheduler_->Spawn("supervisor", std::move(body), ProcessId{0});
  return scheduler_->Run();
}

void ClusterWorld::SizeDiskForStart(PeerSlot& peer) {
  uint64_t headroom = config_.profile.capacity_headroom_bytes;
  if (headroom == 0) return;
  const uint64_t room = config_.profile.archive_room_bytes;
  if (room > 0 && decisions_->Chance(0.5)) headroom += room;
  peer.sim_fs->set_capacity_bytes(peer.sim_fs->total_bytes() + headroom);
}

ProcessId ClusterWorld::StartPeer(PeerId peer_id, std::function<void()> main) {
  SS_ASSERT(scheduler_->current_process() == 0, "peers are started by the supervisor");
  SS_ASSERT(!IsPeerUp(peer_id), "peer {} started while up", peer_id);
  PeerSlot& peer = slot(peer_id);
  // A clean stop may leave tasks behind; the new incarnation must not share
  // the disk with them.
  if (peer.process) scheduler_->KillProcess(*peer.process);
  SizeDiskForStart(peer);
  const ProcessId id = static_cast<ProcessId>(process_peers_.size() + 1);
  process_peers_.push_back(peer_id);
  const std::string name = fmt::format("peer{}", peer_id);
  trace_.Record(EventKind::kRestart, scheduler_->current(), id, scheduler_->now_ns(), name);
  peer.main_task = scheduler_->Spawn(name + ".main", std::move(main), id);
  peer.process = id;
  SS_ASSERT(IsPeerUp(peer_id) && PeerOfProcess(id) == peer_id);
  return id;
}

bool ClusterWorld::WaitPeer(PeerId peer_id) {
  const PeerSlot& peer = slot(peer_id);
  SS_ASSERT(peer.process.has_value(), "peer {} was never started", peer_id);
  scheduler_->Join(peer.main_task);
  return scheduler_->IsProcessDead(*peer.process);
}

bool ClusterWorld::IsPeerUp(PeerId peer_id) const {
  const PeerSlot& peer = slot(peer_id);
  return peer.process && !scheduler_->IsProcessDead(*peer.process) && !scheduler_->IsFinished(peer.main_task);
}

std::optional<ProcessId> ClusterWorld::current_process_id(PeerId peer) const { return slot(peer).process; }

std::optional<PeerId> ClusterWorld::PeerOfProcess(ProcessId process) const {
  if (process == 0 || process > process_peers_.size()) return std::nullopt;
  return process_peers_[process - 1];
}

void ClusterWorld::CrashPeer(PeerId peer_id, CrashKind kind) {
  if (!IsPeerUp(peer_id)) return;
  PeerSlot& peer = slot(peer_id);
  const ProcessId victim = *peer.process;
  const bool power_loss = kind == CrashKind::kPowerLoss;
  // Only a power loss needs a model: a process crash keeps everything.
  const CrashModel model = power_loss ? config_.profile.crash_models.at(
                                            decisions_->Draw(config_.profile.crash_models.size()))
                                      : CrashModel::kDropAllUnsynced;
  crashes_.push_back({trace_.steps(), peer_id, victim, kind, model});
  const std::string what = power_loss ? fmt::format("peer{} {} {}", peer_id, CrashKindName(kind), CrashModelName(model))
                                      : fmt::format("peer{} {}", peer_id, CrashKindName(kind));
  trace_.Record(EventKind::kCrash, scheduler_->current(), victim, scheduler_->now_ns(), what);
  scheduler_->KillProcess(victim);
  SS_ASSERT(!IsPeerUp(peer_id), "peer {} still up after its crash", peer_id);
  crash_victim_ = victim;
  const absl::Status status = peer.sim_fs->Crash(kind, model, *decisions_);
  crash_victim_.reset();
  SS_ASSERT(status.ok(), "file-system crash of peer {} failed: {}", peer_id, status.ToString());
  for (const auto& listener : crash_listeners_) listener(peer_id);
  // A process that crashes itself stops here: it must not go on running
  // (or run destructors that block) in normal flow.
  if (scheduler_->in_task() && scheduler_->current_process() == victim && !scheduler_->current_unwinding()) {
    scheduler_->Yield();
  }
}

void ClusterWorld::RecordInjection(PeerId peer, Injection injection) {
  SS_ASSERT(peer >= 1 && peer <= peers_.size(), "injection on unknown peer {}", peer);
  if (crash_victim_) {
    injection.process = *crash_victim_;
  } else {
    injection.process = scheduler_->in_task() ? scheduler_->current_process() : 0;
  }
  injection.step = trace_.Record(EventKind::kFault, scheduler_->current(), static_cast<uint64_t>(injection.fault),
                                 scheduler_->now_ns(), fmt::format("peer{} {}", peer, injection.Summary()));
  injections_.push_back({peer, std::move(injection)});
}

}  // namespace sim
