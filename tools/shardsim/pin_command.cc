#include "tools/shardsim/pin_command.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string_view>
#include <system_error>
#include <variant>

#include <fmt/format.h>

#include "properties/cluster/cluster_run.h"
#include "properties/scenario.h"
#include "scenarios/cluster_format.h"
#include "scenarios/input_file.h"
#include "scenarios/scenario_format.h"

namespace shardsim {

namespace {

// What pinning one file came to.
enum class Pinned { kYes, kNotReproduced, kBadFile };

struct Replayed {
  std::string expected;  // "" for pass
  std::string outcome;   // the invariant the replay broke, "" for pass
  uint64_t trace_hash = 0;
  std::optional<uint64_t> pinned_before;
  std::string text;  // the file in the current format, without its comment
};

std::string_view Trimmed(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  return line;
}

std::variant<Replayed, std::string> ReplayShard(const std::string& text) {
  auto file = scenarios::ParseScenarioFile(text, {.accept_version_1 = true});
  if (!file.ok()) return std::string(file.status().message());
  const properties::ShardRunResult result = properties::ReplayScenario(file->scenario, {});
  return Replayed{.expected = file->scenario.expected_invariant,
                  .outcome = result.passed ? "" : result.invariant,
                  .trace_hash = result.trace_hash,
                  .pinned_before = file->trace_hash,
                  .text = scenarios::WriteScenario(file->scenario, {}, result.trace_hash)};
}

std::variant<Replayed, std::string> ReplayClusterFile(const std::string& text) {
  auto file = scenarios::ParseClusterScenarioFile(text, /*accept_version_1=*/true);
  if (!file.ok()) return std::string(file.status().message());
  const properties::ClusterRunResult result = properties::ReplayCluster(file->scenario, {});
  return Replayed{.expected = file->scenario.expected_invariant,
                  .outcome = result.failure ? result.failure->invariant : "",
                  .trace_hash = result.trace_hash,
                  .pinned_before = file->trace_hash,
                  .text = scenarios::WriteClusterScenario(file->scenario, {}, result.trace_hash)};
}

// Replaces the file whole or not at all (a rename over it).
bool WriteAtomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".pin-tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return false;
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) std::filesystem::remove(temporary, error);
  return !error;
}

Pinned PinFile(const std::string& path) {
  const absl::StatusOr<std::string> text = scenarios::ReadNonEmptyInputFile(path);
  std::string error;
  const std::string comment = text.ok() ? LeadingComment(*text, error) : "";
  if (!text.ok() || !error.empty()) {
    std::fprintf(stderr, "shardsim pin: %s\n",
                 text.ok() ? fmt::format("{}: {}", path, error).c_str() : std::string(text.status().message()).c_str());
    return Pinned::kBadFile;
  }
  const auto replayed = scenarios::IsClusterScenarioText(*text) ? ReplayClusterFile(*text) : ReplayShard(*text);
  if (const auto* parse_error = std::get_if<std::string>(&replayed)) {
    std::fprintf(stderr, "shardsim pin: %s: %s\n", path.c_str(), parse_error->c_str());
    return Pinned::kBadFile;
  }
  const Replayed& run = std::get<Replayed>(replayed);
  if (run.outcome != run.expected) {
    std::printf("%s: NOT pinned: it expects %s and replays as %s\n", path.c_str(),
                run.expected.empty() ? "pass" : run.expected.c_str(), run.outcome.empty() ? "pass" : run.outcome.c_str());
    return Pinned::kNotReproduced;
  }
  if (!WriteAtomically(path, comment + run.text)) {
    std::fprintf(stderr, "shardsim pin: cannot write %s\n", path.c_str());
    return Pinned::kBadFile;
  }
  const std::string before = !run.pinned_before                     ? "was not pinned"
                             : *run.pinned_before == run.trace_hash ? "unchanged"
                                                                    : fmt::format("was {:016x}", *run.pinned_before);
  std::printf("%s: %s, trace-hash %016llx (%s)\n", path.c_str(), run.expected.empty() ? "pass" : run.expected.c_str(),
              (unsigned long long)run.trace_hash, before.c_str());
  return Pinned::kYes;
}

}  // namespace

std::string LeadingComment(const std::string& text, std::string& error) {
  static const std::regex kOldHashComment("#\\s*trace-hash: [0-9a-f]{16}");
  std::string comment;
  bool in_body = false;
  size_t number = 0;
  for (size_t start = 0; start < text.size();) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view raw(text.data() + start, end - start);
    const std::string_view line = Trimmed(raw);
    start = end + 1;
    ++number;
    const bool comment_line = line.empty() || line.front() == '#';
    if (!comment_line) in_body = true;
    if (in_body && !line.empty() && line.front() == '#') {
      error = fmt::format("line {} is a comment below the header, which a rewrite would drop: move it above", number);
      return "";
    }
    if (!in_body && !std::regex_match(std::string(line), kOldHashComment)) comment += std::string(raw) + "\n";
  }
  return comment;
}

void AddPinFlags(CLI::App& command, PinOptions& options) {
  command.add_option("files", options.paths, "Scenario files (shard or cluster) to replay and rewrite")->required();
  command.footer(
      "Each file must replay as its `expect` line says; it is then rewritten in the current format with the "
      "replay's trace hash pinned and the end marker, its leading comment kept. Use it after a change that alters "
      "traces on purpose (replay says 'trace drift'), once the new replays are checked, and to upgrade version-1 "
      "files.\n");
}

int PinCommand(const PinOptions& options) {
  size_t not_reproduced = 0, bad = 0;
  for (const std::string& path : options.paths) {
    const Pinned pinned = PinFile(path);
    not_reproduced += pinned == Pinned::kNotReproduced;
    bad += pinned == Pinned::kBadFile;
  }
  if (options.paths.size() > 1) {
    std::printf("pin: %zu files, %zu pinned, %zu not reproduced, %zu unreadable\n", options.paths.size(),
                options.paths.size() - not_reproduced - bad, not_reproduced, bad);
  }
  return bad > 0 ? 2 : not_reproduced > 0 ? 1 : 0;
}

}  // namespace shardsim
