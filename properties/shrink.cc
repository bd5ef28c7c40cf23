#include "properties/shrink.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "engine/common/assert.h"
#include "properties/failure_signature.h"

namespace properties {

namespace {

// Where a step sits in a scenario.
struct StepRef {
  size_t epoch;
  size_t index;
};

class Shrinker {
 public:
  Shrinker(const Scenario& failing, const ShrinkOptions& options) : options_(options), best_(failing) {}

  ShrinkResult Run();

 private:
  // Replays a candidate; keeps it if it still fails the same way and is
  // no larger. Returns true when kept.
  bool TryCandidate(Scenario candidate);
  bool BudgetLeft() const { return replays_ < options_.max_replays; }
  ShardRunResult Replay(const Scenario& candidate) const {
    return options_.replay ? options_.replay(candidate) : ReplayScenario(candidate, {});
  }
  // The same signature, not only the same invariant: a reduction that
  // trades the failure's cause for another (EIO on a directory sync for EIO
  // on a read) is a different bug. Empty until the input has reproduced.
  bool StillFails(const ShardRunResult& result) const {
    if (result.passed || result.invariant != best_.expected_invariant) return false;
    return signature_key_.empty() || SignatureOf(result.invariant, result.failure).Key() == signature_key_;
  }
  bool SimplifyProfile();
  bool DropRestores();
  bool DropEpochs();
  bool DropCrashes();
  bool DropStepChunks();
  bool DropClients();
  bool SimplifyOperations();
  bool EarlierCrashes();
  bool TruncateTape();
  bool SimplifyTape();

