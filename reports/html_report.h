// The campaign report people look at: one self-contained HTML page (inline
// CSS and SVG, no network, no external file) from a campaign summary
// (docs/campaign-json.md) and, optionally, the planted-bug catalog
// (reports/bug_catalog.json, written by tools/bug_catalog.sh).
//
// Sections, each an element with a fixed id so tests and readers can find
// it: #identity, #throughput, #failures, #coverage, #envelope, #catalog.
#pragma once

#include <string>

#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

namespace reports {

// REQUIRES: nothing; a document missing a field renders "n/a" there. Only a
// document that is not a campaign summary at all is an error.
// `catalog` may be null (the section then says how to make one).
absl::StatusOr<std::string> RenderCampaignHtml(const nlohmann::json& campaign, const nlohmann::json* catalog);


}  // namespace reports
