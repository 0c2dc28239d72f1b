#include "pgm/metrics/status_page.h"

#include <string>

#include <gtest/gtest.h>

#include "pgm/core/markup.h"
#include "pgm/metrics/metrics_test_support.h"

namespace pgm::metrics {
namespace {

using testing::sample_snapshot;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(StatusPageTest, EscapesHtml) {
  EXPECT_EQ(core::escape_markup("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  std::string page = render_status_page(sample_snapshot());
  EXPECT_FALSE(contains(page, "<b>"));
  EXPECT_FALSE(contains(page, "we\"ird"));
  EXPECT_TRUE(contains(page, "we&quot;ird\\&lt;b&gt;&amp;"));
}

TEST(StatusPageTest, EscapesEveryTextFromTheSnapshot) {
  MetricsSnapshot s = sample_snapshot();
  s.version = "<zv>";
  s.compression = "<zc>";
  s.encryption = "<ze>";
  s.servers[0].current_wal_file = "<zw>";
  s.servers[0].proven_restore_label = "<zp>";
  s.servers[0].progress->operation = "<zo>";
  s.servers[0].progress->phase = "<zph>";
  s.servers[0].backups[0].label = "<zl>";
  s.servers[0].backups[0].compression = "<zbc>";
  s.servers[0].backups[2].parent = "<zpar>";
  s.servers[0].backups[2].proven_restore_time = "<zpt>";
  s.servers[1].offline_reason = "<zr>";
  s.servers[0].wal_last_error = "<zwe>";
  std::string page = render_status_page(s);
  for (const char* raw : {"<zv>", "<zc>", "<ze>", "<zw>", "<zp>", "<zo>", "<zph>", "<zl>", "<zbc>",
                          "<zpar>", "<zpt>", "<zr>", "<zwe>"}) {
    EXPECT_FALSE(contains(page, raw)) << raw;
  }
  EXPECT_TRUE(contains(page, "&lt;zpar&gt;"));
}

TEST(StatusPageTest, ShowsServersBackupsAndState) {
  std::string page = render_status_page(sample_snapshot());
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0U);
  EXPECT_TRUE(contains(page, "<meta http-equiv=\"refresh\" content=\"30\">"));
  EXPECT_TRUE(contains(page, "pgmoneta 0.22.0"));
  EXPECT_TRUE(contains(page, "up 60 min"));
  EXPECT_TRUE(contains(page, ">primary</a>"));
  EXPECT_TRUE(contains(page, "000000010000000000000003"));
  EXPECT_TRUE(contains(page, "1.0 KiB"));  // WAL lag 0x400
  EXPECT_TRUE(contains(page, "50.0%"));    // backup progress
  for (const char* label :
       {"20260125080000", "20260125120000", "20260126080000", "20260126090000", "20260120080000"}) {
    EXPECT_TRUE(contains(page, label)) << label;
  }
  EXPECT_TRUE(contains(page, "42.0 MiB"));
  EXPECT_TRUE(contains(page, "800.0 MiB"));
  EXPECT_TRUE(contains(page, "retained"));
  EXPECT_TRUE(contains(page, "2 h ago"));
  EXPECT_TRUE(contains(page, "7 days, 4 weeks"));
  EXPECT_TRUE(contains(page, "backup.info missing"));
  EXPECT_TRUE(contains(page, "href=\"/metrics\""));
  EXPECT_TRUE(contains(page, "100.0 GiB free of 500.0 GiB"));
  EXPECT_TRUE(contains(page, "Offline: <span class=\"bad\">connection refused</span>"));
  EXPECT_TRUE(contains(page, "Last WAL receiver error"));
  EXPECT_TRUE(contains(page, "gap at <code>000000010000000000000002</code> (missing)"));
  EXPECT_TRUE(contains(page, ">12 s</td>"));  // RPO
  // Every table is closed.
  size_t open_tables = 0;
  size_t closed_tables = 0;
  for (size_t at = page.find("<table"); at != std::string::npos; at = page.find("<table", at + 1)) {
    ++open_tables;
  }
  for (size_t at = page.find("</table>"); at != std::string::npos;
       at = page.find("</table>", at + 1)) {
    ++closed_tables;
  }
  EXPECT_EQ(open_tables, closed_tables);
  EXPECT_EQ(open_tables, 3U);  // servers, and the backups of each server
}

TEST(StatusPageTest, IsSelfContained) {
  std::string page = render_status_page(sample_snapshot());
  EXPECT_FALSE(contains(page, "<script"));
  EXPECT_FALSE(contains(page, "http://"));
  EXPECT_FALSE(contains(page, "https://"));
  EXPECT_FALSE(contains(page, "<link"));
  EXPECT_FALSE(contains(page, "<img"));
  EXPECT_TRUE(contains(page, "</html>\n"));
}

TEST(StatusPageTest, RendersAnEmptySnapshot) {
  std::string page = render_status_page(MetricsSnapshot{});
  EXPECT_TRUE(contains(page, "No servers configured."));
}

TEST(StatusPageTest, FormatsBytesAndDurations) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(3ULL << 30), "3.0 GiB");
  EXPECT_EQ(human_duration(-5), "0 s");
  EXPECT_EQ(human_duration(42), "42 s");
  EXPECT_EQ(human_duration(600), "10 min");
  EXPECT_EQ(human_duration(int64_t{3} * 3600 + 5), "3 h");
  EXPECT_EQ(human_duration(int64_t{3} * 86400), "3 d");
}

}  // namespace
}  // namespace pgm::metrics
