#include "properties/fault_ledger.h"

#include <algorithm>
#include <map>
#include <optional>

#include "engine/common/assert.h"
#include "engine/common/file_util.h"

namespace properties {

namespace {
// Bounds what one run keeps: a run sees a few hundred errors at most.
constexpr size_t kMaxSeen = 100'000;
}  // namespace

std::string_view ComponentName(Component component) {
  switch (component) {
    case Component::kWal: return "wal";
    case Component::kSegments: return "segments";
    case Component::kClocks: return "clocks";
    case Component::kManifests: return "manifests";
    case Component::kArchives: return "archives";
    case Component::kRestoreStaging: return "restore-staging";
    case Component::kOther: return "other";
  }
  return "?";
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSurvived: return "survived";
    case Outcome::kDetected: return "detected";
    case Outcome::kRepaired: return "repaired";
    case Outcome::kLost: return "lost";
  }
  return "?";
}

Component ComponentOf(std::string_view path) {
  const auto contains = [&](std::string_view part) { return path.find(part) != std::string_view::npos; };
  // Staging first: a staged copy holds wal/ and segments/ too.
  if (contains(".staging") || contains(".old/") || path.ends_with(".old") || contains(".initializing")) {
    return Component::kRestoreStaging;
  }
  if (contains(".tar") || contains(".checksum")) return Component::kArchives;
  if (contains("manifest")) return Component::kManifests;
  if (contains("clocks.json")) return Component::kClocks;
  if (contains("/wal/") || path.ends_with("/wal")) return Component::kWal;
  if (contains("/segments/") || contains("/temp_segments/") || path.ends_with("segments")) {
    return Component::kSegments;
  }
  return Component::kOther;
}

void Envelope::Add(const Envelope& other) {
  for (size_t f = 0; f < counts.size(); ++f) {
    for (size_t c = 0; c < kComponentCount; ++c) {
      for (size_t o = 0; o < kOutcomeCount; ++o) counts[f][c][o] += other.counts[f][c][o];
    }
  }
}

uint64_t Envelope::Total(Outcome outcome) const {
  uint64_t total = 0;
  for (const auto& by_component : counts) {
    for (const auto& by_outcome : by_component) total += by_outcome[static_cast<size_t>(outcome)];
  }
  return total;
}

nlohmann::json EnvelopeToJson(const Envelope& envelope) {
  nlohmann::json json = nlohmann::json::object();
  for (size_t f = 0; f < sim::kFaultClassCount; ++f) {
    for (size_t c = 0; c < kComponentCount; ++c) {
      const auto& cell = envelope.counts[f][c];
      if (cell[0] + cell[1] + cell[2] + cell[3] == 0) continue;
      nlohmann::json outcomes = nlohmann::json::object();
      for (size_t o = 0; o < kOutcomeCount; ++o) outcomes[std::string(OutcomeName(Outcome(o)))] = cell[o];
      json[std::string(sim::FaultClassName(sim::FaultClass(f)))][std::string(ComponentName(Component(c)))] =
          std::move(outcomes);
    }
  }
  return json;
}

absl::StatusOr<Envelope> EnvelopeFromJson(const nlohmann::json& json) {
  Envelope envelope;
  if (!json.is_object()) return absl::InvalidArgumentError("envelope: not an object");
  const auto index_of = [](std::string_view name, size_t count, auto name_of) -> std::optional<size_t> {
    for (size_t i = 0; i < count; ++i) {
      if (name_of(i) == name) return i;
    }
    return std::nullopt;
  };
  for (const auto& [fault, components] : json.items()) {
    const auto f = index_of(fault, sim::kFaultClassCount, [](size_t i) { return sim::FaultClassName(sim::FaultClass(i)); });
    if (!f || !components.is_object()) return absl::InvalidArgumentError("envelope: unknown fault class " + fault);
    for (const auto& [component, outcomes] : components.items()) {
      const auto c = index_of(component, kComponentCount, [](size_t i) { return ComponentName(Component(i)); });
      if (!c || !outcomes.is_object()) return absl::InvalidArgumentError("envelope: unknown component " + component);
      for (const auto& [outcome, count] : outcomes.items()) {
        const auto o = index_of(outcome, kOutcomeCount, [](size_t i) { return OutcomeName(Outcome(i)); });
        if (!o || !count.is_number_unsigned()) return absl::InvalidArgumentError("envelope: bad cell " + outcome);
        envelope.counts[*f][*c][*o] += count.get<uint64_t>();
      }
    }
  }
  return envelope;
}

std::array<uint64_t, sim::kFaultClassCount> InjectionsByClass(const Envelope& envelope) {
  std::array<uint64_t, sim::kFaultClassCount> totals{};
  for (size_t f = 0; f < sim::kFaultClassCount; ++f) {
    for (const auto& cell : envelope.counts[f]) totals[f] += cell[0] + cell[1] + cell[2] + cell[3];
  }
  return totals;
}

bool FaultLedger::Any(uint64_t since_step, std::string_view under) const {
  for (const sim::Injection& injection : world_.injections()) {
    if (injection.step >= since_step && std::string_view(injection.path).starts_with(under)) return true;
  }
  return false;
}

bool FaultLedger::AnyOf(sim::FaultClass fault, uint64_t since_step, std::string_view under) const {
  for (const sim::Injection& injection : world_.injections()) {
    if (injection.fault == fault && injection.step >= since_step &&
        std::string_view(injection.path).starts_with(under)) {
      return true;
    }
  }
  return false;
}

