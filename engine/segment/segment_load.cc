// Segment load: segment.json, then the component logs (a torn tail past a
// committed length is tolerated), then the points at their durable
// versions, then the payload index. A failed load changes nothing on disk.
#include <set>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"
#include "engine/segment/segment.h"
#include "engine/segment/segment_format.h"

namespace engine {

using segment_format::BodyReader;
using segment_format::EntryKey;
using segment_format::kComponentLogs;
using segment_format::kIdMapLog;
using segment_format::kPayloadIndexJson;
using segment_format::kPayloadsLog;
using segment_format::kSegmentJson;
using segment_format::kVectorsLog;
using segment_format::kVersionsLog;

namespace segment_load {

// A component log's intact batches. Those below `committed_records` lie
// within the length segment.json vouches for. The bodies are views into
// the log's bytes (ComponentLogs::bytes): a copy of every batch would double
// the memory a load of a large segment takes, for nothing.
struct LoadedLog {
  std::vector<std::string_view> bodies;
  size_t committed_records = 0;
};

struct ComponentLogs {
  // Each log file's bytes, which `by_name`'s bodies view.
  std::map<std::string, FileBytes> bytes;
  std::map<std::string, LoadedLog> by_name;
};

struct DecodedEntries {
  std::map<EntryKey, bool> mapped;  // -> deleted
  std::map<PointId, SeqNumber> versions;
  std::map<EntryKey, Vector> vectors;
  std::map<EntryKey, Payload> payloads;
  // Ids named by an entry past a committed length: re-flushed after load.
  std::set<PointId> uncommitted_ids;
};

// The entry of `map` at `key`, or its end. `next` moves forward only:
// REQUIRES: every key asked of one map is greater than the one before.
template <typename Map>
typename Map::iterator Seek(Map& map, typename Map::iterator& next, const EntryKey& key) {
  while (next != map.end() && next->first < key) ++next;
  return next != map.end() && next->first == key ? next : map.end();
}

namespace {

// Splits a log into its batches (one per flush). Every batch below
// `committed_bytes` (the length segment.json vouches for) must be intact;
// past it, batches of an interrupted flush are read while they are intact
// and the first bad one ends the log (a torn tail).
absl::StatusOr<LoadedLog> ParseLog(std::string_view data, std::string_view path, uint64_t committed_bytes) {
  if (data.size() < committed_bytes) {
    return absl::DataLossError(fmt::format("{}: {} bytes, but {} were flushed", path, data.size(),
                                           committed_bytes));
  }
  LoadedLog log;
  uint64_t offset = 0;
  for (uint64_t batches = 0; offset < data.size(); ++batches) {
    // Every batch takes at least its header.
    SS_ASSERT(batches <= data.size() / segment_format::kBatchHeaderBytes);
    const std::optional<std::string_view> body = segment_format::DecodeBatchAt(data, offset);
    if (!body) break;
    log.bodies.push_back(*body);
    offset += segment_format::BatchBytes(*body);
    if (offset <= committed_bytes) log.committed_records = log.bodies.size();
  }
  if (offset < committed_bytes) {
    SS_COVER(kDamageDetected);
    return absl::DataLossError(fmt::format("{}: corrupt record at offset {} (flushed data ends at {})",
                                           path, offset, committed_bytes));
  }
  SS_ASSERT(offset <= data.size() && log.committed_records <= log.bodies.size());
  return log;
}

// Decodes the next entry of `log` into `entries`; returns its key, or
// nullopt when the body is malformed there. A flush writes a batch's
// entries in id order, so the end of each map is the hint that makes an
// insert constant time (a later batch's entry still lands, and replaces,
// where it belongs).
std::optional<EntryKey> DecodeEntry(std::string_view log, BodyReader& reader, DecodedEntries& entries) {
  EntryKey key;
  if (log == kIdMapLog) {
    bool deleted = false;
    if (!segment_format::DecodeIdMapEntry(reader, key, deleted)) return std::nullopt;
    entries.mapped.insert_or_assign(entries.mapped.end(), key, deleted);
  } else if (log == kVersionsLog) {
    if (!segment_format::DecodeVersionEntry(reader, key)) return std::nullopt;
    entries.versions.insert_or_assign(entries.versions.end(), key.id, key.version);
  } else if (log == kVectorsLog) {
    Vector vector;
    if (!segment_format::DecodeVectorEntry(reader, key, vector)) return std::nullopt;
    entries.vectors.insert_or_assign(entries.vectors.end(), key, std::move(vector));
  } else {
    SS_ASSERT(log == kPayloadsLog, "{} is not a component log", log);
    std::string_view json;
    if (!segment_format::DecodePayloadEntry(reader, key, json)) return std::nullopt;
    Payload payload = Payload::parse(json, nullptr, false);
    if (payload.is_discarded() || !payload.is_object()) return std::nullopt;
    entries.payloads.insert_or_assign(entries.payloads.end(), key, std::move(payload));
  }
  return key;
}

// Decodes every entry of every batch of `log`, noting the ids of
// uncommitted batches.
absl::Status DecodeLog(std::string_view log, const LoadedLog& loaded, std::string_view dir,
                       DecodedEntries& entries) {
  SS_ASSERT(loaded.committed_records <= loaded.bodies.size());
  for (size_t batch = 0; batch < loaded.bodies.size(); ++batch) {
    const std::string_view body = loaded.bodies[batch];
    BodyReader reader(body);
    for (size_t count = 0; !reader.done(); ++count) {
      // Every entry takes at least its key.
      SS_ASSERT(count < body.size() / segment_format::kEntryKeyBytes + 1);
      const std::optional<EntryKey> key = DecodeEntry(log, reader, entries);
      if (!key) return absl::DataLossError(fmt::format("{}: malformed batch", JoinPath(dir, log)));
      if (batch >= loaded.committed_records) entries.uncommitted_ids.insert(key->id);
    }
    SS_ASSERT(reader.consumed_bytes() == body.size());
  }
  return absl::OkStatus();
}

// Every entry of every log, or DataLoss at the first malformed batch.
absl::StatusOr<DecodedEntries> DecodeComponentLogs(const ComponentLogs& logs, std::string_view dir) {
  SS_ASSERT(logs.by_name.size() == kComponentLogs.size());
  DecodedEntries entries;
  for (const char* log : {kIdMapLog, kVersionsLog, kVectorsLog, kPayloadsLog}) {
    if (auto status = DecodeLog(log, logs.by_name.at(log), dir, entries); !status.ok()) return status;
  }
  return entries;
}

}  // namespace

}  // namespace segment_load

absl::StatusOr<std::unique_ptr<Segment>> Segment::Load(FileSystem& fs, std::string dir) {
  auto contents = ReadSealedFile(fs, JoinPath(dir, kSegmentJson));
  if (!contents.ok()) return contents.status();
  auto segment_json = segment_format::DecodeSegmentJson(*contents, fmt::format("{}/{}", dir, kSegmentJson));
  if (!segment_json.ok()) return segment_json.status();
  std::unique_ptr<Segment> segment(new Segment(fs, std::move(dir), segment_json->config, segment_json->appendable));
  segment->version_ = segment_json->version;
  segment->persisted_version_ = segment_json->version;
  segment->committed_bytes_ = segment_json->log_bytes;
  if (auto status = segment->LoadFromDisk(); !status.ok()) return status;
  SS_ASSERT(segment->version_ == segment->persisted_version_, "{}: load moved the version", segment->dir_);
  return segment;
}

absl::Status Segment::LoadFromDisk() {
  SS_ASSERT(points_.empty() && dirty_.empty() && index_.fields().empty(), "{}: loading into a used segment",
            dir_);
  absl::StatusOr<segment_load::DecodedEntries> entries;
  {
    // The logs' bytes go once decoded, before the points are built from
    // the entries: a load's peak memory holds one copy of the data less.
    segment_load::ComponentLogs logs;
    if (auto status = ReadComponentLogs(logs); !status.ok()) return status;
    entries = segment_load::DecodeComponentLogs(logs, dir_);
  }
  if (!entries.ok()) return entries.status();
  if (auto status = RebuildPoints(*entries); !status.ok()) return status;
  for (PointId id : entries->uncommitted_ids) {
    if (points_.contains(id)) dirty_.insert(id);
  }
  SS_ASSERT(dirty_.size() <= points_.size());
  return LoadPayloadIndex();
}

absl::Status Segment::ReadComponentLogs(segment_load::ComponentLogs& logs) {
  SS_ASSERT(committed_bytes_.size() == kComponentLogs.size(), "{}: committed lengths not read", dir_);
  for (const char* log : kComponentLogs) {
    auto read = ReadWholeFileBytes(fs_, PathOf(log));
    if (!read.ok()) return read.status();
    // Kept while the batches, views into it, are decoded.
    const std::string_view data = (logs.bytes[log] = std::move(*read)).view();
    auto parsed = segment_load::ParseLog(data, PathOf(log), committed_bytes_.at(log));
    if (!parsed.ok()) return parsed.status();
    logs.by_name[log] = std::move(*parsed);
    // The next flush writes from the committed length: what lies past it
    // was never vouched for (an interrupted flush, or pages a failed fsync
    // dropped that are still readable). Points read from there are
    // re-flushed, so they become durable for real.
    log_end_bytes_[log] = committed_bytes_[log];
    if (data.size() > committed_bytes_[log]) {
      cut_uncommitted_tails_ = true;
      load_repairs_.push_back(fmt::format("{}: {} bytes past its flushed length {} (an interrupted flush) will be "
                                          "cut and flushed again", PathOf(log), data.size() - committed_bytes_[log],
                                          committed_bytes_[log]));
    }
  }
  SS_ASSERT(log_end_bytes_ == committed_bytes_);
  return absl::OkStatus();
}

absl::Status Segment::RebuildPoints(segment_load::DecodedEntries& entries) {
  SS_ASSERT(points_.empty(), "{}: points rebuilt twice", dir_);
  // The keys are asked in increasing order (ids ascending, one version
  // each), so each map is walked once instead of searched per point.
  auto next_mapping = entries.mapped.begin();
  auto next_vector = entries.vectors.begin();
  auto next_payload = entries.payloads.begin();
  // Id mappings without a durable version (an interrupted flush) are dropped.
  for (const auto& [id, version] : entries.versions) {
    const EntryKey key{id, version};
    const auto mapping = segment_load::Seek(entries.mapped, next_mapping, key);
    if (mapping == entries.mapped.end()) {
      return absl::DataLossError(fmt::format("{}: point {} has version {} but no id mapping", dir_, id, version));
    }
    PointRecord record{version, mapping->second, {}, Payload::object()};
    if (!record.deleted) {
      const auto vector = segment_load::Seek(entries.vectors, next_vector, key);
      const auto payload = segment_load::Seek(entries.payloads, next_payload, key);
      if (vector == entries.vectors.end() || payload == entries.payloads.end() ||
          vector->second.size() != config_.dimension) {
        return absl::DataLossError(
            fmt::format("{}: point {} has version {} but no data of that version", dir_, id, version));
      }
      // Moved: each (id, version) key is taken once, and a load of a large
      // segment would otherwise copy every vector and payload.
      record.vector = std::move(vector->second);
      record.payload = std::move(payload->second);
    }
    SS_ASSERT(record.payload.is_object());
    // In id order (the versions' map is): constant-time inserts at the end.
    live_count_ += record.deleted ? 0 : 1;
    points_.insert_or_assign(points_.end(), id, std::move(record));
  }
  SS_ASSERT(points_.size() == entries.versions.size());
  return absl::OkStatus();
}

absl::Status Segment::LoadPayloadIndex() {
  SS_ASSERT(index_.fields().empty(), "{}: payload index loaded twice", dir_);
  auto index_json = ReadSealedFile(fs_, PathOf(kPayloadIndexJson));
  if (!index_json.ok()) return index_json.status();
  auto fields = segment_format::DecodeIndexJson(*index_json, PathOf(kPayloadIndexJson));
  if (!fields.ok()) return fields.status();
  for (const auto& [key, type] : *fields) {
    const bool created = index_.Create(key, type);
    SS_ASSERT(created, "{}: index on {} created twice", dir_, key);
  }
  for (const auto& [id, record] : points_) {
    if (!record.deleted) index_.Add(id, record.payload);
  }
  return absl::OkStatus();
}

}  // namespace engine
