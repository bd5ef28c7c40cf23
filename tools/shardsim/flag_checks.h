// Strict checks for numeric command-line values. CLI11's own integer
// conversion is lenient: it reads `--seed -1` and a value past the type's
// range as the largest seed, and `--seed 0x10` as hex, so a typo ran a seed
// nobody asked for and still exited 0. Every numeric flag of `shardsim`
// goes through DecimalIn instead; a bad value is a usage error (exit 2)
// that names the flag.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <CLI/CLI.hpp>

namespace shardsim {

// A whole decimal number: digits only (no sign, blank, prefix or suffix),
// within uint64_t. nullopt for anything else.
std::optional<uint64_t> ParseDecimal(std::string_view text);

// A validator for add_option: the value must be a whole decimal number in
// [low, high]; the error says which and what was given.
CLI::Validator DecimalIn(uint64_t low, uint64_t high);

}  // namespace shardsim
