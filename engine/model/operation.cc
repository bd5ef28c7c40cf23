#include "engine/model/operation.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace engine {

namespace {

constexpr size_t kMaxIds = 1 << 20;

absl::Status InvalidOperation(std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("operation: {}", why));
}

// Vectors travel as the bit patterns of their floats: exact for every value.
absl::StatusOr<Vector> VectorFromJson(const nlohmann::json& json);

nlohmann::json VectorToJson(const Vector& vector) {
  nlohmann::json out = nlohmann::json::array();
  for (float value : vector) out.push_back(std::bit_cast<uint32_t>(value));
  // Read back bit for bit (NaNs included, which == would not compare).
  const auto read_back = VectorFromJson(out);
  SS_ASSERT(read_back.ok() && read_back->size() == vector.size() &&
                std::equal(vector.begin(), vector.end(), read_back->begin(),
                           [](float a, float b) { return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); }),
            "a vector of {} floats does not read back bit for bit", vector.size());
  return out;
}

absl::StatusOr<Vector> VectorFromJson(const nlohmann::json& json) {
  if (!json.is_array()) return InvalidOperation("'vector' must be an array");
  Vector vector;
  for (const auto& bits : json) {
    if (!bits.is_number_unsigned() || bits.get<uint64_t>() > UINT32_MAX) {
      return InvalidOperation("vector elements are 32-bit patterns");
    }
    vector.push_back(std::bit_cast<float>(static_cast<uint32_t>(bits.get<uint64_t>())));
  }
  return vector;
}

absl::StatusOr<std::vector<PointId>> IdsFromJson(const nlohmann::json& json) {
  if (!json.contains("ids") || !json["ids"].is_array()) return InvalidOperation("'ids' must be an array");
  if (json["ids"].size() > kMaxIds) return InvalidOperation("too many ids");
  std::vector<PointId> ids;
  for (const auto& id : json["ids"]) {
    if (!id.is_number_unsigned()) return InvalidOperation("point ids are unsigned integers");
    ids.push_back(id.get<uint64_t>());
  }
  return ids;
}

absl::StatusOr<Payload> PayloadFromJson(const nlohmann::json& json) {
  if (!json.contains("payload") || !json["payload"].is_object()) {
    return InvalidOperation("'payload' must be an object");
  }
  return json["payload"];
}

absl::StatusOr<UpsertPoints> UpsertFromJson(const nlohmann::json& json) {
  if (!json.contains("points") || !json["points"].is_array()) return InvalidOperation("'points' must be an array");
  UpsertPoints upsert;
  for (const auto& item : json["points"]) {
    if (!item.is_object() || !item.contains("id") || !item["id"].is_number_unsigned()) {
      return InvalidOperation("a point needs an unsigned 'id'");
    }
    if (!item.contains("vector")) return InvalidOperation("a point needs a 'vector'");
    auto vector = VectorFromJson(item["vector"]);
    if (!vector.ok()) return vector.status();
    auto payload = PayloadFromJson(item);
    if (!payload.ok()) return payload.status();
    upsert.points.push_back({item["id"].get<uint64_t>(), std::move(*vector), std::move(*payload)});
  }
  return upsert;
}

absl::StatusOr<std::string> StringField(const nlohmann::json& json, const char* name) {
  if (!json.contains(name) || !json[name].is_string()) {
    return InvalidOperation(fmt::format("'{}' must be a string", name));
  }
  return json[name].get<std::string>();
}

}  // namespace

std::string_view OperationName(const Operation& operation) {
  static constexpr std::string_view kNames[] = {
      "upsert", "delete", "set_payload", "overwrite_payload",
      "delete_payload", "clear_payload", "create_index", "delete_index"};
  static_assert(std::size(kNames) == std::variant_size_v<Operation>);
  // A variant left valueless by an exception has no name.
  SS_ASSERT(operation.index() < std::size(kNames), "operation index {}", operation.index());
  return kNames[operation.index()];
}

