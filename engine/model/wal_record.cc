// The WAL record's bytes: CBOR of the canonical JSON form
// {"clock"?: {...}, "operation": {...}, "v": 1}, keys in std::map order,
// written and read directly (engine/model/cbor.h says why). The bytes are
// those nlohmann::json::to_cbor gives for OperationToJson's tree; model_test
// checks that.
#include <algorithm>
#include <bit>
#include <optional>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/model/cbor.h"
#include "engine/model/operation.h"

namespace engine {

namespace {


void WriteIds(cbor::Writer& writer, const std::vector<PointId>& ids) {
  writer.ArrayHeader(ids.size());
  for (PointId id : ids) writer.Unsigned(id);
}

void WriteUpsert(cbor::Writer& writer, std::string_view name, const UpsertPoints& upsert) {
  writer.MapHeader(2);
  writer.Text("op");
  writer.Text(name);
  writer.Text("points");
  writer.ArrayHeader(upsert.points.size());
  for (const Point& point : upsert.points) {
    writer.MapHeader(3);
    writer.Text("id");
    writer.Unsigned(point.id);
    writer.Text("payload");
    writer.Json(point.payload);
    writer.Text("vector");
    // Vectors travel as the bit patterns of their floats: exact for every value.
    writer.ArrayHeader(point.vector.size());
    for (float value : point.vector) writer.Unsigned(std::bit_cast<uint32_t>(value));
  }
}

// Keys in std::map order: "ids" < "key" < "keys" < "op" < "payload" < "points" < "type".
void WriteOperation(cbor::Writer& writer, const Operation& operation) {
  const std::string_view name = OperationName(operation);
  if (const auto* upsert = std::get_if<UpsertPoints>(&operation)) {
    WriteUpsert(writer, name, *upsert);
  } else if (const auto* create = std::get_if<CreateFieldIndex>(&operation)) {
    writer.MapHeader(3);
    writer.Text("key");
    writer.Text(create->key);
    writer.Text("op");
    writer.Text(name);
    writer.Text("type");
    writer.Text(FieldTypeName(create->type));
  } else if (const auto* drop = std::get_if<DeleteFieldIndex>(&operation)) {
    writer.MapHeader(2);
    writer.Text("key");
    writer.Text(drop->key);
    writer.Text("op");
    writer.Text(name);
  } else if (const auto* remove = std::get_if<DeletePayloadKeys>(&operation)) {
    writer.MapHeader(3);
    writer.Text("ids");
    WriteIds(writer, remove->ids);
    writer.Text("keys");
    writer.ArrayHeader(remove->keys.size());
    for (const std::string& key : remove->keys) writer.Text(key);
    writer.Text("op");
    writer.Text(name);
  } else {
    const Payload* payload = nullptr;
    if (const auto* set = std::get_if<SetPayload>(&operation)) payload = &set->payload;
    if (const auto* overwrite = std::get_if<OverwritePayload>(&operation)) payload = &overwrite->payload;
    writer.MapHeader(payload != nullptr ? 3 : 2);
    writer.Text("ids");
    WriteIds(writer, OperationPointIds(operation));
    writer.Text("op");
    writer.Text(name);
    if (payload != nullptr) {
      writer.Text("payload");
      writer.Json(*payload);
    }
  }
}

// Keys in std::map order: "clock" < "operation" < "v"; the tag's
// "clock" < "force" < "peer" < "tick" < "token".
std::string WalRecordCbor(const WalRecord& record) {
  SS_ASSERT(!record.operation.valueless_by_exception());
  std::string bytes;
  cbor::Writer writer(bytes);
  writer.MapHeader(record.clock_tag ? 3 : 2);
  if (record.clock_tag) {
    const ClockTag& tag = *record.clock_tag;
    writer.Text("clock");
    writer.MapHeader(5);
    writer.Text("clock");
    writer.Unsigned(tag.clock_id);
    writer.Text("force");
    writer.Bool(tag.force);
    writer.Text("peer");
    writer.Unsigned(tag.peer_id);
    writer.Text("tick");
    writer.Unsigned(tag.tick);
    writer.Text("token");
    writer.Unsigned(tag.token);
  }
  writer.Text("operation");
  WriteOperation(writer, record.operation);
  writer.Text("v");
  writer.Unsigned(kWalRecordFormatVersion);
  // A CBOR map (major type 5), which is all DecodeWalRecord accepts.
  SS_ASSERT(!bytes.empty() && (static_cast<uint8_t>(bytes.front()) >> 5) == 5, "a WAL record encoded as CBOR type {}",
            bytes.empty() ? -1 : static_cast<uint8_t>(bytes.front()) >> 5);
  return bytes;
}

}  // namespace

absl::StatusOr<std::string> EncodeReplayableWalRecord(const WalRecord& record) {
  std::string encoded = WalRecordCbor(record);
  // Encoded then decoded in memory, as a WAL replay would: the same op and
  // clock tag. (A record the decoder refuses, such as a payload that is no
  // object, is one the caller must not have built.) The payloads are only
  // checked: building their trees was a fifth of an update's cost.
  const auto decoded = DecodeWalRecordShape(encoded);
  if (!decoded.ok()) return decoded.status();
  SS_ASSERT(decoded->clock_tag == record.clock_tag, "a WAL record's clock tag does not read back");
  SS_ASSERT(OperationName(decoded->operation) == OperationName(record.operation) &&
                OperationPointIds(decoded->operation) == OperationPointIds(record.operation),
            "a {} does not read back as itself", OperationName(record.operation));
  return encoded;
}

std::string EncodeWalRecord(const WalRecord& record) {
  auto encoded = EncodeReplayableWalRecord(record);
  // Refused on read-back: still the record's bytes (the caller decides).
  return encoded.ok() ? *std::move(encoded) : WalRecordCbor(record);
}

}  // namespace engine
