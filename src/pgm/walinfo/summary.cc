#include "pgm/walinfo/summary.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "pgm/xlog/rmgr.h"

namespace pgm::walinfo {

namespace {

constexpr size_t kMinNameWidth = 20;

struct Column {
  const char* title;
  size_t width;
};
constexpr std::array<Column, 8> kColumns = {{
    {"Count", 10},
    {"Count %", 9},
    {"Record Size", 13},
    {"Record %", 9},
    {"FPI Size", 12},
    {"FPI %", 9},
    {"Combined Size", 15},
    {"Combined %", 11},
}};

std::string centered(std::string_view text, size_t width) {
  if (text.size() >= width) {
    return std::string(text);
  }
  const size_t left = (width - text.size()) / 2;
  return std::string(left, ' ') + std::string(text) + std::string(width - text.size() - left, ' ');
}

double rounded(double value) { return std::round(value * 100.0) / 100.0; }

std::string table_row(const std::string& name, size_t name_width, const RmgrStats& s,
                      const RmgrStats& total) {
  const std::array<std::string, 8> cells = {
      std::to_string(s.count),
      fmt::format("{:.2f}%", percentage(s.count, total.count)),
      std::to_string(s.record_size),
      fmt::format("{:.2f}%", percentage(s.record_size, total.record_size)),
      std::to_string(s.fpi_size),
      fmt::format("{:.2f}%", percentage(s.fpi_size, total.fpi_size)),
      std::to_string(s.combined_size),
      fmt::format("{:.2f}%", percentage(s.combined_size, total.combined_size)),
  };
  std::string line = fmt::format("{:<{}} |", name, name_width);
  for (size_t i = 0; i < cells.size(); ++i) {
    line += fmt::format(" {:>{}} |", cells[i], kColumns[i].width);
  }
  return line;
}

}  // namespace

double percentage(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

void Summary::add(const xlog::Record& record) {
  RmgrStats& s = by_rmid_[record.rmid];
  if (s.count == 0) {
    s.name = xlog::rmgr_name(record.rmid);
  }
  const uint32_t images = record.image_bytes();
  ++s.count;
  s.record_size += record.total_length - images;
  s.fpi_size += images;
  s.combined_size += record.total_length;
}

std::vector<RmgrStats> Summary::rows() const {
  std::vector<RmgrStats> rows;
  for (const RmgrStats& s : by_rmid_) {
    if (s.count != 0) {
      rows.push_back(s);
    }
  }
  return rows;
}

RmgrStats Summary::total() const {
  RmgrStats total;
  total.name = "Total";
  for (const RmgrStats& s : by_rmid_) {
    total.count += s.count;
    total.record_size += s.record_size;
    total.fpi_size += s.fpi_size;
    total.combined_size += s.combined_size;
  }
  return total;
}

void Summary::render(std::ostream& out, Format format) const {
  const std::vector<RmgrStats> all = rows();
  const RmgrStats sum = total();
  if (format == Format::kJson) {
    nlohmann::ordered_json stats = nlohmann::ordered_json::array();
    for (const RmgrStats& s : all) {
      nlohmann::ordered_json row;
      row["resource_manager"] = s.name;
      row["count"] = s.count;
      row["count_percentage"] = rounded(percentage(s.count, sum.count));
      row["record_size"] = s.record_size;
      row["record_size_percentage"] = rounded(percentage(s.record_size, sum.record_size));
      row["fpi_size"] = s.fpi_size;
      row["fpi_size_percentage"] = rounded(percentage(s.fpi_size, sum.fpi_size));
      row["combined_size"] = s.combined_size;
      row["combined_size_percentage"] = rounded(percentage(s.combined_size, sum.combined_size));
      stats.push_back(std::move(row));
    }
    nlohmann::ordered_json doc;
    doc["wal_stats"] = std::move(stats);
    out << doc.dump(2) << "\n";
    return;
  }
  size_t name_width = kMinNameWidth;
  for (const RmgrStats& s : all) {
    name_width = std::max(name_width, s.name.size());
  }
  std::string header = fmt::format("{:<{}} |", "Resource Manager", name_width);
  size_t width = name_width + 2;
  for (const Column& c : kColumns) {
    header += " " + centered(c.title, c.width) + " |";
    width += c.width + 3;
  }
  const std::string rule(width, '-');
  out << header << "\n" << rule << "\n";
  for (const RmgrStats& s : all) {
    out << table_row(s.name, name_width, s, sum) << "\n";
  }
  out << rule << "\n" << table_row(sum.name, name_width, sum, sum) << "\n";
}

}  // namespace pgm::walinfo
