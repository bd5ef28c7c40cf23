// segment.json's codec. Every flush writes the file and every load reads
// it, so both skip the nlohmann::json tree (a dozen allocations a file):
// the writer prints the bytes `dump()` of the tree printed (keys sorted, no
// spaces), and the reader first tries exactly that canonical form. Anything
// else (other spacing or key order, extra keys, escapes, damage) goes to
// the tree decoder, which alone decides what is refused and why; the
// canonical reader only accepts text the tree decoder accepts with the same
// value (segment_format_test checks both against the tree on random input).
#include <algorithm>
#include <array>
#include <charconv>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/assert.h"
#include "engine/segment/segment_format.h"

namespace engine::segment_format {

namespace {

// The component logs in the order a JSON object's keys are printed.
const std::array<std::string_view, kComponentLogs.size()>& SortedLogs() {
  static const auto logs = [] {
    std::array<std::string_view, kComponentLogs.size()> sorted;
    std::ranges::copy(kComponentLogs, sorted.begin());
    std::ranges::sort(sorted);
    return sorted;
  }();
  return logs;
}

// Reads the canonical text left to right; every method consumes only on
// success, and a failure means "not canonical", never "corrupt".
class CanonicalReader {
 public:
  explicit CanonicalReader(std::string_view text) : text_(text) {}
  bool Literal(std::string_view literal) {
    if (!text_.starts_with(literal)) return false;
    text_.remove_prefix(literal.size());
    return true;
  }
  // A JSON unsigned integer as nlohmann reads one into uint64_t: digits, no
  // leading zero, no overflow (which nlohmann would read as a float).
  bool Unsigned(uint64_t& value) {
    size_t digits = 0;
    while (digits < text_.size() && text_[digits] >= '0' && text_[digits] <= '9') ++digits;
    if (digits == 0 || (digits > 1 && text_[0] == '0')) return false;
    const auto [end, error] = std::from_chars(text_.data(), text_.data() + digits, value);
    if (error != std::errc() || end != text_.data() + digits) return false;
    // What follows a number is never part of one here ('.', 'e', '-').
    if (digits < text_.size() && (text_[digits] == '.' || text_[digits] == 'e' || text_[digits] == 'E')) {
      return false;
    }
    text_.remove_prefix(digits);
    return true;
  }
  // A string of lower-case letters, without its quotes.
  bool Word(std::string_view& word) {
    if (!Literal("\"")) return false;
    size_t length = 0;
    while (length < text_.size() && text_[length] >= 'a' && text_[length] <= 'z') ++length;
    if (length == text_.size() || text_[length] != '"') return false;
    word = text_.substr(0, length);
    text_.remove_prefix(length + 1);
    return true;
  }
  bool AtEnd() const { return text_.empty(); }

