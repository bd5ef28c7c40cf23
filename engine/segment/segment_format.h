// Segment format: the on-disk layout of a segment directory (see
// segment.h), one codec per record kind. The flush and creation encode with
// these and the load decodes with them; nothing else reads or writes the
// layout. Every encoder decodes what it has just written and asserts it
// reads back the same. Decoders never assert on what they read (the bytes
// come from a disk): bad input is a DataLoss status or a false return.
//
// segment.json: {"format": 1, "config": {"dimension", "distance"},
//   "appendable", "version" (null = none), "log_bytes": {log: committed
//   length}}. payload_index.json: {field: "keyword" | "integer"}.
//
// Component logs: a log is a sequence of batches, one per flush:
//   batch = {u32 body length, u32 CRC32C of the body}, body
// A body is a sequence of entries of the log's kind, each naming the point
// version it belongs to with a key {u64 point id, u64 point version}:
//   id_map.log    key, u8 deleted (nonzero) or live (0)
//   versions.log  key
//   vectors.log   key, u32 dimension, dimension x f32 (bit patterns)
//   payloads.log  key, u32 length, that many bytes of JSON (an object)
// All integers are little-endian.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/model/types.h"

namespace engine::segment_format {

// The files of a segment directory (see segment.h).
constexpr int kFormatVersion = 1;
constexpr char kSegmentJson[] = "segment.json";
constexpr char kPayloadIndexJson[] = "payload_index.json";
constexpr char kIdMapLog[] = "id_map.log";
constexpr char kVectorsLog[] = "vectors.log";
constexpr char kPayloadsLog[] = "payloads.log";
constexpr char kVersionsLog[] = "versions.log";
// In flush order: data before the versions that describe it.
constexpr std::array<const char*, 4> kComponentLogs = {kIdMapLog, kVectorsLog, kPayloadsLog,
                                                       kVersionsLog};

// segment.json's contents.
struct SegmentJson {
  CollectionConfig config;
  bool appendable = false;
  // The segment version captured when the last completed flush began.
  std::optional<SeqNumber> version;
  // Each component log's committed length.
  std::map<std::string, uint64_t> log_bytes;
  friend bool operator==(const SegmentJson&, const SegmentJson&) = default;
};
// REQUIRES: log_bytes names exactly the component logs.
std::string EncodeSegmentJson(const SegmentJson& segment_json);
// `path` names the file in error messages.
absl::StatusOr<SegmentJson> DecodeSegmentJson(std::string_view text, std::string_view path);
// The parts of DecodeSegmentJson, and the writer it replaced, for tests
// (segment_json.cc): the canonical text (what EncodeSegmentJson writes)
// read without a JSON tree, nullopt for any other text; the tree decoder,
// which decides every other text; the tree encoder, whose bytes
// EncodeSegmentJson reproduces.
std::optional<SegmentJson> DecodeCanonicalSegmentJson(std::string_view text);
absl::StatusOr<SegmentJson> DecodeSegmentJsonTree(std::string_view text, std::string_view path);
std::string EncodeSegmentJsonTree(const SegmentJson& segment_json);

// payload_index.json's contents: each indexed field and its type.
std::string EncodeIndexJson(const std::map<std::string, FieldType>& fields);
absl::StatusOr<std::map<std::string, FieldType>> DecodeIndexJson(std::string_view text, std::string_view path);

// Batch framing.
constexpr uint64_t kBatchHeaderBytes = 8;
constexpr uint64_t kBatchLengthOffset = 0;
constexpr uint64_t kBatchCrcOffset = 4;
// A reader treats a longer batch as damage, so a writer never makes one.
constexpr uint64_t kMaxBatchBodyBytes = 64 << 20;

// Entries: the key, then the fields of the log's kind.
constexpr size_t kEntryIdOffset = 0;
constexpr size_t kEntryVersionOffset = 8;
constexpr size_t kEntryKeyBytes = 16;
constexpr size_t kIdMapDeletedOffset = kEntryKeyBytes;
constexpr size_t kIdMapEntryBytes = kEntryKeyBytes + 1;
constexpr size_t kVersionEntryBytes = kEntryKeyBytes;
constexpr size_t kVectorDimensionOffset = kEntryKeyBytes;
constexpr size_t kVectorEntryHeaderBytes = kEntryKeyBytes + 4;
constexpr size_t kVectorComponentBytes = 4;
constexpr size_t kPayloadLengthOffset = kEntryKeyBytes;
constexpr size_t kPayloadEntryHeaderBytes = kEntryKeyBytes + 4;
// A decoder refuses a longer vector (a damaged count would allocate wildly).
constexpr uint32_t kMaxVectorDimension = 1u << 20;

// Appends the batch record framing `body` to `out`. REQUIRES: body is not
// empty and at most kMaxBatchBodyBytes (the flush refuses a longer one).
void EncodeBatch(std::string& out, std::string_view body);
// The body of the batch starting at `offset` of `data`, or nullopt when
// what is there is short, too long or fails its checksum.
// REQUIRES: offset <= data.size().
std::optional<std::string_view> DecodeBatchAt(std::string_view data, uint64_t offset);
// The bytes a batch holding `body` takes in its log.
inline uint64_t BatchBytes(std::string_view body) { return kBatchHeaderBytes + body.size(); }

// The point version an entry belongs to.
struct EntryKey {
  PointId id = 0;
  SeqNumber version = 0;
  friend auto operator<=>(const EntryKey&, const EntryKey&) = default;
};

// Reads entries from a batch body, failing softly at its end.
class BodyReader {
 public:
  explicit BodyReader(std::string_view body) : body_(body) {}
  bool done() const { return at_ >= body_.size(); }
  size_t consumed_bytes() const { return at_; }
  // The next `length` bytes, consumed; nullopt (nothing consumed) when
  // fewer are left.
  std::optional<std::string_view> Take(size_t length);

 private:
  std::string_view body_;
  size_t at_ = 0;
};

// Each Encode appends one entry to a batch body; each Decode reads the next
// entry, false when the body is malformed there.
void EncodeIdMapEntry(std::string& body, EntryKey key, bool deleted);
bool DecodeIdMapEntry(BodyReader& reader, EntryKey& key, bool& deleted);

void EncodeVersionEntry(std::string& body, EntryKey key);
bool DecodeVersionEntry(BodyReader& reader, EntryKey& key);

// REQUIRES: vector.size() <= kMaxVectorDimension (Segment::Create refuses a
// larger dimension).
void EncodeVectorEntry(std::string& body, EntryKey key, const Vector& vector);
bool DecodeVectorEntry(BodyReader& reader, EntryKey& key, Vector& vector);
// The same entry without building the vector: `components` views its
// dimension x f32 in the body; VectorOfComponents builds it.
bool DecodeVectorEntryView(BodyReader& reader, EntryKey& key, std::string_view& components);
// REQUIRES: components.size() is a multiple of kVectorComponentBytes.
Vector VectorOfComponents(std::string_view components);

// `json` is the payload's serialisation; the decoder returns it unparsed.
// REQUIRES: json.size() fits the u32 length.
void EncodePayloadEntry(std::string& body, EntryKey key, std::string_view json);
bool DecodePayloadEntry(BodyReader& reader, EntryKey& key, std::string_view& json);

}  // namespace engine::segment_format
