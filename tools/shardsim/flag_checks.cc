#include "tools/shardsim/flag_checks.h"

#include <charconv>
#include <string>

#include <fmt/format.h>

namespace shardsim {

std::optional<uint64_t> ParseDecimal(std::string_view text) {
  // from_chars takes no sign, blank or base prefix; an overflow is an error.
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

CLI::Validator DecimalIn(uint64_t low, uint64_t high) {
  const std::string range = fmt::format("{}..{}", low, high);
  return CLI::Validator(
      [low, high, range](std::string& value) -> std::string {
        const std::optional<uint64_t> number = ParseDecimal(value);
        if (!number) return fmt::format("'{}' is not a whole decimal number in {}", value, range);
        if (*number < low || *number > high) return fmt::format("{} is not in {}", value, range);
        return "";
      },
      // (Help shows the type, then this: a bound that is only the type's own says nothing.)
      high >= UINT32_MAX ? std::string() : range);
}

}  // namespace shardsim
