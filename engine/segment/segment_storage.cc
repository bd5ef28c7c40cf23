// Segment storage: creation with a completion marker, the ordered flush of
// append-only component logs, and load with torn-tail handling.
#include <bit>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/coverage.h"
#include "engine/common/assert.h"
#include "engine/common/checksum.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"
#include "engine/segment/segment.h"

namespace engine {

namespace {

constexpr int kFormatVersion = 1;
constexpr char kSegmentJson[] = "segment.json";
constexpr char kIdMapLog[] = "id_map.log";
constexpr char kVectorsLog[] = "vectors.log";
constexpr char kPayloadsLog[] = "payloads.log";
constexpr char kPayloadIndexJson[] = "payload_index.json";
constexpr char kVersionsLog[] = "versions.log";
constexpr uint64_t kRecordHeaderBytes = 8;
constexpr uint64_t kMaxRecordBytes = 64 << 20;

void AppendRecord(std::string& out, const std::string& body) {
  PutFixed32(out, static_cast<uint32_t>(body.size()));
  PutFixed32(out, Crc32c(body));
  out += body;
}

// Splits a log into its batches (one record per flush). Every record below
// `committed_bytes` (the length segment.json vouches for) must be intact;
// past it, records of an interrupted flush are read while they are intact
// and the first bad one ends the log (a torn tail). Returns the bodies and
// sets `end_bytes` to where the valid records end.
absl::StatusOr<std::vector<std::string>> ParseLog(std::string_view data, std::string_view path,
                                                 uint64_t committed_bytes, uint64_t& end_bytes,
                                                 size_t& committed_records) {
  if (data.size() < committed_bytes) {
    return absl::DataLossError(fmt::format("{}: {} bytes, but {} were flushed", path, data.size(),
                                           committed_bytes));
  }
  std::vector<std::string> bodies;
  uint64_t offset = 0;
  committed_records = 0;
  for (int records = 0; offset < data.size(); ++records) {
    SS_ASSERT(records < (1 << 30));
    const uint64_t left = data.size() - offset;
    bool valid = left >= kRecordHeaderBytes;
    uint64_t length = 0;
    if (valid) {
      length = GetFixed32(data.data() + offset);
      valid = length <= kMaxRecordBytes && length <= left - kRecordHeaderBytes &&
              GetFixed32(data.data() + offset + 4) ==
                  Crc32c(data.substr(offset + kRecordHeaderBytes, length));
    }
    if (!valid) break;
    bodies.emplace_back(data.substr(offset + kRecordHeaderBytes, length));
    offset += kRecordHeaderBytes + length;
    if (offset <= committed_bytes) committed_records = bodies.size();
  }
  if (offset < committed_bytes) {
    SS_COVER(kDamageDetected);
    return absl::DataLossError(fmt::format("{}: corrupt record at offset {} (flushed data ends at {})",
                                           path, offset, committed_bytes));
  }
  end_bytes = offset;
  return bodies;
}

nlohmann::json ConfigToJson(const CollectionConfig& config) {
  return {{"dimension", config.dimension}, {"distance", DistanceName(config.distance)}};
}

}  // namespace

std::string Segment::PathOf(std::string_view name) const { return JoinPath(dir_, name); }

absl::StatusOr<bool> Segment::IsComplete(FileSystem& fs, std::string_view dir) {
  return Exists(fs, JoinPath(dir, kCompletionMarker));
}

absl::Status Segment::MarkComplete() {
  if (auto status = WriteFileAtomically(fs_, PathOf(kCompletionMarker), "complete\n"); !status.ok()) {
    return status;
  }
  return fs_.SyncDir(ParentDir(dir_));
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Create(FileSystem& fs, std::string dir,
                                                         CollectionConfig config, bool appendable,
                                                         bool complete,
                                                         const std::map<std::string, FieldType>& indexes) {
  if (auto status = fs.Mkdir(dir); !status.ok()) return status;
  std::unique_ptr<Segment> segment(new Segment(fs, std::move(dir), config, appendable));
  for (const auto& [key, type] : indexes) segment->index_.Create(key, type);
  for (const char* log : {kIdMapLog, kVectorsLog, kPayloadsLog, kVersionsLog}) {
    auto file = fs.Open(segment->PathOf(log), OpenMode::kCreateTruncate);
    if (!file.ok()) return file.status();
    if (auto status = (*file)->Sync(); !status.ok()) return status;
    segment->log_end_bytes_[log] = 0;
    segment->committed_bytes_[log] = 0;
  }
  if (auto status = WriteSealedFileAtomically(fs, segment->PathOf(kPayloadIndexJson), segment->IndexJson());
      !status.ok()) {
    return status;
  }
  if (auto status = segment->WriteSegmentJson(std::nullopt); !status.ok()) return status;
  if (auto status = fs.SyncDir(ParentDir(segment->dir_)); !status.ok()) return status;
  // Everything above is durable before the marker says the segment exists.
  if (complete) {
    if (auto status = segment->MarkComplete(); !status.ok()) return status;
  }
  return segment;
}

std::string Segment::IndexJson() const {
  nlohmann::json fields = nlohmann::json::object();
  for (const auto& [key, type] : index_.fields()) fields[key] = FieldTypeName(type);
  return fields.dump();
}

absl::Status Segment::WriteSegmentJson(std::optional<SeqNumber> version) {
  nlohmann::json lengths = nlohmann::json::object();
  for (const auto& [log, bytes] : log_end_bytes_) lengths[log] = bytes;
  nlohmann::json json = {{"format", kFormatVersion},
                         {"config", ConfigToJson(config_)},
                         {"appendable", appendable_},
                         {"version", version ? nlohmann::json(*version) : nlohmann::json(nullptr)},
                         {"log_bytes", lengths}};
  if (auto status = WriteSealedFileAtomically(fs_, PathOf(kSegmentJson), json.dump()); !status.ok()) {
    return status;
  }
  committed_bytes_ = log_end_bytes_;
  return absl::OkStatus();
}

absl::Status Segment::AppendBatch(const std::string& log, const std::string& body) {
  auto file = fs_.Open(PathOf(log), OpenMode::kReadWrite);
  if (!file.ok()) return file.status();
  if (body.empty()) return (*file)->Sync();
  std::string record;
  AppendRecord(record, body);
  const uint64_t at = log_end_bytes_[log];
  if (auto status = (*file)->WriteAt(at, std::span<const char>(record.data(), record.size()));
      !status.ok()) {
    return status;
  }
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  // Drop what an interrupted flush left past the batch.
  if (*size > at + record.size()) {
    if (auto status = (*file)->Truncate(at + record.size()); !status.ok()) return status;
  }
  // Only a synced batch moves the append position: after a failed sync the
  // next flush writes the batch again instead of building on lost pages.
  if (auto status = (*file)->Sync(); !status.ok()) return status;
  log_end_bytes_[log] = at + record.size();
  flushed_bytes_ += record.size();
  return absl::OkStatus();
}

absl::Status Segment::FlushComponentsInOrder(std::optional<SeqNumber> flushing_version) {
  std::string id_map, vectors, payloads, versions;
  for (PointId id : dirty_) {
    const PointRecord& record = points_.at(id);
    // Every data entry names the point version it belongs to: at load, the
    // durable version picks the matching data, whatever newer data an
    // interrupted flush left.
    PutFixed64(id_map, id);
    PutFixed64(id_map, record.version);
    id_map.push_back(record.deleted ? 1 : 0);
    PutFixed64(vectors, id);
    PutFixed64(vectors, record.version);
    PutFixed32(vectors, static_cast<uint32_t>(record.vector.size()));
    for (float value : record.vector) PutFixed32(vectors, std::bit_cast<uint32_t>(value));
    const std::string payload = record.payload.dump();
    PutFixed64(payloads, id);
    PutFixed64(payloads, record.version);
    PutFixed32(payloads, static_cast<uint32_t>(payload.size()));
    payloads += payload;
    PutFixed64(versions, id);
    PutFixed64(versions, record.version);
  }
  if (cut_uncommitted_tails_) {
    SS_COVER(kSegmentUncommittedTailCut);
    // Versions first: uncommitted data entries are harmless once no
    // version points at them.
    for (const char* log : {kVersionsLog, kPayloadsLog, kVectorsLog, kIdMapLog}) {
      auto file = fs_.Open(PathOf(log), OpenMode::kReadWrite);
      if (!file.ok()) return file.status();
      if (auto status = (*file)->Truncate(log_end_bytes_[log]); !status.ok()) return status;
      if (auto status = (*file)->Sync(); !status.ok()) return status;
    }
    cut_uncommitted_tails_ = false;
  }
  // The order is the contract: data before the versions that describe it,
  // and segment.json last.
  if (auto status = AppendBatch(kIdMapLog, id_map); !status.ok()) return status;
  if (auto status = AppendBatch(kVectorsLog, vectors); !status.ok()) return status;
  if (auto status = AppendBatch(kPayloadsLog, payloads); !status.ok()) return status;
  if (index_dirty_) {
    if (auto status = WriteSealedFileAtomically(fs_, PathOf(kPayloadIndexJson), IndexJson()); !status.ok()) {
      return status;
    }
  }
  if (auto status = AppendBatch(kVersionsLog, versions); !status.ok()) return status;
  return WriteSegmentJson(flushing_version);
}

absl::Status Segment::Seal() {
  SS_ASSERT(!has_unsaved_changes(), "{}: sealing with unsaved changes", dir_);
  appendable_ = false;
  return WriteSegmentJson(persisted_version_);
}

absl::StatusOr<std::optional<SeqNumber>> Segment::Flush(bool force) {
  if (!force && !has_unsaved_changes()) return persisted_version_;
  const std::optional<SeqNumber> flushing_version = version_;  // captured as the flush begins
  if (auto status = FlushComponentsInOrder(flushing_version); !status.ok()) return status;
  dirty_.clear();
  index_dirty_ = false;
  persisted_version_ = flushing_version;
  return persisted_version_;
}

namespace {

// Reads little-endian fields from a batch body, failing softly at its end.
class BodyReader {
 public:
  explicit BodyReader(std::string_view body) : body_(body) {}
  bool done() const { return at_ >= body_.size(); }
  bool Fixed32(uint32_t& out) { return Take(4) && (out = GetFixed32(body_.data() + at_ - 4), true); }
  bool Fixed64(uint64_t& out) { return Take(8) && (out = GetFixed64(body_.data() + at_ - 8), true); }
  bool Byte(uint8_t& out) { return Take(1) && (out = static_cast<uint8_t>(body_[at_ - 1]), true); }
  bool Bytes(size_t length, std::string_view& out) {
    return Take(length) && (out = body_.substr(at_ - length, length), true);
  }

 private:
  bool Take(size_t length) {
    if (body_.size() - at_ < length) return false;
    at_ += length;
    return true;
  }
  std::string_view body_;
  size_t at_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Segment>> Segment::Load(FileSystem& fs, std::string dir) {
  auto contents = ReadSealedFile(fs, JoinPath(dir, kSegmentJson));
  if (!contents.ok()) return contents.status();
  const nlohmann::json json = nlohmann::json::parse(*contents, nullptr, false);
  const auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(fmt::format("{}/{}: {}", dir, kSegmentJson, why));
  };
  if (json.is_discarded() || !json.is_object()) return corrupt("not a JSON object");
  if (!json.contains("format") || json["format"] != kFormatVersion) return corrupt("unknown format");
  if (!json.contains("config") || !json["config"].is_object() ||
      !json["config"].contains("dimension") || !json["config"]["dimension"].is_number_unsigned() ||
      !json["config"].contains("distance") || !json["config"]["distance"].is_string()) {
    return corrupt("bad config");
  }
  const auto distance = ParseDistance(json["config"]["distance"].get<std::string>());
  if (!distance) return corrupt("unknown distance");
  if (!json.contains("appendable") || !json["appendable"].is_boolean()) return corrupt("bad appendable flag");
  if (!json.contains("version") || !(json["version"].is_null() || json["version"].is_number_unsigned())) {
    return corrupt("bad version");
  }
  if (!json.contains("log_bytes") || !json["log_bytes"].is_object()) return corrupt("bad log lengths");
  const CollectionConfig config{static_cast<uint32_t>(json["config"]["dimension"].get<uint64_t>()),
                                *distance};
  std::unique_ptr<Segment> segment(new Segment(fs, std::move(dir), config, json["appendable"].get<bool>()));
  if (!json["version"].is_null()) segment->version_ = json["version"].get<uint64_t>();
  segment->persisted_version_ = segment->version_;
  for (const char* log : {kIdMapLog, kVectorsLog, kPayloadsLog, kVersionsLog}) {
    const auto& bytes = json["log_bytes"];
    if (!bytes.contains(log) || !bytes[log].is_number_unsigned()) return corrupt("bad log lengths");
    segment->committed_bytes_[log] = bytes[log].get<uint64_t>();
  }
  if (auto status = segment->LoadFromDisk(); !status.ok()) return status;
  return segment;
}

absl::Status Segment::LoadFromDisk() {
  std::map<std::string, std::vector<std::string>> logs;
  std::map<std::string, size_t> committed_records;
  for (const char* log : {kIdMapLog, kVectorsLog, kPayloadsLog, kVersionsLog}) {
    auto data = ReadWholeFile(fs_, PathOf(log));
    if (!data.ok()) return data.status();
    uint64_t valid_end = 0;
    auto bodies = ParseLog(*data, PathOf(log), committed_bytes_[log], valid_end, committed_records[log]);
    if (!bodies.ok()) return bodies.status();
    logs[log] = std::move(*bodies);
    // The next flush writes from the committed length: what lies past it
    // was never vouched for (an interrupted flush, or pages a failed fsync
    // dropped that are still readable). Points read from there are
    // re-flushed, so they become durable for real.
    log_end_bytes_[log] = committed_bytes_[log];
    if (data->size() > committed_bytes_[log]) {
      cut_uncommitted_tails_ = true;
      load_repairs_.push_back(fmt::format("{}: {} bytes past its flushed length {} (an interrupted flush) will be "
                                          "cut and flushed again", PathOf(log), data->size() - committed_bytes_[log],
                                          committed_bytes_[log]));
    }
  }
  std::set<PointId> uncommitted_ids;
  const auto bad = [&](const char* log) {
    return absl::DataLossError(fmt::format("{}: malformed batch", PathOf(log)));
  };
  using Key = std::pair<PointId, SeqNumber>;  // (id, version)
  std::map<Key, bool> mapped;  // -> deleted
  for (const std::string& body : logs[kIdMapLog]) {
    BodyReader reader(body);
    while (!reader.done()) {
      uint64_t id, version;
      uint8_t deleted;
      if (!reader.Fixed64(id) || !reader.Fixed64(version) || !reader.Byte(deleted)) return bad(kIdMapLog);
      mapped[{id, version}] = deleted != 0;
    }
  }
  std::map<PointId, SeqNumber> versions;
  for (const std::string& body : logs[kVersionsLog]) {
    BodyReader reader(body);
    while (!reader.done()) {
      uint64_t id, version;
      if (!reader.Fixed64(id) || !reader.Fixed64(version)) return bad(kVersionsLog);
      versions[id] = version;
    }
  }
  std::map<Key, Vector> vectors;
  for (const std::string& body : logs[kVectorsLog]) {
    BodyReader reader(body);
    while (!reader.done()) {
      uint64_t id, version;
      uint32_t count, bits;
      if (!reader.Fixed64(id) || !reader.Fixed64(version) || !reader.Fixed32(count) || count > (1u << 20)) {
        return bad(kVectorsLog);
      }
      Vector vector;
      for (uint32_t i = 0; i < count; ++i) {
        if (!reader.Fixed32(bits)) return bad(kVectorsLog);
        vector.push_back(std::bit_cast<float>(bits));
      }
      vectors[{id, version}] = std::move(vector);
    }
  }
  std::map<Key, Payload> payloads;
  for (const std::string& body : logs[kPayloadsLog]) {
    BodyReader reader(body);
    while (!reader.done()) {
      uint64_t id, version;
      uint32_t length;
      std::string_view text;
      if (!reader.Fixed64(id) || !reader.Fixed64(version) || !reader.Fixed32(length) ||
          !reader.Bytes(length, text)) {
        return bad(kPayloadsLog);
      }
      Payload payload = Payload::parse(text, nullptr, false);
      if (payload.is_discarded() || !payload.is_object()) return bad(kPayloadsLog);
      payloads[{id, version}] = std::move(payload);
    }
  }
  // Ids named by any entry past a committed length are re-flushed.
  const auto collect_ids = [&](const char* log, size_t fixed_bytes, bool vectors_log, bool payloads_log) {
    const auto& bodies = logs[log];
    for (size_t i = committed_records[log]; i < bodies.size(); ++i) {
      BodyReader reader(bodies[i]);
      while (!reader.done()) {
        uint64_t id = 0, skip64 = 0;
        uint32_t count = 0;
        std::string_view skipped;
        if (!reader.Fixed64(id)) break;
        uncommitted_ids.insert(id);
        if (vectors_log) {
          if (!reader.Fixed64(skip64) || !reader.Fixed32(count) || !reader.Bytes(4 * size_t{count}, skipped)) break;
        } else if (payloads_log) {
          if (!reader.Fixed64(skip64) || !reader.Fixed32(count) || !reader.Bytes(count, skipped)) break;
        } else if (!reader.Bytes(fixed_bytes, skipped)) {
          break;
        }
      }
    }
  };
  collect_ids(kIdMapLog, 9, false, false);
  collect_ids(kVersionsLog, 8, false, false);
  collect_ids(kVectorsLog, 0, true, false);
  collect_ids(kPayloadsLog, 0, false, true);
  // A point exists at its durable version, with the data of that version.
  // Id mappings without a durable version (an interrupted flush) are dropped.
  for (const auto& [id, version] : versions) {
    const Key key{id, version};
    const auto mapping = mapped.find(key);
    if (mapping == mapped.end()) {
      return absl::DataLossError(fmt::format("{}: point {} has version {} but no id mapping", dir_, id, version));
    }
    PointRecord record{version, mapping->second, {}, Payload::object()};
    if (!record.deleted) {
      const auto vector = vectors.find(key);
      const auto payload = payloads.find(key);
      if (vector == vectors.end() || payload == payloads.end() || vector->second.size() != config_.dimension) {
        return absl::DataLossError(
            fmt::format("{}: point {} has version {} but no data of that version", dir_, id, version));
      }
      record.vector = vector->second;
      record.payload = payload->second;
    }
    points_[id] = std::move(record);
  }
  for (PointId id : uncommitted_ids) {
    if (points_.contains(id)) dirty_.insert(id);
  }
  auto index_json = ReadSealedFile(fs_, PathOf(kPayloadIndexJson));
  if (!index_json.ok()) return index_json.status();
  const nlohmann::json fields = nlohmann::json::parse(*index_json, nullptr, false);
  if (fields.is_discarded() || !fields.is_object()) {
    return absl::DataLossError(fmt::format("{}: not a JSON object", PathOf(kPayloadIndexJson)));
  }
  for (const auto& [key, type] : fields.items()) {
    if (!type.is_string() || (type != "keyword" && type != "integer")) {
      return absl::DataLossError(fmt::format("{}: bad index type", PathOf(kPayloadIndexJson)));
    }
    index_.Create(key, type == "keyword" ? FieldType::kKeyword : FieldType::kInteger);
  }
  for (const auto& [id, record] : points_) {
    if (!record.deleted) index_.Add(id, record.payload);
  }
  return absl::OkStatus();
}

}  // namespace engine
