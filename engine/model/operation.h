// The operations a shard applies, in the form written to the WAL. A delete by
// filter is resolved to ids before the WAL write, so replay never depends on
// the state a filter was evaluated against.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/types.h"

namespace engine {

struct UpsertPoints {
  std::vector<Point> points;
  friend bool operator==(const UpsertPoints&, const UpsertPoints&) = default;
};
struct DeletePoints {
  std::vector<PointId> ids;
  friend bool operator==(const DeletePoints&, const DeletePoints&) = default;
};
// Merges the payload's keys into each point's payload.
struct SetPayload {
  std::vector<PointId> ids;
  Payload payload = Payload::object();
  friend bool operator==(const SetPayload&, const SetPayload&) = default;
};
// Replaces each point's payload.
struct OverwritePayload {
  std::vector<PointId> ids;
  Payload payload = Payload::object();
  friend bool operator==(const OverwritePayload&, const OverwritePayload&) = default;
};
struct DeletePayloadKeys {
  std::vector<PointId> ids;
  std::vector<std::string> keys;
  friend bool operator==(const DeletePayloadKeys&, const DeletePayloadKeys&) = default;
};
struct ClearPayload {
  std::vector<PointId> ids;
  friend bool operator==(const ClearPayload&, const ClearPayload&) = default;
};
struct CreateFieldIndex {
  std::string key;
  FieldType type = FieldType::kKeyword;
  friend bool operator==(const CreateFieldIndex&, const CreateFieldIndex&) = default;
};
struct DeleteFieldIndex {
  std::string key;
  friend bool operator==(const DeleteFieldIndex&, const DeleteFieldIndex&) = default;
};

using Operation = std::variant<UpsertPoints, DeletePoints, SetPayload, OverwritePayload,
                               DeletePayloadKeys, ClearPayload, CreateFieldIndex,
                               DeleteFieldIndex>;

std::string_view OperationName(const Operation& operation);
// The point ids an operation touches (empty for index operations).
std::vector<PointId> OperationPointIds(const Operation& operation);

// A clock tag as in Qdrant's ClockTag: (peer, clock) identifies a clock,
// `tick` orders its operations, `token` tells a retry of the same tick.
struct ClockTag {
  uint64_t peer_id = 0;
  uint32_t clock_id = 0;
  uint64_t tick = 0;
  uint64_t token = 0;
  bool force = false;
  friend bool operator==(const ClockTag&, const ClockTag&) = default;
};

// What the WAL holds: the operation and its clock tag, if any.
struct WalRecord {
  Operation operation;
  std::optional<ClockTag> clock_tag;
  friend bool operator==(const WalRecord&, const WalRecord&) = default;
};

// The version every WAL record carries ("v"); a record of another is refused.
inline constexpr uint64_t kWalRecordFormatVersion = 1;
// Deterministic binary encoding (CBOR of a canonical JSON form).
std::string EncodeWalRecord(const WalRecord& record);
// The same bytes, decoded back once in memory as a WAL replay would: the
// decoder's refusal when it would refuse them. (For callers that must not
// write a record replay refuses; one decode instead of two per update.)
absl::StatusOr<std::string> EncodeReplayableWalRecord(const WalRecord& record);
// A clear error (never a crash) for any malformed input.
absl::StatusOr<WalRecord> DecodeWalRecord(std::string_view bytes);
// DecodeWalRecord's verdict and error on the same bytes, but every payload
// is only checked, and left null: for a read-back check of a record's shape
// (its op, ids and clock tag), without building payload trees.
absl::StatusOr<WalRecord> DecodeWalRecordShape(std::string_view bytes);

nlohmann::json OperationToJson(const Operation& operation);
absl::StatusOr<Operation> OperationFromJson(const nlohmann::json& json);

}  // namespace engine
