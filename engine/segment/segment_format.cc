// Segment format codecs. Each encoder ends with its pair assertion: the
// bytes just written decode to what was encoded, so the writer can never
// produce what its own reader would refuse.
#include "engine/segment/segment_format.h"

#include <bit>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/assert.h"
#include "engine/common/checksum.h"

namespace engine::segment_format {

std::string EncodeIndexJson(const std::map<std::string, FieldType>& fields) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [key, type] : fields) json[key] = FieldTypeName(type);
  std::string text = json.dump();
  const auto decoded = DecodeIndexJson(text, kPayloadIndexJson);
  SS_ASSERT(decoded.ok() && *decoded == fields, "payload_index.json does not read back: {}",
            decoded.status().ToString());
  return text;
}

absl::StatusOr<std::map<std::string, FieldType>> DecodeIndexJson(std::string_view text, std::string_view path) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::DataLossError(fmt::format("{}: not a JSON object", path));
  }
  std::map<std::string, FieldType> fields;
  for (const auto& [key, type] : json.items()) {
    if (!type.is_string() || (type != "keyword" && type != "integer")) {
      return absl::DataLossError(fmt::format("{}: bad index type", path));
    }
    fields[key] = type == "keyword" ? FieldType::kKeyword : FieldType::kInteger;
  }
  // The keys of a parsed JSON object are unique.
  SS_ASSERT(fields.size() == json.size());
  return fields;
}

void EncodeBatch(std::string& out, std::string_view body) {
  SS_ASSERT(!body.empty(), "an empty batch is never written");
  SS_ASSERT(body.size() <= kMaxBatchBodyBytes, "batch of {} bytes, over the limit readers accept",
            body.size());
  const size_t start = out.size();
  PutFixed32(out, static_cast<uint32_t>(body.size()));
  PutFixed32(out, Crc32c(body));
  out.append(body);
  SS_ASSERT(out.size() - start == BatchBytes(body));
  const std::optional<std::string_view> decoded = DecodeBatchAt(out, start);
  SS_ASSERT(decoded.has_value() && *decoded == body, "batch does not read back");
}

std::optional<std::string_view> DecodeBatchAt(std::string_view data, uint64_t offset) {
  SS_ASSERT(offset <= data.size(), "batch offset {} past {} bytes", offset, data.size());
  const uint64_t left = data.size() - offset;
  if (left < kBatchHeaderBytes) return std::nullopt;
  const char* header = data.data() + offset;
  const uint64_t length = GetFixed32(header + kBatchLengthOffset);
  if (length > kMaxBatchBodyBytes || length > left - kBatchHeaderBytes) return std::nullopt;
  const std::string_view body = data.substr(offset + kBatchHeaderBytes, length);
  if (GetFixed32(header + kBatchCrcOffset) != Crc32c(body)) return std::nullopt;
  return body;
}

std::optional<std::string_view> BodyReader::Take(size_t length) {
  SS_ASSERT(at_ <= body_.size(), "reader at {} past a {}-byte body", at_, body_.size());
  if (body_.size() - at_ < length) return std::nullopt;
  const std::string_view taken = body_.substr(at_, length);
  at_ += length;
  return taken;
}

namespace {

void EncodeKey(std::string& body, EntryKey key) {
  PutFixed64(body, key.id);
  PutFixed64(body, key.version);
}

// REQUIRES: `entry` starts with a whole key.
EntryKey DecodeKey(std::string_view entry) {
  SS_ASSERT(entry.size() >= kEntryKeyBytes, "an entry of {} bytes has no key", entry.size());
  return {GetFixed64(entry.data() + kEntryIdOffset), GetFixed64(entry.data() + kEntryVersionOffset)};
}

// Bit patterns, not float equality: a NaN component must read back too.
bool SameBits(const Vector& a, const Vector& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return false;
  }
  return true;
}

// The entry that starts at `start` of `body` and runs to its end.
BodyReader ReaderOfLastEntry(const std::string& body, size_t start) {
  SS_ASSERT(start < body.size(), "no entry was appended at {}", start);
  return BodyReader(std::string_view(body).substr(start));
}

}  // namespace

void EncodeIdMapEntry(std::string& body, EntryKey key, bool deleted) {
  const size_t start = body.size();
  EncodeKey(body, key);
  body.push_back(deleted ? 1 : 0);
  SS_ASSERT(body.size() - start == kIdMapEntryBytes);
  BodyReader reader = ReaderOfLastEntry(body, start);
  EntryKey decoded_key;
  bool decoded_deleted = false;
  SS_ASSERT(DecodeIdMapEntry(reader, decoded_key, decoded_deleted) && reader.done());
  SS_ASSERT(decoded_key == key && decoded_deleted == deleted, "id map entry of point {} reads back wrong",
            key.id);
}

