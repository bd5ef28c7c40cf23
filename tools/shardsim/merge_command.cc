#include "tools/shardsim/merge_command.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include <absl/status/statusor.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tools/shardsim/campaign_json.h"
#include "tools/shardsim/campaign_report.h"

namespace shardsim {

namespace {

constexpr size_t kMaxParts = 100'000;

struct Part {
  std::string path;
  nlohmann::json document;
  CampaignTotals totals;
};

absl::StatusOr<Part> ReadPart(const std::string& path) {
  absl::StatusOr<nlohmann::json> document = ReadJsonFile(path);
  if (!document.ok()) return document.status();
  if (!document->is_object() || document->value("schema", "") != kCampaignSchemaName) {
    return absl::InvalidArgumentError(path + " is not a campaign summary (no \"schema\": \"shardsim-campaign\")");
  }
  if (document->value("schema_version", 0) != kCampaignSchemaVersion) {
    return absl::InvalidArgumentError(fmt::format("{} has schema version {}; this shardsim reads version {}", path,
                                                  document->value("schema_version", 0), kCampaignSchemaVersion));
  }
  absl::StatusOr<CampaignTotals> totals = TotalsFromJson(document->value("totals", nlohmann::json()));
  if (!totals.ok()) return absl::InvalidArgumentError(fmt::format("{}: {}", path, std::string(totals.status().message())));
  return Part{.path = path, .document = std::move(*document), .totals = std::move(*totals)};
}

// The build identity all parts share, or an error naming the first that differs.
absl::StatusOr<nlohmann::json> MergedIdentity(const std::vector<Part>& parts, bool allow_mixed_builds) {
  std::set<std::string> commits, build_types, hosts;
  for (const Part& part : parts) {
    const nlohmann::json identity = part.document.value("identity", nlohmann::json::object());
    commits.insert(identity.value("commit", "unknown"));
    build_types.insert(identity.value("build_type", "unknown"));
    if (identity.contains("hosts") && identity["hosts"].is_array()) {
      for (const auto& host : identity["hosts"]) hosts.insert(host.is_string() ? host.get<std::string>() : "?");
    } else {
      hosts.insert(identity.value("host", "unknown"));
    }
  }
  const auto joined = [](const std::set<std::string>& values) { return fmt::format("{}", fmt::join(values, ", ")); };
  if ((commits.size() > 1 || build_types.size() > 1) && !allow_mixed_builds) {
    return absl::FailedPreconditionError(fmt::format(
        "the parts come from different builds (commits: {}; build types: {}); --allow-mixed-builds merges them anyway",
        joined(commits), joined(build_types)));
  }
  return nlohmann::json{{"commit", commits.size() == 1 ? *commits.begin() : "mixed: " + joined(commits)},
                        {"build_type", build_types.size() == 1 ? *build_types.begin() : "mixed: " + joined(build_types)},
                        {"hosts", std::vector<std::string>(hosts.begin(), hosts.end())}};
}

// Every part must mean the same thing by a seed: the same cluster share and
// config overrides, or the merged replay commands would be wrong.
absl::Status CheckSameOptions(const std::vector<Part>& parts) {
  const nlohmann::json first = parts.front().document.value("options", nlohmann::json::object());
  for (const Part& part : parts) {
    if (part.document.value("options", nlohmann::json::object()) != first) {
      return absl::FailedPreconditionError(fmt::format("{} ran with other options ({}) than {} ({})", part.path,
                                                       part.document.value("options", nlohmann::json()).dump(),
                                                       parts.front().path, first.dump()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void AddMergeFlags(CLI::App& command, MergeOptions& options) {
  command.add_option("inputs", options.inputs, "Campaign summaries written by `campaign --json`")->required();
  command.add_option("-o,--output", options.output_path, "Where the merged summary goes")->required();
  command.add_flag("--allow-mixed-builds", options.allow_mixed_builds,
                   "Merge parts built from different commits or build types (refused by default)");
  command.add_flag("--quiet", options.quiet, "Print nothing but errors");
}

int MergeCommand(const MergeOptions& options) {
  if (options.inputs.size() > kMaxParts) {
    std::fprintf(stderr, "shardsim merge: %zu inputs; at most %zu\n", options.inputs.size(), kMaxParts);
    return 2;
  }
  std::vector<Part> parts;
  for (const std::string& path : options.inputs) {
    absl::StatusOr<Part> part = ReadPart(path);
    if (!part.ok()) {
      std::fprintf(stderr, "shardsim merge: %s\n", std::string(part.status().message()).c_str());
      return 2;
    }
    parts.push_back(std::move(*part));
  }
  absl::StatusOr<nlohmann::json> identity = MergedIdentity(parts, options.allow_mixed_builds);
  absl::Status same = CheckSameOptions(parts);
  if (!identity.ok() || !same.ok()) {
    std::fprintf(stderr, "shardsim merge: %s\n",
                 std::string((identity.ok() ? same : identity.status()).message()).c_str());
    return 2;
  }
  CampaignTotals totals;
  CampaignProvenance provenance{.identity = *identity, .parts = 0};
  double elapsed_seconds = 0;
  for (const Part& part : parts) {
    AddTotals(totals, part.totals);
    provenance.parts += part.document.value("parts", 1ull);
    provenance.worker_seconds += part.document.value("worker_seconds", part.document.value("elapsed_seconds", 0.0));
    elapsed_seconds = std::max(elapsed_seconds, part.document.value("elapsed_seconds", 0.0));
    for (const auto& range : part.document["seed_range"].value("ranges", nlohmann::json::array())) {
      provenance.seed_ranges.emplace_back(range.value("first", 0ull), range.value("last", 0ull));
    }
  }
  std::sort(provenance.seed_ranges.begin(), provenance.seed_ranges.end());
  const CampaignOptions campaign_options = OptionsFromJson(parts.front().document.value("options", nlohmann::json()));
  std::ofstream out(options.output_path);
  out << SummaryJson(totals, elapsed_seconds, campaign_options, provenance).dump(2) << "\n";
  if (!out) {
    std::fprintf(stderr, "shardsim merge: cannot write %s\n", options.output_path.c_str());
    return 2;
  }
  if (!options.quiet) {
    std::printf("merged %zu summaries (%llu parts): %llu seeds, %llu passed, %llu failed, %zu signatures -> %s\n",
                parts.size(), (unsigned long long)provenance.parts, (unsigned long long)totals.seeds,
                (unsigned long long)totals.passed, (unsigned long long)totals.failed, totals.failures.size(),
                options.output_path.c_str());
  }
  return totals.failed == 0 ? 0 : 1;
}

}  // namespace shardsim
