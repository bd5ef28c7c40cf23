#include "properties/workload.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "properties/model_distance.h"
#include "properties/model_filter.h"

namespace properties {

namespace {
const char* const kColors[] = {"red", "green", "blue"};
}  // namespace

Action Workload::NextAction() { return config_.mix.Draw(decisions_); }

Step Workload::NextStep(int client) {
  Step step;
  step.client = client;
  step.action = NextAction();
  switch (step.action) {
    case Action::kUpdate:
      step.wait = decisions_.Chance(config_.wait_probability);
      step.record = engine::WalRecord{NextOperation(), std::nullopt};
      step.record->clock_tag = RandomClockTag();
      break;
    case Action::kDeleteByFilter:
      step.filter = RandomFilter();
      step.wait = decisions_.Chance(0.5);
      break;
    case Action::kRetrieve: step.id = RandomId(); break;
    case Action::kScroll:
    case Action::kCount: step.filter = RandomFilter(); break;
    case Action::kSearch:
      step.vector = RandomVector();
      step.k = decisions_.Between(1, 4);
      break;
    case Action::kSnapshot:
    case Action::kCollectionSnapshot: step.save_wal = decisions_.Chance(0.5); break;
    case Action::kPartialSnapshot:
    case Action::kPlunge:
    case Action::kFlush:
    case Action::kFreeze:
    case Action::kOptimize:
    case Action::kVacuum:
    case Action::kCancelOptimize: break;
  }
  return step;
}

CrashPoint Workload::NextCrash(uint64_t client_steps) {
  CrashPoint crash;
  crash.kind = decisions_.Chance(config_.power_loss_probability) ? sim::CrashKind::kPowerLoss
                                                                  : sim::CrashKind::kProcessCrash;
  // Within the steps an epoch of this size takes, so most crashes fire.
  crash.after_steps = decisions_.Between(10, 200 + 40 * client_steps);
  return crash;
}

std::optional<std::string> Workload::NextRestore(const std::vector<std::string>& archives) {
  if (archives.empty() || !decisions_.Chance(0.25)) return std::nullopt;
  return archives[decisions_.Draw(archives.size())];
}

std::optional<engine::ClockTag> Workload::RandomClockTag() {
  if (!decisions_.Chance(0.3)) return std::nullopt;
  return engine::ClockTag{decisions_.Draw(2), 0, decisions_.Between(0, 12), decisions_.Draw(2),
                          decisions_.Chance(0.05)};
}

engine::PointId Workload::RandomId() { return decisions_.Draw(config_.id_range); }

std::vector<engine::PointId> Workload::RandomIds() {
  std::vector<engine::PointId> ids;
  const uint64_t count = decisions_.Between(1, 3);
  for (uint64_t i = 0; i < count; ++i) ids.push_back(RandomId());
  return ids;
}

engine::Vector Workload::RandomVector() {
  // Small multiples of 0.5 keep scores exact and ties frequent.
  engine::Vector vector(config_.collection.dimension);
  for (float& value : vector) value = static_cast<float>(decisions_.Draw(9)) * 0.5f - 2.0f;
  return vector;
}

engine::Payload Workload::RandomPayload() {
  engine::Payload payload = engine::Payload::object();
  if (decisions_.Chance(0.7)) payload["color"] = kColors[decisions_.Draw(3)];
  if (decisions_.Chance(0.7)) payload["count"] = static_cast<int64_t>(decisions_.Draw(10));
  if (decisions_.Chance(0.2)) {
    payload["tags"] = engine::Payload::array({kColors[decisions_.Draw(3)], kColors[decisions_.Draw(3)]});
  }
  return payload;
}

engine::Operation Workload::NextOperation() {
  const uint64_t roll = decisions_.Draw(100);
  if (roll < 40) {
    engine::UpsertPoints upsert;
    for (engine::PointId id : RandomIds()) {
      upsert.points.push_back({id, RandomVector(), RandomPayload()});
    }
    return upsert;
  }
  if (roll < 55) return engine::DeletePoints{RandomIds()};
  if (roll < 68) return engine::SetPayload{RandomIds(), RandomPayload()};
  if (roll < 76) return engine::OverwritePayload{RandomIds(), RandomPayload()};
  if (roll < 84) return engine::DeletePayloadKeys{RandomIds(), {decisions_.Chance(0.5) ? "color" : "count"}};
  if (roll < 90) return engine::ClearPayload{RandomIds()};
  if (roll < 95) {
    const bool keyword = decisions_.Chance(0.5);
    return engine::CreateFieldIndex{keyword ? "color" : "count",
                                    keyword ? engine::FieldType::kKeyword : engine::FieldType::kInteger};
  }
  return engine::DeleteFieldIndex{decisions_.Chance(0.5) ? "color" : "count"};
}

engine::Filter Workload::RandomFilter() {
  engine::Filter filter;
  const uint64_t roll = decisions_.Draw(4);
  if (roll == 0) {
    filter.must.push_back(engine::FieldCondition{"color", engine::MatchKeyword{kColors[decisions_.Draw(3)]}});
  } else if (roll == 1) {
    const int64_t low = static_cast<int64_t>(decisions_.Draw(10));
    filter.must.push_back(engine::FieldCondition{"count", engine::IntegerRange{low, low + 3}});
  } else if (roll == 2) {
    std::vector<engine::PointId> ids = RandomIds();
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    filter.must_not.push_back(engine::HasIdCondition{ids});
  } else {
    filter.should.push_back(engine::FieldCondition{"count", engine::MatchInteger{static_cast<int64_t>(decisions_.Draw(10))}});
    filter.should.push_back(engine::FieldCondition{"tags", engine::MatchKeyword{kColors[decisions_.Draw(3)]}});
  }
  return filter;
}

std::optional<engine::Point> ExpectedPoint(const ReferenceModel& model, engine::PointId id,
                                           const engine::CollectionConfig& collection) {
  const auto it = model.points().find(id);
  if (it == model.points().end()) return std::nullopt;
  engine::Point point = it->second;
  point.vector = ModelStoredVector(collection.distance, std::move(point.vector));
  return point;
}

std::vector<engine::Point> ExpectedPoints(const ReferenceModel& model,
                                          const engine::CollectionConfig& collection) {
  std::vector<engine::Point> points;
  for (const auto& [id, point] : model.points()) points.push_back(*ExpectedPoint(model, id, collection));
  return points;
}

std::vector<engine::Point> ExpectedFiltered(const ReferenceModel& model, const engine::Filter& filter,
                                            const engine::CollectionConfig& collection) {
  std::vector<engine::Point> points;
  for (engine::PointId id : ExpectedFilteredIds(model, filter)) points.push_back(*ExpectedPoint(model, id, collection));
  return points;
}

std::vector<engine::PointId> ExpectedFilteredIds(const ReferenceModel& model, const engine::Filter& filter) {
  std::vector<engine::PointId> ids;
  for (const auto& [id, point] : model.points()) {
    if (ModelMatches(filter, id, point.payload)) ids.push_back(id);
  }
  return ids;
}

std::vector<engine::ScoredPoint> ExpectedSearch(const ReferenceModel& model, const engine::Vector& query,
                                                size_t k, const engine::CollectionConfig& collection) {
  const engine::Vector prepared = ModelStoredVector(collection.distance, query);
  std::vector<engine::ScoredPoint> hits;
  // Scored from the model's points directly: only the vector is prepared,
  // not a copy of every point with its payload.
  for (const auto& [id, point] : model.points()) {
    const engine::Vector stored = ModelStoredVector(collection.distance, point.vector);
    hits.push_back({id, ModelScore(collection.distance, prepared, stored)});
  }
  std::sort(hits.begin(), hits.end(), [](const engine::ScoredPoint& a, const engine::ScoredPoint& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

std::string DescribePoint(const engine::Point& point) {
  return fmt::format("{{id {}, vector [{}], payload {}}}", point.id, fmt::join(point.vector, ", "),
                     point.payload.dump());
}

std::string DescribePoints(const std::vector<engine::Point>& points) {
  std::vector<std::string> parts;
  for (const engine::Point& point : points) parts.push_back(DescribePoint(point));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

std::string OpLabel(std::optional<engine::SeqNumber> op_num) {
  return op_num ? fmt::format("{}", *op_num) : std::string("(none)");
}

}  // namespace properties
