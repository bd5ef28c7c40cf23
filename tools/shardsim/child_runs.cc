#include "tools/shardsim/child_runs.h"

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/assert.h"
#include "engine/common/run_in_child.h"
#include "scenarios/cluster_format.h"

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

// The child's exit code once `json` is written.
int Send(int write_fd, const nlohmann::json& json) { return engine::WriteAllToFd(write_fd, json.dump()) ? 0 : 4; }

}  // namespace

absl::StatusOr<properties::RecordedClusterRun> RecordClusterRunInChild(const properties::ClusterConfig& config) {
  const absl::StatusOr<nlohmann::json> json = ChildJson(engine::RunInChildWithPipe([&](int write_fd) {
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
                                                  const properties::ClusterRunOptions& options) {
  const absl::StatusOr<nlohmann::json> json = ChildJson(engine::RunInChildWithPipe([&](int write_fd) {
    // (An abort flushes no stdio buffer: a verbose log must reach the terminal line by line.)
    if (options.verbose) std::setvbuf(stdout, nullptr, _IOLBF, 0);
    ScopedAssertionHook last_words([write_fd](std::string_view assertion) { Send(write_fd, {{"assertion", assertion}}); });
    return Send(write_fd, ResultJson(properties::ReplayCluster(scenario, options)));
  }));
  if (!json.ok()) {
    properties::ClusterRunResult died;
    died.failure = properties::ClusterFailure{.invariant = "run-outcome", .message = std::string(json.status().message())};
    return died;
  }
  return ResultFromJson(*json);
}

bool EndedInAssertion(const properties::ClusterRunResult& result) {
  return result.failure && result.failure->invariant == "run-outcome" &&
         result.failure->message.starts_with(kEngineAssertionPrefix);
}

}  // namespace shardsim
