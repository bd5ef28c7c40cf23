// Client reads (Qdrant's execute_read_operation, BRIEF-cluster §3): from
// readable replicas only, the local one first, `read_factor` of them.
#include <fmt/format.h>

#include "engine/cluster/replica_set.h"
#include "engine/cluster/replica_set_slot.h"
#include "engine/common/assert.h"
#include "engine/common/coverage.h"

namespace engine {

namespace {
// Qdrant's All resolution of retrieve: a point every replica asked has,
// with the first replica's value.
std::vector<Point> ResolveAll(const std::vector<std::vector<Point>>& answers) {
  SS_ASSERT(!answers.empty(), "resolving no answers");
  std::vector<Point> resolved;
  for (const Point& point : answers.front()) {
    bool everywhere = true;
    for (size_t i = 1; i < answers.size() && everywhere; ++i) {
      everywhere = std::any_of(answers[i].begin(), answers[i].end(),
                               [&](const Point& other) { return other.id == point.id; });
    }
    if (everywhere) resolved.push_back(point);
  }
  return resolved;
}
}  // namespace

absl::StatusOr<ShardReplicaSet::ReadResult> ShardReplicaSet::Read(const std::vector<PointId>& ids,
                                                                 uint32_t read_factor) {
  SS_ASSERT(read_factor >= 1, "read factor {}", read_factor);
  std::vector<PeerId> candidates;
  uint32_t total = 0;
  uint64_t rotation = 0;
  {
    MutexLock lock(*state_mutex_);
    total = static_cast<uint32_t>(state_.peers.size());
    rotation = token_counter_++;
    for (const auto& [peer, state] : state_.peers) {
      if (IsReadable(state) && !disabled_.contains(peer) && peer != options_.this_peer) candidates.push_back(peer);
    }
    // Remotes in a rotating order (Qdrant shuffles them), the local replica
    // first when it is readable.
    if (!candidates.empty()) {
      std::rotate(candidates.begin(), candidates.begin() + static_cast<long>(rotation % candidates.size()),
                  candidates.end());
    }
    const std::optional<ReplicaState> local = state_.Get(options_.this_peer);
    if (local.has_value() && IsReadable(*local) && !disabled_.contains(options_.this_peer)) {
      candidates.insert(candidates.begin(), options_.this_peer);
    }
  }
  const uint32_t required = std::min(read_factor, std::max<uint32_t>(total, 1));
  if (candidates.size() < required) {
    return absl::UnavailableError(fmt::format("{} readable replicas, {} required", candidates.size(), required));
  }
  ReadResult result;
  std::vector<std::vector<Point>> answers;
  absl::Status last_error = absl::OkStatus();
  for (PeerId peer : candidates) {
    if (answers.size() == required) break;
    absl::StatusOr<ReadResponse> response = absl::UnknownError("unset");
    if (peer == options_.this_peer) {
      response = HandleRead(ReadRequest{.shard = options_.shard, .ids = ids});
    } else {
      response = CallPeerFor<ReadResponse>(peer, ReadRequest{.shard = options_.shard, .ids = ids}, "read");
    }
    if (!response.ok()) {
      if (!IsTransient(response.status()) && !absl::IsFailedPrecondition(response.status())) return response.status();
      SS_COVER(kClusterReadFellBack);
      last_error = response.status();
      continue;
    }
    answers.push_back(std::move(response->points));
    result.served_by.push_back(peer);
  }
  if (answers.size() < required) {
    return absl::UnavailableError(fmt::format("read reached {} of {} replicas: {}", answers.size(), required,
                                              last_error.ToString()));
  }
  result.points = ResolveAll(answers);
  return result;
}

}  // namespace engine
