// Internal to scenarios/: the JSON forms shared by the scenario writer and
// parser.
#pragma once

#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "engine/model/operation.h"
#include "sim/split.h"

namespace scenarios {

// Vectors as decimal floats (the engine's JSON keeps bit patterns).
nlohmann::json VectorJson(const engine::Vector& vector);
absl::StatusOr<engine::Vector> VectorFromReadableJson(const nlohmann::json& json);
nlohmann::json ReadableOperationJson(const engine::Operation& operation);
absl::StatusOr<engine::Operation> OperationFromReadableJson(nlohmann::json json);

using sim::Split;

}  // namespace scenarios
