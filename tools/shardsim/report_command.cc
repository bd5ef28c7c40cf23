#include "tools/shardsim/report_command.h"

#include <cstdio>
#include <fstream>

#include "engine/common/assert.h"
#include "reports/envelope_report.h"
#include "scenarios/input_file.h"
#include "tools/shardsim/output_paths.h"

namespace shardsim {

void AddEnvelopeFlags(CLI::App& command, EnvelopeOptions& options) {
  command
      .add_option("campaign_json", options.campaign_jsons,
                  "`shardsim campaign --json` summaries; several are summed into one envelope")
      ->required();
  command.add_option("-o,--output", options.output, "Markdown file to write (default: standard output)");
}

int EnvelopeCommand(const EnvelopeOptions& options) {
  if (options.output) {
    if (auto status = CheckOutputFile("-o", *options.output); !status.ok()) {
      std::fprintf(stderr, "shardsim envelope: %s\n", std::string(status.message()).c_str());
      return 2;
    }
  }
  std::vector<nlohmann::json> campaigns;
  for (const std::string& path : options.campaign_jsons) {
    const absl::StatusOr<std::string> text = scenarios::ReadNonEmptyInputFile(path);
    if (!text.ok()) {
      std::fprintf(stderr, "shardsim envelope: %s\n", std::string(text.status().message()).c_str());
      return 2;
    }
    campaigns.push_back(nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false));
    // Checked alone first, so that an error names the file.
    if (auto alone = reports::RenderEnvelopeMarkdown({campaigns.back()}); !alone.ok()) {
      std::fprintf(stderr, "shardsim envelope: %s: %s\n", path.c_str(), std::string(alone.status().message()).c_str());
      return 2;
    }
  }
  auto markdown = reports::RenderEnvelopeMarkdown(campaigns);
  SS_ASSERT(markdown.ok(), "summaries valid alone are valid together: {}", markdown.status().ToString());
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
