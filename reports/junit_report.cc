#include "reports/junit_report.h"

#include <fmt/format.h>

namespace reports {

std::string EscapeXml(std::string_view text) {
  std::string out;
  for (char c : text) {
    const unsigned char byte = static_cast<unsigned char>(c);
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      // XML 1.0 has no control characters but tab, newline and return.
      default: out += (byte < 0x20 && c != '\t' && c != '\n' && c != '\r') ? '?' : c;
    }
  }
  return out;
}

std::string RenderCampaignJunit(const nlohmann::json& campaign) {
  const nlohmann::json failures =
      campaign.is_object() ? campaign.value("failures", nlohmann::json::array()) : nlohmann::json::array();
  const double seconds = campaign.is_object() ? campaign.value("elapsed_seconds", 0.0) : 0.0;
  std::string cases;
  for (const nlohmann::json& failure : failures) {
    const nlohmann::json signature = failure.value("signature", nlohmann::json::object());
    const std::string name = signature.value("key", failure.value("invariant", std::string("failure")));
    const std::string detail =
        fmt::format("{} seeds; first seed {}: {}\nreplay: {}{}", failure.value("count", 0ull),
                    failure.value("first_seed", 0ull), failure.value("failure", ""), failure.value("replay", ""),
                    failure.contains("scenario") ? "\nshrunk: shardsim replay " + failure.value("scenario", "") : "");
    cases += fmt::format(
        "    <testcase classname=\"shardsim.{}\" name=\"{}\" time=\"0\">\n"
        "      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
        EscapeXml(signature.value("invariant", failure.value("invariant", std::string("unknown")))), EscapeXml(name),
        EscapeXml(failure.value("failure", "").substr(0, 500)), EscapeXml(signature.value("component", "shard")),
        EscapeXml(detail));
  }
  const size_t failed_cases = failures.size();
  if (failures.empty()) {
    cases += fmt::format("    <testcase classname=\"shardsim.campaign\" name=\"{} seeds passed\" time=\"{:.1f}\"/>\n",
                         campaign.is_object() ? campaign.value("seeds", 0ull) : 0, seconds);
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
      "  <testsuite name=\"shardsim campaign\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{:.1f}\">\n{}"
      "  </testsuite>\n</testsuites>\n",
      failures.empty() ? 1 : failed_cases, failed_cases, seconds, cases);
}

}  // namespace reports
