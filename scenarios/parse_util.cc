#include "scenarios/parse_util.h"

#include <charconv>

#include <fmt/format.h>

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

}  // namespace scenarios
