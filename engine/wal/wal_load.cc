// WAL open and recovery: list the segments, read the first index, drop
// leftovers, read every entry, find a torn tail; validate all of it before
// changing anything on disk; then cut the tail, remove the leftovers and
// rewrite what only the page cache held.
#include <algorithm>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"
#include "engine/wal/wal.h"

namespace engine {

using wal_format::kFirstIndexFile;
using wal_format::kSegmentHeaderBytes;
using wal_format::kSegmentPrefix;
using wal_format::kSlotBytes;

absl::StatusOr<std::unique_ptr<Wal>> Wal::Open(FileSystem& fs, std::string dir, WalOptions options) {
  SS_ASSERT(options.segment_capacity_bytes > kHeaderBytes);
  if (auto status = EnsureDir(fs, dir); !status.ok()) return status;
  std::unique_ptr<Wal> wal(new Wal(fs, std::move(dir), options));
  if (auto status = wal->Load(); !status.ok()) return status;
  SS_ASSERT(wal->stopped_.ok() && wal->synced_next_index_ == wal->first_index_);
  return wal;
}

std::pair<std::string, std::string> Wal::EmptyWalFile(uint64_t first_index) {
  return {kFirstIndexFile, Seal(wal_format::EncodeFirstIndex(first_index))};
}

absl::Status Wal::CreateEmpty(FileSystem& fs, std::string dir, uint64_t first_index) {
  SS_ASSERT(!dir.empty());
  if (auto status = EnsureDir(fs, dir); !status.ok()) return status;
  auto entries = fs.ListDir(dir);
  if (!entries.ok()) return entries.status();
  if (!entries->empty()) return absl::FailedPreconditionError(fmt::format("{}: not empty", dir));
  const std::string body = wal_format::EncodeFirstIndex(first_index);
  if (auto status = WriteSealedFileAtomically(fs, JoinPath(dir, kFirstIndexFile), body); !status.ok()) {
    return status;
  }
  return fs.SyncDir(ParentDir(dir));
}

absl::Status Wal::Load() {
  SS_ASSERT(segments_.empty() && first_index_ == 0, "{}: loaded twice", dir_);
  LoadState state;
  if (auto status = ListSegments(state); !status.ok()) return status;
  if (auto status = ReadFirstIndex(state); !status.ok()) return status;
  // Before the truncation below reads segment names: a leftover named after
  // an index an older segment went on to hold would hide that segment.
  if (auto status = DropNeverWrittenSegments(state.unused_segments); !status.ok()) return status;
  DropTruncatedSegments(state);
  if (auto status = LoadSegments(state); !status.ok()) return status;
  DropAfterTheEnd(state);
  if (auto status = CheckFirstIndexInRange(); !status.ok()) return status;
  // What a reload finds may still be only in the page cache (after a process
  // crash): the next Sync makes all of it durable.
  synced_next_index_ = first_index_;
  for (Segment& segment : segments_) segment.unsynced = true;
  dir_unsynced_ = true;
  // Only now, with everything validated, cut the torn tail.
  if (state.torn_segment) {
    if (auto status = CutTornTail(state.cut_at); !status.ok()) return status;
  }
  if (auto status = RemoveLeftoverSegments(state); !status.ok()) return status;
  if (auto status = RewriteUnsyncedEntries(); !status.ok()) return status;
  if (auto status = RepairDamagedSlots(); !status.ok()) return status;
  if (!state.unused_segments.empty() || !state.truncated_segments.empty()) return fs_.SyncDir(dir_);
  return absl::OkStatus();
}

absl::Status Wal::ListSegments(LoadState& state) {
  auto entries = fs_.ListDir(dir_);
  if (!entries.ok()) return entries.status();
  for (const DirEntry& entry : *entries) {
    if (entry.name == kFirstIndexFile) {
      state.has_first_index = true;
    } else if (entry.name.starts_with(kSegmentPrefix) && entry.kind == EntryKind::kFile) {
      const std::optional<uint64_t> start = wal_format::ParseSegmentName(entry.name);
      if (!start) return absl::DataLossError(fmt::format("{}: unexpected WAL file", PathOf(entry.name)));
      // ListDir sorts bytewise, and the names are fixed-width.
      SS_ASSERT(segments_.empty() || segments_.back().start < *start, "{}: segments listed out of order",
                dir_);
      segments_.push_back({*start, entry.name, {}, 0, false});
    }
    // Other names (a leftover first-index.tmp) are not part of the WAL.
  }
  return absl::OkStatus();
}

absl::Status Wal::ReadFirstIndex(const LoadState& state) {
  if (state.has_first_index) {
    auto contents = ReadSealedFile(fs_, PathOf(kFirstIndexFile));
    if (!contents.ok()) return contents.status();
    auto first = wal_format::DecodeFirstIndex(*contents, PathOf(kFirstIndexFile));
    if (!first.ok()) return first.status();
    first_index_ = *first;
  } else if (!segments_.empty()) {
    first_index_ = segments_.front().start;
  }
  return absl::OkStatus();
}

absl::Status Wal::DropNeverWrittenSegments(std::vector<std::string>& unused) {
  // A segment is closed only once synced, header included, so a segment with
  // a newer one after it always holds a whole header: a shorter one is a
  // leftover whose unlink a crash undid (several may survive, each entry on
  // its own), never part of the log. The oldest stays: without a first-index
  // file its name is the only record of where the log starts.
  const size_t listed = segments_.size();
  const size_t unused_before = unused.size();
  std::vector<Segment> kept;
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (i > 0) {
      auto file = fs_.Open(PathOf(segments_[i].name), OpenMode::kRead);
      if (!file.ok()) return file.status();
      auto size_bytes = (*file)->Size();
      if (!size_bytes.ok()) return size_bytes.status();
      if (*size_bytes < kSegmentHeaderBytes) {
        unused.push_back(segments_[i].name);
        continue;
      }
    }
    kept.push_back(std::move(segments_[i]));
  }
  segments_ = std::move(kept);
  SS_ASSERT(segments_.size() + (unused.size() - unused_before) == listed);
  return absl::OkStatus();
}

