// Segment storage: creation with a completion marker and the ordered flush
// of append-only component logs (load is in segment_load.cc).
#include <algorithm>

#include <fmt/format.h>

#include "engine/common/coverage.h"
#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"
#include "engine/segment/segment.h"
#include "engine/segment/segment_format.h"

namespace engine {

Segment::Segment(FileSystem& fs, std::string dir, CollectionConfig config, bool appendable)
    : fs_(fs), dir_(std::move(dir)), config_(config), appendable_(appendable) {
  SS_ASSERT(!dir_.empty());
  // Create and Load refuse a larger one: the log codecs could not hold it.
  SS_ASSERT(config_.dimension <= segment_format::kMaxVectorDimension, "{}: dimension {}", dir_,
            config_.dimension);
}

void Segment::set_directory(std::string new_dir) {
  SS_ASSERT(!new_dir.empty() && new_dir != dir_, "{}: moved to '{}'", dir_, new_dir);
  dir_ = std::move(new_dir);
}

std::string Segment::PathOf(std::string_view name) const {
  SS_ASSERT(!name.empty() && name.find('/') == std::string_view::npos, "{}: '{}' is not a file name", dir_,
            name);
  return JoinPath(dir_, name);
}

absl::StatusOr<bool> Segment::IsComplete(FileSystem& fs, std::string_view dir) {
  return Exists(fs, JoinPath(dir, kCompletionMarker));
}

absl::Status Segment::MarkComplete() {
  SS_ASSERT(committed_bytes_.size() == segment_format::kComponentLogs.size(),
            "{}: marked complete before it was written", dir_);
  // The marker comes last: everything the segment holds is durable first.
  SS_ASSERT(!has_unsaved_changes(), "{}: marked complete with unsaved changes", dir_);
  if (auto status = WriteFileAtomically(fs_, PathOf(kCompletionMarker), "complete\n"); !status.ok()) {
    return status;
  }
  return fs_.SyncDir(ParentDir(dir_));
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Create(FileSystem& fs, std::string dir,
                                                         CollectionConfig config, bool appendable,
                                                         bool complete,
                                                         const std::map<std::string, FieldType>& indexes) {
  SS_ASSERT(!dir.empty());
  if (config.dimension > segment_format::kMaxVectorDimension) {
    return absl::InvalidArgumentError(fmt::format("{}: vectors of dimension {}, more than the {} a segment holds",
                                                  dir, config.dimension, segment_format::kMaxVectorDimension));
  }
  if (auto status = fs.Mkdir(dir); !status.ok()) return status;
  std::unique_ptr<Segment> segment(new Segment(fs, std::move(dir), config, appendable));
  for (const auto& [key, type] : indexes) {
    const bool created = segment->index_.Create(key, type);
    SS_ASSERT(created, "index on {} created twice", key);
  }
  for (const char* log : segment_format::kComponentLogs) {
    auto file = fs.Open(segment->PathOf(log), OpenMode::kCreateTruncate);
    if (!file.ok()) return file.status();
    if (auto status = (*file)->Sync(); !status.ok()) return status;
    segment->log_end_bytes_[log] = 0;
    segment->committed_bytes_[log] = 0;
  }
  if (auto status = WriteSealedFileAtomically(fs, segment->PathOf(segment_format::kPayloadIndexJson),
                                              segment->IndexJson());
      !status.ok()) {
    return status;
  }
  if (auto status = segment->WriteSegmentJson(std::nullopt); !status.ok()) return status;
  if (auto status = fs.SyncDir(ParentDir(segment->dir_)); !status.ok()) return status;
  // Everything above is durable before the marker says the segment exists.
  if (complete) {
    if (auto status = segment->MarkComplete(); !status.ok()) return status;
  }
  // A new segment holds no op: its indexes are part of what it was made with.
  SS_ASSERT(!segment->version_ && !segment->has_unsaved_changes(), "{}: new segment with changes",
            segment->dir_);
  return segment;
}

std::string Segment::IndexJson() const { return segment_format::EncodeIndexJson(index_.fields()); }

absl::Status Segment::WriteSegmentJson(std::optional<SeqNumber> version) {
  // segment.json never vouches for a version the segment has not reached.
  SS_ASSERT(!version || (version_ && *version <= *version_), "{}: persisting version {} past {}", dir_,
            version.value_or(0), version_.value_or(0));
  for (const auto& [log, bytes] : log_end_bytes_) {
    SS_ASSERT(bytes >= committed_bytes_.at(log), "{}: {} shrinks below its committed length", dir_, log);
  }
  const std::string text = segment_format::EncodeSegmentJson(
      {.config = config_, .appendable = appendable_, .version = version, .log_bytes = log_end_bytes_});
  if (auto status = WriteSealedFileAtomically(fs_, PathOf(segment_format::kSegmentJson), text); !status.ok()) {
    return status;
  }
  committed_bytes_ = log_end_bytes_;
  return absl::OkStatus();
}

absl::Status Segment::AppendBatch(const std::string& log, const std::string& body) {
  SS_ASSERT(log_end_bytes_.contains(log), "{}: {} is not a component log", dir_, log);
  // A reader would take a longer batch for damage: refused rather than lost.
  if (body.size() > segment_format::kMaxBatchBodyBytes) {
    return absl::ResourceExhaustedError(fmt::format("{}: a flush batch of {} bytes, more than the {} a log holds",
                                                    PathOf(log), body.size(), segment_format::kMaxBatchBodyBytes));
  }
  auto file = fs_.Open(PathOf(log), OpenMode::kReadWrite);
  if (!file.ok()) return file.status();
  if (body.empty()) return (*file)->Sync();
  std::string record;
  segment_format::EncodeBatch(record, body);
  const uint64_t at = log_end_bytes_[log];
  SS_ASSERT(at >= committed_bytes_.at(log), "{}: {} appends at {}, below its committed length {}", dir_, log,
            at, committed_bytes_.at(log));
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

struct Segment::DirtyBatches {
  std::string id_map;
  std::string vectors;
  std::string payloads;
  std::string versions;
};

Segment::DirtyBatches Segment::EncodeDirtyPoints() const {
  // Every data entry names the point version it belongs to: at load, the
  // durable version picks the matching data, whatever newer data an
  // interrupted flush left.
  DirtyBatches batches;
  for (PointId id : dirty_) {
    const auto it = points_.find(id);
    SS_ASSERT(it != points_.end(), "{}: dirty point {} has no record", dir_, id);
    const PointRecord& record = it->second;
    // A live record is whole; a tombstone carries no data.
    SS_ASSERT(record.deleted ? record.vector.empty() : record.vector.size() == config_.dimension,
              "{}: point {} has a vector of dimension {}", dir_, id, record.vector.size());
    SS_ASSERT(record.payload.is_object(), "{}: point {} has a payload that is not an object", dir_, id);
    const segment_format::EntryKey key{id, record.version};
    segment_format::EncodeIdMapEntry(batches.id_map, key, record.deleted);
    segment_format::EncodeVectorEntry(batches.vectors, key, record.vector);
    segment_format::EncodePayloadEntry(batches.payloads, key, record.payload.dump());
    segment_format::EncodeVersionEntry(batches.versions, key);
  }
  SS_ASSERT(batches.versions.size() == dirty_.size() * segment_format::kVersionEntryBytes);
  SS_ASSERT(batches.id_map.size() == dirty_.size() * segment_format::kIdMapEntryBytes);
  return batches;
}

absl::Status Segment::CutUncommittedTails() {
  SS_ASSERT(cut_uncommitted_tails_);
  SS_ASSERT(log_end_bytes_ == committed_bytes_, "{}: a flush appended before cutting the load's tails", dir_);
  SS_COVER(kSegmentUncommittedTailCut);
  // Versions first: uncommitted data entries are harmless once no version
  // points at them.
  for (const char* log : {segment_format::kVersionsLog, segment_format::kPayloadsLog, segment_format::kVectorsLog,
                          segment_format::kIdMapLog}) {
    auto file = fs_.Open(PathOf(log), OpenMode::kReadWrite);
    if (!file.ok()) return file.status();
    if (auto status = (*file)->Truncate(log_end_bytes_[log]); !status.ok()) return status;
    if (auto status = (*file)->Sync(); !status.ok()) return status;
  }
  cut_uncommitted_tails_ = false;
  return absl::OkStatus();
}

absl::Status Segment::FlushComponentsInOrder(std::optional<SeqNumber> flushing_version) {
  SS_ASSERT(flushing_version == version_, "{}: flushing a version other than the segment's", dir_);
  const DirtyBatches batches = EncodeDirtyPoints();
  if (cut_uncommitted_tails_) {
    if (auto status = CutUncommittedTails(); !status.ok()) return status;
  }
  // The order is the contract: data before the versions that describe it,
  // and segment.json last.
  if (auto status = AppendBatch(segment_format::kIdMapLog, batches.id_map); !status.ok()) return status;
  if (auto status = AppendBatch(segment_format::kVectorsLog, batches.vectors); !status.ok()) return status;
  if (auto status = AppendBatch(segment_format::kPayloadsLog, batches.payloads); !status.ok()) return status;
  if (index_dirty_) {
    if (auto status = WriteSealedFileAtomically(fs_, PathOf(segment_format::kPayloadIndexJson), IndexJson());
        !status.ok()) {
      return status;
    }
  }
  if (auto status = AppendBatch(segment_format::kVersionsLog, batches.versions); !status.ok()) return status;
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
  SS_ASSERT(!has_unsaved_changes() && !cut_uncommitted_tails_, "{}: changes left after a flush", dir_);
  return persisted_version_;
}

}  // namespace engine