 private:
  std::string_view text_;
};

}  // namespace

std::string EncodeSegmentJson(const SegmentJson& segment_json) {
  SS_ASSERT(segment_json.log_bytes.size() == kComponentLogs.size(), "{} log lengths",
            segment_json.log_bytes.size());
  SS_ASSERT(segment_json.config.dimension <= kMaxVectorDimension);
  std::string text = fmt::format(R"({{"appendable":{},"config":{{"dimension":{},"distance":"{}"}},"format":{},)",
                                 segment_json.appendable, segment_json.config.dimension,
                                 DistanceName(segment_json.config.distance), kFormatVersion);
  text += R"("log_bytes":{)";
  const char* separator = "";
  // (std::map's order is the JSON object's key order.)
  for (const auto& [log, bytes] : segment_json.log_bytes) {
    SS_ASSERT(std::ranges::find(SortedLogs(), log) != SortedLogs().end(), "log '{}'", log);
    fmt::format_to(std::back_inserter(text), R"({}"{}":{})", separator, log, bytes);
    separator = ",";
  }
  text += R"(},"version":)";
  text += segment_json.version ? fmt::format("{}", *segment_json.version) : std::string("null");
  text += "}";
  const auto decoded = DecodeSegmentJson(text, kSegmentJson);
  SS_ASSERT(decoded.ok() && *decoded == segment_json, "segment.json does not read back: {}",
            decoded.status().ToString());
  return text;
}

std::optional<SegmentJson> DecodeCanonicalSegmentJson(std::string_view text) {
  CanonicalReader reader(text);
  SegmentJson segment_json;
  std::string_view distance_name;
  uint64_t dimension = 0;
  uint64_t format = 0;
  if (!reader.Literal(R"({"appendable":)")) return std::nullopt;
  if (reader.Literal("true")) {
    segment_json.appendable = true;
  } else if (!reader.Literal("false")) {
    return std::nullopt;
  }
  if (!reader.Literal(R"(,"config":{"dimension":)") || !reader.Unsigned(dimension)) return std::nullopt;
  if (!reader.Literal(R"(,"distance":)") || !reader.Word(distance_name)) return std::nullopt;
  if (!reader.Literal(R"(},"format":)") || !reader.Unsigned(format)) return std::nullopt;
  if (!reader.Literal(R"(,"log_bytes":{)")) return std::nullopt;
  const std::optional<Distance> distance = ParseDistance(distance_name);
  if (!distance || format != kFormatVersion || dimension > kMaxVectorDimension) return std::nullopt;
  segment_json.config = CollectionConfig{static_cast<uint32_t>(dimension), *distance};
  for (size_t i = 0; i < SortedLogs().size(); ++i) {
    const std::string_view log = SortedLogs()[i];
    uint64_t bytes = 0;
    if ((i > 0 && !reader.Literal(",")) || !reader.Literal("\"") || !reader.Literal(log) ||
        !reader.Literal("\":") || !reader.Unsigned(bytes)) {
      return std::nullopt;
    }
    segment_json.log_bytes[std::string(log)] = bytes;
  }
  if (!reader.Literal(R"(},"version":)")) return std::nullopt;
  if (!reader.Literal("null")) {
    uint64_t version = 0;
    if (!reader.Unsigned(version)) return std::nullopt;
    segment_json.version = version;
  }
  if (!reader.Literal("}") || !reader.AtEnd()) return std::nullopt;
  return segment_json;
}

absl::StatusOr<SegmentJson> DecodeSegmentJson(std::string_view text, std::string_view path) {
  if (std::optional<SegmentJson> canonical = DecodeCanonicalSegmentJson(text)) return *std::move(canonical);
  return DecodeSegmentJsonTree(text, path);
}

absl::StatusOr<SegmentJson> DecodeSegmentJsonTree(std::string_view text, std::string_view path) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  const auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(fmt::format("{}: {}", path, why));
  };
  if (json.is_discarded() || !json.is_object()) return corrupt("not a JSON object");
  if (!json.contains("format") || json["format"] != kFormatVersion) return corrupt("unknown format");
  if (!json.contains("config") || !json["config"].is_object() ||
      !json["config"].contains("dimension") || !json["config"]["dimension"].is_number_unsigned() ||
      !json["config"].contains("distance") || !json["config"]["distance"].is_string()) {
    return corrupt("bad config");
  }
  const auto distance = ParseDistance(json["config"]["distance"].get<std::string>());
  if (!distance) return corrupt("unknown distance");
  if (!json.contains("appendable") || !json["appendable"].is_boolean()) return corrupt("bad appendable flag");
  if (!json.contains("version") || !(json["version"].is_null() || json["version"].is_number_unsigned())) {
    return corrupt("bad version");
  }
  if (!json.contains("log_bytes") || !json["log_bytes"].is_object()) return corrupt("bad log lengths");
  SegmentJson segment_json;
  for (const char* log : kComponentLogs) {
    const auto& bytes = json["log_bytes"];
    if (!bytes.contains(log) || !bytes[log].is_number_unsigned()) return corrupt("bad log lengths");
    segment_json.log_bytes[log] = bytes[log].get<uint64_t>();
  }
  const uint64_t dimension = json["config"]["dimension"].get<uint64_t>();
  if (dimension > kMaxVectorDimension) return corrupt("bad config");
  segment_json.config = CollectionConfig{static_cast<uint32_t>(dimension), *distance};
  segment_json.appendable = json["appendable"].get<bool>();
  if (!json["version"].is_null()) segment_json.version = json["version"].get<uint64_t>();
  return segment_json;
}

std::string EncodeSegmentJsonTree(const SegmentJson& segment_json) {
  nlohmann::json lengths = nlohmann::json::object();
  for (const auto& [log, bytes] : segment_json.log_bytes) lengths[log] = bytes;
  const nlohmann::json config = {{"dimension", segment_json.config.dimension},
                                 {"distance", DistanceName(segment_json.config.distance)}};
  const nlohmann::json json = {
      {"format", kFormatVersion},
      {"config", config},
      {"appendable", segment_json.appendable},
      {"version", segment_json.version ? nlohmann::json(*segment_json.version) : nlohmann::json(nullptr)},
      {"log_bytes", lengths}};
  return json.dump();
}

}  // namespace engine::segment_format