void Wal::DropTruncatedSegments(LoadState& state) {
  // Ack syncs the new first index, then unlinks the closed segments below
  // it; a crash before its directory sync may keep any subset of those
  // unlinks (each entry is durable on its own), so a segment wholly below
  // the one holding the first index is a leftover of that truncation, not
  // a gap in the log.
  SS_ASSERT(state.truncated_segments.empty());
  size_t truncated = 0;
  while (truncated + 1 < segments_.size() && segments_[truncated + 1].start <= first_index_) ++truncated;
  for (size_t i = 0; i < truncated; ++i) state.truncated_segments.push_back(segments_[i].name);
  segments_.erase(segments_.begin(), segments_.begin() + truncated);
}

absl::Status Wal::LoadSegments(LoadState& state) {
  // Past what a Sync vouched for, the first bad entry ends the log (a torn
  // tail of unsynced writes, whatever follows it); a later segment with
  // entries after it would be corruption, since a segment is closed only
  // once synced.
  for (size_t i = 0; i < segments_.size(); ++i) {
    auto loaded = LoadSegment(segments_[i]);
    if (!loaded.ok()) return loaded.status();
    if (!state.torn_segment && i > 0 &&
        segments_[i].start != segments_[i - 1].start + segments_[i - 1].offsets.size()) {
      return absl::DataLossError(fmt::format("{}: gap or overlap after {}", PathOf(segments_[i].name),
                                             segments_[i - 1].name));
    }
    const auto [valid_end, torn] = *loaded;
    if (state.torn_segment) {
      if (!segments_[i].offsets.empty()) {
        return absl::DataLossError(fmt::format("{}: entries after the torn end of {}",
                                               PathOf(segments_[i].name),
                                               segments_[*state.torn_segment].name));
      }
      continue;
    }
    // A segment shorter than its header is torn too, even an empty one when
    // it is the only segment and no first-index file exists: its name is
    // then the only record of where the log starts, so it is kept (with a
    // fresh header) rather than dropped as never written.
    const bool only_record_of_start = segments_.size() == 1 && !state.has_first_index;
    if (torn || (only_record_of_start && segments_[i].size_bytes < kSegmentHeaderBytes)) {
      state.torn_segment = i;
      state.cut_at = std::max(valid_end, kSegmentHeaderBytes);
    }
  }
  return absl::OkStatus();
}

