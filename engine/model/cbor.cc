#include "engine/model/cbor.h"

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace engine::cbor {

namespace {
constexpr uint8_t kAdditionalOneByte = 24;
constexpr uint8_t kAdditionalEightBytes = 27;
constexpr uint8_t kAdditionalIndefinite = 31;
}  // namespace

void Writer::Head(Major major, uint64_t argument) {
  const uint8_t type_bits = static_cast<uint8_t>(static_cast<uint8_t>(major) << 5);
  int argument_bytes = 0;
  if (argument < kAdditionalOneByte) {
    out_.push_back(static_cast<char>(type_bits | argument));
    return;
  }
  if (argument <= UINT8_MAX) {
    out_.push_back(static_cast<char>(type_bits | 24));
    argument_bytes = 1;
  } else if (argument <= UINT16_MAX) {
    out_.push_back(static_cast<char>(type_bits | 25));
    argument_bytes = 2;
  } else if (argument <= UINT32_MAX) {
    out_.push_back(static_cast<char>(type_bits | 26));
    argument_bytes = 4;
  } else {
    out_.push_back(static_cast<char>(type_bits | 27));
    argument_bytes = 8;
  }
  for (int shift = (argument_bytes - 1) * 8; shift >= 0; shift -= 8) {
    out_.push_back(static_cast<char>((argument >> shift) & 0xFF));
  }
}

void Writer::Text(std::string_view text) {
  Head(Major::kText, text.size());
  out_.append(text);
}

void Writer::Json(const Payload& value) {
  const size_t before = out_.size();
  nlohmann::json::to_cbor(value, nlohmann::detail::output_adapter<char>(out_));
  SS_ASSERT(out_.size() > before, "a payload encoded to no bytes");
}

absl::Status Reader::Error(std::string_view what) const {
  return absl::DataLossError(fmt::format("CBOR at byte {}: {}", position_, what));
}

void Reader::Seek(size_t position) {
  SS_ASSERT(position <= bytes_.size(), "seek to byte {} of {}", position, bytes_.size());
  position_ = position;
}

absl::StatusOr<Major> Reader::PeekMajor() const {
  if (AtEnd()) return Error("unexpected end");
  return static_cast<Major>(static_cast<uint8_t>(bytes_[position_]) >> 5);
}

absl::StatusOr<Reader::ItemHead> Reader::ReadHead() {
  if (AtEnd()) return Error("unexpected end");
  const uint8_t initial = static_cast<uint8_t>(bytes_[position_]);
  ItemHead head{static_cast<Major>(initial >> 5), 0, static_cast<uint8_t>(initial & 0x1F)};
  if (head.additional == kAdditionalIndefinite) return Error("indefinite length");
  if (head.additional > kAdditionalEightBytes) return Error("reserved additional information");
  const size_t argument_bytes = head.additional < kAdditionalOneByte ? 0 : size_t{1} << (head.additional - 24);
  if (bytes_.size() - position_ - 1 < argument_bytes) return Error("truncated head");
  ++position_;
  head.argument = argument_bytes == 0 ? head.additional : 0;
  for (size_t i = 0; i < argument_bytes; ++i) {
    head.argument = (head.argument << 8) | static_cast<uint8_t>(bytes_[position_++]);
  }
  SS_ASSERT(position_ <= bytes_.size(), "read past the end: {} of {}", position_, bytes_.size());
  return head;
}

absl::StatusOr<uint64_t> Reader::Expect(Major major) {
  auto head = ReadHead();
  if (!head.ok()) return head.status();
  if (head->major != major) {
    return Error(fmt::format("expected major type {}, found {}", static_cast<int>(major), static_cast<int>(head->major)));
  }
  return head->argument;
}

absl::StatusOr<uint64_t> Reader::Length(Major major) {
  auto length = Expect(major);
  if (!length.ok()) return length.status();
  if (*length > bytes_.size() - position_) return Error("a length past the end");
  return *length;
}

absl::StatusOr<uint64_t> Reader::Unsigned() { return Expect(Major::kUnsigned); }
absl::StatusOr<uint64_t> Reader::ArrayHeader() { return Length(Major::kArray); }
absl::StatusOr<uint64_t> Reader::MapHeader() { return Length(Major::kMap); }

absl::StatusOr<bool> Reader::Bool() {
  auto head = ReadHead();
  if (!head.ok()) return head.status();
  if (head->major != Major::kSimple || (head->argument != 20 && head->argument != 21) ||
      head->additional >= kAdditionalOneByte) {
    return Error("expected a boolean");
  }
  return head->argument == 21;
}

absl::StatusOr<std::string_view> Reader::Text() {
  auto length = Length(Major::kText);
  if (!length.ok()) return length.status();
  const std::string_view text = bytes_.substr(position_, *length);
  position_ += *length;
  return text;
}

absl::Status Reader::SkipAt(int depth_left) {
  if (depth_left == 0) return Error("nested too deep");
  auto head = ReadHead();
  if (!head.ok()) return head.status();
  switch (head->major) {
    case Major::kUnsigned:
    case Major::kNegative:
    case Major::kSimple:  // its argument bytes are the value (a float's bits)
      return absl::OkStatus();
    case Major::kBytes:
    case Major::kText:
      if (head->argument > bytes_.size() - position_) return Error("a length past the end");
      position_ += head->argument;
      return absl::OkStatus();
    case Major::kArray:
    case Major::kMap: {
      if (head->argument > bytes_.size() - position_) return Error("a length past the end");
      // Bounded by the bytes left (checked above): each item takes one.
      const uint64_t items = head->major == Major::kMap ? head->argument * 2 : head->argument;
      for (uint64_t i = 0; i < items; ++i) {
        if (absl::Status skipped = SkipAt(depth_left - 1); !skipped.ok()) return skipped;
      }
      return absl::OkStatus();
    }
    case Major::kTag:
      return Error("tags are not used");
  }
  return Error("unknown major type");
}

absl::Status Reader::Skip() { return SkipAt(kMaxDepth); }

absl::StatusOr<Payload> Reader::Json() {
  const size_t start = position_;
  if (absl::Status skipped = Skip(); !skipped.ok()) return skipped;
  const std::string_view item = bytes_.substr(start, position_ - start);
  Payload value;
  try {
    // nlohmann still throws on some malformed sizes with exceptions disabled.
    value = nlohmann::json::from_cbor(item.begin(), item.end(), /*strict=*/true, /*allow_exceptions=*/false);
  } catch (const nlohmann::json::exception& error) {
    return absl::DataLossError(fmt::format("CBOR at byte {}: not a JSON value ({})", start, error.what()));
  }
  if (value.is_discarded()) return absl::DataLossError(fmt::format("CBOR at byte {}: not a JSON value", start));
  return value;
}

namespace {

// Accepts every event: only the parser's own verdict counts. With Json()'s
// DOM builder every event succeeds too (the lengths it could refuse are
// bounded by Skip() first), so both accept the same items.
struct AcceptEverything {
  using json = nlohmann::json;
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) { return true; }
  bool key(json::string_t&) { return true; }
  bool end_object() { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }
};

}  // namespace

absl::Status Reader::CheckJson() {
  const size_t start = position_;
  if (absl::Status skipped = Skip(); !skipped.ok()) return skipped;
  const std::string_view item = bytes_.substr(start, position_ - start);
  AcceptEverything sax;
  bool accepted = false;
  try {
    accepted = nlohmann::json::sax_parse(item.begin(), item.end(), &sax, nlohmann::json::input_format_t::cbor,
                                         /*strict=*/true);
  } catch (const nlohmann::json::exception& error) {
    return absl::DataLossError(fmt::format("CBOR at byte {}: not a JSON value ({})", start, error.what()));
  }
  if (!accepted) return absl::DataLossError(fmt::format("CBOR at byte {}: not a JSON value", start));
  return absl::OkStatus();
}

}  // namespace engine::cbor
