#include "tools/shardsim/child_runs.h"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <functional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/assert.h"
#include "engine/common/run_in_child.h"
#include "scenarios/cluster_format.h"
#include "scenarios/scenario_format.h"

namespace shardsim {

namespace {

nlohmann::json ResultJson(const properties::ClusterRunResult& result) {
  nlohmann::json json{{"trace_hash", result.trace_hash}, {"trace_steps", result.trace_steps}};
  if (!result.trace_json.empty()) json["trace_json"] = result.trace_json;
  if (result.failure) json["failure"] = {{"invariant", result.failure->invariant}, {"message", result.failure->message}};
  return json;
}

properties::ClusterRunResult ResultFromJson(const nlohmann::json& json) {
  properties::ClusterRunResult result;
  if (json.contains("assertion")) {
    result.failure = properties::ClusterFailure{
        .invariant = "run-outcome",
        .message = std::string(kEngineAssertionPrefix) + json["assertion"].get<std::string>()};
    return result;
  }
  result.trace_hash = json.value("trace_hash", uint64_t{0});
  result.trace_steps = json.value("trace_steps", uint64_t{0});
  result.trace_json = json.value("trace_json", std::string());
  if (json.contains("failure")) {
    result.failure = properties::ClusterFailure{.invariant = json["failure"].value("invariant", "run-outcome"),
                                                .message = json["failure"].value("message", "")};
  }
  return result;
}

// The child's JSON, or an error naming how it ended when it gave none.
absl::StatusOr<nlohmann::json> ChildJson(const absl::StatusOr<engine::ChildOutput>& output) {
  if (!output.ok()) return output.status();
  nlohmann::json json = nlohmann::json::parse(output->bytes, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::AbortedError(fmt::format("the run died with status {} and gave no result", output->wait_status));
  }
  return json;
}

// A run that hangs (a livelock without scheduling points) must not hang its
// caller: the child is killed after this much wall time, as a campaign's
// worker is (campaign_pool.cc; a cluster run takes seconds, under ASan too).
constexpr unsigned kChildRunWallSeconds = 120;

// Also: an abort flushes no stdio buffer, so a child's printing (--verbose,
// --trace) goes out line by line.
void StartChild(bool quiet = false) {
  signal(SIGALRM, SIG_DFL);
  alarm(kChildRunWallSeconds);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (quiet) {
    const int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) dup2(null_fd, STDERR_FILENO);
  }
}

// The child's exit code once `json` is written.
int Send(int write_fd, const nlohmann::json& json) { return engine::WriteAllToFd(write_fd, json.dump()) ? 0 : 4; }

// The JSON `replay` returns in a child, or {"assertion": text} when the
// replay ended in an assertion; an error when the child died without a word.
absl::StatusOr<nlohmann::json> ReplayJsonInChild(bool quiet, const std::function<nlohmann::json()>& replay) {
  return ChildJson(engine::RunInChildWithPipe([&](int write_fd) {
    StartChild(quiet);
    ScopedAssertionHook last_words([write_fd](std::string_view assertion) { Send(write_fd, {{"assertion", assertion}}); });
    return Send(write_fd, replay());
  }));
}

}  // namespace

absl::StatusOr<properties::RecordedClusterRun> RecordClusterRunInChild(const properties::ClusterConfig& config) {
  const absl::StatusOr<nlohmann::json> json = ChildJson(engine::RunInChildWithPipe([&](int write_fd) {
    StartChild();
    properties::ClusterRunOptions options;
    options.on_assertion = [write_fd](const properties::ClusterScenario& so_far, std::string_view assertion) {
      Send(write_fd, {{"assertion", assertion}, {"scenario", scenarios::WriteClusterScenario(so_far)}});
    };
    const properties::RecordedClusterRun recorded = properties::RecordClusterRun(config, options);
    nlohmann::json facts = ResultJson(recorded.result);
    facts["scenario"] = scenarios::WriteClusterScenario(recorded.scenario);
    return Send(write_fd, facts);
  }));
  if (!json.ok()) return json.status();
  absl::StatusOr<properties::ClusterScenario> scenario =
      scenarios::ParseClusterScenario(json->value("scenario", std::string()));
  if (!scenario.ok()) return scenario.status();
  properties::RecordedClusterRun recorded{.result = ResultFromJson(*json), .scenario = std::move(*scenario)};
  recorded.scenario.expected_invariant = recorded.result.failure ? recorded.result.failure->invariant : "";
  return recorded;
}

