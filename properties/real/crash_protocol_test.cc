// The crash child's report lines: every message round-trips, and a
// malformed line is an error, not a crash.
#include "properties/real/crash_protocol.h"

#include <gtest/gtest.h>

namespace properties::crash {
namespace {

engine::WalRecord Record() {
  return engine::WalRecord{engine::DeletePoints{{3, 5}}, engine::ClockTag{1, 0, 7, 2, false}};
}

TEST(CrashProtocolTest, EveryMessageRoundTrips) {
  const std::vector<Message> messages = {
      Loaded{12},
      Appended{12, Record()},
      Synced{13},
      Intent{2, Record()},
      Acked{2, 12, false},
      Acked{1, 13, true},
      Returned{2},
      Plunged{13},
      Phase{"snapshot"},
      SnapshotMade{.kind = "partial", .path = "e1-partial-3.tar", .save_wal = false, .frozen_through = 12,
                   .wal_next_index = 14, .applied_before = std::nullopt, .base = "e1-shard-0.tar"},
      SnapshotMade{.kind = "shard", .path = "e0-shard-0.tar", .save_wal = true, .frozen_through = std::nullopt,
                   .wal_next_index = 0, .applied_before = 4, .base = std::nullopt},
      RestoreDone{},
      Failed{"update: INTERNAL: boom\nsecond line"},
      Ended{},
  };
  for (const Message& message : messages) {
    const std::string line = Encode(message);
    ASSERT_TRUE(line.ends_with("\n")) << line;
    ASSERT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
    auto decoded = Decode(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(decoded.ok()) << line << ": " << decoded.status();
    EXPECT_EQ(Encode(*decoded), line);
  }
}

TEST(CrashProtocolTest, MalformedLinesAreErrors) {
  for (const char* line : {"", "Z 1", "L", "L x", "L 1 2", "A 3", "A 3 zz", "A 3 abc", "K 1", "T shard a.tar 1 - 3",
                           "H", "H two words"}) {
    EXPECT_FALSE(Decode(line).ok()) << "'" << line << "'";
  }
}

}  // namespace
}  // namespace properties::crash
