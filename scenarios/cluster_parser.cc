// The cluster scenario parser (cluster_format.h). Every malformed input is an
// InvalidArgument naming the line; nothing in a file is trusted (values are
// range-checked against the config before a run sees them).
#include <charconv>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "scenarios/cluster_format.h"
#include "scenarios/input_file.h"
#include "scenarios/parse_util.h"
#include "scenarios/scenario_codec.h"
#include "scenarios/cluster_names.h"

namespace scenarios {

namespace {

using properties::ClusterConfig;
using properties::ClusterScenario;
using properties::ClusterStep;
using properties::ClusterStepKind;

// Bounds that keep a hostile file from asking for unbounded work.
constexpr size_t kMaxSteps = 100'000;
using properties::kLegacyFlushIntervalMs;
using properties::kMaxFlushIntervalMs;
using properties::kMaxPeers;
using properties::kMinPeers;
constexpr uint32_t kMaxClients = 16;
constexpr uint64_t kMaxPointIds = 1'000'000;
constexpr uint64_t kMaxSleepMs = 3'600'000;
constexpr uint64_t kMaxDrawnSteps = 100'000;

absl::Status Error(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

// Words separated by single or repeated spaces.
std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  for (std::string_view word : Split(text, ' ')) {
    if (!word.empty()) words.push_back(word);
  }
  return words;
}

// `word` must be "<key>=<unsigned in [low, high]>".
absl::StatusOr<uint64_t> KeyedNumber(std::string_view word, std::string_view key, uint64_t low, uint64_t high) {
  const auto value = word.starts_with(key) && word.substr(key.size()).starts_with("=")
                         ? ParseUnsigned(word.substr(key.size() + 1))
                         : std::nullopt;
  if (!value || *value < low || *value > high) {
    return Error(fmt::format("expected {}=<{}..{}>, got '{}'", key, low, high, word));
  }
  return *value;
}

absl::StatusOr<engine::PeerId> PeerNumber(std::string_view word, const ClusterConfig& config) {
  const auto peer = ParseUnsigned(word);
  if (!peer || *peer < 1 || *peer > config.peers) {
    return Error(fmt::format("peer '{}' is not 1..{}", word, config.peers));
  }
  return *peer;
}

absl::StatusOr<bool> ParseBool(std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  return Error(fmt::format("expected true or false, got '{}'", text));
}

// The config's values, then the cross-field rules.
absl::Status ApplyConfigValue(std::string_view key, std::string_view value, ClusterConfig& config) {
  const auto number = [&](uint64_t low, uint64_t high) -> absl::StatusOr<uint32_t> {
    const auto parsed = ParseUnsigned(value);
    if (!parsed || *parsed < low || *parsed > high) return Error(fmt::format("{}={} is not {}..{}", key, value, low, high));
    return static_cast<uint32_t>(*parsed);
  };
  absl::StatusOr<uint32_t> parsed = 0u;
  absl::StatusOr<bool> flag = false;
  if (key == "seed") {
    const auto seed = ParseUnsigned(value);
    if (!seed) return Error(fmt::format("seed={} is not a number", value));
    config.seed = *seed;
  } else if (key == "peers") {
    if ((parsed = number(kMinPeers, kMaxPeers)).ok()) config.peers = *parsed;
  } else if (key == "replication_factor") {
    if ((parsed = number(1, kMaxPeers)).ok()) config.replication_factor = *parsed;
  } else if (key == "write_consistency_factor") {
    if ((parsed = number(1, kMaxPeers)).ok()) config.write_consistency_factor = *parsed;
  } else if (key == "clients") {
    if ((parsed = number(1, kMaxClients)).ok()) config.clients = *parsed;
  } else if (key == "steps_per_client") {
    if ((parsed = number(0, kMaxDrawnSteps)).ok()) config.steps_per_client = *parsed;
  } else if (key == "nemesis_steps") {
    if ((parsed = number(0, kMaxDrawnSteps)).ok()) config.nemesis_steps = *parsed;
  } else if (key == "point_ids") {
    if ((parsed = number(1, kMaxPointIds)).ok()) config.point_ids = *parsed;
  } else if (key == "lossy_network") {
    if ((flag = ParseBool(value)).ok()) config.lossy_network = *flag;
  } else if (key == "lossy_log") {
    if ((flag = ParseBool(value)).ok()) config.lossy_log = *flag;
  } else if (key == "network_stalls") {
    if ((flag = ParseBool(value)).ok()) config.network_stalls = *flag;
  } else if (key == "network_stall_percent") {
    if ((parsed = number(1, 100)).ok()) config.network_stall_percent = *parsed;
  } else if (key == "paced_clients") {
    if ((flag = ParseBool(value)).ok()) config.paced_clients = *flag;
  } else if (key == "slow_log") {
    if ((flag = ParseBool(value)).ok()) config.slow_log = *flag;
  } else if (key == "flush_interval_ms") {
    if ((parsed = number(1, kMaxFlushIntervalMs)).ok()) config.flush_interval_ms = *parsed;
  } else if (key == "default_transfer_method") {
    const auto method = MethodFromName(value);
    if (!method) return Error(fmt::format("default_transfer_method={} is not stream_records or wal_delta", value));
    config.default_transfer_method = *method;
  } else {
    return Error(fmt::format("unknown config key '{}'", key));
  }
  if (!parsed.ok()) return parsed.status();
  return flag.status();
}

const std::vector<std::string_view>& ConfigKeys() {
  static const std::vector<std::string_view> keys = {
      "seed",          "peers",     "replication_factor", "write_consistency_factor", "clients", "steps_per_client",
      "nemesis_steps", "point_ids", "lossy_network",      "lossy_log",                "default_transfer_method"};
  return keys;
}

absl::StatusOr<ClusterConfig> ParseConfig(std::string_view rest) {
  ClusterConfig config;
  // A file without the key was written when every peer flushed every 5 ms.
  config.flush_interval_ms = kLegacyFlushIntervalMs;
  std::map<std::string_view, bool> seen;
  for (std::string_view word : Words(rest)) {
    const size_t equals = word.find('=');
    if (equals == std::string_view::npos) return Error(fmt::format("expected key=value, got '{}'", word));
    const std::string_view key = word.substr(0, equals);
    if (seen[key]) return Error(fmt::format("config key '{}' given twice", key));
    seen[key] = true;
    if (auto status = ApplyConfigValue(key, word.substr(equals + 1), config); !status.ok()) return status;
  }
  for (std::string_view key : ConfigKeys()) {
    if (!seen[key]) return Error(fmt::format("config lacks {}=", key));
  }
  if (seen["network_stall_percent"] && !config.network_stalls) {
    return Error("network_stall_percent= needs network_stalls=true");
  }
  if (config.replication_factor > config.peers) {
    return Error(fmt::format("replication_factor={} exceeds peers={}", config.replication_factor, config.peers));
  }
  if (config.write_consistency_factor > config.replication_factor) {
    return Error(fmt::format("write_consistency_factor={} exceeds replication_factor={}",
                             config.write_consistency_factor, config.replication_factor));
  }
  return config;
}

absl::StatusOr<uint64_t> SleepMs(std::string_view word) {
  const auto ms = word.ends_with("ms") ? ParseUnsigned(word.substr(0, word.size() - 2)) : std::nullopt;
  if (!ms || *ms > kMaxSleepMs) return Error(fmt::format("expected a sleep like 120ms (up to {}ms), got '{}'", kMaxSleepMs, word));
  return *ms;
}

// "via peer <n>" at words[at..at+2].
absl::Status ParseVia(const std::vector<std::string_view>& words, size_t at, const ClusterConfig& config,
                      ClusterStep& step) {
  if (words.size() < at + 3 || words[at] != "via" || words[at + 1] != "peer") {
    return Error("expected 'via peer <n>'");
  }
  auto peer = PeerNumber(words[at + 2], config);
  if (!peer.ok()) return peer.status();
  step.peer = *peer;
  return absl::OkStatus();
}

// upsert id=<id> value=<v> via peer <n> wait|nowait ordering=<o>; delete
// likewise without value=.
absl::Status ParseWrite(const std::vector<std::string_view>& words, const ClusterConfig& config, ClusterStep& step) {
  const bool upsert = step.kind == ClusterStepKind::kUpsert;
  const size_t expected = upsert ? 8 : 7;
  if (words.size() != expected) {
    return Error(fmt::format("{} wants {} words: '{}'", words[0], expected,
                             upsert ? "upsert id=<id> value=<v> via peer <n> wait|nowait ordering=<o>"
                                    : "delete id=<id> via peer <n> wait|nowait ordering=<o>"));
  }
  auto id = KeyedNumber(words[1], "id", 0, config.point_ids - 1);
  if (!id.ok()) return id.status();
  step.id = *id;
  size_t at = 2;
  if (upsert) {
    auto value = KeyedNumber(words[at++], "value", 1, UINT64_MAX);
    if (!value.ok()) return value.status();
    step.value = *value;
  }
  if (auto status = ParseVia(words, at, config, step); !status.ok()) return status;
  at += 3;
  if (words[at] != "wait" && words[at] != "nowait") return Error(fmt::format("expected wait or nowait, got '{}'", words[at]));
  step.wait = words[at] == "wait";
  const std::string_view ordering_word = words[at + 1];
  const auto ordering = ordering_word.starts_with("ordering=") ? OrderingFromName(ordering_word.substr(9)) : std::nullopt;
  if (!ordering) return Error(fmt::format("expected ordering=weak|medium|strong, got '{}'", ordering_word));
  step.ordering = *ordering;
  return absl::OkStatus();
}

absl::Status ParseClientStep(const std::vector<std::string_view>& words, const ClusterConfig& config,
                             ClusterStep& step) {
  const std::string_view kind = words[0];
  if (kind == "upsert" || kind == "delete") {
    step.kind = kind == "upsert" ? ClusterStepKind::kUpsert : ClusterStepKind::kDelete;
    return ParseWrite(words, config, step);
  }
  if (kind == "read") {
    step.kind = ClusterStepKind::kRead;
    if (words.size() != 5) return Error("read wants 'read factor=<f> via peer <n>'");
    auto factor = KeyedNumber(words[1], "factor", 1, config.peers);
    if (!factor.ok()) return factor.status();
    step.read_factor = static_cast<uint32_t>(*factor);
    return ParseVia(words, 2, config, step);
  }
  if (kind == "sleep") {
    step.kind = ClusterStepKind::kSleep;
    if (words.size() != 2) return Error("sleep wants 'sleep <n>ms'");
    auto ms = SleepMs(words[1]);
    if (!ms.ok()) return ms.status();
    step.sleep_ms = *ms;
    return absl::OkStatus();
  }
  return Error(fmt::format("unknown client step '{}' (upsert, delete, read, sleep)", kind));
}

// "{1,3}": a non-empty proper subset of the peers.
absl::Status ParseSide(std::string_view text, const ClusterConfig& config, ClusterStep& step) {
  if (text.size() < 3 || text.front() != '{' || text.back() != '}') {
    return Error(fmt::format("expected a peer set like {{1,3}}, got '{}'", text));
  }
  for (std::string_view item : Split(text.substr(1, text.size() - 2), ',')) {
    auto peer = PeerNumber(item, config);
    if (!peer.ok()) return peer.status();
    if (!step.side.insert(*peer).second) return Error(fmt::format("peer {} twice in '{}'", *peer, text));
  }
  if (step.side.size() >= config.peers) return Error(fmt::format("partition {} cuts off nobody", text));
  return absl::OkStatus();
}

absl::Status ParseTransfer(const std::vector<std::string_view>& words, const ClusterConfig& config,
                           ClusterStep& step) {
  if (words.size() != 3) return Error("transfer wants 'transfer <from>-><to> stream_records|wal_delta'");
  const size_t arrow = words[1].find("->");
  if (arrow == std::string_view::npos) return Error(fmt::format("expected <from>-><to>, got '{}'", words[1]));
  auto from = PeerNumber(words[1].substr(0, arrow), config);
  if (!from.ok()) return from.status();
  auto to = PeerNumber(words[1].substr(arrow + 2), config);
  if (!to.ok()) return to.status();
  if (*from == *to) return Error(fmt::format("a transfer from peer {} to itself", *from));
  const auto method = MethodFromName(words[2]);
  if (!method) return Error(fmt::format("unknown transfer method '{}' (stream_records, wal_delta)", words[2]));
  step.peer = *from;
  step.to = *to;
  step.method = *method;
  return absl::OkStatus();
}

absl::Status ParseNemesisStep(const std::vector<std::string_view>& words, const ClusterConfig& config,
                              ClusterStep& step) {
  const std::string_view kind = words[0];
  if (kind == "crash" || kind == "restart") {
    const bool crash = kind == "crash";
    step.kind = crash ? ClusterStepKind::kCrash : ClusterStepKind::kRestart;
    if (words.size() != (crash ? 4u : 3u) || words[1] != "peer") {
      return Error(crash ? "crash wants 'crash peer <n> process-crash|power-loss'" : "restart wants 'restart peer <n>'");
    }
    auto peer = PeerNumber(words[2], config);
    if (!peer.ok()) return peer.status();
    step.peer = *peer;
    if (!crash) return absl::OkStatus();
    const auto crash_kind = CrashFromName(words[3]);
    if (!crash_kind) return Error(fmt::format("unknown crash kind '{}' (process-crash, power-loss)", words[3]));
    step.crash_kind = *crash_kind;
    return absl::OkStatus();
  }
  if (kind == "partition") {
    step.kind = ClusterStepKind::kPartition;
    if (words.size() != 3 || (words[2] != "one-way" && words[2] != "two-way")) {
      return Error("partition wants 'partition {<peers>} one-way|two-way'");
    }
    step.one_way = words[2] == "one-way";
    return ParseSide(words[1], config, step);
  }
  if (kind == "heal") {
    step.kind = ClusterStepKind::kHeal;
    return words.size() == 1 ? absl::OkStatus() : Error("'heal' takes no arguments");
  }
  if (kind == "transfer") {
    step.kind = ClusterStepKind::kTransfer;
    return ParseTransfer(words, config, step);
  }
  if (kind == "sleep") {
    step.kind = ClusterStepKind::kSleep;
    if (words.size() != 2) return Error("sleep wants 'sleep <n>ms'");
    auto ms = SleepMs(words[1]);
    if (!ms.ok()) return ms.status();
    step.sleep_ms = *ms;
    return absl::OkStatus();
  }
  return Error(fmt::format("unknown nemesis step '{}' (crash, restart, partition, heal, transfer, sleep)", kind));
}

// "client <n>: ..." or "nemesis: ...".
absl::StatusOr<ClusterStep> ParseStep(std::string_view line, const ClusterConfig& config) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return Error(fmt::format("unknown line '{}'", line));
  const std::vector<std::string_view> actor = Words(line.substr(0, colon));
  const std::vector<std::string_view> words = Words(line.substr(colon + 1));
  if (words.empty()) return Error("a step line names its step after the ':'");
  ClusterStep step;
  if (actor.size() == 1 && actor[0] == "nemesis") {
    step.actor = 0;
    if (auto status = ParseNemesisStep(words, config, step); !status.ok()) return status;
    return step;
  }
  const auto client = actor.size() == 2 && actor[0] == "client" ? ParseUnsigned(actor[1]) : std::nullopt;
  if (!client || *client < 1 || *client > config.clients) {
    return Error(fmt::format("actor '{}' is not 'nemesis' or 'client 1..{}'", line.substr(0, colon), config.clients));
  }
  step.actor = static_cast<uint32_t>(*client);
  if (auto status = ParseClientStep(words, config, step); !status.ok()) return status;
  return step;
}

// What the parse has read so far.
// (Not ParseState: the shard parser's is another struct, and a unity build
// puts both files in one translation unit.)
struct ClusterParseState {
  bool accept_version_1 = false;
  int version = 0;
  // What may come next: 0 header, 1 expect, 2 trace-hash or config, 3 steps,
  // 4 tape, 5 nothing (after the end line).
  int stage = 0;
  std::optional<EndMarker> end;
  ClusterScenarioFile file;
};

// The lines before the steps: header, expect, trace-hash, config.
absl::Status ParseClusterHeadLine(std::string_view line, std::string_view word, std::string_view rest,
                                  ClusterParseState& state) {
  if (state.stage == 0) {
    if (line == kClusterHeaderVersion1 && !state.accept_version_1) {
      return Error("format version 1 (cluster v1) has no end marker, so a cut file cannot be told from a whole one; "
                   "`shardsim pin FILE` replays it and rewrites it as cluster v2");
    }
    if (line != kClusterHeader && line != kClusterHeaderVersion1) {
      return Error(fmt::format("expected the header '{}', got '{}'", kClusterHeader, line));
    }
    state.version = line == kClusterHeader ? 2 : 1;
    state.stage = 1;
  } else if (state.stage == 1) {
    if (word != "expect" || rest.empty() || rest.find(' ') != std::string_view::npos) {
      return Error("expected 'expect <invariant>' or 'expect pass'");
    }
    state.file.scenario.expected_invariant = rest == "pass" ? "" : std::string(rest);
    state.stage = 2;
  } else if (word == "trace-hash" && state.version >= 2 && !state.file.trace_hash) {
    auto hash = ParseTraceHash(rest);
    if (!hash.ok()) return hash.status();
    state.file.trace_hash = *hash;
  } else {
    if (word != "config") return Error("expected 'config key=value ...'");
    auto config = ParseConfig(rest);
    if (!config.ok()) return config.status();
    state.file.scenario.config = *config;
    state.stage = 3;
  }
  return absl::OkStatus();
}

absl::Status ParseLine(std::string_view line, ClusterParseState& state) {
  const size_t space = line.find(' ');
  const std::string_view word = line.substr(0, space);
  const std::string_view rest = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  ClusterScenario& scenario = state.file.scenario;
  if (state.stage == 5) return Error("nothing may follow the end line");
  if (state.stage < 3) return ParseClusterHeadLine(line, word, rest, state);
  if (word == "end" && state.version >= 2) {
    auto end = ParseEndMarker(rest);
    if (!end.ok()) return end.status();
    state.end = *end;
    state.stage = 5;
  } else if (word == "tape") {
    state.stage = 4;
    return AppendTape(rest, scenario.tape);
  } else if (state.stage == 4) {
    return Error("only tape lines (and the end line) may follow the tape");
  } else {
    if (scenario.steps.size() >= kMaxSteps) return Error("too many steps");
    auto step = ParseStep(line, scenario.config);
    if (!step.ok()) return step.status();
    scenario.steps.push_back(*std::move(step));
  }
  return absl::OkStatus();
}

// The line without its surrounding blanks and '\r'.
std::string_view Trimmed(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  return line;
}

}  // namespace