bool FaultLedger::AnyOfBetween(sim::FaultClass fault, uint64_t from_step, uint64_t to_step) const {
  for (const sim::Injection& injection : world_.injections()) {
    if (injection.fault == fault && injection.step >= from_step && injection.step <= to_step) return true;
  }
  return false;
}

void FaultLedger::NoteError(uint64_t step, std::string message) {
  if (errors_.size() < kMaxSeen) errors_.push_back({step, std::move(message)});
}

void FaultLedger::NoteRepair(uint64_t step, std::string message) {
  if (repairs_.size() < kMaxSeen) repairs_.push_back({step, std::move(message)});
}

namespace {

// A trie of byte strings, each ending at a node that holds its index.
class TextTrie {
 public:
  explicit TextTrie(const std::vector<std::string_view>& texts) {
    nodes_.emplace_back();
    for (size_t index = 0; index < texts.size(); ++index) {
      size_t node = 0;
      for (const char c : texts[index]) {
        auto next = nodes_[node].next.find(c);
        if (next == nodes_[node].next.end()) {
          const size_t added = nodes_.size();
          nodes_[node].next.emplace(c, added);
          nodes_.emplace_back();
          node = added;
        } else {
          node = next->second;
        }
      }
      nodes_[node].text = index;
    }
  }

  // Calls found(index) for every occurrence of a text in `message`.
  template <typename Found>
  void ForEachIn(std::string_view message, const Found& found) const {
    if (nodes_[0].text) found(*nodes_[0].text);  // "" occurs in every message
    for (size_t start = 0; start < message.size(); ++start) {
      size_t node = 0;
      for (size_t at = start; at < message.size(); ++at) {
        const auto next = nodes_[node].next.find(message[at]);
        if (next == nodes_[node].next.end()) break;
        node = next->second;
        if (nodes_[node].text) found(*nodes_[node].text);
      }
    }
  }

 private:
  struct Node {
    std::map<char, size_t> next;
    std::optional<size_t> text;
  };
  std::vector<Node> nodes_;
};

}  // namespace

FaultLedger::LatestNaming::LatestNaming(const std::vector<Seen>& seen, std::vector<std::string_view> texts) {
  std::sort(texts.begin(), texts.end());
  texts.erase(std::unique(texts.begin(), texts.end()), texts.end());
  latest_.reserve(texts.size());
  for (std::string_view text : texts) latest_.emplace_back(text, std::nullopt);
  const auto note = [](std::optional<uint64_t>& latest, uint64_t step) {
    if (!latest || step > *latest) latest = step;
  };
  // A short run (the usual one, and every fuzz input) searches directly:
  // building the trie would cost more than it saves.
  if (latest_.size() * seen.size() <= kDirectSearchLimit) {
    for (auto& [text, latest] : latest_) {
      for (const Seen& entry : seen) {
        if (entry.message.find(text) != std::string::npos) note(latest, entry.step);
      }
    }
    return;
  }
  const TextTrie trie(texts);
  for (const Seen& entry : seen) {
    trie.ForEachIn(entry.message, [&](size_t index) { note(latest_[index].second, entry.step); });
  }
}

std::optional<uint64_t> FaultLedger::LatestNaming::Of(std::string_view text) const {
  const auto found = std::lower_bound(latest_.begin(), latest_.end(), text,
                                      [](const auto& entry, std::string_view wanted) { return entry.first < wanted; });
  SS_ASSERT(found != latest_.end() && found->first == text, "'{}' was not indexed", text);
  return found->second;
}

std::vector<std::string_view> FaultLedger::NamingTexts(const std::vector<sim::Injection>& injections) {
  std::vector<std::string_view> texts;
  for (const sim::Injection& injection : injections) {
    texts.push_back(injection.path);
    const std::string_view directory = engine::ParentDir(injection.path);
    if (injection.fault == sim::FaultClass::kDirEntryLoss && !directory.empty()) texts.push_back(directory);
  }
  return texts;
}

bool FaultLedger::Names(const LatestNaming& seen, const sim::Injection& injection) {
  // A directory-entry loss is named through its directory (a refused load
  // names the directory it misses), as is a directory sync error.
  const std::string_view directory = engine::ParentDir(injection.path);
  const auto named_since = [&](std::string_view text) {
    const std::optional<uint64_t> latest = seen.Of(text);
    return latest && *latest >= injection.step;
  };
  if (named_since(injection.path)) return true;
  return injection.fault == sim::FaultClass::kDirEntryLoss && !directory.empty() && named_since(directory);
}

Envelope FaultLedger::Classify() const {
  Envelope envelope;
  const std::vector<std::string_view> texts = NamingTexts(world_.injections());
  const LatestNaming errors(errors_, texts);
  const LatestNaming repairs(repairs_, texts);
  for (const sim::Injection& injection : world_.injections()) {
    Outcome outcome = Outcome::kSurvived;
    if (failure_step_ && *failure_step_ >= injection.step) {
      outcome = Outcome::kLost;
    } else if (Names(errors, injection)) {
      outcome = Outcome::kDetected;
    } else if (Names(repairs, injection)) {
      outcome = Outcome::kRepaired;
    }
    ++envelope.at(injection.fault, ComponentOf(injection.path), outcome);
  }
  return envelope;
}

}  // namespace properties
