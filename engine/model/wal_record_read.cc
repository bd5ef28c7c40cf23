// Reading a WAL record (the format is in wal_record.cc): a clear DataLoss
// error for anything malformed, never a crash, and nothing accepted that the
// nlohmann::json tree decoder before it refused (model_test).
#include <bit>
#include <optional>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/model/cbor.h"
#include "engine/model/operation.h"

namespace engine {

namespace {

constexpr size_t kMaxRecordIds = 1 << 20;

absl::Status Refused(std::string_view why) { return absl::DataLossError(fmt::format("WAL record: {}", why)); }
absl::Status BadOperation(std::string_view why) { return Refused(fmt::format("operation: {}", why)); }
absl::Status NotCbor(const absl::Status& status) {
  return Refused(std::string_view(status.message().data(), status.message().size()));
}

// The errors are made only when returned (`not_a_map()`, `not_an_array()`):
// these readers run for every record a WAL replay reads, and an error's
// message is formatted on the heap.

// Reads a map's fields in their order, calling `field(name)` with the
// reader at each value, which `field` must consume. `not_a_map()` is the
// error for an item that is no map.
template <typename NotAMap, typename Field>
absl::Status ForEachField(cbor::Reader& reader, const NotAMap& not_a_map, const Field& field) {
  if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kMap) return not_a_map();
  auto count = reader.MapHeader();
  if (!count.ok()) return NotCbor(count.status());
  for (uint64_t i = 0; i < *count; ++i) {
    auto name = reader.Text();
    if (!name.ok()) return NotCbor(name.status());
    if (absl::Status read = field(*name); !read.ok()) return read;
  }
  return absl::OkStatus();
}

// The item count of the array the reader is at; `not_an_array()` if it is
// at something else.
template <typename NotAnArray>
absl::StatusOr<uint64_t> ArrayCount(cbor::Reader& reader, const NotAnArray& not_an_array) {
  if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kArray) return not_an_array();
  auto count = reader.ArrayHeader();
  if (!count.ok()) return NotCbor(count.status());
  return count;
}

