#include "reports/html_report.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "reports/html_parts.h"
#include "reports/junit_report.h"

namespace reports {
namespace {

nlohmann::json Campaign(bool failing) {
  nlohmann::json campaign = {
      {"schema", "shardsim-campaign"}, {"seeds", 100u}, {"passed", failing ? 99u : 100u},
      {"failed", failing ? 1u : 0u}, {"elapsed_seconds", 2.5}, {"seeds_per_second", 40.0},
      {"identity", {{"commit", "abc123"}, {"build_type", "RelWithDebInfo"}, {"host", "vm"}}},
      {"coverage", {{"wal.ack_held_by_waterline", 3u}, {"fault.never", 0u}}},
      {"faults", {{"envelope", {{"eio-sync", {{"segments", {{"survived", 1u}, {"detected", 2u}, {"repaired", 0u}, {"lost", 0u}}}}}}}}},
      {"mix", {{"profiles", {{"drawn", 90u}}}, {"strategies", {{"pct", 50u}, {"random", 40u}}}}},
      {"failures", nlohmann::json::array()}};
  if (failing) {
    campaign["failures"].push_back({{"invariant", "recovery"},
                                    {"signature", {{"key", "recovery | x | wal | <bad>"}, {"invariant", "recovery"},
                                                   {"check", "x"}, {"component", "wal"}, {"message_class", "<bad>"}}},
                                    {"count", 1u}, {"first_seed", 7u}, {"failure", "x: <script>alert(1)</script>"},
                                    {"replay", "shardsim run --seed 7 --profile 'faulty'"}});
  }
  return campaign;
}

TEST(HtmlReportTest, EverySectionIsThereAndValuesAreEscaped) {
  const nlohmann::json catalog = {{"generated_by", "tools/bug_catalog.sh"}, {"commit", "abc"}, {"budget_seconds", 60},
                                  {"rows", {{{"bug", "01-x"}, {"caught", "yes"}, {"time_to_first_failure_seconds", "2.5"},
                                             {"invariant", "read"}, {"shrunk", "13 (of 46)"}, {"failed", "1"}, {"seeds", "6"}}}}};
  const nlohmann::json campaign = Campaign(true);
  const auto html = RenderCampaignHtml(campaign, &catalog);
  ASSERT_TRUE(html.ok()) << html.status();
  for (const char* id : {"identity", "throughput", "failures", "coverage", "envelope", "catalog"}) {
    EXPECT_NE(html->find(fmt::format("<section id=\"{}\">", id)), std::string::npos) << id;
  }
  EXPECT_EQ(html->find("<script>alert"), std::string::npos);
  EXPECT_NE(html->find("&lt;script&gt;alert"), std::string::npos);
  EXPECT_NE(html->find("never hit"), std::string::npos);
  EXPECT_NE(html->find("1 of 100 seeds failed"), std::string::npos);
  EXPECT_NE(html->find("Time to first failure"), std::string::npos);
  EXPECT_EQ(html->find("http://"), html->find("http://www.w3.org/2000/svg"));  // no fetch from the network
}

TEST(HtmlReportTest, NotACampaignIsAnErrorAndNoCatalogIsSaid) {
  EXPECT_FALSE(RenderCampaignHtml(nlohmann::json::array(), nullptr).ok());
  EXPECT_FALSE(RenderCampaignHtml({{"x", 1}}, nullptr).ok());
  const auto html = RenderCampaignHtml(Campaign(false), nullptr);
  ASSERT_TRUE(html.ok());
  EXPECT_NE(html->find("No catalog given"), std::string::npos);
  EXPECT_NE(html->find("Every seed passed"), std::string::npos);
}

TEST(HtmlReportTest, BarChartsAreBounded) {
  std::vector<Bar> bars(kMaxBars + 5, Bar{"b", 1, ""});
  const std::string svg = SvgBarChart("t", bars, "s");
  size_t rects = 0;
  for (size_t at = svg.find("<rect"); at != std::string::npos; at = svg.find("<rect", at + 1)) ++rects;
  EXPECT_EQ(rects, kMaxBars);
  EXPECT_NE(svg.find("5 more not drawn"), std::string::npos);
  EXPECT_EQ(EscapeHtml("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
}

TEST(JunitReportTest, OneCasePerSignature) {
  const std::string failing = RenderCampaignJunit(Campaign(true));
  EXPECT_NE(failing.find("tests=\"1\" failures=\"1\""), std::string::npos);
  EXPECT_NE(failing.find("classname=\"shardsim.recovery\""), std::string::npos);
  EXPECT_NE(failing.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(failing.find("--profile &apos;faulty&apos;"), std::string::npos);
  const std::string passing = RenderCampaignJunit(Campaign(false));
  EXPECT_NE(passing.find("tests=\"1\" failures=\"0\""), std::string::npos);
  EXPECT_NE(passing.find("100 seeds passed"), std::string::npos);
  EXPECT_EQ(EscapeXml(std::string("a\x01" "b")), "a?b");
}

}  // namespace
}  // namespace reports
