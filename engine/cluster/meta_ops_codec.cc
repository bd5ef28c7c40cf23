// Names, one-line descriptions and the JSON forms of meta ops and of the
// collection state. The JSON may come from disk or from another peer: every
// decoding error is a Status, never an assertion.
#include <array>
#include <charconv>
#include <utility>
#include <variant>

#include <fmt/core.h>

#include "engine/cluster/meta_ops.h"
#include "engine/common/assert.h"

namespace engine {
namespace {

using json = nlohmann::json;

// Qdrant's serde names (snake_case) for ShardTransferMethod.
constexpr std::array<std::string_view, 3> kMethodNames = {"stream_records", "wal_delta", "snapshot"};
static_assert(kMethodNames.size() == static_cast<size_t>(TransferMethod::kSnapshot) + 1);

absl::Status Invalid(std::string_view what, std::string_view why) {
  return absl::DataLossError(fmt::format("{}: {}", what, why));
}

// Reads fields of one JSON object; the first error sticks and later reads
// return defaults, so a decoder reads everything and checks once.
class Fields {
 public:
  Fields(const json& object, std::string_view what) : object_(object), what_(what) {
    if (!object.is_object()) status_ = Invalid(what, "expected an object");
  }

  bool Has(const char* name) const { return status_.ok() && object_.contains(name); }
  const json* Field(const char* name) {
    if (!status_.ok()) return nullptr;
    if (!object_.contains(name)) {
      status_ = Invalid(what_, fmt::format("missing '{}'", name));
      return nullptr;
    }
    return &object_[name];
  }
  // Absent: 0 (fields added later, such as a transfer's id).
  uint64_t OptionalUnsigned(const char* name) { return Has(name) ? Unsigned(name) : 0; }
  uint64_t Unsigned(const char* name, uint64_t max = UINT64_MAX) {
    const json* field = Field(name);
    if (field == nullptr) return 0;
    if (!field->is_number_unsigned() || field->get<uint64_t>() > max) {
      Fail(fmt::format("'{}' must be an unsigned integer up to {}", name, max));
      return 0;
    }
    const uint64_t value = field->get<uint64_t>();
    SS_ASSERT(value <= max);
    return value;
  }
  bool Bool(const char* name) {
    const json* field = Field(name);
    if (field == nullptr) return false;
    if (!field->is_boolean()) Fail(fmt::format("'{}' must be a boolean", name));
    return field->is_boolean() && field->get<bool>();
  }
  std::string String(const char* name) {
    const json* field = Field(name);
    if (field == nullptr) return {};
    if (!field->is_string()) Fail(fmt::format("'{}' must be a string", name));
    return field->is_string() ? field->get<std::string>() : std::string();
  }
  ReplicaState State(const char* name) {
    const std::string text = String(name);
    if (!status_.ok()) return ReplicaState::kDead;
    const std::optional<ReplicaState> state = ReplicaStateFromName(text);
    if (!state) Fail(fmt::format("'{}': unknown replica state '{}'", name, text));
    return state.value_or(ReplicaState::kDead);
  }
  TransferMethod Method(const char* name) {
    const std::string text = String(name);
    for (size_t index = 0; index < kMethodNames.size(); index++) {
      if (kMethodNames[index] == text) return static_cast<TransferMethod>(index);
    }
    if (status_.ok()) Fail(fmt::format("'{}': unknown transfer method '{}'", name, text));
    return TransferMethod::kStreamRecords;
  }
  void Fail(std::string why) {
    if (status_.ok()) status_ = Invalid(what_, why);
  }
  void Absorb(const absl::Status& status) {
    if (status_.ok() && !status.ok()) status_ = status;
  }
  const absl::Status& status() const { return status_; }

 private:
  const json& object_;
  std::string_view what_;
  absl::Status status_;
};

std::optional<uint64_t> ParseDecimal(std::string_view key) {
  if (key.empty() || key.size() > 20) return std::nullopt;
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), value);
  if (error != std::errc() || end != key.data() + key.size()) return std::nullopt;
  return value;
}

json ParamsToJson(const CollectionParams& params) {
  return {{"replication_factor", params.replication_factor},
          {"write_consistency_factor", params.write_consistency_factor}};
}

CollectionParams ParamsFromJson(Fields& outer, const char* name) {
  const json* field = outer.Field(name);
  if (field == nullptr) return {};
  Fields fields(*field, name);
  CollectionParams params;
  params.replication_factor = static_cast<uint32_t>(fields.Unsigned("replication_factor", UINT32_MAX));
  params.write_consistency_factor = static_cast<uint32_t>(fields.Unsigned("write_consistency_factor", UINT32_MAX));
  outer.Absorb(fields.status());
  return params;
}

