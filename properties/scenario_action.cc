#include <string_view>

#include "properties/action.h"

namespace properties {

namespace {
struct ActionEntry {
  Action action;
  const char* name;
};
constexpr ActionEntry kActions[] = {
    {Action::kUpdate, "update"},   {Action::kDeleteByFilter, "delete-by-filter"},
    {Action::kRetrieve, "retrieve"}, {Action::kScroll, "scroll"},
    {Action::kCount, "count"},     {Action::kSearch, "search"},
    {Action::kPlunge, "plunge"},   {Action::kFlush, "flush"},
    {Action::kFreeze, "freeze"},   {Action::kSnapshot, "snapshot"},
    {Action::kOptimize, "optimize"}, {Action::kVacuum, "vacuum"},
    {Action::kCancelOptimize, "cancel-optimize"},
    {Action::kPartialSnapshot, "partial-snapshot"}, {Action::kCollectionSnapshot, "collection-snapshot"},
};
}  // namespace

const char* ActionName(Action action) {
  for (const ActionEntry& entry : kActions) {
    if (entry.action == action) return entry.name;
  }
  return "unknown";
}

std::optional<Action> ParseAction(std::string_view name) {
  for (const ActionEntry& entry : kActions) {
    if (name == entry.name) return entry.action;
  }
  return std::nullopt;
}

std::string ActionNames() {
  std::string names;
  for (const ActionEntry& entry : kActions) names += std::string(names.empty() ? "" : ", ") + entry.name;
  return names;
}

}  // namespace properties
