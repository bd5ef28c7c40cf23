// The simulated network between the peers of a ClusterWorld: implements the
// engine's PeerNetwork with per-message delay (so messages reorder), loss,
// duplication and partitions, every choice drawn from the world's
// DecisionSource.
//
// A message in flight is a task of process 0 (the network never crashes):
// it sleeps its delay, checks the partition again, and delivers. Delivery of
// a request spawns the handler as a new task of the destination's current
// incarnation, so a crash of the destination unwinds it. The response
// travels back the same way with its own loss, delay and partition checks.
//
// Draws per Call, in this order (none when the caller is unwinding or the
// direction is partitioned at send): request lost? duplicated? delay;
// duplicate's delay if duplicated. Per response of the primary delivery
// (none when partitioned at send): lost? delay.
//
// A down or unregistered destination answers Unavailable (a fast connection
// refusal); that answer travels back like a response (loss, delay,
// partition), so it may also be seen as a timeout. A duplicate delivery runs
// the handler again; its response is discarded (never sent).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "engine/cluster/transport.h"
#include "engine/common/assert.h"
#include "sim/cluster/cluster_world.h"

namespace sim {

struct NetworkFaults {
  double loss = 0;         // per request and per response
  double duplication = 0;  // per request
  int64_t min_delay_ns = 50'000;
  int64_t max_delay_ns = 1'000'000;
  // A stalled message (a congested link, a retransmission, a paused peer)
  // is delayed up to `stall_max_delay_ns` instead: at times past its
  // caller's timeout, so it is handled after the caller gave up on it.
  double stall = 0;
  int64_t stall_max_delay_ns = 0;

  // No loss or duplication; delays are still drawn (messages reorder).
  static NetworkFaults NoFault() { return {}; }
  // A few percent lost or duplicated, delays up to 20 ms.
  static NetworkFaults Faulty() {
    return {.loss = 0.03, .duplication = 0.03, .min_delay_ns = 50'000, .max_delay_ns = 20'000'000};
  }
  // These faults plus stalls: by default one message in fifty delayed up to
  // 3 s (the peers' calls time out after 2 s).
  // REQUIRES: 0 < stall_probability <= 1.
  NetworkFaults WithStalls(double stall_probability = 0.02) const {
    SS_ASSERT(stall_probability > 0 && stall_probability <= 1, "stall probability {}", stall_probability);
    NetworkFaults stalling = *this;
    stalling.stall = stall_probability;
    stalling.stall_max_delay_ns = 3'000'000'000;
    return stalling;
  }
};

struct NetworkStats {
  uint64_t sent = 0;                // Calls made
  uint64_t delivered = 0;           // handler runs started (duplicates included)
  uint64_t lost = 0;                // requests and responses lost
  uint64_t dropped_by_partition = 0;  // requests and responses, at send or at delivery
  uint64_t duplicated = 0;          // requests duplicated
  uint64_t refused = 0;             // deliveries to a down or unregistered peer
  uint64_t responses = 0;           // responses that reached a waiting caller
  uint64_t timed_out = 0;           // Calls that returned DeadlineExceeded
};

class SimNetwork final : public engine::PeerNetwork {
 public:
  SimNetwork(ClusterWorld& world, NetworkFaults faults);
  // Unwinds every unfinished task of the world first (messages in flight
  // and handlers use the network). REQUIRES: not called from a task.
  ~SimNetwork() override;
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // Binds `handler` to the peer's current incarnation: deliveries run it
  // until Unregister, a newer Register, or the incarnation's crash.
  // REQUIRES: the peer is up; `handler` outlives every handler task it runs
  // (a clean stop unregisters, then waits until running_handlers() is 0).
  void Register(PeerId peer, engine::RpcHandler& handler);
  void Unregister(PeerId peer);
  // Handler tasks of `peer` started and not yet finished.
  int running_handlers(PeerId peer) const;

  // engine::PeerNetwork. REQUIRES: called from a task.
  absl::StatusOr<engine::RpcResponse> Call(PeerId from, PeerId to, engine::RpcRequest request,
                                           int64_t timeout_ns) override;

  // Blocks every direction from side_a to side_b, and side_b to side_a
  // unless one_way. Replaces any previous partition. REQUIRES: the sides
  // are disjoint and name existing peers.
  void SetPartition(std::set<PeerId> side_a, std::set<PeerId> side_b, bool one_way);
  void Heal();
  bool IsBlocked(PeerId from, PeerId to) const;

  const NetworkStats& stats() const { return stats_; }
  const NetworkFaults& faults() const { return faults_; }
  void set_faults(NetworkFaults faults);

 private:
  struct CallState;
  struct Message;
  struct Registration {
    engine::RpcHandler* handler = nullptr;
    ProcessId process = 0;
    uint64_t generation = 0;
  };

  absl::StatusOr<engine::RpcResponse> AwaitResponse(CallState& call, int64_t deadline_ns);
  void Transmit(std::shared_ptr<Message> message, int64_t delay_ns);
  void Deliver(std::shared_ptr<Message> message);
  void RunHandler(std::shared_ptr<Message> message, uint64_t generation);
  void SendResponse(std::shared_ptr<Message> message, absl::StatusOr<engine::RpcResponse> response);
  void DeliverResponse(std::shared_ptr<Message> message, absl::StatusOr<engine::RpcResponse> response);
  const Registration* LiveRegistration(PeerId peer) const;
  int64_t DrawDelay();
  void TraceMessage(const Message& message, std::string_view what);

  ClusterWorld& world_;
  Scheduler& scheduler_;
  DecisionSource& decisions_;
  NetworkFaults faults_;
  NetworkStats stats_;
  std::map<PeerId, Registration> registrations_;
  std::map<PeerId, int> running_handlers_;
  std::set<std::pair<PeerId, PeerId>> blocked_;  // (from, to)
  uint64_t next_message_id_ = 1;
  uint64_t next_generation_ = 1;
};

}  // namespace sim
