#include "reports/html_report.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "reports/html_parts.h"

namespace reports {

namespace {

using Json = nlohmann::json;

std::string Text(const Json& object, std::string_view key, std::string_view fallback = "n/a") {
  if (!object.is_object()) return std::string(fallback);
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string(fallback);
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_float()) return fmt::format("{:.1f}", it->get<double>());
  if (it->is_number_unsigned()) return GroupDigits(it->get<uint64_t>());
  return it->dump();
}

double Number(const Json& object, std::string_view key) {
  if (!object.is_object()) return 0;
  const auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : 0;
}

std::string Section(std::string_view id, std::string_view title, const std::string& body) {
  return fmt::format("<section id=\"{}\"><h2>{}</h2>{}</section>\n", id, EscapeHtml(title), body);
}

std::string IdentitySection(const Json& campaign) {
  const Json identity = campaign.value("identity", Json::object());
  const Json range = campaign.value("seed_range", Json::object());
  std::string hosts = Text(identity, "host", "");
  if (identity.contains("hosts") && identity["hosts"].is_array()) {
    hosts.clear();
    for (const Json& host : identity["hosts"]) hosts += (hosts.empty() ? "" : ", ") + host.get<std::string>();
  }
  return Section("identity", "Run",
                 HtmlTable({"commit", "build type", "hosts", "parts", "seeds", "seed range", "profile"},
                           {{Text(identity, "commit"), Text(identity, "build_type"), hosts, Text(campaign, "parts", "1"),
                             Text(campaign, "seeds"), Text(range, "first") + " .. " + Text(range, "last"),
                             Text(campaign, "profile")}}));
}

std::vector<Bar> MixBars(const Json& mix) {
  std::vector<Bar> bars;
  if (!mix.is_object()) return bars;
  for (const auto& [name, seeds] : mix.items()) bars.push_back({name, seeds.is_number() ? seeds.get<double>() : 0, ""});
  return bars;
}

std::string ThroughputSection(const Json& campaign) {
  const Json cluster = campaign.value("cluster", Json::object());
  std::string body = HtmlTable(
      {"seeds", "passed", "failed", "elapsed (s)", "seeds/s", "simulated ops/s", "cluster seeds", "cluster seeds/s"},
      {{Text(campaign, "seeds"), Text(campaign, "passed"), Text(campaign, "failed"), Text(campaign, "elapsed_seconds"),
        Text(campaign, "seeds_per_second"), Text(campaign, "simulated_ops_per_second"), Text(cluster, "seeds"),
        Text(cluster, "seeds_per_second")}});
  const Json mix = campaign.value("mix", Json::object());
  body += SvgBarChart("Shard seeds by fault profile", MixBars(mix.value("profiles", Json::object())), "seeds");
  body += SvgBarChart("Shard seeds by scheduler strategy", MixBars(mix.value("strategies", Json::object())), "seeds");
  return Section("throughput", "Throughput", body);
}

std::string FailuresSection(const Json& campaign) {
  const Json failures = campaign.value("failures", Json::array());
  if (!failures.is_array() || failures.empty()) {
    return Section("failures", "Failures", "<p class=\"pass\">Every seed passed.</p>");
  }
  std::vector<std::vector<std::string>> rows;
  for (const Json& failure : failures) {
    const Json signature = failure.value("signature", Json::object());
    std::string replay = "<code>" + EscapeHtml(Text(failure, "replay", "")) + "</code>";
    if (failure.contains("scenario")) {
      replay += "<br><code>shardsim replay " + EscapeHtml(Text(failure, "scenario", "")) + "</code>";
    }
    rows.push_back({Text(signature, "invariant", Text(failure, "invariant")), Text(signature, "component"),
                    Text(signature, "check"), Text(signature, "message_class", ""), Text(failure, "count"),
                    Text(failure, "first_seed"), Text(failure, "failure", "").substr(0, 400), replay});
  }
  return Section("failures", "Failures by signature",
                 HtmlTable({"invariant", "component", "check", "error class", "seeds", "first seed",
                            "first failure", "replay"},
                           rows, {7}));
}

std::string CoverageTable(const Json& coverage) {
  std::vector<std::vector<std::string>> rows;
  size_t unhit = 0;
  for (const auto& [mark, hits] : coverage.items()) {
    const uint64_t count = hits.is_number_unsigned() ? hits.get<uint64_t>() : 0;
    unhit += count == 0;
    rows.push_back({mark, GroupDigits(count), "1",
                    count == 0 ? "<span class=\"bad\">never hit</span>" : "<span class=\"good\">hit</span>"});
  }
  return fmt::format("<p>{} marks, {} never hit.</p>", rows.size(), unhit) +
         HtmlTable({"mark", "hits", "required", "status"}, rows, {3});
}

std::string CoverageSection(const Json& campaign) {
  std::string body = "<h3>Shard marks</h3>" + CoverageTable(campaign.value("coverage", Json::object()));
  const Json cluster = campaign.value("cluster", Json::object());
  if (Number(cluster, "seeds") > 0) {
    body += "<h3>Cluster marks</h3>" + CoverageTable(cluster.value("coverage", Json::object()));
  }
  return Section("coverage", "Coverage marks against their required minimum", body);
}

std::string EnvelopeSection(const Json& campaign) {
  const Json envelope = campaign.value("faults", Json::object()).value("envelope", Json::object());
  std::vector<std::vector<std::string>> rows;
  for (const auto& [fault, components] : envelope.items()) {
    if (!components.is_object()) continue;
    for (const auto& [component, outcomes] : components.items()) {
      const uint64_t lost = static_cast<uint64_t>(Number(outcomes, "lost"));
      rows.push_back({fault, component, Text(outcomes, "survived", "0"), Text(outcomes, "detected", "0"),
                      Text(outcomes, "repaired", "0"),
                      lost == 0 ? "0" : "<span class=\"bad\">" + GroupDigits(lost) + "</span>"});
    }
  }
  if (rows.empty()) return Section("envelope", "Fault envelope", "<p>No fault was injected.</p>");
  return Section("envelope", "Fault envelope (docs/faults.md)",
                 HtmlTable({"fault", "component", "survived", "detected", "repaired", "silently lost"}, rows, {5}));
}

// "13 (of 46)" -> 13; "~2.5" -> 2.5; "n/a" -> nothing.
std::optional<double> LeadingNumber(const std::string& text) {
  const size_t start = text.find_first_of("0123456789");
  if (start == std::string::npos) return std::nullopt;
  return std::strtod(text.c_str() + start, nullptr);
}

std::string CatalogSection(const Json* catalog) {
  if (catalog == nullptr || !catalog->is_object()) {
    return Section("catalog", "Planted-bug catalog",
                   "<p>No catalog given: <code>tools/bug_catalog.sh</code> writes "
                   "<code>reports/bug_catalog.json</code>; pass it with <code>--catalog</code>.</p>");
  }
  std::vector<Bar> times, sizes;
  std::vector<std::vector<std::string>> rows;
  for (const Json& row : catalog->value("rows", Json::array())) {
    const std::string bug = Text(row, "bug", "?"), shrunk = Text(row, "shrunk", "n/a");
    rows.push_back({bug, Text(row, "caught"), Text(row, "time_to_first_failure_seconds"), Text(row, "invariant"), shrunk,
                    Text(row, "failed") + " / " + Text(row, "seeds")});
    if (Text(row, "caught") != "yes") continue;
    if (auto seconds = LeadingNumber(Text(row, "time_to_first_failure_seconds"))) times.push_back({bug, *seconds, ""});
    if (auto steps = LeadingNumber(shrunk)) {
      const size_t of = shrunk.find("(of ");
      sizes.push_back({bug, *steps, of == std::string::npos ? "" : shrunk.substr(of)});
    }
  }
  std::string body = fmt::format("<p>{} (commit {}, {} s per bug).</p>", EscapeHtml(Text(*catalog, "generated_by")),
                                 EscapeHtml(Text(*catalog, "commit")), EscapeHtml(Text(*catalog, "budget_seconds")));
  body += SvgBarChart("Time to first failure", times, "s");
  body += SvgBarChart("Shrunk scenario size", sizes, "steps");
  body += HtmlTable({"bug", "caught", "time to first failure (s)", "invariant", "shrunk steps", "failed / seeds"}, rows);
  return Section("catalog", "Planted-bug catalog", body);
}

constexpr std::string_view kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1em; } th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } code { font-size: 12px; } .bad { color: #b00020; font-weight: bold; } .good { color: #1b7e2a; }
.pass { color: #1b7e2a; font-weight: bold; } .chart { display: block; margin: .5em 0; } .bar { fill: #4a7bd0; }
.chart-title { font-weight: bold; font-size: 13px; } .bar-label, .bar-value { font-size: 11px; } .note { color: #666; }
)";

}  // namespace

absl::StatusOr<std::string> RenderCampaignHtml(const nlohmann::json& campaign, const nlohmann::json* catalog) {
  if (!campaign.is_object() || !campaign.contains("seeds")) {
    return absl::InvalidArgumentError("not a campaign summary (no \"seeds\"): write one with campaign --json");
  }
  const bool failed = Number(campaign, "failed") > 0;
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>shardsim campaign: {}</title>"
      "<style>{}</style></head><body>\n<h1>shardsim campaign: <span id=\"verdict\" class=\"{}\">{}</span></h1>\n",
      failed ? "FAILED" : "passed", kStyle, failed ? "bad" : "pass",
      failed ? fmt::format("{} of {} seeds failed", Text(campaign, "failed"), Text(campaign, "seeds"))
             : fmt::format("{} seeds, all passed", Text(campaign, "seeds")));
  html += IdentitySection(campaign) + ThroughputSection(campaign) + FailuresSection(campaign) +
          CoverageSection(campaign) + EnvelopeSection(campaign) + CatalogSection(catalog);
  // Marks the page as rendered once its script ran without an error (the
  // browser test looks for it).
  html += "<script>document.body.dataset.rendered = 'yes';</script>\n</body></html>\n";
  return html;
}

}  // namespace reports
