#include "engine/wal/wal.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/assert.h"
#include "engine/common/checksum.h"
#include "engine/common/file_util.h"

namespace engine {

namespace {

constexpr char kFirstIndexFile[] = "first-index";
constexpr char kSegmentPrefix[] = "wal-";
constexpr uint64_t kMaxEntryBytes = 64 << 20;

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

absl::Status Wal::CreateEmpty(FileSystem& fs, std::string dir, uint64_t first_index) {
  if (auto status = EnsureDir(fs, dir); !status.ok()) return status;
  auto entries = fs.ListDir(dir);
  if (!entries.ok()) return entries.status();
  if (!entries->empty()) return absl::FailedPreconditionError(fmt::format("{}: not empty", dir));
  const std::string contents = nlohmann::json{{"first_index", first_index}}.dump();
  if (auto status = WriteFileAtomically(fs, JoinPath(dir, kFirstIndexFile), contents); !status.ok()) {
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
      if (digits.size() != 20 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) {
        return absl::DataLossError(fmt::format("{}: unexpected WAL file", PathOf(entry.name)));
      }
      segments_.push_back({std::stoull(digits), entry.name, {}, 0, false});
    }
    // Other names (a leftover first-index.tmp) are not part of the WAL.
  }
  if (has_first_index) {
    auto contents = ReadWholeFile(fs_, PathOf(kFirstIndexFile));
    if (!contents.ok()) return contents.status();
    auto first = ParseFirstIndex(*contents, PathOf(kFirstIndexFile));
    if (!first.ok()) return first.status();
    first_index_ = *first;
  } else if (!segments_.empty()) {
    first_index_ = segments_.front().start;
  }
  uint64_t cut_at = UINT64_MAX;
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (i > 0 && segments_[i].start != segments_[i - 1].start + segments_[i - 1].offsets.size()) {
      return absl::DataLossError(fmt::format("{}: gap or overlap after {}", PathOf(segments_[i].name),
                                             segments_[i - 1].name));
    }
    if (auto status = LoadSegment(segments_[i], i + 1 == segments_.size(), cut_at); !status.ok()) {
      return status;
    }
  }
  if (!segments_.empty() && first_index_ < segments_.front().start) {
    return absl::DataLossError(fmt::format("{}: first index {} precedes the oldest segment {}",
                                           dir_, first_index_, segments_.front().name));
  }
  if (first_index_ > next_index()) {
    return absl::DataLossError(fmt::format("{}: first index {} is past the last entry {}", dir_,
                                           first_index_, next_index()));
  }
  if (cut_at != UINT64_MAX) {
    // Only now, with everything validated, cut the torn tail.
    auto file = fs_.Open(PathOf(segments_.back().name), OpenMode::kReadWrite);
    if (!file.ok()) return file.status();
    if (auto status = (*file)->Truncate(cut_at); !status.ok()) return status;
    if (auto status = (*file)->Sync(); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status Wal::LoadSegment(Segment& segment, bool last, uint64_t& cut_at) {
  auto contents = ReadWholeFile(fs_, PathOf(segment.name));
  if (!contents.ok()) return contents.status();
  const std::string_view data = *contents;
  uint64_t offset = 0;
  for (uint64_t count = 0; offset < data.size(); ++count) {
    const uint64_t size = ValidEntryAt(data, offset, segment.start + count);
    if (size == 0) break;
    segment.offsets.push_back(offset);
    offset += size;
  }
  segment.size_bytes = offset;
  if (offset == data.size()) return absl::OkStatus();
  const uint64_t bad_index = segment.start + segment.offsets.size();
  bool valid_entry_follows = false;
  for (uint64_t probe = offset + 1; probe < data.size() && !valid_entry_follows; ++probe) {
    for (uint64_t index = bad_index + 1; index <= bad_index + 2; ++index) {
      valid_entry_follows = valid_entry_follows || ValidEntryAt(data, probe, index) != 0;
    }
  }
  if (!last || valid_entry_follows) {
    return absl::DataLossError(fmt::format("{}: corrupt entry {} at offset {} ({} bytes follow)",
                                           PathOf(segment.name), bad_index, offset,
                                           data.size() - offset));
  }
  cut_at = offset;  // a torn tail
  return absl::OkStatus();
}

uint64_t Wal::next_index() const {
  if (segments_.empty()) return first_index_;
  return segments_.back().start + segments_.back().offsets.size();
}

absl::Status Wal::StartSegment() {
  const uint64_t start = next_index();
  Segment segment{start, SegmentName(start), {}, 0, true};
  auto file = fs_.Open(PathOf(segment.name), OpenMode::kCreateTruncate);
  if (!file.ok()) return file.status();
  open_file_ = std::move(*file);
  segments_.push_back(std::move(segment));
  dir_unsynced_ = true;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Wal::Append(std::string_view entry) {
  const uint64_t entry_bytes = kHeaderBytes + entry.size();
  if (entry.size() > kMaxEntryBytes || entry_bytes > options_.segment_capacity_bytes) {
    return absl::InvalidArgumentError(
        fmt::format("WAL entry of {} bytes does not fit a {}-byte segment", entry.size(),
                    options_.segment_capacity_bytes));
  }
  if (segments_.empty() ||
      segments_.back().size_bytes + entry_bytes > options_.segment_capacity_bytes) {
    if (auto status = StartSegment(); !status.ok()) return status;
  }
  Segment& segment = segments_.back();
  if (open_file_ == nullptr) {
    auto file = fs_.Open(PathOf(segment.name), OpenMode::kReadWrite);
    if (!file.ok()) return file.status();
    open_file_ = std::move(*file);
  }
  const uint64_t index = next_index();
  const std::string encoded = EncodeEntry(index, entry);
  if (auto status = open_file_->WriteAt(segment.size_bytes, std::span<const char>(encoded.data(), encoded.size()));
      !status.ok()) {
    return status;
  }
  segment.offsets.push_back(segment.size_bytes);
  segment.size_bytes += encoded.size();
  segment.unsynced = true;
  return index;
}

absl::Status Wal::Sync() {
  for (Segment& segment : segments_) {
    if (!segment.unsynced) continue;
    if (&segment == &segments_.back() && open_file_) {
      if (auto status = open_file_->Sync(); !status.ok()) return status;
    } else {
      auto closed = fs_.Open(PathOf(segment.name), OpenMode::kReadWrite);
      if (!closed.ok()) return closed.status();
      if (auto status = (*closed)->Sync(); !status.ok()) return status;
    }
    segment.unsynced = false;
  }
  if (dir_unsynced_) {
    if (auto status = fs_.SyncDir(dir_); !status.ok()) return status;
    dir_unsynced_ = false;
  }
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
    return absl::DataLossError(fmt::format("{}: entry {} fails its checksum on read",
                                           PathOf((*segment)->name), index));
  }
  return bytes.substr(kHeaderBytes);
}

absl::Status Wal::Ack(uint64_t index) {
  SS_ASSERT(index <= next_index(), "ack {} past the WAL's end {}", index, next_index());
  if (index <= first_index_) return absl::OkStatus();
  const std::string contents = nlohmann::json{{"first_index", index}}.dump();
  if (auto status = WriteFileAtomically(fs_, PathOf(kFirstIndexFile), contents); !status.ok()) {
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
