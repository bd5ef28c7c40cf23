#include "engine/common/coverage.h"
#include "engine/wal/wal.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/assert.h"
#include "engine/common/checksum.h"
#include "engine/common/file_util.h"
#include "engine/common/sealed_file.h"

namespace engine {

namespace {

constexpr char kFirstIndexFile[] = "first-index";
constexpr char kSegmentPrefix[] = "wal-";
constexpr uint64_t kMaxEntryBytes = 64 << 20;
// Each segment starts with {u64 synced bytes, u32 CRC32C of them, u32 zero}:
// how much of the file a completed Sync vouches for.
// Each segment starts with two slots of {u64 synced bytes, u32 CRC32C of
// them, u32 zero}: how much of the file a completed Sync vouches for. A Sync
// overwrites the slot holding the smaller length, so a torn or failed slot
// write leaves the other vouching for what the previous Sync did (without
// it, a torn header would vouch for nothing, and damage to synced entries
// would look like a torn tail and be cut).
constexpr uint64_t kSlotBytes = 16;
constexpr uint64_t kSegmentHeaderBytes = 2 * kSlotBytes;

std::string EncodeSlot(uint64_t synced_bytes) {
  std::string slot;
  PutFixed64(slot, synced_bytes);
  std::string value;
  PutFixed64(value, synced_bytes);
  PutFixed32(slot, Crc32c(value));
  PutFixed32(slot, 0);
  return slot;
}

// A slot's vouched length, or nullopt when it is torn or damaged.
std::optional<uint64_t> DecodeSlot(std::string_view slot) {
  if (GetFixed32(slot.data() + 8) != Crc32c(slot.substr(0, 8))) return std::nullopt;
  return GetFixed64(slot.data());
}

// The larger vouched length of the two slots, or the bare header length
// when neither is intact (then nothing is vouched for).
uint64_t DecodeSegmentHeader(std::string_view data) {
  if (data.size() < kSegmentHeaderBytes) return kSegmentHeaderBytes;
  uint64_t synced_bytes = kSegmentHeaderBytes;
  for (uint64_t slot = 0; slot < 2; ++slot) {
    const auto vouched = DecodeSlot(data.substr(slot * kSlotBytes, kSlotBytes));
    if (vouched) synced_bytes = std::max(synced_bytes, *vouched);
  }
  return synced_bytes;
}

// Both slots at once: for a new segment, and after a load cut (where no
// slot may vouch for more than what is left).
std::string EncodeSegmentHeader(uint64_t synced_bytes) {
  return EncodeSlot(synced_bytes) + EncodeSlot(synced_bytes);
}

std::string SegmentName(uint64_t start) { return fmt::format("{}{:020}", kSegmentPrefix, start); }

uint32_t EntryCrc(uint64_t index, std::string_view payload) {
  std::string header;
  PutFixed64(header, index);
  PutFixed32(header, static_cast<uint32_t>(payload.size()));
  return Crc32c(payload, Crc32c(header));
}

std::string EncodeEntry(uint64_t index, std::string_view payload) {
  std::string out;
  PutFixed32(out, static_cast<uint32_t>(payload.size()));
  PutFixed32(out, EntryCrc(index, payload));
  PutFixed64(out, index);
  out.append(payload);
  return out;
}

// Parses the entry at `offset` of `data`; returns its total size or 0.
uint64_t ValidEntryAt(std::string_view data, uint64_t offset, uint64_t expected_index) {
  if (data.size() - offset < Wal::kHeaderBytes) return 0;
  const char* header = data.data() + offset;
  const uint64_t length = GetFixed32(header);
  if (GetFixed64(header + 8) != expected_index) return 0;
  if (length > data.size() - offset - Wal::kHeaderBytes) return 0;
  const std::string_view payload = data.substr(offset + Wal::kHeaderBytes, length);
  if (GetFixed32(header + 4) != EntryCrc(expected_index, payload)) return 0;
  return Wal::kHeaderBytes + length;
}

absl::StatusOr<uint64_t> ParseFirstIndex(std::string_view contents, std::string_view path) {
  const nlohmann::json json = nlohmann::json::parse(contents, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("first_index") ||
      !json["first_index"].is_number_unsigned()) {
    return absl::DataLossError(fmt::format("{}: corrupt first-index file", path));
  }
  return json["first_index"].get<uint64_t>();
}

}  // namespace

std::string Wal::PathOf(std::string_view name) const { return JoinPath(dir_, name); }

absl::StatusOr<std::unique_ptr<Wal>> Wal::Open(FileSystem& fs, std::string dir, WalOptions options) {
  SS_ASSERT(options.segment_capacity_bytes > kHeaderBytes);
  if (auto status = EnsureDir(fs, dir); !status.ok()) return status;
  std::unique_ptr<Wal> wal(new Wal(fs, std::move(dir), options));
  if (auto status = wal->Load(); !status.ok()) return status;
  return wal;
}

std::pair<std::string, std::string> Wal::EmptyWalFile(uint64_t first_index) {
  return {kFirstIndexFile, Seal(nlohmann::json{{"first_index", first_index}}.dump())};
}

absl::Status Wal::CreateEmpty(FileSystem& fs, std::string dir, uint64_t first_index) {
  if (auto status = EnsureDir(fs, dir); !status.ok()) return status;
  auto entries = fs.ListDir(dir);
  if (!entries.ok()) return entries.status();
  if (!entries->empty()) return absl::FailedPreconditionError(fmt::format("{}: not empty", dir));
  const std::string body = nlohmann::json{{"first_index", first_index}}.dump();
  if (auto status = WriteSealedFileAtomically(fs, JoinPath(dir, kFirstIndexFile), body); !status.ok()) {
    return status;
  }
  return fs.SyncDir(ParentDir(dir));
}

absl::Status Wal::Load() {
  auto entries = fs_.ListDir(dir_);
  if (!entries.ok()) return entries.status();
  bool has_first_index = false;
  for (const DirEntry& entry : *entries) {
    if (entry.name == kFirstIndexFile) {
      has_first_index = true;
    } else if (entry.name.starts_with(kSegmentPrefix) && entry.kind == EntryKind::kFile) {
      const std::string digits = entry.name.substr(sizeof kSegmentPrefix - 1);
      // 20 digits can exceed 2^64 - 1: from_chars reports that, stoull throws.
      uint64_t start = 0;
      const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), start);
      if (digits.size() != 20 || !std::all_of(digits.begin(), digits.end(), ::isdigit) ||
          error != std::errc() || end != digits.data() + digits.size()) {
        return absl::DataLossError(fmt::format("{}: unexpected WAL file", PathOf(entry.name)));
      }
      segments_.push_back({start, entry.name, {}, 0, false});
    }
    // Other names (a leftover first-index.tmp) are not part of the WAL.
  }
  if (has_first_index) {
    auto contents = ReadSealedFile(fs_, PathOf(kFirstIndexFile));
    if (!contents.ok()) return contents.status();
    auto first = ParseFirstIndex(*contents, PathOf(kFirstIndexFile));
    if (!first.ok()) return first.status();
    first_index_ = *first;
  } else if (!segments_.empty()) {
    first_index_ = segments_.front().start;
  }
  // Before the truncation below reads segment names: a leftover named after
  // an index an older segment went on to hold would hide that segment.
  std::vector<std::string> unused_segments;
  if (auto status = DropNeverWrittenSegments(unused_segments); !status.ok()) return status;
  // Ack syncs the new first index, then unlinks the closed segments below
  // it; a crash before its directory sync may keep any subset of those
  // unlinks (each entry is durable on its own), so a segment wholly below
  // the one holding the first index is a leftover of that truncation, not
  // a gap in the log.
  std::vector<std::string> truncated_segments;
  size_t truncated = 0;
  while (truncated + 1 < segments_.size() && segments_[truncated + 1].start <= first_index_) ++truncated;
  for (size_t i = 0; i < truncated; ++i) truncated_segments.push_back(segments_[i].name);
  segments_.erase(segments_.begin(), segments_.begin() + truncated);
  // Past what a Sync vouched for, the first bad entry ends the log (a torn
  // tail of unsynced writes, whatever follows it); a later segment with
  // entries after it would be corruption, since a segment is closed only
  // once synced.
  std::optional<size_t> torn_segment;
  uint64_t cut_at = 0;
  for (size_t i = 0; i < segments_.size(); ++i) {
    auto loaded = LoadSegment(segments_[i]);
    if (!loaded.ok()) return loaded.status();
    if (!torn_segment && i > 0 &&
        segments_[i].start != segments_[i - 1].start + segments_[i - 1].offsets.size()) {
      return absl::DataLossError(fmt::format("{}: gap or overlap after {}", PathOf(segments_[i].name),
                                             segments_[i - 1].name));
    }
    const auto [valid_end, torn] = *loaded;
    if (torn_segment) {
      if (!segments_[i].offsets.empty()) {
        return absl::DataLossError(fmt::format("{}: entries after the torn end of {}",
                                               PathOf(segments_[i].name),
                                               segments_[*torn_segment].name));
      }
      continue;
    }
    // A segment shorter than its header is torn too, even an empty one when
    // it is the only segment and no first-index file exists: its name is
    // then the only record of where the log starts, so it is kept (with a
    // fresh header) rather than dropped as never written.
    const bool only_record_of_start = segments_.size() == 1 && !has_first_index;
    if (torn || (only_record_of_start && segments_[i].size_bytes < kSegmentHeaderBytes)) {
      torn_segment = i;
      cut_at = std::max(valid_end, kSegmentHeaderBytes);
    }
  }
  if (torn_segment) {
    for (size_t i = *torn_segment + 1; i < segments_.size(); ++i) unused_segments.push_back(segments_[i].name);
    segments_.resize(*torn_segment + 1);
    segments_.back().size_bytes = cut_at;
  } else if (!segments_.empty() && segments_.back().offsets.empty() &&
             (segments_.size() > 1 || segments_.back().size_bytes < kSegmentHeaderBytes)) {
    // A segment created but never written before the crash.
    unused_segments.push_back(segments_.back().name);
    segments_.pop_back();
  }
  if (!segments_.empty() && first_index_ < segments_.front().start) {
    return absl::DataLossError(fmt::format("{}: first index {} precedes the oldest segment {}",
                                           dir_, first_index_, segments_.front().name));
  }
  if (first_index_ > next_index()) {
    return absl::DataLossError(fmt::format("{}: first index {} is past the last entry {}", dir_,
                                           first_index_, next_index()));
  }
  // What a reload finds may still be only in the page cache (after a process
  // crash): the next Sync makes all of it durable.
  synced_next_index_ = first_index_;
  for (Segment& segment : segments_) segment.unsynced = true;
  dir_unsynced_ = true;
  // Only now, with everything validated, cut the torn tail.
  if (torn_segment) {
    SS_COVER(kWalTornTailCut);
    load_repairs_.push_back(fmt::format("cut the torn tail of {} at byte {} (unsynced entries past the first bad one)",
                                        PathOf(segments_.back().name), cut_at));
    auto file = fs_.Open(PathOf(segments_.back().name), OpenMode::kReadWrite);
    if (!file.ok()) return file.status();
    if (auto status = (*file)->Truncate(cut_at); !status.ok()) return status;
    if (cut_at == kSegmentHeaderBytes) {  // the header itself may be torn
      const std::string header = EncodeSegmentHeader(kSegmentHeaderBytes);
      if (auto status = (*file)->WriteAt(0, std::span<const char>(header.data(), header.size()));
          !status.ok()) {
        return status;
      }
      segments_.back().slot_bytes = {kSegmentHeaderBytes, kSegmentHeaderBytes};
    }
    if (auto status = (*file)->Sync(); !status.ok()) return status;
  }
  for (const std::string& name : unused_segments) {
    if (auto status = fs_.Unlink(PathOf(name)); !status.ok()) return status;
    load_repairs_.push_back(fmt::format("removed {}, a WAL segment never written", PathOf(name)));
  }
  // The first index that makes these leftovers may be only in the page
  // cache (a process crash after Ack's rename, before its directory sync):
  // made durable first, else a power loss may keep an unlink and lose the
  // rename, and the old first index would point into a removed segment
  // (faulty seed 425331).
  if (!truncated_segments.empty()) {
    if (auto status = fs_.SyncDir(dir_); !status.ok()) return status;
  }
  for (const std::string& name : truncated_segments) {
    if (auto status = fs_.Unlink(PathOf(name)); !status.ok()) return status;
    load_repairs_.push_back(fmt::format("removed {}, wholly below first index {} (an interrupted truncation)",
                                        PathOf(name), first_index_));
  }
  if (auto status = RewriteUnsyncedEntries(); !status.ok()) return status;
  if (!unused_segments.empty() || !truncated_segments.empty()) return fs_.SyncDir(dir_);
  return absl::OkStatus();
}