void Wal::DropAfterTheEnd(LoadState& state) {
  if (state.torn_segment) {
    for (size_t i = *state.torn_segment + 1; i < segments_.size(); ++i) {
      state.unused_segments.push_back(segments_[i].name);
    }
    segments_.resize(*state.torn_segment + 1);
    // The cut keeps the header and every valid entry.
    SS_ASSERT(state.cut_at >= kSegmentHeaderBytes &&
                  (segments_.back().offsets.empty() || segments_.back().offsets.back() < state.cut_at),
              "{}: cut at {} loses a valid entry", segments_.back().name, state.cut_at);
    segments_.back().size_bytes = state.cut_at;
  } else if (!segments_.empty() && segments_.back().offsets.empty() &&
             (segments_.size() > 1 || segments_.back().size_bytes < kSegmentHeaderBytes)) {
    // A segment created but never written before the crash.
    state.unused_segments.push_back(segments_.back().name);
    segments_.pop_back();
  }
}

absl::Status Wal::CheckFirstIndexInRange() const {
  if (!segments_.empty() && first_index_ < segments_.front().start) {
    return absl::DataLossError(fmt::format("{}: first index {} precedes the oldest segment {}",
                                           dir_, first_index_, segments_.front().name));
  }
  if (first_index_ > next_index()) {
    return absl::DataLossError(fmt::format("{}: first index {} is past the last entry {}", dir_,
                                           first_index_, next_index()));
  }
  // What stays is one log: each segment whole and continuing the one before.
  for (size_t i = 0; i < segments_.size(); ++i) {
    const Segment& segment = segments_[i];
    SS_ASSERT(segment.size_bytes >= kSegmentHeaderBytes, "{}: {} bytes kept", segment.name, segment.size_bytes);
    SS_ASSERT(segment.offsets.empty() || segment.offsets.back() < segment.size_bytes);
    SS_ASSERT(i == 0 || segment.start == segments_[i - 1].start + segments_[i - 1].offsets.size(),
              "{}: does not continue {}", segment.name, segments_[i - 1].name);
  }
  return absl::OkStatus();
}

absl::Status Wal::CutTornTail(uint64_t cut_at) {
  SS_ASSERT(!segments_.empty() && segments_.back().size_bytes == cut_at);
  SS_COVER(kWalTornTailCut);
  load_repairs_.push_back(fmt::format("cut the torn tail of {} at byte {} (unsynced entries past the first bad one)",
                                      PathOf(segments_.back().name), cut_at));
  auto file = fs_.Open(PathOf(segments_.back().name), OpenMode::kReadWrite);
  if (!file.ok()) return file.status();
  if (auto status = (*file)->Truncate(cut_at); !status.ok()) return status;
  if (cut_at == kSegmentHeaderBytes) {  // the header itself may be torn
    const std::string header = wal_format::EncodeSegmentHeader(kSegmentHeaderBytes);
    if (auto status = (*file)->WriteAt(0, std::span<const char>(header.data(), header.size()));
        !status.ok()) {
      return status;
    }
    segments_.back().slot_bytes = {kSegmentHeaderBytes, kSegmentHeaderBytes};
  }
  return (*file)->Sync();
}

