// Internal to scenarios/: the JSON forms shared by the scenario writer and
// parser.
#pragma once

#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "engine/model/operation.h"

namespace scenarios {

// Vectors as decimal floats (the engine's JSON keeps bit patterns).
nlohmann::json VectorJson(const engine::Vector& vector);
absl::StatusOr<engine::Vector> VectorFromReadableJson(const nlohmann::json& json);
nlohmann::json ReadableOperationJson(const engine::Operation& operation);
absl::StatusOr<engine::Operation> OperationFromReadableJson(nlohmann::json json);

// The pieces of `text` between separators, empty ones included. (Debian's
// Abseil has its own string_view, so absl::StrSplit does not take
// std::string_view.)
std::vector<std::string_view> Split(std::string_view text, char separator);

}  // namespace scenarios
