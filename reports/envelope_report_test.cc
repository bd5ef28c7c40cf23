#include "reports/envelope_report.h"

#include <gtest/gtest.h>

namespace reports {
namespace {

nlohmann::json Campaign(const properties::Envelope& envelope) {
  return {{"seeds", 10}, {"failed", 0}, {"profile", "faulty"},
          {"faults", {{"seeds_with_any", 3}, {"seeds_with", {{"eio-read", 2}}},
                      {"envelope", properties::EnvelopeToJson(envelope)}}}};
}

TEST(EnvelopeReportTest, ListsReachedCellsAndTheOnesNotReached) {
  properties::Envelope envelope;
  envelope.at(sim::FaultClass::kReadError, properties::Component::kWal, properties::Outcome::kDetected) = 4;
  envelope.at(sim::FaultClass::kReadError, properties::Component::kSegments, properties::Outcome::kLost) = 1;
  auto markdown = RenderEnvelopeMarkdown(Campaign(envelope));
  ASSERT_TRUE(markdown.ok()) << markdown.status();
  EXPECT_NE(markdown->find("| eio-read | 5 | 2 |"), std::string::npos) << *markdown;
  EXPECT_NE(markdown->find("| eio-read | wal | 0 | 4 | 0 | 0 |"), std::string::npos) << *markdown;
  EXPECT_NE(markdown->find("| eio-read | segments | 0 | 0 | 0 | **1** |"), std::string::npos) << *markdown;
  EXPECT_NE(markdown->find("Silently lost in all: 1."), std::string::npos);
  EXPECT_NE(markdown->find("eio-read / clocks"), std::string::npos);  // possible, not reached
  EXPECT_EQ(markdown->find("manifests"), std::string::npos);         // not possible in this engine
}

TEST(EnvelopeReportTest, RefusesAnythingButACampaignSummary) {
  EXPECT_FALSE(RenderEnvelopeMarkdown(nlohmann::json::array()).ok());
  EXPECT_FALSE(RenderEnvelopeMarkdown({{"seeds", 1}}).ok());
  EXPECT_FALSE(RenderEnvelopeMarkdown({{"faults", {{"envelope", {{"not-a-class", {}}}}}}}).ok());
}

}  // namespace
}  // namespace reports
