#include "reports/html_parts.h"

#include <algorithm>

#include <fmt/format.h>

namespace reports {

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string GroupDigits(uint64_t value) {
  std::string digits = std::to_string(value), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string SvgBarChart(std::string_view title, const std::vector<Bar>& bars, std::string_view unit) {
  constexpr int kLabelWidth = 330, kBarWidth = 360, kRowHeight = 18, kTop = 22;
  const size_t shown = std::min(bars.size(), kMaxBars);
  double largest = 0;
  for (size_t i = 0; i < shown; ++i) largest = std::max(largest, bars[i].value);
  const int height = kTop + static_cast<int>(shown) * kRowHeight + 6;
  std::string svg = fmt::format(
      "<svg class=\"chart\" role=\"img\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>"
      "<text x=\"0\" y=\"14\" class=\"chart-title\">{}</text>",
      kLabelWidth + kBarWidth + 140, height, kLabelWidth + kBarWidth + 140, height, EscapeHtml(title),
      EscapeHtml(title));
  for (size_t i = 0; i < shown; ++i) {
    const Bar& bar = bars[i];
    const int y = kTop + static_cast<int>(i) * kRowHeight;
    const double fraction = largest > 0 ? std::max(0.0, bar.value) / largest : 0;
    const int width = std::max(1, static_cast<int>(fraction * kBarWidth));
    svg += fmt::format(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"bar-label\">{}</text>"
        "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>"
        "<text x=\"{}\" y=\"{}\" class=\"bar-value\">{} {}{}</text>",
        kLabelWidth - 6, y + 12, EscapeHtml(bar.label.substr(0, 60)), kLabelWidth, y + 2, width, kRowHeight - 4,
        kLabelWidth + width + 4, y + 12, fmt::format("{:g}", bar.value), EscapeHtml(unit),
        bar.note.empty() ? "" : " " + EscapeHtml(bar.note));
  }
  svg += "</svg>";
  if (bars.size() > shown) svg += fmt::format("<p class=\"note\">{} more not drawn.</p>", bars.size() - shown);
  return svg;
}

std::string HtmlTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                      const std::vector<size_t>& raw_html_columns) {
  std::string html = "<table><thead><tr>";
  for (const std::string& cell : header) html += "<th>" + EscapeHtml(cell) + "</th>";
  html += "</tr></thead><tbody>";
  for (const auto& row : rows) {
    html += "<tr>";
    for (size_t column = 0; column < row.size(); ++column) {
      const bool raw = std::find(raw_html_columns.begin(), raw_html_columns.end(), column) != raw_html_columns.end();
      html += "<td>" + (raw ? row[column] : EscapeHtml(row[column])) + "</td>";
    }
    html += "</tr>";
  }
  return html + "</tbody></table>";
}

}  // namespace reports