absl::Status Wal::RemoveLeftoverSegments(const LoadState& state) {
  std::set<std::string> live;
  for (const Segment& segment : segments_) live.insert(segment.name);
  for (const std::string& name : state.unused_segments) {
    SS_ASSERT(!live.contains(name), "{}: removing {}, a segment still in the log", dir_, name);
    if (auto status = fs_.Unlink(PathOf(name)); !status.ok()) return status;
    load_repairs_.push_back(fmt::format("removed {}, a WAL segment never written", PathOf(name)));
  }
  // The first index that makes these leftovers may be only in the page
  // cache (a process crash after Ack's rename, before its directory sync):
  // made durable first, else a power loss may keep an unlink and lose the
  // rename, and the old first index would point into a removed segment
  // (faulty seed 425331).
  if (!state.truncated_segments.empty()) {
    if (auto status = fs_.SyncDir(dir_); !status.ok()) return status;
  }
  for (const std::string& name : state.truncated_segments) {
    SS_ASSERT(!live.contains(name), "{}: removing {}, a segment still in the log", dir_, name);
    if (auto status = fs_.Unlink(PathOf(name)); !status.ok()) return status;
    load_repairs_.push_back(fmt::format("removed {}, wholly below first index {} (an interrupted truncation)",
                                        PathOf(name), first_index_));
  }
  return absl::OkStatus();
}

// One read of a segment file, decoded: what each header slot vouches for
// (0: does not decode) and the valid entries from the header on.
struct Wal::ScannedSegment {
  std::string contents;
  std::array<uint64_t, wal_format::kSlotCount> slot_bytes = {0, 0};
  std::vector<uint64_t> offsets;
  uint64_t valid_end = 0;
};

Wal::ScannedSegment Wal::ScanSegment(std::string contents, uint64_t start) {
  SS_ASSERT(contents.size() >= wal_format::kSegmentHeaderBytes);
  ScannedSegment scanned{.contents = std::move(contents)};
  const std::string_view data = scanned.contents;
  for (uint64_t slot = 0; slot < wal_format::kSlotCount; ++slot) {
    const std::string_view bytes = data.substr(slot * wal_format::kSlotBytes, wal_format::kSlotBytes);
    scanned.slot_bytes[slot] = wal_format::DecodeSlot(bytes).value_or(0);
  }
  uint64_t offset = wal_format::kSegmentHeaderBytes;
  for (uint64_t count = 0; offset < data.size(); ++count) {
    // Every entry takes at least its header.
    SS_ASSERT(count <= data.size() / wal_format::kEntryHeaderBytes);
    const uint64_t size = wal_format::ValidEntryAt(data, offset, start + count);
    if (size == 0) break;
    scanned.offsets.push_back(offset);
    offset += size;
  }
  SS_ASSERT(offset <= data.size());
  scanned.valid_end = offset;
  return scanned;
}

absl::StatusOr<std::pair<uint64_t, bool>> Wal::LoadSegment(Segment& segment) {
  SS_ASSERT(segment.offsets.empty() && segment.unsynced_tail.empty(), "{}: loaded twice", segment.name);
  auto contents = ReadWholeFile(fs_, PathOf(segment.name));
  if (!contents.ok()) return contents.status();
  segment.size_bytes = contents->size();
  if (contents->size() < kSegmentHeaderBytes) return std::make_pair(uint64_t{0}, !contents->empty());
  ScannedSegment scanned = ScanSegment(std::move(*contents), segment.start);
  // A bad entry past what the intact slot vouches for is cut below as a
  // torn tail. When the other slot does not decode, that verdict rests on
  // this one read: read the file again first, and count a slot or an entry
  // intact in either read (a bad read only ever fails a check). Seeds
  // 300248756 and 600055124: a bad read of the slot vouching for a rotten
  // synced entry, or of a synced entry behind a rotten slot, made synced
  // entries look like a torn tail, and the cut lost synced ops.
  const bool torn = scanned.valid_end < scanned.contents.size();
  if (torn && (scanned.slot_bytes[0] == 0 || scanned.slot_bytes[1] == 0)) {
    auto again = ReadWholeFile(fs_, PathOf(segment.name));
    if (!again.ok()) return again.status();
    if (again->size() == scanned.contents.size()) {
      ScannedSegment rescanned = ScanSegment(std::move(*again), segment.start);
      for (uint64_t slot = 0; slot < wal_format::kSlotCount; ++slot) {
        rescanned.slot_bytes[slot] = std::max(rescanned.slot_bytes[slot], scanned.slot_bytes[slot]);
      }
      if (rescanned.valid_end >= scanned.valid_end) {
        scanned = std::move(rescanned);
      } else {
        scanned.slot_bytes = rescanned.slot_bytes;
      }
    }
  }
  return UseScannedSegment(segment, scanned);
}

