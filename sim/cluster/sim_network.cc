#include "sim/cluster/sim_network.h"

#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/assert.h"

namespace sim {

namespace {
bool Duplicable(const engine::RpcRequest& request) {
  return !std::holds_alternative<engine::UpdateRequest>(request) &&
         !std::holds_alternative<engine::SyncPointsRequest>(request) &&
         !std::holds_alternative<engine::ClientWriteRequest>(request);
}
}  // namespace

// What a caller waits on. Shared with the messages in flight, so a response
// arriving after the caller gave up (or was unwound) touches live memory.
struct SimNetwork::CallState final : public Waitable {
  uint64_t id = 0;
  PeerId from = 0;
  PeerId to = 0;
  std::string_view request_name;
  TaskId waiter = kNoTask;  // kNoTask once the caller stopped waiting
  std::optional<absl::StatusOr<engine::RpcResponse>> result;

  std::string Describe() const override {
    return fmt::format("rpc #{} peer{}->peer{} {}", id, from, to, request_name);
  }
};

// One copy of a request on the wire.
struct SimNetwork::Message {
  std::shared_ptr<CallState> call;
  std::shared_ptr<const engine::RpcRequest> request;
  bool responds = true;  // false for a duplicate: its response is discarded
};

SimNetwork::SimNetwork(ClusterWorld& world, NetworkFaults faults)
    : world_(world), scheduler_(world.scheduler()), decisions_(world.decisions()) {
  set_faults(faults);
}

SimNetwork::~SimNetwork() {
  SS_ASSERT(!scheduler_.in_task(), "the network is destroyed from inside a task");
  scheduler_.UnwindAll();
}

void SimNetwork::set_faults(NetworkFaults faults) {
  SS_ASSERT(faults.loss >= 0 && faults.loss <= 1 && faults.duplication >= 0 && faults.duplication <= 1);
  SS_ASSERT(faults.min_delay_ns >= 0 && faults.min_delay_ns <= faults.max_delay_ns, "delay range [{}, {}]",
            faults.min_delay_ns, faults.max_delay_ns);
  SS_ASSERT(faults.stall >= 0 && faults.stall <= 1, "stall probability {}", faults.stall);
  SS_ASSERT(faults.stall == 0 || faults.stall_max_delay_ns >= faults.max_delay_ns,
            "stalls up to {} ns, delays up to {} ns", faults.stall_max_delay_ns, faults.max_delay_ns);
  faults_ = faults;
}

void SimNetwork::Register(PeerId peer, engine::RpcHandler& handler) {
  SS_ASSERT(world_.IsPeerUp(peer), "peer {} registers a handler while down", peer);
  registrations_[peer] = {&handler, *world_.current_process_id(peer), next_generation_++};
}

void SimNetwork::Unregister(PeerId peer) { registrations_.erase(peer); }

int SimNetwork::running_handlers(PeerId peer) const {
  const auto it = running_handlers_.find(peer);
  return it == running_handlers_.end() ? 0 : it->second;
}

const SimNetwork::Registration* SimNetwork::LiveRegistration(PeerId peer) const {
  const auto it = registrations_.find(peer);
  if (it == registrations_.end()) return nullptr;
  const Registration& registration = it->second;
  if (scheduler_.IsProcessDead(registration.process)) return nullptr;
  if (world_.current_process_id(peer) != registration.process) return nullptr;
  return &registration;
}

void SimNetwork::SetPartition(std::set<PeerId> side_a, std::set<PeerId> side_b, bool one_way) {
  blocked_.clear();
  for (const PeerId a : side_a) {
    SS_ASSERT(a >= 1 && a <= static_cast<PeerId>(world_.peer_count()), "unknown peer {}", a);
    SS_ASSERT(!side_b.contains(a), "peer {} on both sides of a partition", a);
    for (const PeerId b : side_b) {
      SS_ASSERT(b >= 1 && b <= static_cast<PeerId>(world_.peer_count()), "unknown peer {}", b);
      blocked_.insert({a, b});
      if (!one_way) blocked_.insert({b, a});
    }
  }
  scheduler_.trace().Record(EventKind::kMessage, scheduler_.current(), 0, scheduler_.now_ns(),
                            fmt::format("partition {} {} {}", fmt::join(side_a, ","), one_way ? "->" : "<->",
                                        fmt::join(side_b, ",")));
}

void SimNetwork::Heal() {
  blocked_.clear();
  scheduler_.trace().Record(EventKind::kMessage, scheduler_.current(), 0, scheduler_.now_ns(), "partition healed");
}

bool SimNetwork::IsBlocked(PeerId from, PeerId to) const { return blocked_.contains({from, to}); }

int64_t SimNetwork::DrawDelay() {
  // Drawn only when stalls are on, so a tape recorded without them replays.
  if (faults_.stall > 0 && decisions_.Rare(faults_.stall)) {
    return static_cast<int64_t>(decisions_.Between(static_cast<uint64_t>(faults_.max_delay_ns),
                                                   static_cast<uint64_t>(faults_.stall_max_delay_ns)));
  }
  const uint64_t delay_ns = decisions_.Between(static_cast<uint64_t>(faults_.min_delay_ns),
                                               static_cast<uint64_t>(faults_.max_delay_ns));
  return static_cast<int64_t>(delay_ns);
}

void SimNetwork::TraceMessage(const Message& message, std::string_view what) {
  const CallState& call = *message.call;
  scheduler_.trace().Record(EventKind::kMessage, scheduler_.current(), call.id, scheduler_.now_ns(),
                            fmt::format("peer{}->peer{} #{} {}{} {}", call.from, call.to, call.id, call.request_name,
                                        message.responds ? "" : " (duplicate)", what));
}

absl::StatusOr<engine::RpcResponse> SimNetwork::Call(PeerId from, PeerId to, engine::RpcRequest request,
                                                     int64_t timeout_ns) {
  SS_ASSERT(scheduler_.in_task(), "a network call outside any task");
  const auto peer_count = static_cast<PeerId>(world_.peer_count());
  SS_ASSERT(from != to && from <= peer_count && to >= 1 && to <= peer_count, "call peer{}->peer{}", from, to);
  SS_ASSERT(timeout_ns >= 0);
  // A task being unwound may not spawn or block: its call never leaves.
  if (scheduler_.current_unwinding()) return absl::UnavailableError("the calling process has crashed");
  auto call = std::make_shared<CallState>();
  call->id = next_message_id_++;
  call->from = from;
  call->to = to;
  call->request_name = engine::RpcRequestName(request);
  call->waiter = scheduler_.current();
  auto shared_request = std::make_shared<const engine::RpcRequest>(std::move(request));
  ++stats_.sent;
  auto original = std::make_shared<Message>(Message{call, shared_request, true});
  if (IsBlocked(from, to)) {
    ++stats_.dropped_by_partition;
    TraceMessage(*original, "dropped by partition at send");
  } else {
    const bool lost = decisions_.Rare(faults_.loss);
    // A write is never delivered twice: Qdrant's peers talk gRPC over one
    // HTTP/2 connection (TCP), and a receiver re-applies an exact
    // re-delivery of a tag, so a duplicated write arriving after a newer
    // one would manufacture a divergence no real network makes. Requests
    // that only read or are idempotent by state may come twice.
    const bool duplicated = decisions_.Rare(faults_.duplication) && Duplicable(*shared_request);
    const int64_t delay_ns = DrawDelay();
    if (lost) {
      ++stats_.lost;
      TraceMessage(*original, "lost");
    } else {
      TraceMessage(*original, fmt::format("sent, delay {}ns", delay_ns));
      Transmit(original, delay_ns);
    }
    if (duplicated) {
      // The only copy that arrives answers.
      auto copy = std::make_shared<Message>(Message{call, shared_request, lost});
      const int64_t copy_delay_ns = DrawDelay();
      ++stats_.duplicated;
      TraceMessage(*copy, fmt::format("duplicated, delay {}ns", copy_delay_ns));
      Transmit(copy, copy_delay_ns);
    }
  }
  return AwaitResponse(*call, scheduler_.now_ns() + timeout_ns);
}

absl::StatusOr<engine::RpcResponse> SimNetwork::AwaitResponse(CallState& call, int64_t deadline_ns) {
  // Reset on every exit, unwinding included: no late Wake may reach this
  // task while it blocks on something else.
  struct StopWaiting {
    CallState& call;
    ~StopWaiting() { call.waiter = kNoTask; }
  } stop_waiting{call};
  for (int wakeups = 0; !call.result.has_value(); ++wakeups) {
    SS_ASSERT(wakeups < 1'000'000, "rpc #{} woke too often", call.id);
    if (!scheduler_.Block(call, deadline_ns)) break;  // the deadline passed (or unwinding)
  }
  if (call.result.has_value()) return std::move(*call.result);
  SS_ASSERT(scheduler_.now_ns() >= deadline_ns || scheduler_.current_unwinding(),
            "rpc #{} stopped waiting before its deadline", call.id);
  ++stats_.timed_out;
  scheduler_.trace().Record(EventKind::kMessage, scheduler_.current(), call.id, scheduler_.now_ns(),
                            fmt::format("peer{}->peer{} #{} {} timed out", call.from, call.to, call.id,
                                        call.request_name));
  return absl::DeadlineExceededError(
      fmt::format("rpc {} peer{}->peer{}: no response in time", call.request_name, call.from, call.to));
}

void SimNetwork::Transmit(std::shared_ptr<Message> message, int64_t delay_ns) {
  const int64_t arrival_ns = scheduler_.now_ns() + delay_ns;
  std::string name = fmt::format("net.request#{}", message->call->id);  // before the move below
  scheduler_.Spawn(
      std::move(name),
      [this, message = std::move(message), arrival_ns] {
        scheduler_.SleepUntil(arrival_ns);
        Deliver(message);
      },
      ProcessId{0});
}

void SimNetwork::Deliver(std::shared_ptr<Message> message) {
  const CallState& call = *message->call;
  if (IsBlocked(call.from, call.to)) {
    ++stats_.dropped_by_partition;
    TraceMessage(*message, "dropped by partition at delivery");
    return;
  }
  const Registration* registration = LiveRegistration(call.to);
  if (registration == nullptr) {
    ++stats_.refused;
    TraceMessage(*message, "refused: peer down");
    if (message->responds) SendResponse(message, absl::UnavailableError(fmt::format("peer {} is down", call.to)));
    return;
  }
  ++stats_.delivered;
  TraceMessage(*message, "delivered");
  const uint64_t generation = registration->generation;
  SS_ASSERT(!scheduler_.IsProcessDead(registration->process));
  scheduler_.Spawn(
      fmt::format("peer{}.rpc#{}", call.to, call.id),
      [this, message = std::move(message), generation] { RunHandler(message, generation); },
      registration->process);
}

void SimNetwork::RunHandler(std::shared_ptr<Message> message, uint64_t generation) {
  const CallState& call = *message->call;
  // The handler may have been unregistered between delivery and now.
  const auto it = registrations_.find(call.to);
  if (it == registrations_.end() || it->second.generation != generation) {
    ++stats_.refused;
    TraceMessage(*message, "refused: handler gone");
    if (message->responds) SendResponse(message, absl::UnavailableError(fmt::format("peer {} is down", call.to)));
    return;
  }
  engine::RpcHandler* handler = it->second.handler;
  struct Running {
    int& count;
    explicit Running(int& counter) : count(counter) { ++count; }
    ~Running() { --count; }
  } running{running_handlers_[call.to]};
  absl::StatusOr<engine::RpcResponse> response = handler->Handle(call.from, *message->request);
  if (!message->responds) {
    TraceMessage(*message, "handled; duplicate's response discarded");
    return;
  }
  SendResponse(message, std::move(response));
}

void SimNetwork::SendResponse(std::shared_ptr<Message> message, absl::StatusOr<engine::RpcResponse> response) {
  SS_ASSERT(message->responds, "a duplicate's response was sent");
  const CallState& call = *message->call;
  if (IsBlocked(call.to, call.from)) {
    ++stats_.dropped_by_partition;
    TraceMessage(*message, "response dropped by partition at send");
    return;
  }
  const bool lost = decisions_.Rare(faults_.loss);
  const int64_t delay_ns = DrawDelay();
  if (lost) {
    ++stats_.lost;
    TraceMessage(*message, "response lost");
    return;
  }
  TraceMessage(*message, fmt::format("response sent ({}), delay {}ns", response.ok() ? "ok" : "error", delay_ns));
  const int64_t arrival_ns = scheduler_.now_ns() + delay_ns;
  scheduler_.Spawn(
      fmt::format("net.response#{}", call.id),
      [this, message = std::move(message), response = std::move(response), arrival_ns]() mutable {
        scheduler_.SleepUntil(arrival_ns);
        DeliverResponse(message, std::move(response));
      },
      ProcessId{0});
}

void SimNetwork::DeliverResponse(std::shared_ptr<Message> message, absl::StatusOr<engine::RpcResponse> response) {
  SS_ASSERT(message->responds, "a duplicate's response was delivered");
  CallState& call = *message->call;
  if (IsBlocked(call.to, call.from)) {
    ++stats_.dropped_by_partition;
    TraceMessage(*message, "response dropped by partition at delivery");
    return;
  }
  if (call.waiter == kNoTask || call.result.has_value()) {
    TraceMessage(*message, "late response discarded");
    return;
  }
  call.result = std::move(response);
  ++stats_.responses;
  TraceMessage(*message, "response delivered");
  scheduler_.Wake(call.waiter);
}

}  // namespace sim
