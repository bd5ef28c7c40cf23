// Segment: a plain segment stored in its own directory.
//
// On disk (all names inside the segment directory):
// - segment.json: format version, collection config, appendable flag, and
//   the segment version captured when the last completed flush began.
//   Replaced atomically.
// - id_map.log, vectors.log, payloads.log, versions.log: append-only logs,
//   one batch record ({u32 length, u32 CRC32C, body}) per flush holding an
//   entry for each point changed since the previous flush (the record
//   layouts and their codecs are in segment_format.h). Data entries
//   carry the point version they belong to; at load a point exists at its
//   last durable version with that version's data. segment.json records each log's flushed length: everything
//   below it must be intact; a batch past it (an interrupted flush) is used
//   while intact. payload_index.json: the indexed fields (index data is
//   rebuilt from payloads at load).
// - COMPLETE: the completion marker, written last at creation. A directory
//   without it is an interrupted creation.
//
// Flush writes only what changed since the previous flush, in the order
// id map, vectors, payloads, payload index, point versions, segment.json —
// each synced before the next starts (FlushComponentsInOrder) — so a durable
// point version implies the durable data it describes. At load, an id
// mapping without a version is dropped, a torn log tail is cut, and a bad
// record before the end of a log is a DataLoss error (nothing is changed on
// disk by a failed load). Data newer than a point's durable version (an
// interrupted flush) is ignored: WAL replay brings it back.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "engine/env/env.h"
#include "engine/model/payload_index.h"
#include "engine/segment/segment_entry.h"

namespace engine {

namespace segment_load {
struct ComponentLogs;   // each component log's intact batches
struct DecodedEntries;  // the entries they hold
}  // namespace segment_load

class Segment final : public SegmentEntry {
 public:
  // With `complete` false the completion marker is not written: the caller
  // fills and flushes the segment and calls MarkComplete last (an
  // optimizer's build). `indexes` are in the first payload_index.json, so
  // they are durable with the segment (the version stays none): an index op
  // already acked in the WAL would never reach the segment again.
  // InvalidArgument for a dimension over segment_format::kMaxVectorDimension.
  static absl::StatusOr<std::unique_ptr<Segment>> Create(
      FileSystem& fs, std::string dir, CollectionConfig config, bool appendable, bool complete = true,
      const std::map<std::string, FieldType>& indexes = {});
  // REQUIRES: no unsaved changes.
  absl::Status MarkComplete();
  // Raises the segment version (an optimizer's result covers every op its
  // inputs had applied, not only the ones that touched surviving points).
  void RaiseVersion(SeqNumber version) { version_ = std::max(version_.value_or(0), version); }
  // Moves the segment's directory (renamed by the caller) to `new_dir`.
  void set_directory(std::string new_dir);
  static absl::StatusOr<std::unique_ptr<Segment>> Load(FileSystem& fs, std::string dir);
  static absl::StatusOr<bool> IsComplete(FileSystem& fs, std::string_view dir);
  static constexpr char kCompletionMarker[] = "COMPLETE";

  std::optional<SeqNumber> version() const override { return version_; }
  std::optional<SeqNumber> persisted_version() const override { return persisted_version_; }
  bool is_appendable() const override { return appendable_; }
  const std::string& directory() const override { return dir_; }
  const CollectionConfig& config() const { return config_; }

  bool has_point(PointId id) const override;
  std::optional<SeqNumber> point_version(PointId id) const override;
  std::optional<SeqNumber> newest_point_version() const override;
  // Tombstones held (the vacuum optimizer's measure of litter).
  size_t deleted_count() const;

  absl::StatusOr<bool> Upsert(SeqNumber op_num, const Point& point) override;
  absl::StatusOr<bool> DeletePoint(SeqNumber op_num, PointId id) override;
  absl::StatusOr<bool> DeleteSupersededCopy(PointId id, SeqNumber copy_version) override;
  absl::StatusOr<bool> SetPayload(SeqNumber op_num, PointId id, const Payload& payload) override;
  absl::StatusOr<bool> OverwritePayload(SeqNumber op_num, PointId id, const Payload& payload) override;
  absl::StatusOr<bool> DeletePayloadKeys(SeqNumber op_num, PointId id,
                                         const std::vector<std::string>& keys) override;
  absl::StatusOr<bool> ClearPayload(SeqNumber op_num, PointId id) override;
  absl::StatusOr<bool> CreateFieldIndex(SeqNumber op_num, const std::string& key,
                                        FieldType type) override;
  absl::StatusOr<bool> DeleteFieldIndex(SeqNumber op_num, const std::string& key) override;

