// `shardsim envelope CAMPAIGN.json... [-o OUT.md]`: the fault-tolerance
// envelope of one or more campaign summaries, summed, as Markdown
// (reports/envelope_report.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace shardsim {

struct EnvelopeOptions {
  std::vector<std::string> campaign_jsons;  // at least one
  std::optional<std::string> output;  // stdout when unset
};

void AddEnvelopeFlags(CLI::App& command, EnvelopeOptions& options);
// Exit 0 when written, 1 when the envelope has silently lost injections,
// 2 on an unreadable or malformed file (named).
int EnvelopeCommand(const EnvelopeOptions& options);

}  // namespace shardsim
