// `shardsim envelope CAMPAIGN.json [-o OUT.md]`: the fault-tolerance
// envelope of a campaign summary as Markdown (reports/envelope_report.h).
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace shardsim {

struct EnvelopeOptions {
  std::string campaign_json;
  std::optional<std::string> output;  // stdout when unset
};

void AddEnvelopeFlags(CLI::App& command, EnvelopeOptions& options);
// Exit 0 when written, 1 when the envelope has silently lost injections,
// 2 on an unreadable or malformed file.
int EnvelopeCommand(const EnvelopeOptions& options);

}  // namespace shardsim
