#include "tools/shardsim/pin_command.h"

#include <gtest/gtest.h>

namespace shardsim {
namespace {

TEST(PinCommandTest, KeepsTheCommentAboveTheHeaderAsWritten) {
  std::string error;
  EXPECT_EQ(LeadingComment("# why it failed\n#\n\n#  indented note\nshardsim-scenario 1\nexpect pass\n", error),
            "# why it failed\n#\n\n#  indented note\n");
  EXPECT_EQ(error, "");
  EXPECT_EQ(LeadingComment("shardsim-scenario 2\nexpect pass\n", error), "");
  EXPECT_EQ(error, "");
}

// A copy of the hash in the comment (older writers put one there) would go
// stale beside the pinned line.
TEST(PinCommandTest, DropsTheOldTraceHashComment) {
  std::string error;
  EXPECT_EQ(LeadingComment("# outcome: pass\n# trace-hash: 0371b0df7639ec64\n# replay: ...\ncluster v1\n", error),
            "# outcome: pass\n# replay: ...\n");
  EXPECT_EQ(error, "");
}

TEST(PinCommandTest, RefusesACommentBelowTheHeader) {
  std::string error;
  EXPECT_EQ(LeadingComment("# top\nshardsim-scenario 1\nexpect pass\n# lost\nconfig seed=1\n", error), "");
  EXPECT_EQ(error, "line 4 is a comment below the header, which a rewrite would drop: move it above");
}

}  // namespace
}  // namespace shardsim
