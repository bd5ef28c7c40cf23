#include "tools/shardsim/html_report_command.h"

#include <cstdio>
#include <fstream>

#include <absl/status/statusor.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "reports/html_report.h"
#include "reports/junit_report.h"
#include "tools/shardsim/campaign_json.h"

namespace shardsim {

namespace {

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
  absl::StatusOr<nlohmann::json> campaign = ReadJsonFile(options.campaign_json);
  absl::StatusOr<nlohmann::json> catalog = nlohmann::json();
  if (options.catalog_json) catalog = ReadJsonFile(*options.catalog_json);
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
