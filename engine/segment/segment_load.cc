// Segment load: segment.json, then the component logs (a torn tail past a
// committed length is tolerated), then the points at their durable
// versions, then the payload index. A failed load changes nothing on disk.
#include <algorithm>
#include <set>
#include <utility>
#include <vector>

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

// Every entry of the logs, sorted by key with the last written of each key
// kept (a later flush's entry replaces an earlier one's). Vectors and
// payloads stay views into the logs' bytes until RebuildPoints takes the
// one version of each point it keeps: a load of a large segment would
// otherwise build (and free) a tree node, a vector and a JSON tree for
// every entry before building the points from them.
struct DecodedEntries {
  std::vector<std::pair<EntryKey, bool>> mapped;  // -> deleted
  std::vector<std::pair<PointId, SeqNumber>> versions;
  std::vector<std::pair<EntryKey, std::string_view>> vectors;   // components (little-endian f32)
  std::vector<std::pair<EntryKey, std::string_view>> payloads;  // a JSON object's text
  // Ids named by an entry past a committed length: re-flushed after load.
  std::set<PointId> uncommitted_ids;
};

// A payload's text that a load can take: a JSON object. Every entry must
// be one, kept or not, so a damaged entry fails the load whichever flush
// wrote it; a kept entry is checked by its parse instead (text that
// parses and starts with '{' is an object).
bool IsJsonObject(std::string_view json) {
  const size_t first = json.find_first_not_of(" \t\n\r");
  return first != std::string_view::npos && json[first] == '{' && Payload::accept(json);
}

