// The fault-tolerance envelope of one run: every fault the world injected
// (sim::World::injections()), and what became of it — survived (no visible
// effect), detected (an error the checker saw names its file), repaired (the
// engine logged a repair of its file), or lost (the run failed a check
// after it: the injection is a suspect). docs/faults.md defines the table;
// the campaign sums it over seeds.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

#include <nlohmann/json.hpp>

#include "sim/fs/injection.h"
#include "sim/world.h"

namespace properties {

enum class Component : uint8_t { kWal, kSegments, kClocks, kManifests, kArchives, kRestoreStaging, kOther };
inline constexpr size_t kComponentCount = 7;
enum class Outcome : uint8_t { kSurvived, kDetected, kRepaired, kLost };
inline constexpr size_t kOutcomeCount = 4;

std::string_view ComponentName(Component component);  // "wal", "segments", ...
std::string_view OutcomeName(Outcome outcome);        // "survived", ...
// The component a path belongs to ("shard/wal/wal-0..." is the WAL,
// "shard.staging/..." restore staging, "snapshot-3.tar" an archive, ...).
Component ComponentOf(std::string_view path);

// Counts by fault class, component and outcome.
struct Envelope {
  std::array<std::array<std::array<uint64_t, kOutcomeCount>, kComponentCount>, sim::kFaultClassCount> counts{};
  uint64_t& at(sim::FaultClass fault, Component component, Outcome outcome) {
    return counts[static_cast<size_t>(fault)][static_cast<size_t>(component)][static_cast<size_t>(outcome)];
  }
  uint64_t get(sim::FaultClass fault, Component component, Outcome outcome) const {
    return counts[static_cast<size_t>(fault)][static_cast<size_t>(component)][static_cast<size_t>(outcome)];
  }
  void Add(const Envelope& other);
  uint64_t Total(Outcome outcome) const;
};

// {"<fault class>": {"<component>": {"survived": n, ...}}}, non-zero cells
// only; and back (unknown names are an error, so mixed versions do not sum
// silently).
nlohmann::json EnvelopeToJson(const Envelope& envelope);
absl::StatusOr<Envelope> EnvelopeFromJson(const nlohmann::json& json);
// Injections per fault class.
std::array<uint64_t, sim::kFaultClassCount> InjectionsByClass(const Envelope& envelope);

class FaultLedger {
 public:
  explicit FaultLedger(const sim::World& world) : world_(world) {}

  // Whether a fault was injected at or after `since_step`, on a path that
  // starts with `under` ("" = anywhere).
  bool Any(uint64_t since_step, std::string_view under = "") const;
  bool AnyOf(sim::FaultClass fault, uint64_t since_step, std::string_view under = "") const;
  // Whether a fault of this class was injected in [from_step, to_step].
  bool AnyOfBetween(sim::FaultClass fault, uint64_t from_step, uint64_t to_step) const;

  // An error the checker saw (a failed call, a refused load or restore).
  void NoteError(uint64_t step, std::string message);
  // A repair the engine logged.
  void NoteRepair(uint64_t step, std::string message);
  // The run failed a check at `step`.
  void NoteFailure(uint64_t step) { failure_step_ = step; }

  Envelope Classify() const;

 private:
  struct Seen {
    uint64_t step;
    std::string message;
  };
  // For each of `texts`, the step of the latest entry of `seen` whose
  // message contains it. Built in one pass over the messages (a trie of the
  // texts, walked from each position of each message): searching every
  // message for each text cost a deep run its thousands of injected paths
  // times its thousands of messages.
  // REQUIRES: the texts outlive it (they are the world's injection paths).
  class LatestNaming {
   public:
    LatestNaming(const std::vector<Seen>& seen, std::vector<std::string_view> texts);
    // REQUIRES: `text` is one of the texts given.
    std::optional<uint64_t> Of(std::string_view text) const;

   private:
    // Up to this many (text, message) pairs, each message is searched for
    // each text.
    static constexpr size_t kDirectSearchLimit = 4096;
    // Sorted by text, one entry per distinct text.
    std::vector<std::pair<std::string_view, std::optional<uint64_t>>> latest_;
  };
  // The texts Names asks the index about for these injections.
  static std::vector<std::string_view> NamingTexts(const std::vector<sim::Injection>& injections);
  // Whether a message at or after the injection's step names its file (or,
  // for a directory fault, something in that directory).
  static bool Names(const LatestNaming& seen, const sim::Injection& injection);

  const sim::World& world_;
  std::vector<Seen> errors_;
  std::vector<Seen> repairs_;
  std::optional<uint64_t> failure_step_;
};

}  // namespace properties
