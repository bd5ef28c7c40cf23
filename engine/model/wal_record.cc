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

constexpr uint64_t kFormatVersion = 1;
constexpr size_t kMaxRecordIds = 1 << 20;

// --- Writing ---------------------------------------------------------------

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
  writer.Unsigned(kFormatVersion);
  // A CBOR map (major type 5), which is all DecodeWalRecord accepts.
  SS_ASSERT(!bytes.empty() && (static_cast<uint8_t>(bytes.front()) >> 5) == 5, "a WAL record encoded as CBOR type {}",
            bytes.empty() ? -1 : static_cast<uint8_t>(bytes.front()) >> 5);
  return bytes;
}

// --- Reading ---------------------------------------------------------------

absl::Status Refused(std::string_view why) { return absl::DataLossError(fmt::format("WAL record: {}", why)); }
absl::Status BadOperation(std::string_view why) { return Refused(fmt::format("operation: {}", why)); }
absl::Status NotCbor(const absl::Status& status) {
  return Refused(std::string_view(status.message().data(), status.message().size()));
}

// Reads `count` unsigned integers, each checked with `fits`.
template <typename T, typename Fits>
absl::Status ReadUnsignedArray(cbor::Reader& reader, std::vector<T>& out, std::string_view not_array,
                               std::string_view bad_element, Fits fits) {
  if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kArray) return BadOperation(not_array);
  auto count = reader.ArrayHeader();
  if (!count.ok()) return NotCbor(count.status());
  out.reserve(*count);
  for (uint64_t i = 0; i < *count; ++i) {
    if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kUnsigned) {
      return BadOperation(bad_element);
    }
    auto value = reader.Unsigned();
    if (!value.ok()) return NotCbor(value.status());
    if (!fits(*value)) return BadOperation(bad_element);
    out.push_back(static_cast<T>(*value));
  }
  return absl::OkStatus();
}

absl::StatusOr<Payload> ReadPayloadObject(cbor::Reader& reader) {
  auto payload = reader.Json();
  if (!payload.ok()) return NotCbor(payload.status());
  if (!payload->is_object()) return BadOperation("'payload' must be an object");
  return payload;
}

absl::StatusOr<std::string> ReadString(cbor::Reader& reader, std::string_view name) {
  if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kText) {
    return BadOperation(fmt::format("'{}' must be a string", name));
  }
  auto text = reader.Text();
  if (!text.ok()) return NotCbor(text.status());
  return std::string(*text);
}

// A point's map: "id", "payload" and "vector", in any order.
absl::StatusOr<Point> ReadPoint(cbor::Reader& reader) {
  if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kMap) {
    return BadOperation("a point needs an unsigned 'id'");
  }
  auto fields = reader.MapHeader();
  if (!fields.ok()) return NotCbor(fields.status());
  Point point;
  bool has_id = false, has_vector = false, has_payload = false;
  for (uint64_t i = 0; i < *fields; ++i) {
    auto key = reader.Text();
    if (!key.ok()) return NotCbor(key.status());
    absl::Status read = absl::OkStatus();
    if (*key == "id") {
      auto major = reader.PeekMajor();
      if (!major.ok() || *major != cbor::Major::kUnsigned) return BadOperation("a point needs an unsigned 'id'");
      auto id = reader.Unsigned();
      if (!id.ok()) return NotCbor(id.status());
      point.id = *id;
      has_id = true;
    } else if (*key == "vector") {
      std::vector<uint32_t> bits;
      read = ReadUnsignedArray(reader, bits, "'vector' must be an array", "vector elements are 32-bit patterns",
                               [](uint64_t value) { return value <= UINT32_MAX; });
      point.vector.reserve(bits.size());
      for (uint32_t b : bits) point.vector.push_back(std::bit_cast<float>(b));
      has_vector = true;
    } else if (*key == "payload") {
      auto payload = ReadPayloadObject(reader);
      if (!payload.ok()) return payload.status();
      point.payload = *std::move(payload);
      has_payload = true;
    } else {
      read = reader.Skip();
      if (!read.ok()) read = NotCbor(read);
    }
    if (!read.ok()) return read;
  }
  if (!has_id) return BadOperation("a point needs an unsigned 'id'");
  if (!has_vector) return BadOperation("a point needs a 'vector'");
  if (!has_payload) return BadOperation("'payload' must be an object");
  return point;
}

absl::Status ReadPoints(cbor::Reader& reader, std::vector<Point>& points) {
  if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kArray) {
    return BadOperation("'points' must be an array");
  }
  auto count = reader.ArrayHeader();
  if (!count.ok()) return NotCbor(count.status());
  points.reserve(*count);
  for (uint64_t i = 0; i < *count; ++i) {
    auto point = ReadPoint(reader);
    if (!point.ok()) return point.status();
    points.push_back(*std::move(point));
  }
  return absl::OkStatus();
}

