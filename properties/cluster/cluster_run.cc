// A cluster run: peers, actors, quiescence (the checks are in
// cluster_checks.cc).
#include "properties/cluster/cluster_run.h"

#include <optional>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "properties/recording_last_words.h"
#include "properties/cluster/cluster_world_run.h"

namespace properties {

namespace {
constexpr uint32_t kDimension = 4;
constexpr int64_t kSecondNs = 1'000'000'000;
constexpr int64_t kClientTimeoutNs = 60 * kSecondNs;
// After the last step: how long (virtual) the cluster may take to converge.
constexpr int64_t kConvergeBudgetNs = 900 * kSecondNs;
// How long the cluster must stay converged, with no entry committed, before
// the end checks: longer than an RPC timeout (2 s) plus a commit delay. A
// coordinator that answered its client may still be reporting a replica
// whose RPC timed out; its entry, committed after a first look found the
// cluster converged, made the end check see a peer that had not applied it
// yet (a false state-agreement failure, cluster seed 11921 with
// tools/bugs/masked/33 applied).
constexpr int64_t kSettledNs = 3 * kSecondNs;
}  // namespace

// ---- DeferredLog ----
void DeferredLog::Propose(const engine::MetaOp& op) {
  SS_ASSERT(log_ != nullptr, "proposal before the log is bound");
  log_->Propose(op);
}
absl::StatusOr<engine::ApplyOutcome> DeferredLog::ProposeAndWait(const engine::MetaOp& op, int64_t timeout_ns) {
  SS_ASSERT(log_ != nullptr, "proposal before the log is bound");
  return log_->ProposeAndWait(op, timeout_ns);
}
uint64_t DeferredLog::applied_index() { return log_ == nullptr ? 0 : log_->applied_index(); }
uint64_t DeferredLog::committed_index() {
  SS_ASSERT(log_ != nullptr, "commit index asked before the log is bound");
  return log_->committed_index();
}
absl::Status DeferredLog::AwaitAllApplied(uint64_t index, int64_t timeout_ns) {
  SS_ASSERT(log_ != nullptr, "wait before the log is bound");
  return log_->AwaitAllApplied(index, timeout_ns);
}
bool DeferredLog::Idle() { return log_ != nullptr && log_->Idle(); }

// Records each clock tag's WAL appends on one peer.
class ClusterRun::WalObserver final : public engine::ShardObserver {
 public:
  WalObserver(ClusterRun& run, engine::PeerId peer) : run_(run), peer_(peer) {}
  void OnWalAppend(engine::SeqNumber, const engine::WalRecord& record) override {
    if (!record.clock_tag.has_value()) return;
    auto& times = run_.history_.appends[KeyOf(*record.clock_tag)];
    times.emplace(peer_, run_.world_->scheduler().now_ns());
  }

