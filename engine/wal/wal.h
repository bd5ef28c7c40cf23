// The write-ahead log (Qdrant's `wal` crate, re-done on engine::FileSystem).
//
// On disk, in the WAL directory:
// - segment files "wal-<first index, 20 digits>", each at most
//   segment_capacity_bytes: a 32-byte header of two slots {u64 synced
//   bytes, u32 CRC32C, u32 zero}, the older one rewritten after each data
//   sync (the larger intact one counts), then consecutive entries. An entry is a
//   16-byte header {u32 payload length, u32 CRC32C of (index, length,
//   payload), u64 index}, all little-endian, then the payload (codecs in
//   wal_format.h). The last segment is the open one; the others are closed.
// - "first-index": the logical first index (JSON), replaced atomically by
//   Ack. Entries below it are acknowledged; they may still sit in the first
//   segment and are never read.
//
// Open after a crash: below a segment's synced length every entry must be
// intact; past it, the first bad entry is a torn tail of unsynced writes and
// is cut with everything after it (later segments may then hold no entry
// and are removed). A bad entry in synced data, a gap between segments, or a
// corrupt first-index is a DataLoss error, and a failed Open changes nothing
// on disk.
//
// Not synchronised: the shard serialises calls with its WAL mutex.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/env/env.h"
#include "engine/wal/wal_format.h"

namespace engine {

struct WalOptions {
  uint64_t segment_capacity_bytes = 64 * 1024;
};

class Wal {
 public:
  static constexpr uint64_t kHeaderBytes = wal_format::kEntryHeaderBytes;

  // Opens (creating if missing) the WAL in `dir`. REQUIRES: dir's parent exists.
  static absl::StatusOr<std::unique_ptr<Wal>> Open(FileSystem& fs, std::string dir,
                                                   WalOptions options);
  // Writes an empty WAL whose next index is `first_index` into `dir`
  // (created if missing; any WAL files already there are an error), synced.
  static absl::Status CreateEmpty(FileSystem& fs, std::string dir, uint64_t first_index);
  // The name and contents of the first-index file of an empty WAL starting
  // at `first_index` (what a WAL-less snapshot archives).
  static std::pair<std::string, std::string> EmptyWalFile(uint64_t first_index);

  // Appends an entry (not durable until Sync) and returns its index. Out of
  // space (ResourceExhausted) nothing is appended and the WAL stays usable:
  // the caller may retry once space is freed. Any other write error stops
  // the WAL (see Sync).
  absl::StatusOr<uint64_t> Append(std::string_view entry);
  // Makes every appended entry durable. A failed sync stops the WAL for
  // good: the kernel may have dropped the unsynced pages, and a later sync
  // would report success without persisting them (fsyncgate). Every later
  // Append, Sync and Ack then returns the first failure; only a reload (which
  // rewrites what the page cache still holds) makes the WAL usable again.
  absl::Status Sync();
  // The failure that stopped the WAL, or OK.
  const absl::Status& stopped() const { return stopped_; }
  // What Open repaired ("cut the torn tail of wal/wal-...: ..."), for the
  // shard's log.
  const std::vector<std::string>& load_repairs() const { return load_repairs_; }
  // REQUIRES: first_index() <= index < next_index(). Verifies the checksum.
  absl::StatusOr<std::string> Read(uint64_t index);
  // Acknowledges every entry below `index`: records it as the logical first
  // index (atomically, durably) and deletes closed segments that hold only
  // entries below the segment containing `index`. REQUIRES: index <= next_index().
  absl::Status Ack(uint64_t index);

  uint64_t first_index() const { return first_index_; }
  uint64_t next_index() const;
  // Every entry below this is durable.
  uint64_t synced_next_index() const { return synced_next_index_; }
  // The WAL's file names (segments and first-index), sorted: what a
  // snapshot archives.
  std::vector<std::string> FileNames() const;
  const std::string& dir() const { return dir_; }