json PeersToJson(const std::set<PeerId>& peers) { return json(std::vector<PeerId>(peers.begin(), peers.end())); }

std::set<PeerId> PeersFromJson(Fields& outer, const char* name) {
  const json* field = outer.Field(name);
  std::set<PeerId> peers;
  if (field == nullptr) return peers;
  if (!field->is_array()) outer.Fail(fmt::format("'{}' must be an array", name));
  if (!field->is_array()) return peers;
  for (const json& peer : *field) {
    if (!peer.is_number_unsigned()) outer.Fail(fmt::format("'{}' holds a non peer id", name));
    if (peer.is_number_unsigned() && !peers.insert(peer.get<uint64_t>()).second) {
      outer.Fail(fmt::format("'{}' lists peer {} twice", name, peer.get<uint64_t>()));
    }
  }
  return peers;
}

using ShardMap = std::map<ShardId, std::map<PeerId, ReplicaState>>;

json ShardsToJson(const ShardMap& shards) {
  json object = json::object();
  for (const auto& [shard, replicas] : shards) {
    json peers = json::object();
    for (const auto& [peer, state] : replicas) peers[std::to_string(peer)] = std::string(ReplicaStateName(state));
    object[std::to_string(shard)] = std::move(peers);
  }
  return object;
}

// REQUIRES: on error, `outer` holds it (the map returned is partial).
ShardMap ShardsFromJson(Fields& outer, const char* name) {
  const json* field = outer.Field(name);
  ShardMap shards;
  if (field == nullptr) return shards;
  if (!field->is_object()) outer.Fail(fmt::format("'{}' must be an object", name));
  if (!field->is_object()) return shards;
  for (const auto& [shard_key, replicas] : field->items()) {
    const std::optional<uint64_t> shard = ParseDecimal(shard_key);
    if (!shard || *shard > UINT32_MAX || !replicas.is_object()) {
      outer.Fail(fmt::format("'{}': bad shard entry '{}'", name, shard_key));
      return shards;
    }
    if (shards.contains(static_cast<ShardId>(*shard))) outer.Fail(fmt::format("shard {} listed twice", *shard));
    auto& states = shards[static_cast<ShardId>(*shard)];
    for (const auto& [peer_key, state] : replicas.items()) {
      const std::optional<uint64_t> peer = ParseDecimal(peer_key);
      const std::optional<ReplicaState> parsed =
          state.is_string() ? ReplicaStateFromName(state.get_ref<const std::string&>()) : std::nullopt;
      if (!peer || !parsed || !states.emplace(*peer, *parsed).second) {
        outer.Fail(fmt::format("shard {}: bad replica entry '{}'", *shard, peer_key));
        return shards;
      }
    }
  }
  return shards;
}

json KeyFieldsToJson(const TransferKey& key) { return {{"shard_id", key.shard}, {"from", key.from}, {"to", key.to}}; }

TransferKey KeyFromFields(Fields& fields) {
  TransferKey key;
  key.shard = static_cast<ShardId>(fields.Unsigned("shard_id", UINT32_MAX));
  key.from = fields.Unsigned("from");
  key.to = fields.Unsigned("to");
  return key;
}

json TransferToJson(const ShardTransfer& transfer) {
  json object = KeyFieldsToJson(transfer.key);
  object["sync"] = transfer.sync;
  object["method"] = std::string(TransferMethodName(transfer.method));
  object["id"] = transfer.id;
  return object;
}

ShardTransfer TransferFromJson(const json& object, Fields& outer) {
  Fields fields(object, "transfer");
  ShardTransfer transfer;
  transfer.key = KeyFromFields(fields);
  transfer.sync = fields.Bool("sync");
  transfer.method = fields.Method("method");
  transfer.id = fields.OptionalUnsigned("id");
  outer.Absorb(fields.status());
  return transfer;
}

}  // namespace

std::string_view TransferMethodName(TransferMethod method) {
  const auto index = static_cast<size_t>(method);
  SS_ASSERT(index < kMethodNames.size(), "transfer method {} out of range", index);
  return kMethodNames[index];
}

nlohmann::json CollectionStateToJson(const CollectionState& state) {
  json transfers = json::array();
  for (const auto& [key, transfer] : state.transfers) transfers.push_back(TransferToJson(transfer));
  json object = {{"params", ParamsToJson(state.params)},
                 {"peers", PeersToJson(state.peers)},
                 {"shards", ShardsToJson(state.shards)},
                 {"transfers", std::move(transfers)},
                 {"transfers_started", state.transfers_started}};
  // Encode then decode in memory. A state only a hand could build (not
  // consistent, or a zero factor) is encoded but would not be read back.
  const bool readable = state.CheckConsistency().ok() && state.params.replication_factor > 0 &&
                        state.params.write_consistency_factor > 0;
  SS_ASSERT(!readable || CollectionStateFromJson(object).value_or(CollectionState{}) == state);
  return object;
}