absl::Status Wal::DropNeverWrittenSegments(std::vector<std::string>& unused) {
  // A segment is closed only once synced, header included, so a segment with
  // a newer one after it always holds a whole header: a shorter one is a
  // leftover whose unlink a crash undid (several may survive, each entry on
  // its own), never part of the log. The oldest stays: without a first-index
  // file its name is the only record of where the log starts.
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
  return absl::OkStatus();
}

absl::StatusOr<std::pair<uint64_t, bool>> Wal::LoadSegment(Segment& segment) {
  auto contents = ReadWholeFile(fs_, PathOf(segment.name));
  if (!contents.ok()) return contents.status();
  const std::string_view data = *contents;
  segment.size_bytes = data.size();
  if (data.size() < kSegmentHeaderBytes) return std::make_pair(uint64_t{0}, data.size() > 0);
  const uint64_t synced_bytes = DecodeSegmentHeader(data);
  segment.loaded_synced_bytes = synced_bytes;
  for (uint64_t slot = 0; slot < 2; ++slot) {
    segment.slot_bytes[slot] = DecodeSlot(data.substr(slot * kSlotBytes, kSlotBytes)).value_or(0);
  }
  if (synced_bytes > data.size()) {
    return absl::DataLossError(fmt::format("{}: {} bytes, but {} were synced", PathOf(segment.name),
                                           data.size(), synced_bytes));
  }
  uint64_t offset = kSegmentHeaderBytes;
  for (uint64_t count = 0; offset < data.size(); ++count) {
    const uint64_t size = ValidEntryAt(data, offset, segment.start + count);
    if (size == 0) break;
    segment.offsets.push_back(offset);
    offset += size;
  }
  if (offset < synced_bytes) {
    SS_COVER(kDamageDetected);
    return absl::DataLossError(fmt::format(
        "{}: corrupt entry {} at offset {} inside synced data (synced through byte {})",
        PathOf(segment.name), segment.start + segment.offsets.size(), offset, synced_bytes));
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

uint64_t Wal::next_index() const {
  if (segments_.empty()) return first_index_;
  return segments_.back().start + segments_.back().offsets.size();
}

absl::Status Wal::StartSegment() {
  const uint64_t start = next_index();
  Segment segment{start, SegmentName(start), {}, kSegmentHeaderBytes, true};
  segment.slot_bytes = {kSegmentHeaderBytes, kSegmentHeaderBytes};
  auto file = fs_.Open(PathOf(segment.name), OpenMode::kCreateTruncate);
  if (!file.ok()) return file.status();
  const std::string header = EncodeSegmentHeader(kSegmentHeaderBytes);
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
  if (entry.size() > kMaxEntryBytes || entry_bytes > options_.segment_capacity_bytes) {
    return absl::InvalidArgumentError(
        fmt::format("WAL entry of {} bytes does not fit a {}-byte segment", entry.size(),
                    options_.segment_capacity_bytes));
  }
  if (segments_.empty() ||
      segments_.back().size_bytes + entry_bytes > options_.segment_capacity_bytes) {
    // A segment is closed only once durable, so that a bad entry in a closed
    // segment is corruption, never an unsynced tail.
    if (auto status = Sync(); !status.ok()) return status;
    if (auto status = StartSegment(); !status.ok()) {
      if (!absl::IsResourceExhausted(status)) return Stop(status);
      // Out of space the new segment is simply not started, and the file
      // goes (a later, smaller entry may still fit the current segment and
      // take the index this file is named after; a leftover is also
      // tolerated at load).
      (void)fs_.Unlink(PathOf(SegmentName(next_index())));
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
  const std::string encoded = EncodeEntry(index, entry);
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
  return index;
}

absl::Status Wal::Sync() {
  if (!stopped_.ok()) return stopped_;
  for (Segment& segment : segments_) {
    if (!segment.unsynced) continue;
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
    const std::string encoded = EncodeSlot(segment.size_bytes);
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
  return &*std::prev(it);
}

absl::StatusOr<std::string> Wal::Read(uint64_t index) {
  auto segment = SegmentFor(index);
  if (!segment.ok()) return segment.status();
  const uint64_t slot = index - (*segment)->start;
  const uint64_t offset = (*segment)->offsets.at(slot);
  const uint64_t end = slot + 1 < (*segment)->offsets.size() ? (*segment)->offsets[slot + 1]
                                                             : (*segment)->size_bytes;
  auto file = fs_.Open(PathOf((*segment)->name), OpenMode::kRead);
  if (!file.ok()) return file.status();
  std::string bytes(end - offset, '\0');
  auto read = (*file)->ReadAt(offset, std::span<char>(bytes.data(), bytes.size()));
  if (!read.ok()) return read.status();
  if (*read != bytes.size() || ValidEntryAt(bytes, 0, index) != bytes.size()) {
    SS_COVER(kDamageDetected);
    return absl::DataLossError(fmt::format("{}: entry {} fails its checksum on read",
                                           PathOf((*segment)->name), index));
  }
  return bytes.substr(kHeaderBytes);
}

absl::Status Wal::Ack(uint64_t index) {
  if (!stopped_.ok()) return stopped_;
  SS_ASSERT(index <= next_index(), "ack {} past the WAL's end {}", index, next_index());
  if (index > synced_next_index_) {
    return absl::FailedPreconditionError(fmt::format(
        "{}: ack {} past the synced entries (below {})", dir_, index, synced_next_index_));
  }
  if (index <= first_index_) return absl::OkStatus();
  const std::string body = nlohmann::json{{"first_index", index}}.dump();
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
    if (auto status = fs_.Unlink(PathOf(segments_[i].name)); !status.ok()) return status;
  }
  segments_.erase(segments_.begin(), segments_.begin() + removable);
  if (removable > 0) return fs_.SyncDir(dir_);
  return absl::OkStatus();
}

std::vector<std::string> Wal::FileNames() const {
  std::vector<std::string> names;
  for (const Segment& segment : segments_) names.push_back(segment.name);
  names.push_back(kFirstIndexFile);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace engine