bool DecodeIdMapEntry(BodyReader& reader, EntryKey& key, bool& deleted) {
  const std::optional<std::string_view> entry = reader.Take(kIdMapEntryBytes);
  if (!entry) return false;
  key = DecodeKey(*entry);
  deleted = (*entry)[kIdMapDeletedOffset] != 0;
  return true;
}

void EncodeVersionEntry(std::string& body, EntryKey key) {
  const size_t start = body.size();
  EncodeKey(body, key);
  SS_ASSERT(body.size() - start == kVersionEntryBytes);
  BodyReader reader = ReaderOfLastEntry(body, start);
  EntryKey decoded_key;
  SS_ASSERT(DecodeVersionEntry(reader, decoded_key) && reader.done());
  SS_ASSERT(decoded_key == key, "version entry of point {} reads back wrong", key.id);
}

bool DecodeVersionEntry(BodyReader& reader, EntryKey& key) {
  const std::optional<std::string_view> entry = reader.Take(kVersionEntryBytes);
  if (!entry) return false;
  key = DecodeKey(*entry);
  return true;
}

void EncodeVectorEntry(std::string& body, EntryKey key, const Vector& vector) {
  SS_ASSERT(vector.size() <= kMaxVectorDimension, "point {}: vector of dimension {}", key.id,
            vector.size());
  const size_t start = body.size();
  EncodeKey(body, key);
  PutFixed32(body, static_cast<uint32_t>(vector.size()));
  for (float value : vector) PutFixed32(body, std::bit_cast<uint32_t>(value));
  SS_ASSERT(body.size() - start == kVectorEntryHeaderBytes + kVectorComponentBytes * vector.size());
  BodyReader reader = ReaderOfLastEntry(body, start);
  EntryKey decoded_key;
  Vector decoded;
  SS_ASSERT(DecodeVectorEntry(reader, decoded_key, decoded) && reader.done());
  SS_ASSERT(decoded_key == key && SameBits(decoded, vector), "vector entry of point {} reads back wrong",
            key.id);
}

bool DecodeVectorEntryView(BodyReader& reader, EntryKey& key, std::string_view& components) {
  const std::optional<std::string_view> header = reader.Take(kVectorEntryHeaderBytes);
  if (!header) return false;
  const uint32_t dimension = GetFixed32(header->data() + kVectorDimensionOffset);
  if (dimension > kMaxVectorDimension) return false;
  const std::optional<std::string_view> taken = reader.Take(kVectorComponentBytes * size_t{dimension});
  if (!taken) return false;
  key = DecodeKey(*header);
  components = *taken;
  return true;
}

Vector VectorOfComponents(std::string_view components) {
  SS_ASSERT(components.size() % kVectorComponentBytes == 0, "{} bytes of vector components",
            components.size());
  Vector vector(components.size() / kVectorComponentBytes);
  // The components are little-endian IEEE floats: on such a CPU one copy
  // (a load decodes every vector of every segment this way).
  if constexpr (std::endian::native == std::endian::little && sizeof(float) == kVectorComponentBytes) {
    if (!vector.empty()) std::memcpy(vector.data(), components.data(), components.size());
  } else {
    for (size_t i = 0; i < vector.size(); ++i) {
      vector[i] = std::bit_cast<float>(GetFixed32(components.data() + kVectorComponentBytes * i));
    }
  }
  return vector;
}

bool DecodeVectorEntry(BodyReader& reader, EntryKey& key, Vector& vector) {
  std::string_view components;
  if (!DecodeVectorEntryView(reader, key, components)) return false;
  vector = VectorOfComponents(components);
  return true;
}

void EncodePayloadEntry(std::string& body, EntryKey key, std::string_view json) {
  SS_ASSERT(json.size() <= UINT32_MAX, "point {}: payload of {} bytes", key.id, json.size());
  const size_t start = body.size();
  EncodeKey(body, key);
  PutFixed32(body, static_cast<uint32_t>(json.size()));
  body.append(json);
  SS_ASSERT(body.size() - start == kPayloadEntryHeaderBytes + json.size());
  BodyReader reader = ReaderOfLastEntry(body, start);
  EntryKey decoded_key;
  std::string_view decoded_json;
  SS_ASSERT(DecodePayloadEntry(reader, decoded_key, decoded_json) && reader.done());
  SS_ASSERT(decoded_key == key && decoded_json == json, "payload entry of point {} reads back wrong",
            key.id);
}

bool DecodePayloadEntry(BodyReader& reader, EntryKey& key, std::string_view& json) {
  const std::optional<std::string_view> header = reader.Take(kPayloadEntryHeaderBytes);
  if (!header) return false;
  const std::optional<std::string_view> text = reader.Take(GetFixed32(header->data() + kPayloadLengthOffset));
  if (!text) return false;
  key = DecodeKey(*header);
  json = *text;
  return true;
}

}  // namespace engine::segment_format