absl::StatusOr<CollectionState> CollectionStateFromJson(const nlohmann::json& json_state) {
  Fields fields(json_state, "collection state");
  CollectionState state;
  state.params = ParamsFromJson(fields, "params");
  state.peers = PeersFromJson(fields, "peers");
  state.shards = ShardsFromJson(fields, "shards");
  state.transfers_started = fields.OptionalUnsigned("transfers_started");
  const json* transfers = fields.Field("transfers");
  if (transfers != nullptr && !transfers->is_array()) fields.Fail("'transfers' must be an array");
  if (transfers != nullptr && transfers->is_array()) {
    for (const json& object : *transfers) {
      const ShardTransfer transfer = TransferFromJson(object, fields);
      if (fields.status().ok() && !state.transfers.emplace(transfer.key, transfer).second) {
        fields.Fail("a transfer is listed twice");
      }
    }
  }
  if (!fields.status().ok()) return fields.status();
  if (state.params.replication_factor == 0 || state.params.write_consistency_factor == 0) {
    return Invalid("collection state", "replication and write consistency factors must be at least 1");
  }
  if (absl::Status consistent = state.CheckConsistency(); !consistent.ok()) {
    return Invalid("collection state", std::string(consistent.message()));
  }
  return state;
}

std::string_view MetaOpName(const MetaOp& op) {
  constexpr std::array<std::string_view, 9> kNames = {
      "CreateCollection", "SetReplicaState",   "StartTransfer",        "RestartTransfer", "FinishTransfer",
      "RecoveryToPartial", "AbortTransfer",    "SetReplicationFactor", "RemovePeer",
  };
  static_assert(kNames.size() == std::variant_size_v<MetaOp>);
  SS_ASSERT(op.index() < kNames.size(), "meta op index {}", op.index());
  return kNames[op.index()];
}

