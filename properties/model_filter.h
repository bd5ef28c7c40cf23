// The reference model's own reading of a filter: which points a scroll, a
// count or a filtered search must return. Written apart from the engine's
// `engine::Matches` (engine/model/filter.cc) on purpose: when the model asked
// the engine's code what a filter means, a mistake there made the engine and
// its model agree, and no read could ever show it (planted bug 37,
// tools/bugs/). The semantics are Qdrant's, as engine/model/filter.h states
// them: must = every condition, should = at least one when not empty,
// must_not = none; a key is a dotted path, and an array met on the path (or
// at its end) stands for its elements; integer conditions hold only for
// integer values in int64's range; range bounds are inclusive.
#pragma once

#include "engine/model/filter.h"
#include "engine/model/types.h"

namespace properties {

// True if the point with this id and payload passes `filter`.
// REQUIRES: `filter` nests at most as deep as a parsed filter may
// (FilterFromJson's bound); the workload's filters do not nest at all.
bool ModelMatches(const engine::Filter& filter, engine::PointId id, const engine::Payload& payload);

}  // namespace properties