properties::ClusterRunResult ReplayClusterInChild(const properties::ClusterScenario& scenario,
                                                  const properties::ClusterRunOptions& options, bool quiet) {
  const absl::StatusOr<nlohmann::json> json =
      ReplayJsonInChild(quiet, [&] { return ResultJson(properties::ReplayCluster(scenario, options)); });
  if (!json.ok()) {
    properties::ClusterRunResult died;
    died.failure = properties::ClusterFailure{.invariant = "run-outcome", .message = std::string(json.status().message())};
    return died;
  }
  return ResultFromJson(*json);
}

namespace {

nlohmann::json ShardResultJson(const properties::ShardRunResult& result) {
  nlohmann::json ranges = nlohmann::json::array();
  for (const properties::TapeRange& range : result.step_tape_ranges) ranges.push_back({range.begin, range.end});
  return {{"passed", result.passed},           {"invariant", result.invariant},
          {"failure", result.failure},         {"trace_hash", result.trace_hash},
          {"steps", result.steps},             {"tape_bytes_consumed", result.tape_bytes_consumed},
          {"step_tape_ranges", ranges}};
}

// A run that did not complete: no tape ranges, its whole tape counted as read.
properties::ShardRunResult ShardRunOutcome(std::string failure, size_t tape_bytes) {
  properties::ShardRunResult result;
  result.passed = false;
  result.invariant = "run-outcome";
  result.failure = std::move(failure);
  result.tape_bytes_consumed = tape_bytes;
  return result;
}

properties::ShardRunResult ShardResultFromJson(const nlohmann::json& json, size_t tape_bytes) {
  if (json.contains("assertion")) {
    return ShardRunOutcome(std::string(kEngineAssertionPrefix) + json["assertion"].get<std::string>(), tape_bytes);
  }
  properties::ShardRunResult result;
  result.passed = json.value("passed", false);
  result.invariant = json.value("invariant", std::string(result.passed ? "" : "run-outcome"));
  result.failure = json.value("failure", std::string());
  result.trace_hash = json.value("trace_hash", uint64_t{0});
  result.steps = json.value("steps", uint64_t{0});
  result.tape_bytes_consumed = json.value("tape_bytes_consumed", uint64_t{0});
  for (const nlohmann::json& range : json.value("step_tape_ranges", nlohmann::json::array())) {
    if (range.is_array() && range.size() == 2 && range[0].is_number_unsigned() && range[1].is_number_unsigned()) {
      result.step_tape_ranges.push_back({range[0].get<uint64_t>(), range[1].get<uint64_t>()});
    }
  }
  return result;
}

}  // namespace

absl::StatusOr<properties::RecordedRun> RecordShardRunInChild(const properties::ShardRunConfig& config) {
  const absl::StatusOr<nlohmann::json> json = ChildJson(engine::RunInChildWithPipe([&](int write_fd) {
    StartChild();
    const auto on_assertion = [write_fd](const properties::Scenario& so_far, std::string_view assertion) {
      Send(write_fd, {{"assertion", assertion}, {"scenario", scenarios::WriteScenario(so_far)}});
    };
    const properties::RecordedRun recorded = properties::RecordShardRun(config, on_assertion);
    nlohmann::json facts = ShardResultJson(recorded.result);
    facts["scenario"] = scenarios::WriteScenario(recorded.scenario);
    return Send(write_fd, facts);
  }));
  if (!json.ok()) return json.status();
  absl::StatusOr<properties::Scenario> scenario = scenarios::ParseScenario(json->value("scenario", std::string()));
  if (!scenario.ok()) return scenario.status();
  properties::RecordedRun recorded{.result = ShardResultFromJson(*json, scenario->tape.size()),
                                   .scenario = std::move(*scenario)};
  recorded.scenario.expected_invariant = recorded.result.invariant;
  return recorded;
}

properties::ShardRunResult ReplayShardInChild(const properties::Scenario& scenario,
                                              const properties::ShardRunConfig& print_options, bool quiet) {
  const absl::StatusOr<nlohmann::json> json =
      ReplayJsonInChild(quiet, [&] { return ShardResultJson(properties::ReplayScenario(scenario, print_options)); });
  if (!json.ok()) return ShardRunOutcome(std::string(json.status().message()), scenario.tape.size());
  return ShardResultFromJson(*json, scenario.tape.size());
}

bool EndedInAssertion(const properties::ShardRunResult& result) {
  return !result.passed && result.invariant == "run-outcome" && result.failure.starts_with(kEngineAssertionPrefix);
}

bool EndedInAssertion(const properties::ClusterRunResult& result) {
  return result.failure && result.failure->invariant == "run-outcome" &&
         result.failure->message.starts_with(kEngineAssertionPrefix);
}

}  // namespace shardsim
