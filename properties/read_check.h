// A client's read checked against the history (docs/invariants.md I1),
// shared by the simulated run (one thread) and the real one (clients on
// threads, the history behind a mutex).
//
// The read runs between two cursors of the history: every op known applied
// before it started (`applied_through`) must be visible, and no op written
// after it returned (`last_written`) may be. So its answer must be what the
// model gives for some prefix of the WAL's order in that window. The WAL's
// order is the engine's own linearization of the writes, so on real threads
// this accepts exactly the answers consistent with some order that agrees
// with what each client saw.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/assert.h"
#include "engine/model/filter.h"
#include "engine/shard/local_shard.h"
#include "properties/history.h"
#include "properties/scenario.h"
#include "properties/workload.h"

namespace properties {

namespace read_check_detail {

inline std::string ShowHits(const std::vector<engine::ScoredPoint>& hits) {
  std::vector<std::string> parts;
  for (const auto& hit : hits) parts.push_back(fmt::format("{}:{}", hit.id, hit.score));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

// `with_history(fn)` calls fn(const History&) with the history held still
// (under its lock, if it has one) and returns what fn returns. The read
// itself runs outside it: an engine thread may need the history meanwhile.
template <typename WithHistory, typename Read, typename Expect, typename Show>
std::optional<std::string> CheckAgainstHistory(const WithHistory& with_history, std::string_view what, Read read,
                                               Expect expect, Show show) {
  const auto low = with_history([](const History& history) { return history.applied_through(); });
  const auto actual = read();
  return with_history([&](const History& history) -> std::optional<std::string> {
    const auto high = history.last_written();
    const auto prefix =
        history.FindPrefix(low, high, [&](const ReferenceModel& model) { return expect(model) == actual; });
    if (prefix) return std::nullopt;
    return fmt::format(
        "{} returned {}, which no model state between op {} and op {} gives (the model at op {} "
        "gives {})",
        what, show(actual), OpLabel(low), OpLabel(high), OpLabel(high),
        show(expect(history.ModelBelow(high ? *high + 1 : 0))));
  });
}

}  // namespace read_check_detail

// Runs the read `step` on `shard` and checks its answer. Returns the
// failure's description (invariant "read"), or nullopt if the answer is one
// the model allows.
// REQUIRES: step.action is retrieve, scroll, count or search.
template <typename WithHistory>
std::optional<std::string> CheckReadStep(engine::LocalShard& shard, const Step& step,
                                         const engine::CollectionConfig& collection, const WithHistory& with_history) {
  using read_check_detail::CheckAgainstHistory;
  const engine::Filter& filter = step.filter;
  switch (step.action) {
    case Action::kRetrieve:
      return CheckAgainstHistory(
          with_history, fmt::format("read of point {}", step.id), [&] { return shard.Retrieve(step.id); },
          [&](const ReferenceModel& model) { return ExpectedPoint(model, step.id, collection); },
          [](const std::optional<engine::Point>& point) { return point ? DescribePoint(*point) : "nothing"; });
    case Action::kScroll:
      return CheckAgainstHistory(
          with_history, fmt::format("scroll with filter {}", engine::FilterToJson(filter).dump()),
          [&] { return shard.Scroll(&filter, std::nullopt, SIZE_MAX); },
          [&](const ReferenceModel& model) { return ExpectedFiltered(model, filter, collection); }, DescribePoints);
    case Action::kCount:
      return CheckAgainstHistory(
          with_history, fmt::format("count with filter {}", engine::FilterToJson(filter).dump()),
          [&] { return shard.Count(&filter); },
          [&](const ReferenceModel& model) { return ExpectedFiltered(model, filter, collection).size(); },
          [](size_t count) { return fmt::format("{}", count); });
    case Action::kSearch:
      return CheckAgainstHistory(
          with_history, fmt::format("search for [{}] (k={})", fmt::join(step.vector, ", "), step.k),
          [&] { return shard.Search(step.vector, nullptr, step.k); },
          [&](const ReferenceModel& model) { return ExpectedSearch(model, step.vector, step.k, collection); },
          read_check_detail::ShowHits);
    default:
      SS_ASSERT(false, "{} is not a read", ActionName(step.action));
  }
  return std::nullopt;
}

// A delete-by-filter is a read and then a write (LocalShard::DeleteByFilter):
// it resolves its filter as a scroll does, then appends the delete of the ids
// it found as op `op_num`. So those ids must be what the model's filter
// selects after some prefix between the call's start (`applied_before`, the
// history's applied_through then) and the op just before the delete. Without
// this check the model would take whatever ids the engine resolved (it trusts
// the op as appended). Returns the failure's description (invariant "read"),
// or nullopt.
template <typename WithHistory>
std::optional<std::string> CheckDeleteByFilterIds(const engine::Filter& filter,
                                                  std::optional<engine::SeqNumber> applied_before,
                                                  engine::SeqNumber op_num, const WithHistory& with_history) {
  return with_history([&](const History& history) -> std::optional<std::string> {
    const OperationHistory& operations = history.operations();
    const size_t through = operations.PrefixLengthThrough(op_num);
    // The call returned its op: the history holds it (nothing is truncated
    // while an engine process's client is still running).
    SS_ASSERT(through > 0 && operations.op_num(through - 1) == op_num, "delete-by-filter op {} not in the history",
              op_num);
    const auto* deleted = std::get_if<engine::DeletePoints>(&operations.operation(through - 1));
    if (deleted == nullptr) {
      return fmt::format("delete with filter {} appended op {} as {}, not a delete",
                         engine::FilterToJson(filter).dump(), op_num,
                         engine::OperationName(operations.operation(through - 1)));
    }
    std::vector<engine::PointId> ids = deleted->ids;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    const std::optional<engine::SeqNumber> before = op_num == 0 ? std::nullopt : std::optional(op_num - 1);
    SS_ASSERT(!applied_before || (before && *applied_before <= *before), "op {} applied before the delete {}",
              OpLabel(applied_before), op_num);
    if (history.FindPrefix(applied_before, before,
                           [&](const ReferenceModel& model) { return ExpectedFilteredIds(model, filter) == ids; })) {
      return std::nullopt;
    }
    return fmt::format(
        "delete with filter {} deleted ids [{}] (op {}), which no model state between op {} and op {} selects (the "
        "model at op {} selects [{}])",
        engine::FilterToJson(filter).dump(), fmt::join(ids, ", "), op_num, OpLabel(applied_before), OpLabel(before),
        OpLabel(before), fmt::join(ExpectedFilteredIds(history.ModelBelow(op_num), filter), ", "));
  });
}

}  // namespace properties
