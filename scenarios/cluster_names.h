// Internal to scenarios/: the words the cluster scenario format uses for
// enum values. Written here, not taken from the engine's name functions, so
// that a renamed enumerator cannot silently change what a file means.
#pragma once

#include <optional>
#include <string_view>

#include "properties/cluster/cluster_scenario.h"

namespace scenarios {

inline std::string_view OrderingName(engine::WriteOrdering ordering) {
  switch (ordering) {
    case engine::WriteOrdering::kWeak: return "weak";
    case engine::WriteOrdering::kMedium: return "medium";
    case engine::WriteOrdering::kStrong: return "strong";
  }
  return "?";
}

inline std::optional<engine::WriteOrdering> OrderingFromName(std::string_view name) {
  if (name == "weak") return engine::WriteOrdering::kWeak;
  if (name == "medium") return engine::WriteOrdering::kMedium;
  if (name == "strong") return engine::WriteOrdering::kStrong;
  return std::nullopt;
}

// Only the two methods this layer implements; a file naming another is refused.
inline std::string_view MethodName(engine::TransferMethod method) {
  switch (method) {
    case engine::TransferMethod::kStreamRecords: return "stream_records";
    case engine::TransferMethod::kWalDelta: return "wal_delta";
    case engine::TransferMethod::kSnapshot: return "snapshot";
  }
  return "?";
}

inline std::optional<engine::TransferMethod> MethodFromName(std::string_view name) {
  if (name == "stream_records") return engine::TransferMethod::kStreamRecords;
  if (name == "wal_delta") return engine::TransferMethod::kWalDelta;
  return std::nullopt;
}

inline std::string_view CrashName(sim::CrashKind kind) {
  return kind == sim::CrashKind::kPowerLoss ? "power-loss" : "process-crash";
}

inline std::optional<sim::CrashKind> CrashFromName(std::string_view name) {
  if (name == "power-loss") return sim::CrashKind::kPowerLoss;
  if (name == "process-crash") return sim::CrashKind::kProcessCrash;
  return std::nullopt;
}

}  // namespace scenarios
