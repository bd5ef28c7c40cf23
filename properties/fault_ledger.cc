#include "properties/fault_ledger.h"

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

std::optional<uint64_t> FaultLedger::LatestNaming::Of(std::string_view text) {
  if (auto found = memo_.find(text); found != memo_.end()) return found->second;
  std::optional<uint64_t> latest;
  for (const Seen& entry : seen_) {
    if (entry.message.find(text) == std::string::npos) continue;
    if (!latest || entry.step > *latest) latest = entry.step;
  }
  memo_.emplace(std::string(text), latest);
  return latest;
}

bool FaultLedger::Names(LatestNaming& seen, const sim::Injection& injection) {
  // A directory-entry loss is named through its directory (a refused load
  // names the directory it misses), as is a directory sync error.
  const std::string_view path = injection.path;
  const size_t slash = path.rfind('/');
  const std::string_view directory = slash == std::string_view::npos ? path : path.substr(0, slash);
  const auto named_since = [&](std::string_view text) {
    const std::optional<uint64_t> latest = seen.Of(text);
    return latest && *latest >= injection.step;
  };
  if (named_since(path)) return true;
  return injection.fault == sim::FaultClass::kDirEntryLoss && !directory.empty() && named_since(directory);
}

Envelope FaultLedger::Classify() const {
  Envelope envelope;
  LatestNaming errors(errors_);
  LatestNaming repairs(repairs_);
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