bool IsClusterScenarioText(std::string_view text) {
  for (std::string_view line : Split(text, '\n')) {
    line = Trimmed(line);
    if (line.empty() || line.front() == '#') continue;
    return line.starts_with("cluster v");
  }
  return false;
}

absl::StatusOr<ClusterScenarioFile> ParseClusterScenarioFile(std::string_view text, bool accept_version_1) {
  ClusterParseState state{.accept_version_1 = accept_version_1};
  size_t number = 0;
  for (std::string_view line : Split(text, '\n')) {
    if (++number > kMaxLines) return Error(fmt::format("line {}: too many lines", number));
    line = Trimmed(line);
    if (line.empty() || line.front() == '#') continue;
    if (auto status = ParseLine(line, state); !status.ok()) {
      return Error(fmt::format("line {}: {}", number, std::string(status.message())));
    }
  }
  if (state.stage == 0) return Error(fmt::format("not a cluster scenario: no '{}' header line", kClusterHeader));
  if (state.version >= 2) {
    const ClusterScenario& scenario = state.file.scenario;
    if (auto status = CheckEndMarker("cluster scenario", state.end, scenario.StepCount(), scenario.tape.size());
        !status.ok()) {
      return status;
    }
  }
  if (state.stage < 3) return Error("incomplete cluster scenario: needs the header, expect and config lines");
  return std::move(state.file);
}

absl::StatusOr<ClusterScenario> ParseClusterScenario(std::string_view text) {
  absl::StatusOr<ClusterScenarioFile> file = ParseClusterScenarioFile(text);
  if (!file.ok()) return file.status();
  return std::move(file->scenario);
}

absl::StatusOr<ClusterScenarioFile> ReadClusterScenarioFile(const std::string& path, bool accept_version_1) {
  return ReadAndParseInputFile(path, [accept_version_1](std::string_view text) {
    return ParseClusterScenarioFile(text, accept_version_1);
  });
}

}  // namespace scenarios