  std::optional<Point> Retrieve(PointId id) const override;
  std::vector<PointId> LiveIds() const override;
  size_t LiveCount() const override { return live_count_; }
  std::vector<PointId> ReadFiltered(const Filter* filter, std::optional<PointId> after_id,
                                    size_t limit) const override;
  size_t Count(const Filter* filter) const override;
  std::vector<ScoredPoint> Search(const Vector& query, const Filter* filter,
                                  size_t k) const override;
  std::map<std::string, FieldType> indexed_fields() const override { return index_.fields(); }

  absl::StatusOr<std::optional<SeqNumber>> Flush(bool force) override;
  bool has_unsaved_changes() const override;

  // Makes the segment non-appendable (as an optimizer's output is) and
  // persists the flag. REQUIRES: no unsaved changes.
  absl::Status Seal();

  // What Load found to repair: data past a log's committed length (an
  // interrupted flush), cut and written again at the next flush.
  const std::vector<std::string>& load_repairs() const { return load_repairs_; }
  // Bytes appended to component files by flushes (for flush-cost checks).
  uint64_t flushed_bytes() const { return flushed_bytes_; }
  // Every id the payload index lists under `key` is a live point whose
  // payload has a value there, and vice versa (docs/invariants.md I5).
  bool IndexAgreesWithPayloads(const std::string& key) const;
  bool IndexesAgreeWithPayloads() const override;

 private:
  struct PointRecord {
    SeqNumber version = 0;
    bool deleted = false;
    Vector vector;
    Payload payload = Payload::object();
  };

  // REQUIRES: config.dimension <= segment_format::kMaxVectorDimension.
  Segment(FileSystem& fs, std::string dir, CollectionConfig config, bool appendable);

  // The version rule; returns the live record to change, or null to skip.
  PointRecord* Target(SeqNumber op_num, PointId id);
  void Touched(SeqNumber op_num, PointId id, PointRecord& record);
  // Drops a live record's data and index entries, leaving its tombstone.
  void MakeTombstone(PointId id, PointRecord& record);
  absl::StatusOr<bool> ChangePayload(SeqNumber op_num, PointId id,
                                     const std::function<void(Payload&)>& change);
  bool Visible(PointId id, const PointRecord& record, const Filter* filter) const;

  // Flush, in steps (segment_storage.cc).
  struct DirtyBatches;  // one batch body per component log
  DirtyBatches EncodeDirtyPoints() const;
  absl::Status CutUncommittedTails();
  absl::Status FlushComponentsInOrder(std::optional<SeqNumber> flushing_version);
  absl::Status AppendBatch(const std::string& log, const std::string& body);
  absl::Status WriteSegmentJson(std::optional<SeqNumber> version);
  // payload_index.json's contents: each indexed field and its type.
  std::string IndexJson() const;

  // Load, in steps (segment_load.cc).
  absl::Status LoadFromDisk();
  absl::Status ReadComponentLogs(segment_load::ComponentLogs& logs);
  // A point exists at its durable version, with the data of that version.
  // Takes the vectors and payloads out of `entries` (moved, not copied).
  absl::Status RebuildPoints(segment_load::DecodedEntries& entries);
  absl::Status LoadPayloadIndex();

  std::string PathOf(std::string_view name) const;

  FileSystem& fs_;
  std::string dir_;
  CollectionConfig config_;
  bool appendable_;
  std::map<PointId, PointRecord> points_;  // live copies and tombstones
  size_t live_count_ = 0;                  // points_ not deleted (LiveIds checks it)
  PayloadIndex index_;
  std::optional<SeqNumber> version_;
  std::optional<SeqNumber> persisted_version_;
  std::set<PointId> dirty_;
  bool index_dirty_ = false;
  uint64_t flushed_bytes_ = 0;
  // Per component log: where the next batch goes (the end of the valid
  // records), and the lengths the last segment.json vouches for.
  std::map<std::string, uint64_t> log_end_bytes_;
  std::map<std::string, uint64_t> committed_bytes_;
  // Some log holds bytes past its committed length: the next flush cuts
  // every log back first, so batches of different flushes never mix.
  bool cut_uncommitted_tails_ = false;
  std::vector<std::string> load_repairs_;
};

}  // namespace engine
