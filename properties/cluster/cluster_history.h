// What the clients and the engine did in a cluster run, as the checker
// needs it: every client write and read with its real-time window and
// outcome, the WAL appends of each clock tag on each peer, and every read
// a replica served with the state it had then.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "engine/cluster/replica_set.h"
#include "engine/model/operation.h"

namespace properties {

struct ClusterWrite {
  uint32_t actor = 0;
  engine::PointId id = 0;
  std::optional<uint64_t> value;  // nullopt = delete
  bool wait = true;
  engine::WriteOrdering ordering = engine::WriteOrdering::kWeak;
  engine::PeerId entry = 0;
  int64_t invoke_ns = 0;
  int64_t complete_ns = 0;  // when the client got its answer (or gave up)
  bool acked = false;
  std::string error;
  std::optional<engine::ClientWriteResponse> ack;
  uint32_t replicas_at_invoke = 0;  // replicas of the shard in the log's state
  uint32_t write_consistency_factor = 1;
};

struct ClusterRead {
  uint32_t actor = 0;
  engine::PeerId entry = 0;
  int64_t invoke_ns = 0;
  int64_t complete_ns = 0;
  bool ok = false;
  std::vector<engine::Point> points;
  std::vector<engine::PeerId> served_by;
};

// A read served by a replica, as the serving peer saw itself.
struct ServedRead {
  engine::PeerId peer = 0;
  std::optional<engine::ReplicaState> state;
  engine::LocalKind kind = engine::LocalKind::kNone;
  int64_t time_ns = 0;
};

// (peer id, clock id, tick, token): a tag without its force bit.
using TagKey = std::tuple<uint64_t, uint32_t, uint64_t, uint64_t>;
inline TagKey KeyOf(const engine::ClockTag& tag) { return {tag.peer_id, tag.clock_id, tag.tick, tag.token}; }

struct ClusterHistory {
  std::vector<ClusterWrite> writes;
  std::vector<ClusterRead> reads;
  std::vector<ServedRead> served;
  // For each tag, the first WAL append time on each peer.
  std::map<TagKey, std::map<engine::PeerId, int64_t>> appends;
  // Transitions the log applied ("Active->Dead"), in commit order, and
  // what made a replica Active.
  std::vector<std::string> activation_violations;
  std::vector<std::string> empty_truth_violations;
};

// The value a write of `value` puts in a point (payload and vector), and
// back: reads and final states tell which write they show.
engine::Point PointOfValue(engine::PointId id, uint64_t value, uint32_t dimension);
std::optional<uint64_t> ValueOfPoint(const engine::Point& point);

}  // namespace properties