absl::Status ReadKeys(cbor::Reader& reader, std::vector<std::string>& keys) {
  if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kArray) {
    return BadOperation("'keys' must be an array");
  }
  auto count = reader.ArrayHeader();
  if (!count.ok()) return NotCbor(count.status());
  for (uint64_t i = 0; i < *count; ++i) {
    if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kText) {
      return BadOperation("keys are strings");
    }
    auto key = reader.Text();
    if (!key.ok()) return NotCbor(key.status());
    keys.emplace_back(*key);
  }
  return absl::OkStatus();
}

// An operation's fields, read in whatever order the map has them; which
// ones an operation needs is decided once its name is known.
struct OperationFields {
  std::optional<std::string> op, key, type;
  std::optional<std::vector<PointId>> ids;
  std::optional<std::vector<std::string>> keys;
  std::optional<Payload> payload;
  std::optional<std::vector<Point>> points;
};

absl::Status ReadOperationField(cbor::Reader& reader, std::string_view name, OperationFields& fields) {
  const auto once = [&](auto& slot) -> absl::Status {
    if (slot.has_value()) return BadOperation(fmt::format("'{}' twice", name));
    slot.emplace();
    return absl::OkStatus();
  };
  absl::Status read = absl::OkStatus();
  if (name == "op" || name == "key" || name == "type") {
    auto& slot = name == "op" ? fields.op : name == "key" ? fields.key : fields.type;
    if (read = once(slot); !read.ok()) return read;
    auto text = ReadString(reader, name);
    if (!text.ok()) return text.status();
    *slot = *std::move(text);
  } else if (name == "ids") {
    if (read = once(fields.ids); !read.ok()) return read;
    read = ReadUnsignedArray(reader, *fields.ids, "'ids' must be an array", "point ids are unsigned integers",
                             [](uint64_t) { return true; });
    if (read.ok() && fields.ids->size() > kMaxRecordIds) return BadOperation("too many ids");
  } else if (name == "keys") {
    if (read = once(fields.keys); !read.ok()) return read;
    read = ReadKeys(reader, *fields.keys);
  } else if (name == "payload") {
    if (read = once(fields.payload); !read.ok()) return read;
    auto payload = ReadPayloadObject(reader);
    if (!payload.ok()) return payload.status();
    *fields.payload = *std::move(payload);
  } else if (name == "points") {
    if (read = once(fields.points); !read.ok()) return read;
    read = ReadPoints(reader, *fields.points);
  } else {
    read = reader.Skip();
    if (!read.ok()) read = NotCbor(read);
  }
  return read;
}

absl::StatusOr<Operation> OperationOfFields(OperationFields& fields) {
  if (!fields.op) return BadOperation("'op' must be a string");
  const std::string& name = *fields.op;
  if (name == "upsert") {
    if (!fields.points) return BadOperation("'points' must be an array");
    return Operation{UpsertPoints{*std::move(fields.points)}};
  }
  if (name == "create_index" || name == "delete_index") {
    if (!fields.key) return BadOperation("'key' must be a string");
    if (name == "delete_index") return Operation{DeleteFieldIndex{*fields.key}};
    if (!fields.type) return BadOperation("'type' must be a string");
    if (*fields.type != "keyword" && *fields.type != "integer") return BadOperation("unknown index type");
    const CreateFieldIndex create{*fields.key, *fields.type == "keyword" ? FieldType::kKeyword : FieldType::kInteger};
    // Written with FieldTypeName, read here: the same type.
    SS_ASSERT(FieldTypeName(create.type) == *fields.type, "index type '{}' read as '{}'", *fields.type,
              FieldTypeName(create.type));
    return Operation{create};
  }
  if (!fields.ids) return BadOperation("'ids' must be an array");
  std::vector<PointId> ids = *std::move(fields.ids);
  if (name == "delete") return Operation{DeletePoints{std::move(ids)}};
  if (name == "clear_payload") return Operation{ClearPayload{std::move(ids)}};
  if (name == "delete_payload") {
    if (!fields.keys) return BadOperation("'keys' must be an array");
    return Operation{DeletePayloadKeys{std::move(ids), *std::move(fields.keys)}};
  }
  if (name == "set_payload" || name == "overwrite_payload") {
    if (!fields.payload) return BadOperation("'payload' must be an object");
    if (name == "set_payload") return Operation{SetPayload{std::move(ids), *std::move(fields.payload)}};
    return Operation{OverwritePayload{std::move(ids), *std::move(fields.payload)}};
  }
  return BadOperation(fmt::format("unknown operation '{}'", name));
}

