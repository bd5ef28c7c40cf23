// The read checks of a simulated shard run (docs/invariants.md I1).
#include <cstdio>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/assert.h"
#include "engine/model/distance.h"
#include "properties/run.h"

namespace properties {

namespace {

std::string ShowHits(const std::vector<engine::ScoredPoint>& hits) {
  std::vector<std::string> parts;
  for (const auto& hit : hits) parts.push_back(fmt::format("{}:{}", hit.id, hit.score));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

}  // namespace

template <typename Read, typename Expect, typename Show>
void Run::CheckReadAgainstHistory(std::string_view what, Read read, Expect expect, Show show) {
  const auto low = history_.applied_through();
  const auto actual = read();
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) { return expect(model) == actual; });
  if (prefix) return;
  Fail("read", fmt::format("{} returned {}, which no model state between op {} and op {} gives (the model at op {} "
                           "gives {})",
                           what, show(actual), OpLabel(low), OpLabel(high), OpLabel(high),
                           show(expect(history_.ModelBelow(high ? *high + 1 : 0)))));
}

void Run::CheckRead(engine::LocalShard& shard, const Step& step) {
  const engine::CollectionConfig& collection = config_.collection;
  const engine::Filter& filter = step.filter;
  switch (step.action) {
    case Action::kRetrieve:
      return CheckReadAgainstHistory(
          fmt::format("read of point {}", step.id), [&] { return shard.Retrieve(step.id); },
          [&](const ReferenceModel& model) { return ExpectedPoint(model, step.id, collection); },
          [](const std::optional<engine::Point>& point) { return point ? DescribePoint(*point) : "nothing"; });
    case Action::kScroll:
      return CheckReadAgainstHistory(
          fmt::format("scroll with filter {}", engine::FilterToJson(filter).dump()),
          [&] { return shard.Scroll(&filter, std::nullopt, SIZE_MAX); },
          [&](const ReferenceModel& model) { return ExpectedFiltered(model, filter, collection); }, DescribePoints);
    case Action::kCount:
      return CheckReadAgainstHistory(
          fmt::format("count with filter {}", engine::FilterToJson(filter).dump()), [&] { return shard.Count(&filter); },
          [&](const ReferenceModel& model) { return ExpectedFiltered(model, filter, collection).size(); },
          [](size_t count) { return fmt::format("{}", count); });
    case Action::kSearch:
      return CheckReadAgainstHistory(
          fmt::format("search for [{}] (k={})", fmt::join(step.vector, ", "), step.k),
          [&] { return shard.Search(step.vector, nullptr, step.k); },
          [&](const ReferenceModel& model) { return ExpectedSearch(model, step.vector, step.k, collection); },
          ShowHits);
    default: SS_ASSERT(false, "{} is not a read", ActionName(step.action));
  }
}

}  // namespace properties
