#include "tools/shardsim/html_report_command.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <absl/status/statusor.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "reports/html_report.h"
#include "reports/junit_report.h"

namespace shardsim {

namespace {

constexpr uintmax_t kMaxInputBytes = uintmax_t{1} << 30;

absl::StatusOr<nlohmann::json> ReadJson(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) return absl::InvalidArgumentError(path + " is a directory");
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (error) return absl::NotFoundError(fmt::format("{}: {}", path, error.message()));
  if (size > kMaxInputBytes) return absl::InvalidArgumentError(path + " is over 1 GiB");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return absl::NotFoundError(path + ": cannot read");
  nlohmann::json json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError(path + " is not JSON");
  return json;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) std::fprintf(stderr, "shardsim report: cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

}  // namespace

void AddHtmlReportFlags(CLI::App& command, HtmlReportOptions& options) {
  command.add_option("campaign_json", options.campaign_json, "A `campaign --json` or `merge` summary")->required();
  command.add_option("--catalog", options.catalog_json,
                     "The planted-bug catalog (reports/bug_catalog.json, from tools/bug_catalog.sh)");
  command.add_option("-o,--output", options.output, "The HTML page to write (e.g. reports/index.html)");
  command.add_option("--junit", options.junit, "Also write JUnit XML (one test case per failure signature)");
}

int HtmlReportCommand(const HtmlReportOptions& options) {
  if (!options.output && !options.junit) {
    std::fprintf(stderr, "shardsim report: nothing to write: give -o FILE.html and/or --junit FILE.xml\n");
    return 2;
  }
  absl::StatusOr<nlohmann::json> campaign = ReadJson(options.campaign_json);
  absl::StatusOr<nlohmann::json> catalog = nlohmann::json();
  if (options.catalog_json) catalog = ReadJson(*options.catalog_json);
  for (const absl::Status& status : {campaign.status(), catalog.status()}) {
    if (!status.ok()) {
      std::fprintf(stderr, "shardsim report: %s\n", std::string(status.message()).c_str());
      return 2;
    }
  }
  if (options.output) {
    absl::StatusOr<std::string> html =
        reports::RenderCampaignHtml(*campaign, options.catalog_json ? &*catalog : nullptr);
    if (!html.ok()) {
      std::fprintf(stderr, "shardsim report: %s: %s\n", options.campaign_json.c_str(),
                   std::string(html.status().message()).c_str());
      return 2;
    }
    if (!WriteFile(*options.output, *html)) return 2;
  }
  if (options.junit && !WriteFile(*options.junit, reports::RenderCampaignJunit(*campaign))) return 2;
  return 0;
}

}  // namespace shardsim