 private:
  ClusterRun& run_;
  engine::PeerId peer_;
};

ClusterRun::ClusterRun(const ClusterScenario& scenario, sim::DecisionSource& decisions,
                       const ClusterRunOptions& options)
    : scenario_(scenario), config_(scenario.config), options_(options) {
  SS_ASSERT(config_.peers >= 2 && config_.peers <= 5, "{} peers", config_.peers);
  SS_ASSERT(config_.replication_factor >= 1 && config_.replication_factor <= config_.peers, "rf {}",
            config_.replication_factor);
  sim::ClusterConfig world{.seed = config_.seed, .peer_count = static_cast<int>(config_.peers),
                           .profile = sim::PersistenceProfile::NoFault(),
                           .record_trace = config_.record_trace || options.trace_json};
  world_ = std::make_unique<sim::ClusterWorld>(world, decisions);
  sim::NetworkFaults network_faults =
      config_.lossy_network ? sim::NetworkFaults::Faulty() : sim::NetworkFaults::NoFault();
  if (config_.network_stalls) {
    network_faults = network_faults.WithStalls(config_.network_stall_percent / 100.0);
  }
  network_ = std::make_unique<sim::SimNetwork>(*world_, network_faults);
  sim::LogFaults log_faults = config_.lossy_log ? sim::LogFaults::Faulty() : sim::LogFaults::NoFault();
  if (config_.slow_log) log_faults = log_faults.WithSlowCommits();
  log_ = std::make_unique<sim::SimMetaLog>(
      *world_, log_faults,
      [this](engine::CollectionState& state, const engine::MetaOp& op) { OnCommitted(state, op); },
      [](const engine::MetaOp& op) { return engine::DescribeMetaOp(op); });
  for (engine::PeerId peer = 1; peer <= config_.peers; ++peer) {
    wal_observers_.push_back(std::make_unique<WalObserver>(*this, peer));
  }
}

ClusterRun::~ClusterRun() = default;

ClusterRunResult ClusterRun::Execute() {
  const sim::RunResult outcome = world_->RunSupervisor([this] { Supervise(); });
  if (outcome.outcome != sim::RunOutcome::kCompleted && !failure_) {
    Fail("run-outcome", fmt::format("{}: {}", sim::RunOutcomeName(outcome.outcome), outcome.report));
  }
  ClusterRunResult result;
  result.failure = failure_;
  result.stats = stats_;
  result.trace_hash = world_->trace().hash();
  result.trace_steps = world_->trace().steps();
  if (options_.trace_json) result.trace_json = TraceJson();
  return result;
}

void ClusterRun::Supervise() {
  for (engine::PeerId peer = 1; peer <= config_.peers; ++peer) StartPeer(peer);
  CreateCollection();
  sim::Scheduler& scheduler = world_->scheduler();
  std::vector<sim::TaskId> actors;
  actors.push_back(scheduler.Spawn("nemesis", [this] { NemesisActor(); }, sim::ProcessId{0}));
  for (uint32_t actor = 1; actor <= config_.clients; ++actor) {
    actors.push_back(scheduler.Spawn(fmt::format("client{}", actor), [this, actor] { ClientActor(actor); },
                                     sim::ProcessId{0}));
  }
  for (sim::TaskId actor : actors) scheduler.Join(actor);
  if (Quiesce()) {
    CollectStats();
    CheckEnd();
  } else {
    CollectStats();
  }
  // End the run: every peer's process goes (its tasks unwind).
  for (engine::PeerId peer = 1; peer <= config_.peers; ++peer) {
    stop_requested_[peer] = true;
    world_->CrashPeer(peer, sim::CrashKind::kProcessCrash);
  }
}

void ClusterRun::StartPeer(engine::PeerId peer) {
  const uint64_t token_seed = world_->decisions().Draw(uint64_t{1} << 62);
  if (stop_requested_.contains(peer)) stats_.restarts += 1;  // not the first start
  stop_requested_[peer] = false;
  world_->StartPeer(peer, [this, peer, token_seed] { PeerMain(peer, token_seed); });
}

void ClusterRun::PeerMain(engine::PeerId peer, uint64_t token_seed) {
  engine::Env& env = world_->env(peer);
  if (options_.verbose) {
    world_->sim_env(peer).set_log_listener([this, peer](std::string_view line) {
      std::printf("[%8.3f s] peer %llu log: %.*s\n", world_->scheduler().now_ns() / 1e9, (unsigned long long)peer,
                  static_cast<int>(line.size()), line.data());
    });
  }
  DeferredLog deferred;
  engine::PeerNodeOptions options{
      .peer = peer,
      .shard_options = {.collection = {.dimension = kDimension, .distance = engine::Distance::kDot},
                        .flush_interval_ns = int64_t{config_.flush_interval_ms} * 1'000'000,
                        .observer = wal_observers_.at(peer - 1).get()},
      .default_transfer_method = config_.default_transfer_method,
      .token_seed = token_seed,
      .observer = this};
  engine::PeerNode node(env, *network_, deferred, options);
  if (absl::Status loaded = node.Load(); !loaded.ok()) {
    // The disks inject no faults in a cluster run: a peer that cannot load
    // what it wrote lost data.
    Fail("recovery", fmt::format("peer {} failed to load: {}", peer, loaded.ToString()));
    return;
  }
  deferred.Bind(&log_->Attach(peer, node));
  network_->Register(peer, node);
  struct Registered {
    ClusterRun& run;
    engine::PeerId peer;
    ~Registered() { run.nodes_.erase(peer); }
  } registered{*this, peer};
  nodes_[peer] = &node;
  node.StartBackground();
  for (uint64_t seconds = 0; !stop_requested_[peer]; ++seconds) {
    SS_ASSERT(seconds < 100'000'000, "peer {} idled forever", peer);
    env.SleepForNanos(kSecondNs);
  }
}

void ClusterRun::CreateCollection() {
  engine::CreateCollection create{.params = {.replication_factor = config_.replication_factor,
                                             .write_consistency_factor = config_.write_consistency_factor}};
  for (engine::PeerId peer = 1; peer <= config_.peers; ++peer) create.peers.insert(peer);
  for (engine::PeerId peer = 1; peer <= config_.replication_factor; ++peer) {
    create.shards[0][peer] = engine::ReplicaState::kInitializing;
  }
  // The operator retries until the collection exists (a lossy log drops
  // proposals).
  for (int tries = 0; tries < 1000 && log_->leader_state().shards.empty(); ++tries) {
    log_->ProposeFrom(0, create);
    world_->scheduler().SleepUntil(world_->scheduler().now_ns() + kSecondNs);
  }
  SS_ASSERT(!log_->leader_state().shards.empty(), "the collection was never created");
}

uint32_t ClusterRun::ReplicaCount() {
  const auto shard = log_->leader_state().shards.find(0);
  return shard == log_->leader_state().shards.end() ? 0 : static_cast<uint32_t>(shard->second.size());
}

void ClusterRun::ClientActor(uint32_t actor) {
  for (const ClusterStep& step : scenario_.steps) {
    if (step.actor == actor) RunClientStep(step);
  }
}

void ClusterRun::RunClientStep(const ClusterStep& step) {
  sim::Scheduler& scheduler = world_->scheduler();
  if (step.kind == ClusterStepKind::kSleep) {
    scheduler.SleepUntil(scheduler.now_ns() + static_cast<int64_t>(step.sleep_ms) * 1'000'000);
    return;
  }
  if (step.kind == ClusterStepKind::kRead) {
    ClusterRead read{.actor = step.actor, .entry = step.peer, .invoke_ns = scheduler.now_ns()};
    absl::StatusOr<engine::RpcResponse> response = network_->Call(
        engine::kClientPeer, step.peer, engine::ClientReadRequest{.shard = 0, .read_factor = step.read_factor},
        kClientTimeoutNs);
    read.complete_ns = scheduler.now_ns();
    if (response.ok()) {
      if (const auto* answer = std::get_if<engine::ClientReadResponse>(&*response)) {
        read.ok = true;
        read.points = answer->points;
        read.served_by = answer->served_by;
      }
    }
    (read.ok ? stats_.reads_checked : stats_.reads_failed) += 1;
    if (options_.verbose) {
      std::printf("[%8.3f s] client %u read via peer %llu: %s\n", read.invoke_ns / 1e9, read.actor,
                  (unsigned long long)read.entry,
                  read.ok ? fmt::format("{} points", read.points.size()).c_str() : "failed");
    }
    history_.reads.push_back(std::move(read));
    return;
  }
  SS_ASSERT(step.kind == ClusterStepKind::kUpsert || step.kind == ClusterStepKind::kDelete,
            "client step {}", ClusterStepKindName(step.kind));
  ClusterWrite write{.actor = step.actor, .id = step.id, .wait = step.wait, .ordering = step.ordering,
                     .entry = step.peer, .invoke_ns = scheduler.now_ns(), .replicas_at_invoke = ReplicaCount(),
                     .write_consistency_factor = config_.write_consistency_factor};
  engine::Operation operation = engine::DeletePoints{{step.id}};
  if (step.kind == ClusterStepKind::kUpsert) {
    write.value = step.value;
    operation = engine::UpsertPoints{{PointOfValue(step.id, step.value, kDimension)}};
  }
  absl::StatusOr<engine::RpcResponse> response = network_->Call(
      engine::kClientPeer, step.peer,
      engine::ClientWriteRequest{.shard = 0, .operation = operation, .wait = step.wait, .ordering = step.ordering},
      kClientTimeoutNs);
  write.complete_ns = scheduler.now_ns();
  if (response.ok() && std::holds_alternative<engine::ClientWriteResponse>(*response)) {
    write.acked = true;
    write.ack = std::get<engine::ClientWriteResponse>(*response);
  } else {
    write.error = response.ok() ? "unexpected response" : response.status().ToString();
  }
  (write.acked ? stats_.writes_acked : stats_.writes_failed) += 1;
  if (options_.verbose) {
    std::printf("[%8.3f s] client %u %s id=%llu via peer %llu %s: %s\n", write.invoke_ns / 1e9, write.actor,
                write.value ? fmt::format("upsert {}", *write.value).c_str() : "delete", (unsigned long long)write.id,
                (unsigned long long)write.entry, std::string(engine::WriteOrderingName(write.ordering)).c_str(),
                write.acked ? fmt::format("acked at {:.3f} s", write.complete_ns / 1e9).c_str() : write.error.c_str());
  }
  history_.writes.push_back(std::move(write));
}

void ClusterRun::NemesisActor() {
  for (const ClusterStep& step : scenario_.steps) {
    if (step.actor == 0) RunNemesisStep(step);
  }
}

void ClusterRun::RunNemesisStep(const ClusterStep& step) {
  sim::Scheduler& scheduler = world_->scheduler();
  if (options_.verbose) {
    std::printf("[%8.3f s] nemesis %s peer %llu\n", scheduler.now_ns() / 1e9,
                std::string(ClusterStepKindName(step.kind)).c_str(), (unsigned long long)step.peer);
  }
  const bool known_peer = step.peer >= 1 && step.peer <= config_.peers;
  switch (step.kind) {
    case ClusterStepKind::kCrash:
      if (known_peer && world_->IsPeerUp(step.peer)) {
        world_->CrashPeer(step.peer, step.crash_kind);
        (step.crash_kind == sim::CrashKind::kPowerLoss ? stats_.power_losses : stats_.process_crashes) += 1;
        stats_.crashes_per_peer[step.peer] += 1;
      }
      return;
    case ClusterStepKind::kRestart:
      if (known_peer && !world_->IsPeerUp(step.peer)) StartPeer(step.peer);
      return;
    case ClusterStepKind::kPartition: {
      std::set<engine::PeerId> others;
      std::set<engine::PeerId> side;
      for (engine::PeerId peer = 1; peer <= config_.peers; ++peer) {
        (step.side.contains(peer) ? side : others).insert(peer);
      }
      if (side.empty() || others.empty()) return;
      network_->SetPartition(side, others, step.one_way);
      stats_.partitions += 1;
      return;
    }
    case ClusterStepKind::kHeal:
      network_->Heal();
      return;
    case ClusterStepKind::kTransfer:
      if (known_peer && step.to >= 1 && step.to <= config_.peers && step.to != step.peer) {
        log_->ProposeFrom(0, engine::StartTransfer{engine::ShardTransfer{
                                 .key = {0, step.peer, step.to}, .sync = true, .method = step.method}});
      }
      return;
    case ClusterStepKind::kSleep:
      scheduler.SleepUntil(scheduler.now_ns() + static_cast<int64_t>(step.sleep_ms) * 1'000'000);
      return;
    default:
      SS_ASSERT(false, "nemesis step {}", ClusterStepKindName(step.kind));
  }
}

bool ClusterRun::Quiesce() {
  quiescing_ = true;
  network_->Heal();
  network_->set_faults(sim::NetworkFaults::NoFault());
  log_->set_faults(sim::LogFaults::NoFault());
  for (engine::PeerId peer = 1; peer <= config_.peers; ++peer) {
    if (!world_->IsPeerUp(peer)) StartPeer(peer);
  }
  sim::Scheduler& scheduler = world_->scheduler();
  const int64_t deadline_ns = scheduler.now_ns() + kConvergeBudgetNs;
  std::string why_not;
  while (scheduler.now_ns() < deadline_ns) {
    if (failure_) return false;
    if (Converged(why_not)) {
      const uint64_t committed = log_->committed_index();
      scheduler.SleepUntil(scheduler.now_ns() + kSettledNs);
      if (failure_) return false;
      if (log_->committed_index() == committed && Converged(why_not)) return true;
      why_not = "an entry was committed after the cluster looked converged";
      continue;
    }
    scheduler.SleepUntil(scheduler.now_ns() + kSecondNs);
  }
  Fail("convergence", fmt::format("the cluster did not converge in {} s after the faults stopped: {}",
                                  kConvergeBudgetNs / kSecondNs, why_not));
  return false;
}

bool ClusterRun::Converged(std::string& why_not) {
  for (engine::PeerId peer = 1; peer <= config_.peers; ++peer) {
    if (!nodes_.contains(peer)) {
      why_not = fmt::format("peer {} is not running", peer);
      return false;
    }
  }
  const engine::CollectionState state = log_->leader_state();
  if (!state.transfers.empty()) {
    why_not = fmt::format("{} transfers still registered", state.transfers.size());
    return false;
  }
  for (const auto& [peer, replica] : state.shards.at(0)) {
    if (replica != engine::ReplicaState::kActive) {
      why_not = fmt::format("peer {}'s replica is {}", peer, engine::ReplicaStateName(replica));
      return false;
    }
  }
  if (!log_->AllLiveApplied(log_->committed_index())) {
    why_not = "a peer has not applied the whole log";
    return false;
  }
  return true;
}

ClusterRunResult RunClusterFromSeed(const ClusterConfig& config, const ClusterRunOptions& options) {
  ClusterScenario scenario{.config = config, .steps = DrawClusterSteps(config)};
  sim::PrngSource decisions(config.seed);
  ClusterRun run(scenario, decisions, options);
  return run.Execute();
}

ClusterRunResult ReplayCluster(const ClusterScenario& scenario, const ClusterRunOptions& options) {
  sim::TapeSource decisions(scenario.tape);
  ClusterRun run(scenario, decisions, options);
  return run.Execute();
}

RecordedClusterRun RecordClusterRun(const ClusterConfig& config, const ClusterRunOptions& options) {
  RecordedClusterRun recorded;
  recorded.scenario.config = config;
  sim::PrngSource world(config.seed);
  sim::TapeRecorder recorder(world);
  // (Only when asked: a campaign worker keeps its own hook otherwise.)
  std::optional<shardsim::ScopedAssertionHook> last_words;
  if (options.on_assertion) last_words.emplace(RecordingLastWords(recorded.scenario, recorder, options.on_assertion));
  recorded.scenario.steps = DrawClusterSteps(config);
  ClusterRun run(recorded.scenario, recorder, options);
  recorded.result = run.Execute();
  recorded.scenario.tape = recorder.tape();
  if (recorded.result.failure) recorded.scenario.expected_invariant = recorded.result.failure->invariant;
  return recorded;
}

}  // namespace properties
