#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/model/types.h"
#include "properties/run_config.h"
#include "scenarios/input_file.h"
#include "scenarios/parse_util.h"
#include "scenarios/scenario_codec.h"
#include "scenarios/scenario_format.h"

namespace scenarios {

namespace {

using properties::Action;
using properties::Step;

// Bounds that keep a hostile file from asking for unbounded work.
constexpr size_t kMaxEpochs = 1000;
constexpr uint64_t kMaxPendingOperations = 1'000'000;


// A plain archive name of the run: letters, digits, '-' and '.', ending in
// ".tar", no path.
bool IsArchiveName(std::string_view name) {
  if (name.size() < 5 || name.size() > 64 || !name.ends_with(".tar") || name.front() == '.') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return true;
}

absl::Status LineError(size_t line, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("line {}: {}", line, what));
}

// Splits "word rest" at the first space.
std::pair<std::string_view, std::string_view> SplitWord(std::string_view text) {
  const size_t space = text.find(' ');
  if (space == std::string_view::npos) return {text, {}};
  return {text.substr(0, space), text.substr(space + 1)};
}

absl::StatusOr<nlohmann::json> ParseJson(std::string_view text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError(fmt::format("malformed JSON '{}'", text));
  return json;
}

absl::StatusOr<engine::ClockTag> ParseClock(std::string_view text) {
  const std::vector<std::string_view> parts = Split(text, ':');
  const bool force = parts.size() == 5 && parts[4] == "force";
  if (parts.size() != 4 && !force) {
    return absl::InvalidArgumentError(fmt::format("clock '{}' is not peer:clock:tick:token[:force]", text));
  }
  engine::ClockTag tag;
  const auto peer = ParseUnsigned(parts[0]), clock = ParseUnsigned(parts[1]),
             tick = ParseUnsigned(parts[2]), token = ParseUnsigned(parts[3]);
  if (!peer || !clock || !tick || !token || *clock > UINT32_MAX) {
    return absl::InvalidArgumentError(fmt::format("clock '{}' has a bad number", text));
  }
  tag = {*peer, static_cast<uint32_t>(*clock), *tick, *token, force};
  return tag;
}

absl::StatusOr<bool> ParseWait(std::string_view word) {
  if (word == "wait") return true;
  if (word == "nowait") return false;
  return absl::InvalidArgumentError(fmt::format("expected wait or nowait, got '{}'", word));
}

absl::Status ParseFilterInto(std::string_view text, engine::Filter& filter) {
  auto json = ParseJson(text);
  if (!json.ok()) return json.status();
  auto parsed = engine::FilterFromJson(*json);
  if (!parsed.ok()) return parsed.status();
  filter = *std::move(parsed);
  return absl::OkStatus();
}

absl::Status ParseUpdate(std::string_view rest, Step& step) {
  auto [wait_word, after_wait] = SplitWord(rest);
  auto wait = ParseWait(wait_word);
  if (!wait.ok()) return wait.status();
  step.wait = *wait;
  step.record.emplace();
  if (after_wait.starts_with("clock=")) {
    auto [clock_word, after_clock] = SplitWord(after_wait);
    auto tag = ParseClock(clock_word.substr(6));
    if (!tag.ok()) return tag.status();
    step.record->clock_tag = *tag;
    after_wait = after_clock;
  }
  auto json = ParseJson(after_wait);
  if (!json.ok()) return json.status();
  auto operation = OperationFromReadableJson(*std::move(json));
  if (!operation.ok()) return operation.status();
  step.record->operation = *std::move(operation);
  return absl::OkStatus();
}

absl::Status ParseSearch(std::string_view rest, Step& step) {
  auto [k_word, vector_text] = SplitWord(rest);
  const auto k = k_word.starts_with("k=") ? ParseUnsigned(k_word.substr(2)) : std::nullopt;
  if (!k || *k < 1 || *k > 1000) return absl::InvalidArgumentError(fmt::format("expected k=<1..1000>, got '{}'", k_word));
  step.k = *k;
  auto json = ParseJson(vector_text);
  if (!json.ok()) return json.status();
  auto vector = VectorFromReadableJson(*json);
  if (!vector.ok()) return vector.status();
  step.vector = *std::move(vector);
  return absl::OkStatus();
}

absl::Status ParseArguments(std::string_view rest, Step& step) {
  switch (step.action) {
    case Action::kUpdate: return ParseUpdate(rest, step);
    case Action::kDeleteByFilter: {
      auto [wait_word, filter_text] = SplitWord(rest);
      auto wait = ParseWait(wait_word);
      if (!wait.ok()) return wait.status();
      step.wait = *wait;
      return ParseFilterInto(filter_text, step.filter);
    }
    case Action::kRetrieve: {
      const auto id = ParseUnsigned(rest);
      if (!id) return absl::InvalidArgumentError(fmt::format("expected a point id, got '{}'", rest));
      step.id = *id;
      return absl::OkStatus();
    }
    case Action::kScroll:
    case Action::kCount: return ParseFilterInto(rest, step.filter);
    case Action::kSearch: return ParseSearch(rest, step);
    case Action::kSnapshot:
    case Action::kCollectionSnapshot:
      if (rest != "wal" && rest != "nowal") return absl::InvalidArgumentError(fmt::format("expected wal or nowal, got '{}'", rest));
      step.save_wal = rest == "wal";
      return absl::OkStatus();
    case Action::kPartialSnapshot:
    case Action::kPlunge:
    case Action::kFlush:
    case Action::kFreeze:
    case Action::kOptimize:
    case Action::kVacuum:
    case Action::kCancelOptimize:
      if (!rest.empty()) return absl::InvalidArgumentError(fmt::format("unexpected arguments '{}'", rest));
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::StatusOr<Step> ParseStep(std::string_view line, const properties::ShardRunConfig& config) {
  auto [client_word, after_client] = SplitWord(line);
  const auto client = ParseUnsigned(client_word.substr(1));
  if (!client || *client >= static_cast<uint64_t>(config.clients)) {
    return absl::InvalidArgumentError(fmt::format("client '{}' is not c0..c{}", client_word, config.clients - 1));
  }
  auto [action_word, rest] = SplitWord(after_client);
  const auto action = properties::ParseAction(action_word);
  if (!action) return absl::InvalidArgumentError(fmt::format("unknown action '{}'", action_word));
  Step step;
  step.client = static_cast<int>(*client);
  step.action = *action;
  if (auto status = ParseArguments(rest, step); !status.ok()) return status;
  if (step.action == Action::kSearch && step.vector.size() != config.collection.dimension) {
    return absl::InvalidArgumentError(fmt::format("search vector has {} values, the collection {}",
                                                  step.vector.size(), config.collection.dimension));
  }
  if (step.record) {
    if (const auto* upsert = std::get_if<engine::UpsertPoints>(&step.record->operation)) {
      for (const engine::Point& point : upsert->points) {
        if (point.vector.size() != config.collection.dimension) {
          return absl::InvalidArgumentError(fmt::format("point {} has {} values, the collection {}",
                                                        point.id, point.vector.size(), config.collection.dimension));
        }
      }
    }
  }
  return step;
}

// "none", or increasing indices below `pending` separated by commas.
absl::StatusOr<std::vector<size_t>> ParseIndexList(std::string_view key, std::string_view text, uint64_t pending) {
  std::vector<size_t> indices;
  if (text == "none") return indices;
  for (std::string_view item : Split(text, ',')) {
    const auto index = ParseUnsigned(item);
    if (!index) return absl::InvalidArgumentError(fmt::format("{}= wants 'none' or indices like 0,3,4, got '{}'", key, text));
    if (*index >= pending) {
      return absl::InvalidArgumentError(fmt::format("{}= index {} is not below pending={}", key, *index, pending));
    }
    if (!indices.empty() && *index <= indices.back()) {
      return absl::InvalidArgumentError(
          fmt::format("{}= indices must increase without repeats: {} after {}", key, *index, indices.back()));
    }
    indices.push_back(*index);
  }
  return indices;
}

// "pending=<n> keep=<indices>" or "pending=<n> drop=<indices>": the keep
// list of a power loss.
absl::StatusOr<std::vector<bool>> ParseKeepList(std::string_view text) {
  auto [pending_word, list_word] = SplitWord(text);
  const auto pending = pending_word.starts_with("pending=") ? ParseUnsigned(pending_word.substr(8)) : std::nullopt;
  if (!pending || *pending > kMaxPendingOperations) {
    return absl::InvalidArgumentError(
        fmt::format("expected pending=<0..{}> after the crash's steps, got '{}'", kMaxPendingOperations, pending_word));
  }
  const bool kept_listed = list_word.starts_with("keep=");
  if (!kept_listed && !list_word.starts_with("drop=")) {
    return absl::InvalidArgumentError(fmt::format("expected keep=<indices> or drop=<indices> after pending=, got '{}'",
                                                  list_word));
  }
  if (list_word.find(' ') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("unexpected '{}' after the keep list", list_word.substr(list_word.find(' ') + 1)));
  }
  auto indices = ParseIndexList(kept_listed ? "keep" : "drop", list_word.substr(5), *pending);
  if (!indices.ok()) return indices.status();
  std::vector<bool> keep(*pending, !kept_listed);
  for (size_t index : *indices) keep[index] = kept_listed;
  return keep;
}

absl::StatusOr<properties::CrashPoint> ParseCrash(std::string_view rest) {
  auto [kind_word, after_crash_kind] = SplitWord(rest);
  auto [after_word, keep_text] = SplitWord(after_crash_kind);
  properties::CrashPoint crash;
  if (kind_word == "power-loss") {
    crash.kind = sim::CrashKind::kPowerLoss;
  } else if (kind_word == "process-crash") {
    crash.kind = sim::CrashKind::kProcessCrash;
  } else {
    return absl::InvalidArgumentError(fmt::format("unknown crash kind '{}' (power-loss, process-crash)", kind_word));
  }
  const auto after = after_word.starts_with("after=") ? ParseUnsigned(after_word.substr(6)) : std::nullopt;
  if (!after) return absl::InvalidArgumentError(fmt::format("expected after=<steps>, got '{}'", after_word));
  crash.after_steps = *after;
  if (keep_text.empty()) return crash;
  if (crash.kind != sim::CrashKind::kPowerLoss) {
    return absl::InvalidArgumentError(fmt::format("a keep list belongs to a power loss, not a {}", kind_word));
  }
  auto keep = ParseKeepList(keep_text);
  if (!keep.ok()) return keep.status();
  crash.keep = *std::move(keep);
  return crash;
}

// What the parse has read so far.
struct ParseState {
  ScenarioParseOptions options;
  int version = 0;
  // What may come next: 0 header, 1 expect, 2 trace-hash or config, 3 epochs
  // and steps, 4 tape, 5 nothing (after the end line).
  int stage = 0;
  std::optional<EndMarker> end;
  ScenarioFile file;
};

absl::Status ParseHeader(std::string_view word, std::string_view rest, ParseState& state) {
  if (word != "shardsim-scenario") return absl::InvalidArgumentError("expected the header 'shardsim-scenario 2'");
  if (rest == "1" && !state.options.accept_version_1) {
    return absl::InvalidArgumentError(
        "format version 1 has no end marker, so a cut file cannot be told from a whole one; `shardsim pin FILE` "
        "replays it and rewrites it as version 2");
  }
  if (rest != "1" && rest != "2") {
    return absl::InvalidArgumentError(fmt::format("unsupported format version '{}' (this build reads 2)", rest));
  }
  state.version = rest == "1" ? 1 : 2;
  state.stage = 1;
  return absl::OkStatus();
}

// The lines before the epochs: header, expect, trace-hash, config.
absl::Status ParseHeadLine(std::string_view word, std::string_view rest, ParseState& state) {
  properties::Scenario& scenario = state.file.scenario;
  if (state.stage == 0) return ParseHeader(word, rest, state);
  if (state.stage == 1) {
    if (word != "expect" || rest.empty()) return absl::InvalidArgumentError("expected 'expect <invariant>' or 'expect pass'");
    scenario.expected_invariant = rest == "pass" ? "" : std::string(rest);
    state.stage = 2;
  } else if (word == "trace-hash" && state.version >= 2 && !state.file.trace_hash) {
    auto hash = ParseTraceHash(rest);
    if (!hash.ok()) return hash.status();
    state.file.trace_hash = *hash;
  } else {
    if (word != "config") return absl::InvalidArgumentError("expected 'config key=value ...'");
    if (auto status = properties::ParseConfigLine(rest, scenario.config); !status.ok()) return status;
    state.stage = 3;
  }
  return absl::OkStatus();
}

// The epoch, restore, crash and step lines.
absl::Status ParseEpochLine(std::string_view line, std::string_view word, std::string_view rest,
                            properties::Scenario& scenario) {
  if (word == "epoch") {
    if (!rest.empty()) return absl::InvalidArgumentError("'epoch' takes no arguments");
    if (scenario.epochs.size() >= kMaxEpochs) return absl::InvalidArgumentError("too many epochs");
    scenario.epochs.emplace_back();
  } else if (scenario.epochs.empty()) {
    return absl::InvalidArgumentError(fmt::format("'{}' before the first 'epoch'", word));
  } else if (word == "restore") {
    properties::Epoch& epoch = scenario.epochs.back();
    if (epoch.restore_archive || epoch.crash || !epoch.steps.empty()) {
      return absl::InvalidArgumentError("a restore line comes first in its epoch, once");
    }
    if (!IsArchiveName(rest)) {
      return absl::InvalidArgumentError(fmt::format("restore wants an archive of the run like snapshot-2.tar, got '{}'", rest));
    }
    epoch.restore_archive = std::string(rest);
  } else if (word == "crash") {
    if (scenario.epochs.back().crash || !scenario.epochs.back().steps.empty()) {
      return absl::InvalidArgumentError("a crash line comes after a restore line and before the steps, once");
    }
    auto crash = ParseCrash(rest);
    if (!crash.ok()) return crash.status();
    scenario.epochs.back().crash = *crash;
  } else if (word.starts_with("c")) {
    auto step = ParseStep(line, scenario.config);
    if (!step.ok()) return step.status();
    scenario.epochs.back().steps.push_back(*std::move(step));
  } else {
    return absl::InvalidArgumentError(fmt::format("unknown line '{}'", word));
  }
  return absl::OkStatus();
}

// Parses one line into `state`.
absl::Status ParseLine(std::string_view line, ParseState& state) {
  auto [word, rest] = SplitWord(line);
  if (state.stage == 5) return absl::InvalidArgumentError("nothing may follow the end line");
  if (state.stage < 3) return ParseHeadLine(word, rest, state);
  if (word == "end" && state.version >= 2) {
    auto end = ParseEndMarker(rest);
    if (!end.ok()) return end.status();
    state.end = *end;
    state.stage = 5;
    return absl::OkStatus();
  }
  if (word == "tape") {
    state.stage = 4;
    return AppendTape(rest, state.file.scenario.tape);
  }
  if (state.stage == 4) return absl::InvalidArgumentError("only tape lines (and the end line) may follow the tape");
  return ParseEpochLine(line, word, rest, state.file.scenario);
}

}  // namespace

absl::StatusOr<engine::Vector> VectorFromReadableJson(const nlohmann::json& json) {
  if (!json.is_array() || json.size() > 4096) return absl::InvalidArgumentError("a vector is an array of numbers");
  engine::Vector vector;
  for (const nlohmann::json& value : json) {
    if (!value.is_number()) return absl::InvalidArgumentError("a vector is an array of numbers");
    const double number = value.get<double>();
    if (!std::isfinite(number)) return absl::InvalidArgumentError("vector values must be finite");
    // A vector holds 32-bit floats: a larger double would become infinity
    // (the conversion is even undefined), which the writer cannot spell
    // (fuzz_scenario found 1e117 written back as null).
    if (std::fabs(number) > std::numeric_limits<float>::max()) {
      return absl::InvalidArgumentError(
          fmt::format("vector value {} is beyond a 32-bit float (at most {})", number, std::numeric_limits<float>::max()));
    }
    vector.push_back(static_cast<float>(number));
  }
  return vector;
}

absl::StatusOr<engine::Operation> OperationFromReadableJson(nlohmann::json json) {
  if (json.is_object() && json.contains("points") && json["points"].is_array()) {
    for (nlohmann::json& point : json["points"]) {
      if (!point.is_object() || !point.contains("vector")) continue;  // the engine's parser says why
      auto vector = VectorFromReadableJson(point["vector"]);
      if (!vector.ok()) return vector.status();
      nlohmann::json bits = nlohmann::json::array();
      for (float value : *vector) bits.push_back(std::bit_cast<uint32_t>(value));
      point["vector"] = bits;
    }
  }
  return engine::OperationFromJson(json);
}

absl::StatusOr<ScenarioFile> ParseScenarioFile(std::string_view text, ScenarioParseOptions options) {
  ParseState state{.options = options};
  size_t number = 0;
  for (std::string_view line : Split(text, '\n')) {
    if (++number > kMaxLines) return LineError(number, "too many lines");
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (auto status = ParseLine(line, state); !status.ok()) {
      return LineError(number, std::string(status.message()));
    }
  }
  if (state.stage == 0) return absl::InvalidArgumentError("not a scenario: no 'shardsim-scenario' header line");
  if (state.version >= 2) {
    const properties::Scenario& scenario = state.file.scenario;
    if (auto status = CheckEndMarker("scenario", state.end, scenario.StepCount(), scenario.tape.size()); !status.ok()) {
      return status;
    }
  }
  if (state.stage < 3) return absl::InvalidArgumentError("incomplete scenario: needs the header, expect and config lines");
  return std::move(state.file);
}

absl::StatusOr<properties::Scenario> ParseScenario(std::string_view text) {
  absl::StatusOr<ScenarioFile> file = ParseScenarioFile(text);
  if (!file.ok()) return file.status();
  return std::move(file->scenario);
}

absl::StatusOr<ScenarioFile> ReadScenarioFile(const std::string& path, ScenarioParseOptions options) {
  return ReadAndParseInputFile(path, [options](std::string_view text) { return ParseScenarioFile(text, options); });
}

}  // namespace scenarios
