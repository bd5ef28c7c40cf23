#include "tools/shardsim/report_command.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "reports/envelope_report.h"

namespace shardsim {

void AddEnvelopeFlags(CLI::App& command, EnvelopeOptions& options) {
  command.add_option("campaign_json", options.campaign_json, "A `shardsim campaign --json` summary")->required();
  command.add_option("-o,--output", options.output, "Markdown file to write (default: standard output)");
}

int EnvelopeCommand(const EnvelopeOptions& options) {
  std::ifstream in(options.campaign_json);
  if (!in) {
    std::fprintf(stderr, "shardsim envelope: cannot read %s\n", options.campaign_json.c_str());
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json campaign = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  auto markdown = reports::RenderEnvelopeMarkdown(campaign);
  if (!markdown.ok()) {
    std::fprintf(stderr, "shardsim envelope: %s: %s\n", options.campaign_json.c_str(),
                 std::string(markdown.status().message()).c_str());
    return 2;
  }
  if (options.output) {
    std::ofstream out(*options.output, std::ios::trunc);
    out << *markdown;
    if (!out) {
      std::fprintf(stderr, "shardsim envelope: cannot write %s\n", options.output->c_str());
      return 2;
    }
  } else {
    std::fputs(markdown->c_str(), stdout);
  }
  const bool lost = markdown->find("Silently lost in all: 0.") == std::string::npos;
  return lost ? 1 : 0;
}

}  // namespace shardsim
