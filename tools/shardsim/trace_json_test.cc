#include "tools/shardsim/trace_json.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "properties/scenario.h"

namespace shardsim {
namespace {

// The JSON a viewer loads: it parses, and its events account for the
// run's trace (every file-system call on the file-system track, one
// running slice per scheduling decision, a named track per task).
TEST(ChromeTraceJson, ParsesAndCountsMatchTheTrace) {
  properties::ShardRunConfig config = properties::ShardRunConfig::Draw(7);
  config.record_trace = true;
  const properties::ShardRunResult result = properties::RunShardScenario(config);
  ASSERT_FALSE(result.events.empty());
  const std::string text = ChromeTraceJson(result.events).dump();
  const nlohmann::json parsed = nlohmann::json::parse(text);  // throws on malformed JSON
  ASSERT_TRUE(parsed.contains("traceEvents"));

  std::map<sim::EventKind, size_t> kinds;
  std::set<uint32_t> tasks;
  for (const sim::TraceEvent& event : result.events) {
    ++kinds[event.kind];
    if (event.kind == sim::EventKind::kSpawn) tasks.insert(event.task);
  }
  size_t fs_calls = 0, slices = 0, thread_names = 0, crashes = 0;
  for (const nlohmann::json& event : parsed["traceEvents"]) {
    ASSERT_TRUE(event.contains("ph") && event.contains("pid")) << event.dump();
    const std::string phase = event["ph"];
    if (phase == "M" && event["name"] == "thread_name") ++thread_names;
    if (phase == "X" && event["tid"] == kFileSystemTrack) ++fs_calls;
    if (phase == "X" && event["name"] == "running") ++slices;
    if (phase == "i" && event["name"].get<std::string>().starts_with("crash")) ++crashes;
    if (phase != "M") {
      ASSERT_TRUE(event.contains("ts")) << event.dump();
    }
  }
  EXPECT_EQ(fs_calls, kinds[sim::EventKind::kFsCall]);
  EXPECT_EQ(slices, kinds[sim::EventKind::kSchedule]);
  EXPECT_EQ(thread_names, tasks.size() + 2);  // + file system and scheduler
  EXPECT_EQ(crashes, kinds[sim::EventKind::kCrash]);
  EXPECT_GT(fs_calls, 0u);
}

}  // namespace
}  // namespace shardsim
