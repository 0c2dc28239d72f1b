// Summary (-S): per resource manager statistics of the records shown, as pg_waldump --stats
// counts them: the number of records, their size without full-page images ("record size"),
// the size of their images ("FPI size") and both together ("combined size", xl_tot_len), each
// with its percentage of the total. Not thread-safe; one per run.
//
// Raw output is pgmoneta's table (one row per resource manager seen, then Total); JSON is
// pgmoneta's {"wal_stats": [{"resource_manager", "count", "count_percentage", "record_size",
// "record_size_percentage", "fpi_size", "fpi_size_percentage", "combined_size",
// "combined_size_percentage"}]}, percentages rounded to two decimals.
#pragma once

#include <array>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "pgm/walinfo/options.h"
#include "pgm/xlog/record.h"

namespace pgm::walinfo {

struct RmgrStats {
  std::string name;
  uint64_t count = 0;
  uint64_t record_size = 0;
  uint64_t fpi_size = 0;
  uint64_t combined_size = 0;
};

class Summary {
 public:
  void add(const xlog::Record& record);
  // Resource managers with at least one record, in id order.
  std::vector<RmgrStats> rows() const;
  RmgrStats total() const;
  void render(std::ostream& out, Format format) const;

 private:
  std::array<RmgrStats, 256> by_rmid_{};
};

// 100 * part / whole, 0 when whole is 0.
double percentage(uint64_t part, uint64_t whole);

}  // namespace pgm::walinfo