 private:
  struct Segment {
    uint64_t start = 0;
    std::string name;
    std::vector<uint64_t> offsets;  // of each entry
    uint64_t size_bytes = 0;
    bool unsynced = false;
    // What each header slot vouches for (0: torn or damaged); Sync
    // overwrites the smaller.
    std::array<uint64_t, 2> slot_bytes = {0, 0};
    // At load: where the header's synced length ends. Entries past it were
    // read from the page cache and may never have reached the disk.
    uint64_t loaded_synced_bytes = 0;
    // At load: the valid entries past loaded_synced_bytes, as verified, to
    // be written again (see RewriteUnsyncedEntries).
    std::string unsynced_tail;
  };

  // What Load finds to repair, repaired only once everything is validated.
  struct LoadState {
    bool has_first_index = false;
    // Segments never written (removed) and wholly below the first index (an
    // interrupted truncation, removed after the first index is durable).
    std::vector<std::string> unused_segments;
    std::vector<std::string> truncated_segments;
    // The segment whose tail past the first bad entry is cut, and where.
    std::optional<size_t> torn_segment;
    uint64_t cut_at = 0;
  };

  Wal(FileSystem& fs, std::string dir, WalOptions options)
      : fs_(fs), dir_(std::move(dir)), options_(options) {}
  // Load, in steps (wal_load.cc).
  absl::Status Load();
  absl::Status ListSegments(LoadState& state);
  absl::Status ReadFirstIndex(const LoadState& state);
  // Drops the leftovers of an interrupted Ack from segments_.
  void DropTruncatedSegments(LoadState& state);
  // Reads every segment; finds the torn end and checks the others join up.
  absl::Status LoadSegments(LoadState& state);
  // Drops what follows the torn end, or a last segment never written.
  void DropAfterTheEnd(LoadState& state);
  absl::Status CheckFirstIndexInRange() const;
  absl::Status CutTornTail(uint64_t cut_at);
  absl::Status RemoveLeftoverSegments(const LoadState& state);
  // Reads a segment's valid entries; returns the offset where they end and
  // whether a valid entry follows the first bad one (corruption, not a tear).
  absl::StatusOr<std::pair<uint64_t, bool>> LoadSegment(Segment& segment);
  struct ScannedSegment;  // wal_load.cc
  // REQUIRES: contents.size() >= the segment header.
  static ScannedSegment ScanSegment(std::string contents, uint64_t start);
  // The checks of LoadSegment on the read it settled on; fills `segment`.
  absl::StatusOr<std::pair<uint64_t, bool>> UseScannedSegment(Segment& segment, const ScannedSegment& scanned);
  // Moves every segment but the oldest whose header never reached the disk
  // (shorter than a header: a rollover refused for space, or cut by a crash)
  // out of segments_ into `unused`. REQUIRES: called by Load before the
  // first index truncates anything.
  absl::Status DropNeverWrittenSegments(std::vector<std::string>& unused);
  absl::StatusOr<Segment*> SegmentFor(uint64_t index);
  absl::Status RewriteUnsyncedEntries();
  // Rewrites, and syncs, every header slot that did not decode. REQUIRES:
  // called by Load after RewriteUnsyncedEntries.
  absl::Status RepairDamagedSlots();
  // After RepairDamagedSlots' fsync failed: overwrites the repaired slots of
  // `segment` with zeros, which vouch for nothing (best effort).
  void UndoRepair(File& file, const Segment& segment);
  // Records `status` as the failure that stops the WAL; returns it.
  absl::Status Stop(absl::Status status);
  absl::Status StartSegment();
  std::string PathOf(std::string_view name) const;

  FileSystem& fs_;
  const std::string dir_;
  const WalOptions options_;
  uint64_t first_index_ = 0;
  std::vector<Segment> segments_;  // by start index
  std::unique_ptr<File> open_file_;  // the last segment, for appends
  bool dir_unsynced_ = false;
  uint64_t synced_next_index_ = 0;
  absl::Status stopped_;
  std::vector<std::string> load_repairs_;
};

}  // namespace engine