std::vector<PointId> OperationPointIds(const Operation& operation) {
  return std::visit(
      [](const auto& op) -> std::vector<PointId> {
        using T = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<T, UpsertPoints>) {
          std::vector<PointId> ids;
          for (const Point& point : op.points) ids.push_back(point.id);
          return ids;
        } else if constexpr (std::is_same_v<T, CreateFieldIndex> || std::is_same_v<T, DeleteFieldIndex>) {
          return {};
        } else {
          return op.ids;
        }
      },
      operation);
}

nlohmann::json OperationToJson(const Operation& operation) {
  nlohmann::json json = {{"op", OperationName(operation)}};
  if (const auto* upsert = std::get_if<UpsertPoints>(&operation)) {
    json["points"] = nlohmann::json::array();
    for (const Point& point : upsert->points) {
      json["points"].push_back({{"id", point.id}, {"vector", VectorToJson(point.vector)}, {"payload", point.payload}});
    }
  } else if (const auto* create = std::get_if<CreateFieldIndex>(&operation)) {
    json["key"] = create->key;
    json["type"] = FieldTypeName(create->type);
  } else if (const auto* drop = std::get_if<DeleteFieldIndex>(&operation)) {
    json["key"] = drop->key;
  } else {
    json["ids"] = OperationPointIds(operation);
    if (const auto* set = std::get_if<SetPayload>(&operation)) json["payload"] = set->payload;
    if (const auto* overwrite = std::get_if<OverwritePayload>(&operation)) json["payload"] = overwrite->payload;
    if (const auto* remove = std::get_if<DeletePayloadKeys>(&operation)) json["keys"] = remove->keys;
  }
  // Every operation names what it applies to: points, ids or an index key.
  SS_ASSERT(json.contains("points") || json.contains("ids") || json.contains("key"), "{} without a subject",
            OperationName(operation));
  return json;
}

absl::StatusOr<Operation> OperationFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return InvalidOperation("must be an object");
  auto name = StringField(json, "op");
  if (!name.ok()) return name.status();
  if (*name == "upsert") {
    auto upsert = UpsertFromJson(json);
    if (!upsert.ok()) return upsert.status();
    return Operation{std::move(*upsert)};
  }
  if (*name == "create_index" || *name == "delete_index") {
    auto key = StringField(json, "key");
    if (!key.ok()) return key.status();
    if (*name == "delete_index") return Operation{DeleteFieldIndex{*key}};
    auto type = StringField(json, "type");
    if (!type.ok()) return type.status();
    if (*type != "keyword" && *type != "integer") return InvalidOperation("unknown index type");
    const CreateFieldIndex create{*key, *type == "keyword" ? FieldType::kKeyword : FieldType::kInteger};
    // Written with FieldTypeName, read here: the same type.
    SS_ASSERT(FieldTypeName(create.type) == *type, "index type '{}' read as '{}'", *type, FieldTypeName(create.type));
    return Operation{create};
  }
  auto ids = IdsFromJson(json);
  if (!ids.ok()) return ids.status();
  if (*name == "delete") return Operation{DeletePoints{std::move(*ids)}};
  if (*name == "clear_payload") return Operation{ClearPayload{std::move(*ids)}};
  if (*name == "delete_payload") {
    if (!json.contains("keys") || !json["keys"].is_array()) return InvalidOperation("'keys' must be an array");
    DeletePayloadKeys remove{std::move(*ids), {}};
    for (const auto& key : json["keys"]) {
      if (!key.is_string()) return InvalidOperation("keys are strings");
      remove.keys.push_back(key.get<std::string>());
    }
    return Operation{std::move(remove)};
  }
  auto payload = PayloadFromJson(json);
  if (!payload.ok()) return payload.status();
  if (*name == "set_payload") return Operation{SetPayload{std::move(*ids), std::move(*payload)}};
  if (*name == "overwrite_payload") return Operation{OverwritePayload{std::move(*ids), std::move(*payload)}};
  return InvalidOperation(fmt::format("unknown operation '{}'", *name));
}

}  // namespace engine
