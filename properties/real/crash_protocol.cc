#include "properties/real/crash_protocol.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "absl/strings/escaping.h"

namespace properties::crash {

namespace {

std::string Hex(const engine::WalRecord& record) { return absl::BytesToHexString(engine::EncodeWalRecord(record)); }

std::string Optional(const std::optional<uint64_t>& value) { return value ? fmt::format("{}", *value) : "-"; }

absl::Status Malformed(std::string_view line, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("crash child message '{}': {}", line, why));
}

std::optional<uint64_t> Number(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  for (size_t start = 0; start <= line.size();) {
    const size_t end = std::min(line.find(' ', start), line.size());
    words.push_back(line.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

struct Reader {
  std::string_view line;
  std::vector<std::string_view> words;
  absl::Status status;

  uint64_t NumberAt(size_t index) {
    if (index >= words.size()) {
      status.Update(Malformed(line, "too few fields"));
      return 0;
    }
    const auto value = Number(words[index]);
    if (!value) status.Update(Malformed(line, fmt::format("field {} is not a number", index)));
    return value.value_or(0);
  }
  std::optional<uint64_t> OptionalAt(size_t index) {
    if (index < words.size() && words[index] == "-") return std::nullopt;
    return NumberAt(index);
  }
  engine::WalRecord RecordAt(size_t index) {
    const std::string_view hex = index < words.size() ? words[index] : std::string_view();
    const bool valid = !hex.empty() && hex.size() % 2 == 0 &&
                       std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
    if (!valid) {
      status.Update(Malformed(line, "no record hex"));
      return {};
    }
    // (Debian's Abseil takes its own string_view and does not validate.)
    auto record = engine::DecodeWalRecord(absl::HexStringToBytes(absl::string_view(hex.data(), hex.size())));
    if (!record.ok()) {
      status.Update(Malformed(line, record.status().ToString()));
      return {};
    }
    return *std::move(record);
  }
  int ClientAt(size_t index) { return static_cast<int>(NumberAt(index)); }
};

}  // namespace

std::string Encode(const Message& message) {
  struct Visitor {
    std::string operator()(const Loaded& m) { return fmt::format("L {}", m.wal_next_index); }
    std::string operator()(const Appended& m) { return fmt::format("A {} {}", m.op_num, Hex(m.record)); }
    std::string operator()(const Synced& m) { return fmt::format("S {}", m.next_index); }
    std::string operator()(const Intent& m) { return fmt::format("I {} {}", m.client, Hex(m.record)); }
    std::string operator()(const Acked& m) {
      return fmt::format("{} {} {}", m.completed ? 'C' : 'K', m.client, m.op_num);
    }
    std::string operator()(const Returned& m) { return fmt::format("R {}", m.client); }
    std::string operator()(const Plunged& m) { return fmt::format("P {}", m.op_num); }
    std::string operator()(const Phase& m) { return fmt::format("H {}", m.name); }
    std::string operator()(const SnapshotMade& m) {
      return fmt::format("T {} {} {} {} {} {} {}", m.kind, m.path, m.save_wal ? 1 : 0, Optional(m.frozen_through),
                         m.wal_next_index, Optional(m.applied_before), m.base.value_or("-"));
    }
    std::string operator()(const RestoreDone&) { return "D"; }
    std::string operator()(const Failed& m) {
      std::string what = m.what;
      for (char& c : what) {
        if (c == '\n') c = ' ';
      }
      return "F " + what;
    }
    std::string operator()(const Ended&) { return "E"; }
  };
  return std::visit(Visitor{}, message) + "\n";
}

absl::StatusOr<Message> Decode(std::string_view line) {
  if (line.empty()) return Malformed(line, "empty");
  Reader in{.line = line, .words = Words(line)};
  Message message;
  switch (line[0]) {
    case 'L': message = Loaded{in.NumberAt(1)}; break;
    case 'A': message = Appended{in.NumberAt(1), in.RecordAt(2)}; break;
    case 'S': message = Synced{in.NumberAt(1)}; break;
    case 'I': message = Intent{in.ClientAt(1), in.RecordAt(2)}; break;
    case 'K':
    case 'C': message = Acked{in.ClientAt(1), in.NumberAt(2), line[0] == 'C'}; break;
    case 'R': message = Returned{in.ClientAt(1)}; break;
    case 'P': message = Plunged{in.NumberAt(1)}; break;
    case 'H':
      if (in.words.size() != 2) return Malformed(line, "a phase is one word");
      message = Phase{std::string(in.words[1])};
      break;
    case 'T': {
      if (in.words.size() != 8) return Malformed(line, "a snapshot line has 7 fields");
      SnapshotMade made{.kind = std::string(in.words[1]), .path = std::string(in.words[2])};
      made.save_wal = in.NumberAt(3) != 0;
      made.frozen_through = in.OptionalAt(4);
      made.wal_next_index = in.NumberAt(5);
      made.applied_before = in.OptionalAt(6);
      if (in.words[7] != "-") made.base = std::string(in.words[7]);
      message = made;
      break;
    }
    case 'D': message = RestoreDone{}; break;
    case 'F': message = Failed{std::string(line.size() > 2 ? line.substr(2) : "")}; break;
    case 'E': message = Ended{}; break;
    default: return Malformed(line, "unknown kind");
  }
  if (!in.status.ok()) return in.status;
  if (line[0] != 'F' && line[0] != 'H' && line[0] != 'T') {
    static constexpr std::string_view kFields = "LASIKCRPDE";
    const size_t expected[] = {2, 3, 2, 3, 3, 3, 2, 2, 1, 1};
    if (in.words.size() != expected[kFields.find(line[0])]) return Malformed(line, "wrong number of fields");
  }
  return message;
}

}  // namespace properties::crash
