#include "properties/failure_signature.h"

#include <array>
#include <cctype>
#include <utility>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace properties {

namespace {

bool IsWordByte(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/';
}

// A token with a '/' (and no space) is a path; one that is all digits,
// hex digits after 0x, or digits with dots is a number.
std::string NormaliseToken(std::string_view token) {
  if (token.find('/') != std::string_view::npos && token.size() > 1) return "<path>";
  bool has_digit = false;
  for (char c : token) has_digit |= std::isdigit(static_cast<unsigned char>(c)) != 0;
  if (!has_digit) return std::string(token);
  // Words with digits inside ("shard0", "v1", "sha256") keep their letters.
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(token[i]))) {
      if (out.empty() || out.back() != 'N') out += 'N';
      continue;
    }
    out += token[i];
  }
  return out;
}

// The bracket pairs whose contents are values, not words.
constexpr std::array<std::pair<char, char>, 3> kValueBrackets{{{'[', ']'}, {'{', '}'}, {'"', '"'}}};

// Skips a bracketed value that starts at text[i]; returns the index after
// its close (text.size() when it never closes). Nested pairs count.
size_t SkipValue(std::string_view text, size_t i, char open, char close) {
  if (open == close) {
    const size_t end = text.find(close, i + 1);
    return end == std::string_view::npos ? text.size() : end + 1;
  }
  int depth = 0;
  for (size_t j = i; j < text.size(); ++j) {
    if (text[j] == open) {
      ++depth;
    } else if (text[j] == close && --depth == 0) {
      return j + 1;
    }
  }
  return text.size();
}

}  // namespace

std::string NormaliseFailureMessage(std::string_view message) {
  std::string out;
  for (size_t i = 0; i < message.size() && out.size() < kMaxMessageClassBytes;) {
    const char c = message[i];
    bool skipped = false;
    for (const auto& [open, close] : kValueBrackets) {
      if (c != open) continue;
      i = SkipValue(message, i, open, close);
      out += open == '"' ? "\"…\"" : fmt::format("{}…{}", open, close);
      skipped = true;
      break;
    }
    if (skipped) continue;
    if (IsWordByte(c)) {
      size_t end = i;
      while (end < message.size() && IsWordByte(message[end])) ++end;
      // A sentence's full stop or a trailing dot is not part of the token.
      size_t token_end = end;
      while (token_end > i && message[token_end - 1] == '.') --token_end;
      out += NormaliseToken(message.substr(i, token_end - i));
      out.append(end - token_end, '.');
      i = end;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
      ++i;
      continue;
    }
    out += c;
    ++i;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > kMaxMessageClassBytes) out.resize(kMaxMessageClassBytes);
  SS_ASSERT(out.size() <= kMaxMessageClassBytes);
  return out;
}

namespace {

// The engine part a message names, by the first keyword found (in this
// order: the more specific first). "shard" when none is.
std::string EngineComponentNamedIn(std::string_view message) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kKeywords{{
      {"wal_delta", "transfer"}, {"transfer", "transfer"}, {"forward proxy", "transfer"},
      {"queue proxy", "transfer"}, {"replica", "replica-set"}, {"consensus", "meta-log"},
      {"restore", "restore"}, {"archive", "restore"}, {"manifest", "snapshot"}, {"snapshot", "snapshot"},
      {"WAL", "wal"}, {"wal", "wal"}, {"segment", "segment"}, {"clock", "clocks"}, {"prox", "proxy"},
      {"optimiz", "optimizer"},
  }};
  for (const auto& [keyword, component] : kKeywords) {
    if (message.find(keyword) != std::string_view::npos) return std::string(component);
  }
  return "shard";
}

}  // namespace

FailureSignature SignatureOf(std::string_view invariant, std::string_view message) {
  SS_ASSERT(!invariant.empty(), "a passing run has no signature");
  FailureSignature signature;
  signature.invariant = std::string(invariant);
  const std::string normalised = NormaliseFailureMessage(message);
  // The first clause says which check or op failed; the rest is the error.
  const size_t cut = normalised.find(": ");
  signature.check = normalised.substr(0, cut);
  signature.message_class = cut == std::string::npos ? "" : normalised.substr(cut + 2);
  // Paths name the component too ("shard/wal/..."), so look before they
  // are normalised away; the error part first, as the check names the
  // shard as a whole ("the shard did not load").
  const size_t raw_cut = message.find(": ");
  signature.component = EngineComponentNamedIn(raw_cut == std::string_view::npos ? message : message.substr(raw_cut + 2));
  if (signature.component == "shard") signature.component = EngineComponentNamedIn(message);
  return signature;
}

std::string FailureSignature::Key() const {
  return fmt::format("{} | {} | {} | {}", invariant, check, component, message_class);
}

}  // namespace properties
