// The read checks of a simulated shard run (docs/invariants.md I1).
#include <cstdio>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/file_util.h"
#include "engine/model/distance.h"
#include "properties/run.h"

namespace properties {

void Run::CheckRetrieve(engine::LocalShard& shard, engine::PointId id) {
  const auto low = history_.applied_through();
  const std::optional<engine::Point> actual = shard.Retrieve(id);
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) {
    return ExpectedPoint(model, id, config_.collection) == actual;
  });
  if (!prefix) {
    Fail("read", fmt::format("read of point {} returned {}, which no model state between op {} and op "
                     "{} holds",
                     id, actual ? DescribePoint(*actual) : "nothing", OpLabel(low),
                     OpLabel(high)));
  }
}

void Run::CheckScroll(engine::LocalShard& shard, const engine::Filter& filter) {
  const auto low = history_.applied_through();
  const std::vector<engine::Point> actual = shard.Scroll(&filter, std::nullopt, SIZE_MAX);
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) {
    return ExpectedFiltered(model, filter, config_.collection) == actual;
  });
  if (!prefix) {
    Fail("read", fmt::format("scroll with filter {} returned {}, which no model state between op {} and "
                     "op {} gives (the model at op {} gives {})",
                     engine::FilterToJson(filter).dump(), DescribePoints(actual), OpLabel(low),
                     OpLabel(high), OpLabel(high),
                     DescribePoints(ExpectedFiltered(history_.ModelBelow(high ? *high + 1 : 0), filter,
                                                     config_.collection))));
  }
}

void Run::CheckCount(engine::LocalShard& shard, const engine::Filter& filter) {
  const auto low = history_.applied_through();
  const size_t actual = shard.Count(&filter);
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) {
    return ExpectedFiltered(model, filter, config_.collection).size() == actual;
  });
  if (!prefix) {
    Fail("read", fmt::format("count with filter {} returned {}, which no model state between op {} and "
                     "op {} gives",
                     engine::FilterToJson(filter).dump(), actual, OpLabel(low), OpLabel(high)));
  }
}

void Run::CheckSearch(engine::LocalShard& shard, const engine::Vector& query, size_t k) {
  const auto low = history_.applied_through();
  const std::vector<engine::ScoredPoint> actual = shard.Search(query, nullptr, k);
  const auto high = history_.last_written();
  ++stats_.reads_checked;
  const auto prefix = history_.FindPrefix(low, high, [&](const ReferenceModel& model) {
    return ExpectedSearch(model, query, k, config_.collection) == actual;
  });
  if (!prefix) {
    const auto hits = [](const std::vector<engine::ScoredPoint>& list) {
      std::vector<std::string> parts;
      for (const auto& hit : list) parts.push_back(fmt::format("{}:{}", hit.id, hit.score));
      return fmt::format("[{}]", fmt::join(parts, ", "));
    };
    Fail("read", fmt::format("search for [{}] (k={}) returned {}, which no model state between op {} and "
                     "op {} gives (the model at op {} gives {})",
                     fmt::join(query, ", "), k, hits(actual), OpLabel(low), OpLabel(high),
                     OpLabel(high),
                     hits(ExpectedSearch(history_.ModelBelow(high ? *high + 1 : 0), query, k,
                                         config_.collection))));
  }
}

}  // namespace properties
