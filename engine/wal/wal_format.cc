// WAL format codecs. Each encoder ends with its pair assertion: the bytes
// just written decode to what was encoded.
#include "engine/wal/wal_format.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/assert.h"
#include "engine/common/checksum.h"

namespace engine::wal_format {

namespace {

uint32_t SlotCrc(uint64_t synced_bytes) {
  std::string value;
  PutFixed64(value, synced_bytes);
  return Crc32c(value);
}

uint32_t EntryCrc(uint64_t index, std::string_view payload) {
  std::string header;
  PutFixed64(header, index);
  PutFixed32(header, static_cast<uint32_t>(payload.size()));
  return Crc32c(payload, Crc32c(header));
}

}  // namespace

std::string EncodeSlot(uint64_t synced_bytes) {
  SS_ASSERT(synced_bytes >= kSegmentHeaderBytes, "a slot vouching for {} bytes, less than the header",
            synced_bytes);
  std::string slot;
  PutFixed64(slot, synced_bytes);
  PutFixed32(slot, SlotCrc(synced_bytes));
  PutFixed32(slot, 0);
  SS_ASSERT(slot.size() == kSlotBytes);
  SS_ASSERT(DecodeSlot(slot) == synced_bytes, "slot for {} bytes does not read back", synced_bytes);
  return slot;
}

std::optional<uint64_t> DecodeSlot(std::string_view slot) {
  SS_ASSERT(slot.size() == kSlotBytes, "a slot of {} bytes", slot.size());
  const uint64_t synced_bytes = GetFixed64(slot.data() + kSlotLengthOffset);
  if (GetFixed32(slot.data() + kSlotCrcOffset) != SlotCrc(synced_bytes)) return std::nullopt;
  return synced_bytes;
}

std::string EncodeSegmentHeader(uint64_t synced_bytes) {
  std::string header = EncodeSlot(synced_bytes) + EncodeSlot(synced_bytes);
  SS_ASSERT(header.size() == kSegmentHeaderBytes);
  SS_ASSERT(DecodeSegmentHeader(header) == synced_bytes, "header for {} bytes does not read back", synced_bytes);
  return header;
}

uint64_t DecodeSegmentHeader(std::string_view data) {
  if (data.size() < kSegmentHeaderBytes) return kSegmentHeaderBytes;
  uint64_t synced_bytes = kSegmentHeaderBytes;
  for (uint64_t slot = 0; slot < kSlotCount; ++slot) {
    const auto vouched = DecodeSlot(data.substr(slot * kSlotBytes, kSlotBytes));
    if (vouched) synced_bytes = std::max(synced_bytes, *vouched);
  }
  return synced_bytes;
}

std::string SegmentName(uint64_t start) {
  std::string name = fmt::format("{}{:020}", kSegmentPrefix, start);
  SS_ASSERT(name.size() == sizeof kSegmentPrefix - 1 + kSegmentNameDigits);
  SS_ASSERT(ParseSegmentName(name) == start, "segment name {} does not read back", name);
  return name;
}

std::optional<uint64_t> ParseSegmentName(std::string_view name) {
  SS_ASSERT(name.starts_with(kSegmentPrefix), "{} is not a segment name", name);
  const std::string_view digits = name.substr(sizeof kSegmentPrefix - 1);
  if (digits.size() != kSegmentNameDigits) return std::nullopt;
  // from_chars takes digits only (no sign, space or base prefix) and reports
  // a value past 2^64 - 1 (stoull would throw); all must be consumed.
  uint64_t start = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), start);
  if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return start;
}

std::string EncodeEntry(uint64_t index, std::string_view payload) {
  SS_ASSERT(payload.size() <= kMaxEntryBytes, "WAL entry {} of {} bytes", index, payload.size());
  std::string out;
  PutFixed32(out, static_cast<uint32_t>(payload.size()));
  PutFixed32(out, EntryCrc(index, payload));
  PutFixed64(out, index);
  out.append(payload);
  SS_ASSERT(out.size() == kEntryHeaderBytes + payload.size());
  SS_ASSERT(ValidEntryAt(out, 0, index) == out.size(), "WAL entry {} does not read back", index);
  return out;
}

uint64_t ValidEntryAt(std::string_view data, uint64_t offset, uint64_t expected_index) {
  SS_ASSERT(offset <= data.size(), "entry offset {} past {} bytes", offset, data.size());
  if (data.size() - offset < kEntryHeaderBytes) return 0;
  const char* header = data.data() + offset;
  const uint64_t length = GetFixed32(header + kEntryLengthOffset);
  if (GetFixed64(header + kEntryIndexOffset) != expected_index) return 0;
  if (length > data.size() - offset - kEntryHeaderBytes) return 0;
  const std::string_view payload = data.substr(offset + kEntryHeaderBytes, length);
  if (GetFixed32(header + kEntryCrcOffset) != EntryCrc(expected_index, payload)) return 0;
  return kEntryHeaderBytes + length;
}

std::string EncodeFirstIndex(uint64_t first_index) {
  std::string body = nlohmann::json{{"first_index", first_index}}.dump();
  const auto decoded = DecodeFirstIndex(body, kFirstIndexFile);
  SS_ASSERT(decoded.ok() && *decoded == first_index, "first index {} does not read back", first_index);
  return body;
}

absl::StatusOr<uint64_t> DecodeFirstIndex(std::string_view contents, std::string_view path) {
  const nlohmann::json json = nlohmann::json::parse(contents, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("first_index") ||
      !json["first_index"].is_number_unsigned()) {
    return absl::DataLossError(fmt::format("{}: corrupt first-index file", path));
  }
  return json["first_index"].get<uint64_t>();
}

}  // namespace engine::wal_format
