// A small CBOR (RFC 8949) writer and reader for the WAL record, working on
// the bytes directly instead of through a nlohmann::json tree: an update's
// record was ~200 allocations to encode and read back, the dominant cost of a
// simulated update (fuzz/README.md, "fuzz_shard speed").
//
// The writer emits exactly what nlohmann::json::to_cbor emits for the same
// value (shortest argument encoding, definite lengths), so the WAL's bytes,
// and with them every trace hash, are unchanged; model_test checks the two
// against each other. The reader accepts definite-length items only, which
// is all either writer produces.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/model/types.h"

namespace engine::cbor {

enum class Major : uint8_t {
  kUnsigned = 0,
  kNegative = 1,
  kBytes = 2,
  kText = 3,
  kArray = 4,
  kMap = 5,
  kTag = 6,
  kSimple = 7,
};

// Appends to a caller's string; never fails.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void Unsigned(uint64_t value) { Head(Major::kUnsigned, value); }
  void Bool(bool value) { out_.push_back(static_cast<char>(value ? 0xF5 : 0xF4)); }
  void Text(std::string_view text);
  void ArrayHeader(uint64_t length) { Head(Major::kArray, length); }
  void MapHeader(uint64_t length) { Head(Major::kMap, length); }
  // A payload value, as nlohmann::json::to_cbor writes it.
  void Json(const Payload& value);

 private:
  void Head(Major major, uint64_t argument);
  std::string& out_;
};

// Reads items front to back. Every method fails with a DataLoss error naming
// the offset, never reads past the end, and leaves the position unspecified
// after a failure (the caller gives up on the record).
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  bool AtEnd() const { return position_ == bytes_.size(); }
  size_t position() const { return position_; }
  // REQUIRES: `position` is one this reader reported (an item's start).
  void Seek(size_t position);
  // The major type of the next item, without consuming it.
  absl::StatusOr<Major> PeekMajor() const;

  absl::StatusOr<uint64_t> Unsigned();
  absl::StatusOr<bool> Bool();
  absl::StatusOr<std::string_view> Text();
  // A length is at most the bytes left: every element takes at least one,
  // so a hostile header cannot make the caller reserve gigabytes.
  absl::StatusOr<uint64_t> ArrayHeader();
  absl::StatusOr<uint64_t> MapHeader();
  // One whole item of any kind, nested at most kMaxDepth deep.
  absl::Status Skip();
  // One whole item parsed as a nlohmann::json value (what the old decoder
  // did for the whole record).
  absl::StatusOr<Payload> Json();
  // One whole item checked exactly as Json() checks it (the same parser,
  // its events ignored), without building the value: what a read-back
  // check needs, at a fraction of the cost.
  absl::Status CheckJson();

  static constexpr int kMaxDepth = 128;

 private:
  struct ItemHead {
    Major major;
    uint64_t argument;
    uint8_t additional;
  };
  absl::StatusOr<ItemHead> ReadHead();
  absl::StatusOr<uint64_t> Expect(Major major);
  absl::StatusOr<uint64_t> Length(Major major);
  absl::Status SkipAt(int depth_left);
  absl::Status Error(std::string_view what) const;

  std::string_view bytes_;
  size_t position_ = 0;
};

}  // namespace engine::cbor