  const ShrinkOptions& options_;
  std::string signature_key_;
  Scenario best_;
  ShardRunResult best_result_;
  size_t replays_ = 0;
};

std::vector<StepRef> AllSteps(const Scenario& scenario) {
  std::vector<StepRef> refs;
  for (size_t epoch = 0; epoch < scenario.epochs.size(); ++epoch) {
    for (size_t index = 0; index < scenario.epochs[epoch].steps.size(); ++index) refs.push_back({epoch, index});
  }
  return refs;
}

// The scenario without steps [begin, end) of the flattened list.
Scenario WithoutSteps(const Scenario& scenario, size_t begin, size_t end) {
  Scenario out = scenario;
  size_t flat = 0;
  for (Epoch& epoch : out.epochs) {
    std::vector<Step> kept;
    for (Step& step : epoch.steps) {
      if (flat < begin || flat >= end) kept.push_back(std::move(step));
      ++flat;
    }
    epoch.steps = std::move(kept);
  }
  return out;
}

// Also without the tape bytes read while those steps ran (the last replay's
// ranges; other tasks' decisions in between go too): later decisions then
// meet the calls they met before, where dropping only the steps shifts every
// later decision — a fault the failure needs lands on another call. nullopt
// when the steps read nothing.
std::optional<Scenario> WithoutStepsAndTheirTape(const Scenario& scenario, const ShardRunResult& last_replay,
                                                 size_t begin, size_t end) {
  uint64_t tape_begin = UINT64_MAX;
  uint64_t tape_end = 0;
  for (size_t flat = begin; flat < end && flat < last_replay.step_tape_ranges.size(); ++flat) {
    const TapeRange& range = last_replay.step_tape_ranges[flat];
    if (range.end <= range.begin) continue;
    tape_begin = std::min(tape_begin, range.begin);
    tape_end = std::max(tape_end, range.end);
  }
  tape_end = std::min<uint64_t>(tape_end, scenario.tape.size());
  if (tape_begin >= tape_end) return std::nullopt;
  Scenario out = WithoutSteps(scenario, begin, end);
  out.tape.erase(out.tape.begin() + static_cast<ptrdiff_t>(tape_begin), out.tape.begin() + static_cast<ptrdiff_t>(tape_end));
  return out;
}

bool Shrinker::TryCandidate(Scenario candidate) {
  if (!BudgetLeft()) return false;
  ++replays_;
  ShardRunResult result = Replay(candidate);
  if (!StillFails(result)) return false;
  best_ = std::move(candidate);
  best_result_ = std::move(result);
  if (options_.progress) options_.progress(replays_, best_.StepCount(), best_.tape.size());
  return true;
}

// Fault classes and crash models the failure does not need go; a rare fault
// it needs is tried at rate 1 (every call), which draws nothing from the
// tape: later step drops then cannot move it off the call it must hit.
bool Shrinker::SimplifyProfile() {
  bool changed = false;
  const auto rates = [](sim::PersistenceProfile& profile) {
    return std::vector<double*>{&profile.faults.read_error,     &profile.faults.write_error,
                                &profile.faults.sync_error,     &profile.faults.fsync_failure,
                                &profile.faults.dir_sync_error, &profile.faults.bit_flip_on_read,
                                &profile.faults.stored_rot};
  };
  for (size_t index = 0; index < rates(best_.config.profile).size() && BudgetLeft(); ++index) {
    if (*rates(best_.config.profile)[index] <= 0) continue;
    for (double rate : {0.0, 1.0}) {
      if (*rates(best_.config.profile)[index] == rate) break;
      Scenario candidate = best_;
      *rates(candidate.config.profile)[index] = rate;
      if (TryCandidate(std::move(candidate))) {
        changed = true;
        break;
      }
    }
  }
  if (best_.config.profile.capacity_headroom_bytes > 0) {
    Scenario candidate = best_;
    candidate.config.profile.capacity_headroom_bytes = 0;
    candidate.config.profile.space_freed_probability = 0;
    changed |= TryCandidate(std::move(candidate));
  }
  for (size_t model = 0; best_.config.profile.crash_models.size() > 1 && model < best_.config.profile.crash_models.size();) {
    Scenario candidate = best_;
    candidate.config.profile.crash_models = {best_.config.profile.crash_models[model]};
    if (TryCandidate(std::move(candidate))) {
      changed = true;
      break;
    }
    ++model;
  }
  return changed;
}

bool Shrinker::DropRestores() {
  bool changed = false;
  for (size_t epoch = 0; epoch < best_.epochs.size() && BudgetLeft(); ++epoch) {
    if (!best_.epochs[epoch].restore_archive) continue;
    Scenario candidate = best_;
    candidate.epochs[epoch].restore_archive.reset();
    changed |= TryCandidate(std::move(candidate));
  }
  return changed;
}

bool Shrinker::DropEpochs() {
  bool changed = false;
  for (size_t epoch = best_.epochs.size(); epoch-- > 0 && best_.epochs.size() > 1;) {
    Scenario candidate = best_;
    candidate.epochs.erase(candidate.epochs.begin() + epoch);
    changed |= TryCandidate(std::move(candidate));
  }
  return changed;
}

bool Shrinker::DropCrashes() {
  bool changed = false;
  for (size_t epoch = 0; epoch < best_.epochs.size(); ++epoch) {
    if (!best_.epochs[epoch].crash) continue;
    Scenario candidate = best_;
    candidate.epochs[epoch].crash.reset();
    changed |= TryCandidate(std::move(candidate));
  }
  return changed;
}

// Delta debugging over the flattened step list: chunks of halving size.
bool Shrinker::DropStepChunks() {
  bool changed = false;
  for (size_t chunk = std::max<size_t>(1, AllSteps(best_).size() / 2); chunk >= 1 && BudgetLeft(); chunk /= 2) {
    for (size_t begin = 0; begin < AllSteps(best_).size() && BudgetLeft();) {
      const auto with_their_tape = [&] {
        std::optional<Scenario> candidate = WithoutStepsAndTheirTape(best_, best_result_, begin, begin + chunk);
        return candidate && TryCandidate(std::move(*candidate));
      };
      if (TryCandidate(WithoutSteps(best_, begin, begin + chunk)) || with_their_tape()) {
        changed = true;  // the same begin now names the next chunk
      } else {
        begin += chunk;
      }
    }
    if (chunk == 1) break;
  }
  return changed;
}

// Renumbers the clients that still have steps to c0.., fewer tasks.
bool Shrinker::DropClients() {
  std::vector<int> used;
  for (const Epoch& epoch : best_.epochs) {
    for (const Step& step : epoch.steps) used.push_back(step.client);
  }
  std::sort(used.begin(), used.end());
  used.erase(std::unique(used.begin(), used.end()), used.end());
  const int wanted = std::max<int>(1, static_cast<int>(used.size()));
  if (wanted >= best_.config.clients) return false;
  Scenario candidate = best_;
  candidate.config.clients = wanted;
  for (Epoch& epoch : candidate.epochs) {
    for (Step& step : epoch.steps) {
      step.client = static_cast<int>(std::lower_bound(used.begin(), used.end(), step.client) - used.begin());
    }
  }
  return TryCandidate(std::move(candidate));
}

// Upserts of several points become upserts of one.
bool Shrinker::SimplifyOperations() {
  bool changed = false;
  for (const StepRef& ref : AllSteps(best_)) {
    if (ref.epoch >= best_.epochs.size() || ref.index >= best_.epochs[ref.epoch].steps.size()) break;
    const Step& step = best_.epochs[ref.epoch].steps[ref.index];
    if (!step.record) continue;
    const auto* upsert = std::get_if<engine::UpsertPoints>(&step.record->operation);
    if (upsert == nullptr || upsert->points.size() < 2) continue;
    for (size_t keep = 0; keep < upsert->points.size(); ++keep) {
      Scenario candidate = best_;
      auto& points = std::get<engine::UpsertPoints>(candidate.epochs[ref.epoch].steps[ref.index].record->operation).points;
      points = {points[keep]};
      if (TryCandidate(std::move(candidate))) {
        changed = true;
        break;
      }
    }
  }
  return changed;
}

bool Shrinker::EarlierCrashes() {
  bool changed = false;
  for (size_t epoch = 0; epoch < best_.epochs.size(); ++epoch) {
    for (int attempt = 0; attempt < 8 && best_.epochs[epoch].crash && BudgetLeft(); ++attempt) {
      Scenario candidate = best_;
      candidate.epochs[epoch].crash->after_steps /= 2;
      if (!TryCandidate(std::move(candidate))) break;
      changed = true;
    }
  }
  return changed;
}

bool Shrinker::TruncateTape() {
  const size_t used = std::min<size_t>(best_result_.tape_bytes_consumed, best_.tape.size());
  if (used >= best_.tape.size()) return false;
  Scenario candidate = best_;
  candidate.tape.resize(used);
  return TryCandidate(std::move(candidate));
}

// Zero bytes are the simplest decisions (the first runnable task, no
// fault): zero chunks of halving size, then cut the tape's tail.
bool Shrinker::SimplifyTape() {
  bool changed = false;
  for (size_t chunk = std::max<size_t>(1, best_.tape.size() / 2); chunk >= 4 && BudgetLeft(); chunk /= 2) {
    for (size_t begin = 0; begin < best_.tape.size() && BudgetLeft(); begin += chunk) {
      const size_t end = std::min(begin + chunk, best_.tape.size());
      if (std::all_of(best_.tape.begin() + begin, best_.tape.begin() + end, [](uint8_t b) { return b == 0; })) continue;
      Scenario candidate = best_;
      std::fill(candidate.tape.begin() + begin, candidate.tape.begin() + end, 0);
      changed |= TryCandidate(std::move(candidate));
    }
  }
  while (!best_.tape.empty() && best_.tape.back() == 0) best_.tape.pop_back();  // an exhausted tape answers 0
  return changed;
}

ShrinkResult Shrinker::Run() {
  SS_ASSERT(!best_.expected_invariant.empty(), "only a failing scenario shrinks");
  ShrinkResult out;
  ++replays_;
  best_result_ = Replay(best_);
  if (!StillFails(best_result_)) {
    out.result = best_result_;
    out.scenario = best_;
    out.replays = replays_;
    return out;
  }
  out.reproduced = true;
  signature_key_ = SignatureOf(best_result_.invariant, best_result_.failure).Key();
  constexpr int kMaxRounds = 20;
  for (int round = 0; round < kMaxRounds && BudgetLeft(); ++round) {
    bool changed = false;
    changed |= TruncateTape();
    changed |= SimplifyProfile();
    changed |= DropEpochs();
    changed |= DropRestores();
    changed |= DropCrashes();
    changed |= DropStepChunks();
    changed |= DropClients();
    changed |= SimplifyOperations();
    changed |= EarlierCrashes();
    changed |= SimplifyTape();
    if (!changed) break;
  }
  out.scenario = best_;
  out.result = best_result_;
  out.replays = replays_;
  return out;
}

}  // namespace

ShrinkResult ShrinkScenario(const Scenario& failing, const ShrinkOptions& options) {
  return Shrinker(failing, options).Run();
}

}  // namespace properties
