// `shardsim report CAMPAIGN.json [--catalog CATALOG.json] -o INDEX.html
// [--junit FILE]`: the campaign's one-page HTML report (reports/html_report.h)
// and, for CI dashboards, JUnit XML with one test case per failure signature.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace shardsim {

struct HtmlReportOptions {
  std::string campaign_json;
  std::optional<std::string> catalog_json;  // reports/bug_catalog.json
  std::optional<std::string> output;        // the HTML page
  std::optional<std::string> junit;         // JUnit XML
};

void AddHtmlReportFlags(CLI::App& command, HtmlReportOptions& options);
// 0 written, 2 an unreadable or malformed input (named) or an unwritable output.
int HtmlReportCommand(const HtmlReportOptions& options);

}  // namespace shardsim
