// WAL format: the on-disk records of the write-ahead log (see wal.h), one
// codec per record kind. The WAL writes and reads them only through these.
// Every encoder decodes what it has just written and asserts it reads back
// the same. Decoders never assert on what they read (the bytes come from a
// disk): bad input is a DataLoss status, nullopt, or 0.
//
// Segment header: two slots, each {u64 synced bytes, u32 CRC32C of that
// u64, u32 zero}: how much of the file a completed Sync vouches for. A Sync
// overwrites the slot holding the smaller length, so a torn or failed slot
// write leaves the other vouching for what the previous Sync did (without
// it, a torn header would vouch for nothing, and damage to synced entries
// would look like a torn tail and be cut).
//
// Entry: {u32 payload length, u32 CRC32C of (u64 index, u32 length,
// payload), u64 index}, then the payload. All integers little-endian.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace engine::wal_format {

constexpr char kFirstIndexFile[] = "first-index";
constexpr char kSegmentPrefix[] = "wal-";
constexpr size_t kSegmentNameDigits = 20;

// Segment header slots.
constexpr uint64_t kSlotBytes = 16;
constexpr uint64_t kSlotLengthOffset = 0;
constexpr uint64_t kSlotCrcOffset = 8;
constexpr uint64_t kSlotCount = 2;
constexpr uint64_t kSegmentHeaderBytes = kSlotCount * kSlotBytes;

// Entries.
constexpr uint64_t kEntryHeaderBytes = 16;
constexpr uint64_t kEntryLengthOffset = 0;
constexpr uint64_t kEntryCrcOffset = 4;
constexpr uint64_t kEntryIndexOffset = 8;
constexpr uint64_t kMaxEntryBytes = 64 << 20;

// A slot vouching for `synced_bytes`. REQUIRES: synced_bytes >= the header.
std::string EncodeSlot(uint64_t synced_bytes);
// A slot's vouched length, or nullopt when it is torn or damaged.
// REQUIRES: slot.size() == kSlotBytes.
std::optional<uint64_t> DecodeSlot(std::string_view slot);
// Both slots vouching for the same length: for a new segment, and after a
// load cut (where no slot may vouch for more than what is left).
std::string EncodeSegmentHeader(uint64_t synced_bytes);
// The larger vouched length of the two slots of the segment file `data`,
// or the bare header length when neither is intact (nothing vouched for).
uint64_t DecodeSegmentHeader(std::string_view data);

// "wal-" and the segment's first index in 20 digits.
std::string SegmentName(uint64_t start);
// The first index a segment file name states, or nullopt when `name` is not
// a segment name (20 digits can exceed 2^64 - 1).
// REQUIRES: name starts with kSegmentPrefix.
std::optional<uint64_t> ParseSegmentName(std::string_view name);

// REQUIRES: payload.size() <= kMaxEntryBytes.
std::string EncodeEntry(uint64_t index, std::string_view payload);
// The size of the intact entry numbered `expected_index` at `offset` of
// `data`, or 0. REQUIRES: offset <= data.size().
uint64_t ValidEntryAt(std::string_view data, uint64_t offset, uint64_t expected_index);

// The first-index file's body (sealed by the caller).
std::string EncodeFirstIndex(uint64_t first_index);
// `path` names the file in error messages.
absl::StatusOr<uint64_t> DecodeFirstIndex(std::string_view contents, std::string_view path);

}  // namespace engine::wal_format
