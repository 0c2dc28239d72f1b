#include "pgm/metrics/console_page.h"

#include <string>

#include <gtest/gtest.h>

#include "pgm/metrics/exposition.h"
#include "pgm/metrics/metrics_test_support.h"
#include "pgm/metrics/prometheus.h"

namespace pgm::metrics {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ConsolePageTest, SortsFamiliesIntoCategories) {
  EXPECT_EQ(console_category("pgmoneta_state"), "Daemon");
  EXPECT_EQ(console_category("pgmoneta_version"), "Daemon");
  EXPECT_EQ(console_category("pgmoneta_server_valid"), "Servers");
  EXPECT_EQ(console_category("pgmoneta_wal_streaming"), "WAL");
  EXPECT_EQ(console_category("pgmoneta_current_wal_lsn"), "WAL");
  EXPECT_EQ(console_category("pgmoneta_backup_size"), "Backups");
  EXPECT_EQ(console_category("pgmoneta_backup"), "Backups");
  EXPECT_EQ(console_category("pgmoneta_restore_newest_size"), "Backups");
  EXPECT_EQ(console_category("pgmoneta_active_backup"), "Operations");
  EXPECT_EQ(console_category("pgmoneta_progress_done"), "Operations");
  EXPECT_EQ(console_category("pgmoneta_retention_server"), "Retention");
  EXPECT_EQ(console_category("pgmoneta_workspace_free_space"), "Space");
  EXPECT_EQ(console_category("pgmoneta_free_space"), "Space");
  EXPECT_EQ(console_category("pgmoneta_offsite_failures"), "Off-site");
  EXPECT_EQ(console_category("pgmoneta_something_new"), "Other");
  EXPECT_EQ(console_category("go_goroutines"), "Other");
}

TEST(ConsolePageTest, ShowsEverySampleWithItsServerAndMarksPerBackupSeries) {
  const std::string text = render_prometheus(testing::sample_snapshot());
  const std::string page = render_console_page(text, "0.22.0", 1700000000);
  EXPECT_TRUE(contains(page, "<!DOCTYPE html>"));
  EXPECT_TRUE(contains(page, "pgmoneta 0.22.0"));
  EXPECT_TRUE(contains(page, "2023-11-14 22:13:20 UTC"));
  size_t samples = 0;
  for (const Family& family : parse_exposition(text)) {
    EXPECT_TRUE(contains(page, "<code>" + family.name + "</code>")) << family.name;
    samples += family.samples.size();
  }
  size_t rows = 0;
  for (size_t at = page.find("data-text="); at != std::string::npos;
       at = page.find("data-text=", at + 1)) {
    ++rows;
  }
  EXPECT_EQ(rows, samples);
  EXPECT_TRUE(contains(page, "<option value=\"primary\">primary</option>"));
  EXPECT_TRUE(contains(page, "<section data-category=\"Servers\">"));
  EXPECT_TRUE(contains(page, "<tr class=\"detail\" data-server=\"primary\""));
  // No external resources: the page works offline and behind a strict proxy.
  EXPECT_FALSE(contains(page, "src="));
  EXPECT_FALSE(contains(page, "href="));
}

TEST(ConsolePageTest, EscapesEveryTextFromTheExposition) {
  const std::string page = render_console_page(
      "# HELP pgmoneta_x <b>help</b>\n# TYPE pgmoneta_x <i>\n"
      "pgmoneta_x{name=\"<script>\",label=\"'a'\"} <v>\n",
      "<ver>", 0);
  EXPECT_FALSE(contains(page, "<b>"));
  EXPECT_FALSE(contains(page, "<i>"));
  EXPECT_FALSE(contains(page, "<v>"));
  EXPECT_FALSE(contains(page, "<ver>"));
  EXPECT_FALSE(contains(page, "<option value=\"<script>\""));
  EXPECT_TRUE(contains(page, "&lt;script&gt;"));
  EXPECT_TRUE(contains(page, "&lt;b&gt;help&lt;/b&gt;"));
}

TEST(ConsolePageTest, AnEmptyExpositionStillGivesAPage) {
  const std::string page = render_console_page("", "1", 0);
  EXPECT_TRUE(contains(page, "0 metric families, 0 samples"));
  EXPECT_TRUE(contains(page, "</html>"));
}

}  // namespace
}  // namespace pgm::metrics
