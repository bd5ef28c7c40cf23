// Pieces of the HTML report: escaping, tables and inline SVG bar charts.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace reports {

std::string EscapeHtml(std::string_view text);

struct Bar {
  std::string label;
  double value = 0;
  std::string note;  // shown after the value, e.g. "(of 46)"
};

// A horizontal bar chart as an <svg> element: one bar per entry, scaled to
// the largest value, with its label and value as text. Bounded: at most
// kMaxBars bars are drawn (the caption says how many were left out).
std::string SvgBarChart(std::string_view title, const std::vector<Bar>& bars, std::string_view unit);
inline constexpr size_t kMaxBars = 200;

// <table> with a header row; cells are escaped unless `raw_html_columns`
// names their column (for links and code the caller built).
std::string HtmlTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                      const std::vector<size_t>& raw_html_columns = {});

// "12,345" for counts; "3.4" for rates.
std::string GroupDigits(uint64_t value);

}  // namespace reports