absl::StatusOr<std::pair<uint64_t, bool>> Wal::UseScannedSegment(Segment& segment, const ScannedSegment& scanned) {
  const std::string_view data = scanned.contents;
  segment.slot_bytes = scanned.slot_bytes;
  segment.offsets = scanned.offsets;
  // The header's length is the larger of what the intact slots vouch for.
  const uint64_t synced_bytes = std::max({kSegmentHeaderBytes, scanned.slot_bytes[0], scanned.slot_bytes[1]});
  segment.loaded_synced_bytes = synced_bytes;
  if (synced_bytes > data.size()) {
    return absl::DataLossError(fmt::format("{}: {} bytes, but {} were synced", PathOf(segment.name),
                                           data.size(), synced_bytes));
  }
  const uint64_t offset = scanned.valid_end;
  if (offset < synced_bytes) {
    SS_COVER(kDamageDetected);
    return absl::DataLossError(fmt::format(
        "{}: corrupt entry {} at offset {} inside synced data (synced through byte {})",
        PathOf(segment.name), segment.start + segment.offsets.size(), offset, synced_bytes));
  }
  // One slot that does not decode, beside one that does, is never a torn
  // header: a new segment's header is one write, and a crash tears it whole
  // or leaves the file shorter than a header; the first Sync writes it whole
  // again (a failed fsync may have dropped it). Nor is it a torn slot write
  // with a torn tail behind it: Sync rewrites a slot only after its data is
  // synced, and syncs that write before any later append (both under the
  // WAL's mutex), and a load repairs such a slot before it returns. So every
  // entry behind it was synced, and a bad one is damage, not a torn tail
  // (seed 3200038201: rot in the slot vouching for a rotten entry, and the
  // cut lost synced ops).
  const bool one_slot_damaged = (scanned.slot_bytes[0] == 0) != (scanned.slot_bytes[1] == 0);
  if (one_slot_damaged && offset < data.size()) {
    SS_COVER(kDamageDetected);
    return absl::DataLossError(fmt::format(
        "{}: header slot {} does not decode and entry {} at offset {} is corrupt (synced data: a slot is "
        "rewritten only once the entries before it are synced)",
        PathOf(segment.name), scanned.slot_bytes[0] == 0 ? 0 : 1, segment.start + segment.offsets.size(), offset));
  }
  if (offset > synced_bytes) segment.unsynced_tail = std::string(data.substr(synced_bytes, offset - synced_bytes));
  return std::make_pair(offset, offset < data.size());
}