// The entry of `entries` at `key`, or its end. `next` moves forward only:
// REQUIRES: `entries` is sorted by key, and every key asked of it is
// greater than the one before.
template <typename Entries>
typename Entries::iterator Seek(Entries& entries, typename Entries::iterator& next, const EntryKey& key) {
  while (next != entries.end() && next->first < key) ++next;
  return next != entries.end() && next->first == key ? next : entries.end();
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
// nullopt when the body is malformed there.
std::optional<EntryKey> DecodeEntry(std::string_view log, BodyReader& reader, DecodedEntries& entries) {
  EntryKey key;
  if (log == kIdMapLog) {
    bool deleted = false;
    if (!segment_format::DecodeIdMapEntry(reader, key, deleted)) return std::nullopt;
    entries.mapped.emplace_back(key, deleted);
  } else if (log == kVersionsLog) {
    if (!segment_format::DecodeVersionEntry(reader, key)) return std::nullopt;
    entries.versions.emplace_back(key.id, key.version);
  } else if (log == kVectorsLog) {
    std::string_view components;
    if (!segment_format::DecodeVectorEntryView(reader, key, components)) return std::nullopt;
    entries.vectors.emplace_back(key, components);
  } else {
    SS_ASSERT(log == kPayloadsLog, "{} is not a component log", log);
    std::string_view json;
    if (!segment_format::DecodePayloadEntry(reader, key, json)) return std::nullopt;
    entries.payloads.emplace_back(key, json);
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

// Sorts `entries` by key and keeps, of each key, the entry appended last
// (what a map assigned in log order would hold); false when
// `may_drop(entry)` refuses an entry it drops. A flush writes a batch's
// entries in key order, so a log of one batch is sorted already and costs
// one pass.
template <typename Entries, typename MayDrop>
bool SortKeepingLast(Entries& entries, MayDrop&& may_drop) {
  const auto not_before = [](const auto& a, const auto& b) { return !(a.first < b.first); };
  if (std::adjacent_find(entries.begin(), entries.end(), not_before) == entries.end()) return true;
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t kept = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i + 1 < entries.size() && entries[i + 1].first == entries[i].first) {
      if (!may_drop(entries[i])) return false;
      continue;
    }
    entries[kept++] = entries[i];
  }
  entries.resize(kept);
  SS_ASSERT(std::adjacent_find(entries.begin(), entries.end(), not_before) == entries.end());
  return true;
}

absl::Status MalformedPayload(std::string_view dir) {
  return absl::DataLossError(
      fmt::format("{}: malformed batch (a payload is not a JSON object)", JoinPath(dir, kPayloadsLog)));
}

// Every entry of every log, or DataLoss at the first malformed batch.
absl::Status DecodeComponentLogs(const ComponentLogs& logs, std::string_view dir, DecodedEntries& entries) {
  SS_ASSERT(logs.by_name.size() == kComponentLogs.size());
  // Sized once: the id map's and versions' entries have a fixed size, and
  // each live point has one vector and one payload entry per version entry.
  const auto entries_in = [&](const char* log, size_t entry_bytes) {
    size_t bytes = 0;
    for (const std::string_view body : logs.by_name.at(log).bodies) bytes += body.size();
    return bytes / entry_bytes;
  };
  entries.mapped.reserve(entries_in(kIdMapLog, segment_format::kIdMapEntryBytes));
  entries.versions.reserve(entries_in(kVersionsLog, segment_format::kVersionEntryBytes));
  entries.vectors.reserve(entries.versions.capacity());
  entries.payloads.reserve(entries.versions.capacity());
  for (const char* log : {kIdMapLog, kVersionsLog, kVectorsLog, kPayloadsLog}) {
    if (auto status = DecodeLog(log, logs.by_name.at(log), dir, entries); !status.ok()) return status;
  }
  const auto any = [](const auto&) { return true; };
  SortKeepingLast(entries.mapped, any);
  SortKeepingLast(entries.versions, any);
  SortKeepingLast(entries.vectors, any);
  if (!SortKeepingLast(entries.payloads, [](const auto& entry) { return IsJsonObject(entry.second); })) {
    return MalformedPayload(dir);
  }
  return absl::OkStatus();
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
  // The entries view the logs' bytes, so those stay until the points are
  // built; they take less memory than the decoded entries they replace.
  segment_load::ComponentLogs logs;
  if (auto status = ReadComponentLogs(logs); !status.ok()) return status;
  segment_load::DecodedEntries entries;
  if (auto status = segment_load::DecodeComponentLogs(logs, dir_, entries); !status.ok()) return status;
  if (auto status = RebuildPoints(entries); !status.ok()) return status;
  for (PointId id : entries.uncommitted_ids) {
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
    // A tombstone's payload is an empty object; a live point's is parsed
    // below (not built empty first: that allocates once per point for nothing).
    PointRecord record{version, mapping->second, {}, mapping->second ? Payload::object() : Payload()};
    if (!record.deleted) {
      const auto vector = segment_load::Seek(entries.vectors, next_vector, key);
      const auto payload = segment_load::Seek(entries.payloads, next_payload, key);
      if (vector == entries.vectors.end() || payload == entries.payloads.end() ||
          vector->second.size() != segment_format::kVectorComponentBytes * size_t{config_.dimension}) {
        return absl::DataLossError(
            fmt::format("{}: point {} has version {} but no data of that version", dir_, id, version));
      }
      // Decoded here, once per point kept: DecodeEntry checked the text.
      record.vector = segment_format::VectorOfComponents(vector->second);
      record.payload = Payload::parse(payload->second, nullptr, false);
      if (record.payload.is_discarded() || !record.payload.is_object()) return segment_load::MalformedPayload(dir_);
      payload->second = {};  // parsed: not checked again below
    }
    SS_ASSERT(record.payload.is_object());
    // In id order (the versions' map is): constant-time inserts at the end.
    live_count_ += record.deleted ? 0 : 1;
    points_.insert_or_assign(points_.end(), id, std::move(record));
  }
  SS_ASSERT(points_.size() == entries.versions.size());
  // Payload entries no point took (older versions, or deleted points') are
  // checked all the same.
  for (const auto& [key, json] : entries.payloads) {
    if (json.data() != nullptr && !segment_load::IsJsonObject(json)) return segment_load::MalformedPayload(dir_);
  }
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
  // Without an indexed field there is nothing to add (and a walk over a
  // large segment's points for nothing).
  if (fields->empty()) return absl::OkStatus();
  for (const auto& [id, record] : points_) {
    if (!record.deleted) index_.Add(id, record.payload);
  }
  return absl::OkStatus();
}

}  // namespace engine
