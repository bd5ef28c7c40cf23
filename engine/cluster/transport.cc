#include "engine/cluster/transport.h"

#include <type_traits>

namespace engine {

std::string_view WriteOrderingName(WriteOrdering ordering) {
  switch (ordering) {
    case WriteOrdering::kWeak: return "weak";
    case WriteOrdering::kMedium: return "medium";
    case WriteOrdering::kStrong: return "strong";
  }
  return "?";
}

std::string_view RpcRequestName(const RpcRequest& request) {
  return std::visit(
      [](const auto& typed) -> std::string_view {
        using T = std::decay_t<decltype(typed)>;
        if constexpr (std::is_same_v<T, UpdateRequest>) {
          return "UpdateRequest";
        } else if constexpr (std::is_same_v<T, ReadRequest>) {
          return "ReadRequest";
        } else if constexpr (std::is_same_v<T, SyncPointsRequest>) {
          return "SyncPointsRequest";
        } else if constexpr (std::is_same_v<T, InitiateTransferRequest>) {
          return "InitiateTransferRequest";
        } else if constexpr (std::is_same_v<T, RecoveryPointRequest>) {
          return "RecoveryPointRequest";
        } else if constexpr (std::is_same_v<T, UpdateCutoffRequest>) {
          return "UpdateCutoffRequest";
        } else if constexpr (std::is_same_v<T, ClientWriteRequest>) {
          return "ClientWriteRequest";
        } else if constexpr (std::is_same_v<T, ClientReadRequest>) {
          return "ClientReadRequest";
        } else {
          static_assert(std::is_same_v<T, ReplicaStateRequest>, "a request type without a name");
          return "ReplicaStateRequest";
        }
      },
      request);
}

}  // namespace engine
