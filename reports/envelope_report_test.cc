#include "reports/envelope_report.h"

#include <gtest/gtest.h>

namespace reports {
namespace {

nlohmann::json Campaign(const properties::Envelope& envelope) {
  return {{"seeds", 10}, {"failed", 0}, {"profile", "faulty"}, {"elapsed_seconds", 2.0},
          {"faults", {{"seeds_with_any", 3}, {"seeds_with", {{"eio-read", 2}}},
                      {"envelope", properties::EnvelopeToJson(envelope)}}}};
}

TEST(EnvelopeReportTest, ListsReachedCellsAndTheOnesNotReached) {
  properties::Envelope envelope;
  envelope.at(sim::FaultClass::kReadError, properties::Component::kWal, properties::Outcome::kDetected) = 4;
  envelope.at(sim::FaultClass::kReadError, properties::Component::kSegments, properties::Outcome::kLost) = 1;
  auto markdown = RenderEnvelopeMarkdown({Campaign(envelope)});
  ASSERT_TRUE(markdown.ok()) << markdown.status();
  EXPECT_NE(markdown->find("| faulty | 10 | 0 | 2.0 | 5.0 |"), std::string::npos) << *markdown;
  EXPECT_NE(markdown->find("| eio-read | 5 | 2 |"), std::string::npos) << *markdown;
  EXPECT_NE(markdown->find("| eio-read | wal | 0 | 4 | 0 | 0 |"), std::string::npos) << *markdown;
  EXPECT_NE(markdown->find("| eio-read | segments | 0 | 0 | 0 | **1** |"), std::string::npos) << *markdown;
  EXPECT_NE(markdown->find("Silently lost in all: 1."), std::string::npos);
  EXPECT_NE(markdown->find("eio-read / clocks"), std::string::npos);  // possible, not reached
  EXPECT_EQ(markdown->find("eio-read / manifests"), std::string::npos);  // not possible in this engine
  EXPECT_NE(markdown->find("stored-rot / manifests"), std::string::npos);  // possible: unpacked by a restore
}

TEST(EnvelopeReportTest, SumsSeveralCampaigns) {
  properties::Envelope envelope;
  envelope.at(sim::FaultClass::kReadFlip, properties::Component::kRestoreStaging, properties::Outcome::kRepaired) = 2;
  auto markdown = RenderEnvelopeMarkdown({Campaign(envelope), Campaign(envelope)});
  ASSERT_TRUE(markdown.ok()) << markdown.status();
  EXPECT_NE(markdown->find("Campaigns: 20 seeds (0 failed); 6 seeds had at least one fault."), std::string::npos)
      << *markdown;
  EXPECT_NE(markdown->find("| read-flip | restore-staging | 0 | 0 | 4 | 0 |"), std::string::npos) << *markdown;
  EXPECT_NE(markdown->find("| eio-read | 0 | 4 |"), std::string::npos) << *markdown;
}

TEST(EnvelopeReportTest, ShowsAReachedRowOutsideThePossibleCells) {
  properties::Envelope envelope;
  envelope.at(sim::FaultClass::kReadError, properties::Component::kManifests, properties::Outcome::kSurvived) = 1;
  auto markdown = RenderEnvelopeMarkdown({Campaign(envelope)});
  ASSERT_TRUE(markdown.ok()) << markdown.status();
  EXPECT_NE(markdown->find("| eio-read | manifests | 1 | 0 | 0 | 0 |"), std::string::npos) << *markdown;
}

TEST(EnvelopeReportTest, RefusesAnythingButACampaignSummary) {
  const std::vector<nlohmann::json> not_summaries = {
      nlohmann::json::array(), {{"seeds", 1}}, {{"faults", {{"envelope", {{"not-a-class", {}}}}}}}};
  for (const nlohmann::json& bad : not_summaries) {
    auto markdown = RenderEnvelopeMarkdown({Campaign(properties::Envelope{}), bad});
    ASSERT_FALSE(markdown.ok()) << bad.dump();
    EXPECT_NE(markdown.status().message().find("summary 2"), std::string_view::npos) << markdown.status();
  }
}

}  // namespace
}  // namespace reports
