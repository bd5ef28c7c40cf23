#include "scenarios/parse_util.h"

#include <charconv>

#include <fmt/format.h>

#include "absl/status/statusor.h"

namespace scenarios {

std::optional<uint64_t> ParseUnsigned(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

absl::Status AppendTape(std::string_view hex, std::vector<uint8_t>& tape) {
  if (hex.size() % 2 != 0) return absl::InvalidArgumentError("tape line has an odd number of hex digits");
  if (tape.size() + hex.size() / 2 > kMaxTapeBytes) return absl::InvalidArgumentError("tape too long");
  for (size_t index = 0; index < hex.size(); index += 2) {
    uint8_t byte = 0;
    const auto [end, error] = std::from_chars(hex.data() + index, hex.data() + index + 2, byte, 16);
    if (error != std::errc() || end != hex.data() + index + 2) {
      return absl::InvalidArgumentError(fmt::format("bad hex '{}' in tape", hex.substr(index, 2)));
    }
    tape.push_back(byte);
  }
  return absl::OkStatus();
}

std::string TraceHashLine(uint64_t hash) { return fmt::format("trace-hash {:016x}", hash); }

std::string EndLine(size_t steps, size_t tape_bytes) { return fmt::format("end steps={} tape={}", steps, tape_bytes); }

absl::StatusOr<uint64_t> ParseTraceHash(std::string_view text) {
  const bool lower_hex = text.size() == 16 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  uint64_t hash = 0;
  if (lower_hex) std::from_chars(text.data(), text.data() + text.size(), hash, 16);
  if (!lower_hex) return absl::InvalidArgumentError(fmt::format("trace-hash wants 16 hex digits, got '{}'", text));
  return hash;
}

absl::StatusOr<EndMarker> ParseEndMarker(std::string_view text) {
  const size_t space = text.find(' ');
  const std::string_view steps_word = text.substr(0, space);
  const std::string_view tape_word = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
  const auto steps = steps_word.starts_with("steps=") ? ParseUnsigned(steps_word.substr(6)) : std::nullopt;
  const auto tape = tape_word.starts_with("tape=") ? ParseUnsigned(tape_word.substr(5)) : std::nullopt;
  if (!steps || !tape) {
    return absl::InvalidArgumentError(fmt::format("expected 'end steps=<n> tape=<n>', got 'end {}'", text));
  }
  return EndMarker{*steps, *tape};
}

absl::Status CheckEndMarker(std::string_view what, const std::optional<EndMarker>& end, size_t steps,
                            size_t tape_bytes) {
  if (!end) {
    return absl::InvalidArgumentError(
        fmt::format("truncated {}: no end marker (the file stops before its 'end steps=... tape=...' line)", what));
  }
  if (end->steps != steps || end->tape_bytes != tape_bytes) {
    return absl::InvalidArgumentError(fmt::format(
        "damaged {}: its end marker says {} steps and {} tape bytes, the file holds {} steps and {} tape bytes", what,
        end->steps, end->tape_bytes, steps, tape_bytes));
  }
  return absl::OkStatus();
}

}  // namespace scenarios