absl::Status Wal::RewriteUnsyncedEntries() {
  // Entries past a segment's synced length came from the page cache: after
  // a failed fsync (Linux drops the dirty pages but keeps them readable) a
  // later fsync would not persist them. Writing them again makes the next
  // Sync persist them for real.
  // The bytes come from the load's verified read, not a second read: a
  // second read could return other bytes (a bad read) and would be written
  // back as if they were the entries just checked.
  for (Segment& segment : segments_) {
    const uint64_t from = std::max(segment.loaded_synced_bytes, kSegmentHeaderBytes);
    if (segment.size_bytes <= from) continue;
    SS_ASSERT(segment.unsynced_tail.size() == segment.size_bytes - from,
              "{}: {} verified tail bytes for {} unsynced bytes", segment.name, segment.unsynced_tail.size(),
              segment.size_bytes - from);
    SS_COVER(kWalEntriesRewritten);
    load_repairs_.push_back(fmt::format("rewrote the {} unsynced bytes of {} read from the page cache",
                                        segment.unsynced_tail.size(), PathOf(segment.name)));
    auto file = fs_.Open(PathOf(segment.name), OpenMode::kReadWrite);
    if (!file.ok()) return file.status();
    const std::string& bytes = segment.unsynced_tail;
    if (auto status = (*file)->WriteAt(from, std::span<const char>(bytes.data(), bytes.size())); !status.ok()) {
      return status;
    }
    segment.unsynced_tail.clear();
  }
  return absl::OkStatus();
}

absl::Status Wal::RepairDamagedSlots() {
  // A slot that does not decode would stay so until this segment's next
  // Sync, and appends may come first: a power loss could then tear them,
  // and the next load (one slot damaged, a bad entry) would refuse a shard
  // that holds no damage. So it is rewritten now, durably, vouching for
  // everything the segment holds (synced by the same call: the tail was
  // just rewritten from the load's verified read).
  for (Segment& segment : segments_) {
    if (segment.slot_bytes[0] != 0 && segment.slot_bytes[1] != 0) continue;
    auto file = fs_.Open(PathOf(segment.name), OpenMode::kReadWrite);
    if (!file.ok()) return file.status();
    if (auto status = (*file)->Sync(); !status.ok()) return status;
    for (size_t slot = 0; slot < wal_format::kSlotCount; ++slot) {
      if (segment.slot_bytes[slot] != 0) continue;
      const std::string encoded = wal_format::EncodeSlot(segment.size_bytes);
      if (auto status = (*file)->WriteAt(slot * kSlotBytes, std::span<const char>(encoded.data(), encoded.size()));
          !status.ok()) {
        return status;
      }
      load_repairs_.push_back(fmt::format("rewrote header slot {} of {}, which did not decode", slot,
                                          PathOf(segment.name)));
    }
    if (auto status = (*file)->Sync(); !status.ok()) {
      UndoRepair(**file, segment);
      return status;
    }
    for (uint64_t& slot_bytes : segment.slot_bytes) {
      if (slot_bytes == 0) slot_bytes = segment.size_bytes;
    }
  }
  return absl::OkStatus();
}

void Wal::UndoRepair(File& file, const Segment& segment) {
  // The fsync failed: the repaired slots stay readable but were dropped
  // from the write-back (Linux), so the disk may still hold the torn slot.
  // A later load would read them as good and skip the repair, and once
  // entries are appended behind them, a power loss brings the torn slot
  // back beside a torn tail, which a load refuses as damage to synced data
  // (seed 4400142436). So each repaired slot becomes zeros again, which a
  // load reads as vouching for nothing (as one that does not decode), and
  // the next load repairs it again. If this write fails too, the load fails
  // as it would anyway; only that double fault leaves a repair that may not
  // be durable.
  const std::array<char, kSlotBytes> zeros{};
  for (size_t slot = 0; slot < wal_format::kSlotCount; ++slot) {
    if (segment.slot_bytes[slot] != 0) continue;
    if (!file.WriteAt(slot * kSlotBytes, std::span<const char>(zeros.data(), zeros.size())).ok()) {
      load_repairs_.push_back(fmt::format("could not undo the repair of header slot {} of {} after a failed fsync",
                                          slot, PathOf(segment.name)));
    }
  }
}

}  // namespace engine