// Reads `count` unsigned integers, each checked with `fits`.
template <typename T, typename Fits>
absl::Status ReadUnsignedArray(cbor::Reader& reader, std::vector<T>& out, std::string_view not_array,
                               std::string_view bad_element, Fits fits) {
  auto count = ArrayCount(reader, [&] { return BadOperation(not_array); });
  if (!count.ok()) return count.status();
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

// A payload is read into a tree, or only checked as that read would check
// it (kCheckOnly leaves it null): CBOR major type 5 is what the tree reader
// makes an object of, so both refuse the same items with the same error.
enum class Payloads { kBuild, kCheckOnly };

absl::StatusOr<Payload> ReadPayloadObject(cbor::Reader& reader, Payloads payloads) {
  if (payloads == Payloads::kCheckOnly) {
    const size_t start = reader.position();
    if (absl::Status checked = reader.CheckJson(); !checked.ok()) return NotCbor(checked);
    const size_t end = reader.position();
    reader.Seek(start);
    auto major = reader.PeekMajor();
    SS_ASSERT(major.ok(), "a checked CBOR item has no head");
    if (*major != cbor::Major::kMap) return BadOperation("'payload' must be an object");
    reader.Seek(end);
    return Payload();
  }
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
absl::StatusOr<Point> ReadPoint(cbor::Reader& reader, Payloads payloads) {
  Point point;
  bool has_id = false, has_vector = false, has_payload = false;
  const auto no_id = [] { return BadOperation("a point needs an unsigned 'id'"); };
  absl::Status read = ForEachField(reader, no_id, [&](std::string_view key) -> absl::Status {
    if (key == "id") {
      if (auto major = reader.PeekMajor(); !major.ok() || *major != cbor::Major::kUnsigned) return no_id();
      auto id = reader.Unsigned();
      if (!id.ok()) return NotCbor(id.status());
      point.id = *id;
      has_id = true;
    } else if (key == "vector") {
      std::vector<uint32_t> bits;
      absl::Status vector = ReadUnsignedArray(reader, bits, "'vector' must be an array",
                                              "vector elements are 32-bit patterns",
                                              [](uint64_t value) { return value <= UINT32_MAX; });
      if (!vector.ok()) return vector;
      point.vector.reserve(bits.size());
      for (uint32_t b : bits) point.vector.push_back(std::bit_cast<float>(b));
      has_vector = true;
    } else if (key == "payload") {
      auto payload = ReadPayloadObject(reader, payloads);
      if (!payload.ok()) return payload.status();
      point.payload = *std::move(payload);
      has_payload = true;
    } else if (absl::Status skipped = reader.Skip(); !skipped.ok()) {
      return NotCbor(skipped);
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  if (!has_id) return no_id();
  if (!has_vector) return BadOperation("a point needs a 'vector'");
  if (!has_payload) return BadOperation("'payload' must be an object");
  return point;
}

absl::Status ReadPoints(cbor::Reader& reader, std::vector<Point>& points, Payloads payloads) {
  auto count = ArrayCount(reader, [] { return BadOperation("'points' must be an array"); });
  if (!count.ok()) return count.status();
  points.reserve(*count);
  for (uint64_t i = 0; i < *count; ++i) {
    auto point = ReadPoint(reader, payloads);
    if (!point.ok()) return point.status();
    points.push_back(*std::move(point));
  }
  return absl::OkStatus();
}

absl::Status ReadKeys(cbor::Reader& reader, std::vector<std::string>& keys) {
  auto count = ArrayCount(reader, [] { return BadOperation("'keys' must be an array"); });
  if (!count.ok()) return count.status();
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

absl::Status ReadOperationField(cbor::Reader& reader, std::string_view name, OperationFields& fields,
                                Payloads payloads) {
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
    auto payload = ReadPayloadObject(reader, payloads);
    if (!payload.ok()) return payload.status();
    *fields.payload = *std::move(payload);
  } else if (name == "points") {
    if (read = once(fields.points); !read.ok()) return read;
    read = ReadPoints(reader, *fields.points, payloads);
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

absl::StatusOr<Operation> ReadOperation(cbor::Reader& reader, Payloads payloads) {
  OperationFields fields;
  absl::Status read = ForEachField(reader, [] { return BadOperation("must be an object"); }, [&](std::string_view name) {
    return ReadOperationField(reader, name, fields, payloads);
  });
  if (!read.ok()) return read;
  auto operation = OperationOfFields(fields);
  if (operation.ok()) {
    // The parser and the name table agree: an op reads back as the kind its
    // name says.
    SS_ASSERT(*fields.op == OperationName(*operation), "'{}' read as '{}'", *fields.op, OperationName(*operation));
  }
  return operation;
}

absl::StatusOr<ClockTag> ReadClockTag(cbor::Reader& reader) {
  const auto malformed = [] { return Refused("malformed clock tag"); };
  std::optional<uint64_t> peer, clock, tick, token;
  std::optional<bool> force;
  absl::Status read = ForEachField(reader, malformed, [&](std::string_view name) -> absl::Status {
    std::optional<uint64_t>* number = name == "peer"    ? &peer
                                      : name == "clock" ? &clock
                                      : name == "tick"  ? &tick
                                      : name == "token" ? &token
                                                        : nullptr;
    if (number != nullptr) {
      auto value = reader.Unsigned();
      if (!value.ok() || number->has_value()) return malformed();
      *number = *value;
    } else if (name == "force") {
      auto value = reader.Bool();
      if (!value.ok() || force.has_value()) return malformed();
      force = *value;
    } else if (absl::Status skipped = reader.Skip(); !skipped.ok()) {
      return NotCbor(skipped);
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  if (!peer || !clock || !tick || !token || !force || *clock > UINT32_MAX) return malformed();
  return ClockTag{*peer, static_cast<uint32_t>(*clock), *tick, *token, *force};
}

// Where each top-level field's value starts. The version is checked before
// the operation is read: a record of another version gets that error, not
// one about its operation.
struct RecordLayout {
  std::optional<size_t> version, operation, clock;
};

absl::StatusOr<RecordLayout> ReadRecordLayout(cbor::Reader& reader) {
  RecordLayout layout;
  absl::Status read = ForEachField(reader, [] { return Refused("not valid CBOR (not a map)"); }, [&](std::string_view name) {
    std::optional<size_t>* slot = name == "v"           ? &layout.version
                                  : name == "operation" ? &layout.operation
                                  : name == "clock"     ? &layout.clock
                                                        : nullptr;
    if (slot != nullptr) {
      if (slot->has_value()) return Refused(fmt::format("'{}' twice", name));
      *slot = reader.position();
    }
    absl::Status skipped = reader.Skip();
    return skipped.ok() ? skipped : NotCbor(skipped);
  });
  if (!read.ok()) return read;
  if (!reader.AtEnd()) return Refused("not valid CBOR (bytes after the record)");
  return layout;
}

absl::StatusOr<WalRecord> Decode(std::string_view bytes, Payloads payloads) {
  cbor::Reader reader(bytes);
  auto layout = ReadRecordLayout(reader);
  if (!layout.ok()) return layout.status();
  if (!layout->version) return Refused("unknown format version");
  reader.Seek(*layout->version);
  if (auto version = reader.Unsigned(); !version.ok() || *version != kWalRecordFormatVersion) {
    return Refused("unknown format version");
  }
  if (!layout->operation) return Refused("no operation");
  reader.Seek(*layout->operation);
  auto operation = ReadOperation(reader, payloads);
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

}  // namespace

absl::StatusOr<WalRecord> DecodeWalRecord(std::string_view bytes) { return Decode(bytes, Payloads::kBuild); }

absl::StatusOr<WalRecord> DecodeWalRecordShape(std::string_view bytes) { return Decode(bytes, Payloads::kCheckOnly); }

}  // namespace engine
