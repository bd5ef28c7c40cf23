// The write-ahead log: append, sync, read and ack (open and recovery are in
// wal_load.cc, the on-disk records in wal_format.cc).
#include "engine/wal/wal.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"

namespace engine {

using wal_format::kFirstIndexFile;
using wal_format::kSegmentHeaderBytes;
using wal_format::kSlotBytes;

std::string Wal::PathOf(std::string_view name) const {
  SS_ASSERT(!name.empty() && name.find('/') == std::string_view::npos, "{}: '{}' is not a file name", dir_, name);
  return JoinPath(dir_, name);
}

uint64_t Wal::next_index() const {
  if (segments_.empty()) return first_index_;
  return segments_.back().start + segments_.back().offsets.size();
}

absl::Status Wal::StartSegment() {
  // A segment is closed only once durable (see Append).
  SS_ASSERT(segments_.empty() || !segments_.back().unsynced, "{}: closing {} unsynced", dir_,
            segments_.back().name);
  const uint64_t start = next_index();
  SS_ASSERT(segments_.empty() || start > segments_.back().start, "{}: a new segment at {} would reuse {}", dir_,
            start, segments_.back().name);
  Segment segment{start, wal_format::SegmentName(start), {}, kSegmentHeaderBytes, true};
  segment.slot_bytes = {kSegmentHeaderBytes, kSegmentHeaderBytes};
  auto file = fs_.Open(PathOf(segment.name), OpenMode::kCreateTruncate);
  if (!file.ok()) return file.status();
  const std::string header = wal_format::EncodeSegmentHeader(kSegmentHeaderBytes);
  if (auto status = (*file)->WriteAt(0, std::span<const char>(header.data(), header.size()));
      !status.ok()) {
    return status;
  }
  open_file_ = std::move(*file);
  segments_.push_back(std::move(segment));
  dir_unsynced_ = true;
  return absl::OkStatus();
}

absl::Status Wal::Stop(absl::Status status) {
  SS_ASSERT(!status.ok());
  if (stopped_.ok()) {
    SS_COVER(kWalStopped);
    stopped_ = absl::Status(status.code(), fmt::format("{}: the WAL stopped after a failed write or sync: {}",
                                                       dir_, std::string(status.message())));
  }
  return stopped_;
}

absl::StatusOr<uint64_t> Wal::Append(std::string_view entry) {
  if (!stopped_.ok()) return stopped_;
  // Indexes never wrap: a first-index or segment name near 2^64 would
  // otherwise number the next entries from 0 again (found by fuzz_wal).
  if (next_index() == std::numeric_limits<uint64_t>::max()) {
    return absl::OutOfRangeError(fmt::format("{}: WAL index space exhausted", dir_));
  }
  const uint64_t entry_bytes = kHeaderBytes + entry.size();
  if (entry.size() > wal_format::kMaxEntryBytes || entry_bytes > options_.segment_capacity_bytes) {
    return absl::InvalidArgumentError(
        fmt::format("WAL entry of {} bytes does not fit a {}-byte segment", entry.size(),
                    options_.segment_capacity_bytes));
  }
  // A segment holding no entry takes the entry whatever its size: a new one
  // would be named after the same index.
  if (segments_.empty() || (!segments_.back().offsets.empty() &&
                            segments_.back().size_bytes + entry_bytes > options_.segment_capacity_bytes)) {
    // A segment is closed only once durable, so that a bad entry in a closed
    // segment is corruption, never an unsynced tail.
    if (auto status = Sync(); !status.ok()) return status;
    if (auto status = StartSegment(); !status.ok()) {
      if (!absl::IsResourceExhausted(status)) return Stop(status);
      // Out of space the new segment is simply not started, and the file
      // goes (a later, smaller entry may still fit the current segment and
      // take the index this file is named after; a leftover is also
      // tolerated at load).
      (void)fs_.Unlink(PathOf(wal_format::SegmentName(next_index())));
      return status;
    }
  }
  Segment& segment = segments_.back();
  if (open_file_ == nullptr) {
    auto file = fs_.Open(PathOf(segment.name), OpenMode::kReadWrite);
    if (!file.ok()) return Stop(file.status());
    open_file_ = std::move(*file);
  }
  const uint64_t index = next_index();
  // WAL order: every new index is past the synced ones and the first.
  SS_ASSERT(index >= synced_next_index_ && index >= first_index_, "{}: appending {} below synced {} or first {}",
            dir_, index, synced_next_index_, first_index_);
  SS_ASSERT(segment.size_bytes >= kSegmentHeaderBytes, "{}: appending into {} of {} bytes", dir_, segment.name,
            segment.size_bytes);
  const std::string encoded = wal_format::EncodeEntry(index, entry);
  if (auto status = open_file_->WriteAt(segment.size_bytes, std::span<const char>(encoded.data(), encoded.size()));
      !status.ok()) {
    // A write refused for space changed nothing (the next append writes at
    // the same offset); any other failed write may have left part of the
    // entry, so the WAL stops.
    if (!absl::IsResourceExhausted(status)) return Stop(status);
    SS_COVER(kWalAppendOutOfSpace);
    return status;
  }
  segment.offsets.push_back(segment.size_bytes);
  segment.size_bytes += encoded.size();
  segment.unsynced = true;
  // Only a lone entry may take a segment past its capacity (by its header).
  SS_ASSERT(segment.size_bytes <= options_.segment_capacity_bytes || segment.offsets.size() == 1,
            "{}: {} grew to {} bytes", dir_, segment.name, segment.size_bytes);
  return index;
}

absl::Status Wal::Sync() {
  if (!stopped_.ok()) return stopped_;
  SS_ASSERT(synced_next_index_ <= next_index(), "{}: synced through {} past the end {}", dir_, synced_next_index_,
            next_index());
  for (Segment& segment : segments_) {
    if (!segment.unsynced) continue;
    // A slot never vouches for more than the segment holds.
    SS_ASSERT(std::max(segment.slot_bytes[0], segment.slot_bytes[1]) <= segment.size_bytes,
              "{}: a slot vouches past {} bytes", segment.name, segment.size_bytes);
    std::unique_ptr<File> reopened;
    File* file = open_file_.get();
    if (&segment != &segments_.back() || file == nullptr) {
      auto opened = fs_.Open(PathOf(segment.name), OpenMode::kReadWrite);
      if (!opened.ok()) return Stop(opened.status());
      reopened = std::move(*opened);
      file = reopened.get();
    }
    // Data first; then the slot vouching for it (the older one).
    if (auto status = file->Sync(); !status.ok()) return Stop(status);
    const size_t slot = segment.slot_bytes[0] <= segment.slot_bytes[1] ? 0 : 1;
    std::string encoded = wal_format::EncodeSlot(segment.size_bytes);
    // While no Sync has vouched for anything, the header itself may exist
    // only in the page cache: a failed fsync drops its dirty pages but they
    // stay readable, and a load that read them rewrites only the entries. So
    // the first vouching write is the whole header, slot 1 again vouching
    // for the header alone; else a power loss would leave slot 1 undecodable
    // beside slot 0, which a load reads as damage (seed 3400131593).
    if (segment.slot_bytes[0] == kSegmentHeaderBytes && segment.slot_bytes[1] == kSegmentHeaderBytes) {
      SS_ASSERT(slot == 0);
      encoded += wal_format::EncodeSlot(kSegmentHeaderBytes);
    }
    if (auto status = file->WriteAt(slot * kSlotBytes, std::span<const char>(encoded.data(), encoded.size()));
        !status.ok()) {
      return Stop(status);
    }
    if (auto status = file->Sync(); !status.ok()) return Stop(status);
    segment.slot_bytes[slot] = segment.size_bytes;
    segment.unsynced = false;
  }
  if (dir_unsynced_) {
    if (auto status = fs_.SyncDir(dir_); !status.ok()) return Stop(status);
    dir_unsynced_ = false;
  }
  SS_ASSERT(first_index_ <= next_index(), "{}: first index {} past the end {}", dir_, first_index_, next_index());
  synced_next_index_ = next_index();
  return absl::OkStatus();
}

absl::StatusOr<Wal::Segment*> Wal::SegmentFor(uint64_t index) {
  if (index < first_index_ || index >= next_index()) {
    return absl::OutOfRangeError(fmt::format("WAL index {} outside [{}, {})", index, first_index_,
                                             next_index()));
  }
  auto it = std::upper_bound(segments_.begin(), segments_.end(), index,
                             [](uint64_t value, const Segment& s) { return value < s.start; });
  SS_ASSERT(it != segments_.begin());
  Segment* segment = &*std::prev(it);
  SS_ASSERT(segment->start <= index && index - segment->start < segment->offsets.size(),
            "{}: entry {} is not in {}", dir_, index, segment->name);
  return segment;
}

absl::StatusOr<std::string> Wal::Read(uint64_t index) {
  auto segment = SegmentFor(index);
  if (!segment.ok()) return segment.status();
  const uint64_t slot = index - (*segment)->start;
  const uint64_t offset = (*segment)->offsets.at(slot);
  const uint64_t end = slot + 1 < (*segment)->offsets.size() ? (*segment)->offsets[slot + 1]
                                                             : (*segment)->size_bytes;
  // Offsets are those of entries written or verified: each holds a header.
  SS_ASSERT(offset >= kSegmentHeaderBytes && end >= offset + kHeaderBytes, "{}: entry {} spans [{}, {})",
            (*segment)->name, index, offset, end);
  auto file = fs_.Open(PathOf((*segment)->name), OpenMode::kRead);
  if (!file.ok()) return file.status();
  std::string bytes(end - offset, '\0');
  auto read = (*file)->ReadAt(offset, std::span<char>(bytes.data(), bytes.size()));
  if (!read.ok()) return read.status();
  if (*read != bytes.size() || wal_format::ValidEntryAt(bytes, 0, index) != bytes.size()) {
    SS_COVER(kDamageDetected);
    return absl::DataLossError(fmt::format("{}: entry {} fails its checksum on read",
                                           PathOf((*segment)->name), index));
  }
  return bytes.substr(kHeaderBytes);
}

absl::Status Wal::Ack(uint64_t index) {
  if (!stopped_.ok()) return stopped_;
  SS_ASSERT(index <= next_index(), "ack {} past the WAL's end {}", index, next_index());
  SS_ASSERT(first_index_ <= synced_next_index_ && synced_next_index_ <= next_index(),
            "{}: first {}, synced through {}, end {}", dir_, first_index_, synced_next_index_, next_index());
  if (index > synced_next_index_) {
    return absl::FailedPreconditionError(fmt::format(
        "{}: ack {} past the synced entries (below {})", dir_, index, synced_next_index_));
  }
  if (index <= first_index_) return absl::OkStatus();
  const std::string body = wal_format::EncodeFirstIndex(index);
  if (auto status = WriteSealedFileAtomically(fs_, PathOf(kFirstIndexFile), body); !status.ok()) {
    return status;
  }
  first_index_ = index;
  // Closed segments wholly below the segment holding `index` go; the open
  // (last) segment always stays.
  size_t removable = 0;
  while (removable + 1 < segments_.size() &&
         segments_[removable].start + segments_[removable].offsets.size() <= index &&
         segments_[removable + 1].start <= index) {
    ++removable;
  }
  for (size_t i = 0; i < removable; ++i) {
    // Only closed segments go, and a segment is closed once durable.
    SS_ASSERT(!segments_[i].unsynced, "{}: removing {} unsynced", dir_, segments_[i].name);
    if (auto status = fs_.Unlink(PathOf(segments_[i].name)); !status.ok()) return status;
  }
  segments_.erase(segments_.begin(), segments_.begin() + removable);
  // The oldest segment left holds the first index (or is the open one).
  SS_ASSERT(segments_.empty() || segments_.front().start <= first_index_, "{}: first index {} below {}", dir_,
            first_index_, segments_.front().name);
  if (removable > 0) return fs_.SyncDir(dir_);
  return absl::OkStatus();
}

std::vector<std::string> Wal::FileNames() const {
  std::vector<std::string> names;
  for (const Segment& segment : segments_) names.push_back(segment.name);
  names.push_back(kFirstIndexFile);
  std::sort(names.begin(), names.end());
  SS_ASSERT(std::adjacent_find(names.begin(), names.end()) == names.end(), "{}: a WAL file listed twice", dir_);
  return names;
}

}  // namespace engine
