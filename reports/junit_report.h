// A campaign summary as JUnit XML for CI dashboards: one test case per
// failure signature (failed, with the first seed's message and the replay
// command), and one passing case when every seed passed, so a dashboard
// always shows the campaign ran.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace reports {

std::string RenderCampaignJunit(const nlohmann::json& campaign);

// Text made safe inside XML elements and attribute values.
std::string EscapeXml(std::string_view text);

}  // namespace reports
