// Random operations, filters and reads for simulated shard runs, drawn from
// the run's DecisionSource, and the model-side expectations they are checked
// against.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/model/filter.h"
#include "engine/model/operation.h"
#include "properties/reference_model.h"
#include "properties/scenario.h"
#include "properties/shard_run.h"
#include "sim/decision.h"

namespace properties {

class Workload {
 public:
  Workload(sim::DecisionSource& decisions, const ShardRunConfig& config)
      : decisions_(decisions), config_(config) {}

  Action NextAction();
  // The next action of `client` with every parameter drawn.
  Step NextStep(int client);
  // Where a crash of the coming epoch falls, for an epoch of this many
  // client steps.
  CrashPoint NextCrash(uint64_t client_steps);
  // Whether the coming epoch starts by restoring one of `archives` (the
  // run's full shard snapshots so far) over the live shard, and which.
  std::optional<std::string> NextRestore(const std::vector<std::string>& archives);
  engine::Operation NextOperation();
  engine::PointId RandomId();
  engine::Vector RandomVector();
  engine::Payload RandomPayload();
  engine::Filter RandomFilter();
  // A clock tag on about a third of updates, from two clocks with small
  // ticks, so that stale and repeated ticks (rejections) happen.
  std::optional<engine::ClockTag> RandomClockTag();
  sim::DecisionSource& decisions() { return decisions_; }

 private:
  std::vector<engine::PointId> RandomIds();

  sim::DecisionSource& decisions_;
  const ShardRunConfig& config_;
};

// What the engine must return, computed from the model: vectors are
// preprocessed as the engine stores them (normalised for cosine).
std::optional<engine::Point> ExpectedPoint(const ReferenceModel& model, engine::PointId id,
                                           const engine::CollectionConfig& collection);
std::vector<engine::Point> ExpectedPoints(const ReferenceModel& model,
                                          const engine::CollectionConfig& collection);
std::vector<engine::Point> ExpectedFiltered(const ReferenceModel& model,
                                            const engine::Filter& filter,
                                            const engine::CollectionConfig& collection);
// The ids of the model's points `filter` selects, ascending.
std::vector<engine::PointId> ExpectedFilteredIds(const ReferenceModel& model, const engine::Filter& filter);
std::vector<engine::ScoredPoint> ExpectedSearch(const ReferenceModel& model,
                                                const engine::Vector& query, size_t k,
                                                const engine::CollectionConfig& collection);

std::string DescribePoint(const engine::Point& point);
std::string DescribePoints(const std::vector<engine::Point>& points);
std::string OpLabel(std::optional<engine::SeqNumber> op_num);

}  // namespace properties
