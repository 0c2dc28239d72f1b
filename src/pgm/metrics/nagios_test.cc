#include "pgm/metrics/nagios.h"

#include <gtest/gtest.h>

namespace pgm::metrics {
namespace {

TEST(NagiosTest, EverySampleBecomesAUniquePerformanceItem) {
  const std::string text =
      "# HELP pgmoneta_state The state of pgmoneta\n"
      "# TYPE pgmoneta_state gauge\n"
      "pgmoneta_state 1\n"
      "\n"
      "# TYPE pgmoneta_server_valid gauge\n"
      "pgmoneta_server_valid{name=\"primary\"} 1\n"
      "pgmoneta_server_valid{name=\"replica 2\"} 0\n"
      "pgmoneta_backup{name=\"primary\",label=\"20261207010427\"} 1 1700000000\n"
      "pgmoneta_odd{name=\"a=b\\\"c\"} 2.5\n";
  EXPECT_EQ(render_nagios(text),
            "PGMONETA OK - pgmoneta is running|pgmoneta_state=1 pgmoneta_server_valid_primary=1 "
            "pgmoneta_server_valid_replica_2=0 pgmoneta_backup_primary_20261207010427=1 "
            "pgmoneta_odd_a_b_c=2.5\n");
}

TEST(NagiosTest, NoSamplesAndBrokenLines) {
  EXPECT_EQ(render_nagios(""), "PGMONETA OK - pgmoneta is running\n");
  EXPECT_EQ(render_nagios("# only comments\n{x} 1\nname{unclosed 1\nname\n"),
            "PGMONETA OK - pgmoneta is running\n");
}

}  // namespace
}  // namespace pgm::metrics