namespace {

std::string DescribeKey(const TransferKey& key) {
  return fmt::format("shard {} from {} to {}", key.shard, key.from, key.to);
}

std::string DescribeId(uint64_t id) { return id == 0 ? std::string() : fmt::format(" #{}", id); }

struct Describer {
  std::string operator()(const CreateCollection& op) const {
    return fmt::format("CreateCollection {} shards on {} peers rf {} wcf {}", op.shards.size(), op.peers.size(),
                       op.params.replication_factor, op.params.write_consistency_factor);
  }
  std::string operator()(const SetReplicaState& op) const {
    std::string line =
        fmt::format("SetReplicaState shard {} peer {} {}", op.shard, op.peer, ReplicaStateName(op.state));
    if (op.from_state) line += fmt::format(" from {}", ReplicaStateName(*op.from_state));
    return line;
  }
  std::string operator()(const StartTransfer& op) const {
    return fmt::format("StartTransfer {} {} {}", DescribeKey(op.transfer.key), op.transfer.sync ? "sync" : "move",
                       TransferMethodName(op.transfer.method));
  }
  std::string operator()(const RestartTransfer& op) const {
    return fmt::format("RestartTransfer {}{} {}", DescribeKey(op.key), DescribeId(op.id), TransferMethodName(op.method));
  }
  std::string operator()(const FinishTransfer& op) const {
    return "FinishTransfer " + DescribeKey(op.key) + DescribeId(op.id);
  }
  std::string operator()(const RecoveryToPartial& op) const {
    return "RecoveryToPartial " + DescribeKey(op.key) + DescribeId(op.id);
  }
  std::string operator()(const AbortTransfer& op) const {
    return fmt::format("AbortTransfer {}{} ({})", DescribeKey(op.key), DescribeId(op.id), op.reason);
  }
  std::string operator()(const SetReplicationFactor& op) const {
    return fmt::format("SetReplicationFactor rf {} wcf {}", op.replication_factor, op.write_consistency_factor);
  }
  std::string operator()(const RemovePeer& op) const { return fmt::format("RemovePeer {}", op.peer); }
};

json KeyAndIdToJson(const TransferKey& key, uint64_t id) {
  json object = KeyFieldsToJson(key);
  object["id"] = id;
  return object;
}

struct Encoder {
  json operator()(const CreateCollection& op) const {
    return {{"params", ParamsToJson(op.params)}, {"peers", PeersToJson(op.peers)}, {"shards", ShardsToJson(op.shards)}};
  }
  json operator()(const SetReplicaState& op) const {
    json object = {{"shard_id", op.shard}, {"peer_id", op.peer}, {"state", std::string(ReplicaStateName(op.state))}};
    object["from_state"] = op.from_state ? json(std::string(ReplicaStateName(*op.from_state))) : json(nullptr);
    return object;
  }
  json operator()(const StartTransfer& op) const { return {{"transfer", TransferToJson(op.transfer)}}; }
  json operator()(const RestartTransfer& op) const {
    json object = KeyFieldsToJson(op.key);
    object["method"] = std::string(TransferMethodName(op.method));
    object["id"] = op.id;
    return object;
  }
  json operator()(const FinishTransfer& op) const { return KeyAndIdToJson(op.key, op.id); }
  json operator()(const RecoveryToPartial& op) const { return KeyAndIdToJson(op.key, op.id); }
  json operator()(const AbortTransfer& op) const {
    json object = KeyAndIdToJson(op.key, op.id);
    object["reason"] = op.reason;
    return object;
  }
  json operator()(const SetReplicationFactor& op) const {
    return {{"replication_factor", op.replication_factor}, {"write_consistency_factor", op.write_consistency_factor}};
  }
  json operator()(const RemovePeer& op) const { return {{"peer_id", op.peer}}; }
};

// Decodes the body of the op named `name`; nullopt for an unknown name.
std::optional<MetaOp> DecodeBody(std::string_view name, Fields& fields) {
  if (name == "CreateCollection") {
    CreateCollection op;
    op.params = ParamsFromJson(fields, "params");
    op.peers = PeersFromJson(fields, "peers");
    op.shards = ShardsFromJson(fields, "shards");
    return op;
  }
  if (name == "SetReplicaState") {
    SetReplicaState op;
    op.shard = static_cast<ShardId>(fields.Unsigned("shard_id", UINT32_MAX));
    op.peer = fields.Unsigned("peer_id");
    op.state = fields.State("state");
    // Absent or null: no precondition on the current state.
    if (fields.Has("from_state") && !fields.Field("from_state")->is_null()) op.from_state = fields.State("from_state");
    return op;
  }
  if (name == "StartTransfer") {
    const json* transfer = fields.Field("transfer");
    if (transfer == nullptr) return StartTransfer{};
    return StartTransfer{TransferFromJson(*transfer, fields)};
  }
  if (name == "RestartTransfer") {
    RestartTransfer op;
    op.key = KeyFromFields(fields);
    op.method = fields.Method("method");
    op.id = fields.OptionalUnsigned("id");
    return op;
  }
  if (name == "FinishTransfer") {
    FinishTransfer op{KeyFromFields(fields)};
    op.id = fields.OptionalUnsigned("id");
    return op;
  }
  if (name == "RecoveryToPartial") {
    RecoveryToPartial op{KeyFromFields(fields)};
    op.id = fields.OptionalUnsigned("id");
    return op;
  }
  if (name == "AbortTransfer") {
    AbortTransfer op;
    op.key = KeyFromFields(fields);
    op.reason = fields.String("reason");
    op.id = fields.OptionalUnsigned("id");
    return op;
  }
  if (name == "SetReplicationFactor") {
    SetReplicationFactor op;
    op.replication_factor = static_cast<uint32_t>(fields.Unsigned("replication_factor", UINT32_MAX));
    op.write_consistency_factor = static_cast<uint32_t>(fields.Unsigned("write_consistency_factor", UINT32_MAX));
    return op;
  }
  if (name == "RemovePeer") return RemovePeer{fields.Unsigned("peer_id")};
  return std::nullopt;
}

}  // namespace

std::string DescribeMetaOp(const MetaOp& op) { return std::visit(Describer{}, op); }

nlohmann::json MetaOpToJson(const MetaOp& op) {
  json object = std::visit(Encoder{}, op);
  SS_ASSERT(object.is_object() && !object.contains("op"));
  object["op"] = std::string(MetaOpName(op));
  // Encode then decode in memory: the receiver reads back the same op.
  const absl::StatusOr<MetaOp> decoded = MetaOpFromJson(object);
  SS_ASSERT(decoded.ok() && decoded->index() == op.index(), "{} does not decode: {}", DescribeMetaOp(op),
            std::string(decoded.status().message()));
  return object;
}

absl::StatusOr<MetaOp> MetaOpFromJson(const nlohmann::json& json_op) {
  Fields fields(json_op, "meta op");
  const std::string name = fields.String("op");
  SS_ASSERT(fields.status().ok() || name.empty());
  if (!fields.status().ok()) return fields.status();
  std::optional<MetaOp> op = DecodeBody(name, fields);
  if (!op) return Invalid("meta op", fmt::format("unknown op '{}'", name));
  if (!fields.status().ok()) return fields.status();
  SS_ASSERT(MetaOpName(*op) == name);
  return *std::move(op);
}

}  // namespace engine