absl::StatusOr<Operation> ReadOperation(cbor::Reader& reader) {
  if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kMap) {
    return BadOperation("must be an object");
  }
  auto count = reader.MapHeader();
  if (!count.ok()) return NotCbor(count.status());
  OperationFields fields;
  for (uint64_t i = 0; i < *count; ++i) {
    auto name = reader.Text();
    if (!name.ok()) return NotCbor(name.status());
    if (absl::Status read = ReadOperationField(reader, *name, fields); !read.ok()) return read;
  }
  auto operation = OperationOfFields(fields);
  if (operation.ok()) {
    // The parser and the name table agree: an op reads back as the kind its
    // name says.
    SS_ASSERT(*fields.op == OperationName(*operation), "'{}' read as '{}'", *fields.op, OperationName(*operation));
  }
  return operation;
}

absl::StatusOr<ClockTag> ReadClockTag(cbor::Reader& reader) {
  const absl::Status malformed = Refused("malformed clock tag");
  if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kMap) return malformed;
  auto count = reader.MapHeader();
  if (!count.ok()) return NotCbor(count.status());
  std::optional<uint64_t> peer, clock, tick, token;
  std::optional<bool> force;
  for (uint64_t i = 0; i < *count; ++i) {
    auto name = reader.Text();
    if (!name.ok()) return NotCbor(name.status());
    std::optional<uint64_t>* number = *name == "peer"    ? &peer
                                      : *name == "clock" ? &clock
                                      : *name == "tick"  ? &tick
                                      : *name == "token" ? &token
                                                         : nullptr;
    if (number != nullptr) {
      auto value = reader.Unsigned();
      if (!value.ok() || number->has_value()) return malformed;
      *number = *value;
    } else if (*name == "force") {
      auto value = reader.Bool();
      if (!value.ok() || force.has_value()) return malformed;
      force = *value;
    } else if (absl::Status skipped = reader.Skip(); !skipped.ok()) {
      return NotCbor(skipped);
    }
  }
  if (!peer || !clock || !tick || !token || !force || *clock > UINT32_MAX) return malformed;
  return ClockTag{*peer, static_cast<uint32_t>(*clock), *tick, *token, *force};
}

// Where each top-level field's value starts. The version is checked before
// the operation is read: a record of another version gets that error, not
// one about its operation.
struct RecordLayout {
  std::optional<size_t> version, operation, clock;
};

absl::StatusOr<RecordLayout> ReadRecordLayout(cbor::Reader& reader) {
  if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kMap) {
    return Refused("not valid CBOR (not a map)");
  }
  auto count = reader.MapHeader();
  if (!count.ok()) return NotCbor(count.status());
  RecordLayout layout;
  for (uint64_t i = 0; i < *count; ++i) {
    auto name = reader.Text();
    if (!name.ok()) return NotCbor(name.status());
    std::optional<size_t>* slot = *name == "v"           ? &layout.version
                                  : *name == "operation" ? &layout.operation
                                  : *name == "clock"     ? &layout.clock
                                                         : nullptr;
    if (slot != nullptr) {
      if (slot->has_value()) return Refused(fmt::format("'{}' twice", *name));
      *slot = reader.position();
    }
    if (absl::Status skipped = reader.Skip(); !skipped.ok()) return NotCbor(skipped);
  }
  if (!reader.AtEnd()) return Refused("not valid CBOR (bytes after the record)");
  return layout;
}

}  // namespace

absl::StatusOr<WalRecord> DecodeWalRecord(std::string_view bytes) {
  cbor::Reader reader(bytes);
  auto layout = ReadRecordLayout(reader);
  if (!layout.ok()) return layout.status();
  if (!layout->version) return Refused("unknown format version");
  reader.Seek(*layout->version);
  if (auto version = reader.Unsigned(); !version.ok() || *version != kFormatVersion) {
    return Refused("unknown format version");
  }
  if (!layout->operation) return Refused("no operation");
  reader.Seek(*layout->operation);
  auto operation = ReadOperation(reader);
  if (!operation.ok()) return operation.status();
  WalRecord record{*std::move(operation), std::nullopt};
  if (layout->clock) {
    reader.Seek(*layout->clock);
    auto tag = ReadClockTag(reader);
    if (!tag.ok()) return tag.status();
    record.clock_tag = *tag;
  }
  return record;
}

absl::StatusOr<std::string> EncodeReplayableWalRecord(const WalRecord& record) {
  std::string encoded = WalRecordCbor(record);
  // Encoded then decoded in memory, as a WAL replay would: the same op and
  // clock tag. (A record the decoder refuses, such as a payload that is no
  // object, is one the caller must not have built.)
  const auto decoded = DecodeWalRecord(encoded);
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
