#include "pgm/metrics/prometheus.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "support/bytes.h"
#include <gtest/gtest.h>

#include "pgm/backup/info.h"
#include "pgm/metrics/exposition_validator_test_internal.h"
#include "pgm/metrics/metrics_test_support.h"

namespace pgm::metrics {
namespace {

using testing::check_exposition;
using testing::kNow;
using testing::sample_snapshot;

std::string problems_of(const testing::Exposition& e) {
  std::string all;
  for (const std::string& p : e.problems) {
    all += p + "\n";
  }
  return all;
}

TEST(ExpositionValidatorTest, AcceptsWellFormedText) {
  auto e = check_exposition(
      "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 1\n"
      "# HELP b Bytes\n# TYPE b gauge\nb 2.5e+10\nb{y=\"1\"} -3 1700000000\n");
  EXPECT_TRUE(e.problems.empty()) << problems_of(e);
  EXPECT_EQ(e.labels["a_total{x=\"q\\\"\\\\\\n\"}"][0].second, "q\"\\\n");
}

TEST(ExpositionValidatorTest, RejectsMalformedText) {
  const std::vector<std::string> bad = {
      "#HELP a x\n#TYPE a gauge\na 1\n",                           // pgmoneta's missing space
      "a 1\n",                                                     // no TYPE
      "# HELP a x\n# TYPE a gauge\na 1\n# TYPE a gauge\n",         // TYPE twice / after samples
      "# HELP a x\n# TYPE a gauge\na{n=\"x\"} 1\na{n=\"x\"} 2\n",  // duplicate series
      "# HELP a x\n# TYPE a gauge\na NaN\n",                       // NaN
      "# HELP a x\n# TYPE a gauge\na{n=\"\\t\"} 1\n",              // bad escape
      "# HELP a x\n# TYPE a gauge\na{n=\"x} 1\n",                  // unterminated value
      "# HELP a x\n# TYPE a counter\na 1\n",                       // counter without _total
      "# HELP a_total x\n# TYPE a_total gauge\na_total 1\n",       // gauge with _total
      "# HELP 1a x\n# TYPE 1a gauge\n1a 1\n",                      // bad name
      "# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\na 1\nb 1\na{n=\"1\"} 1\n",
  };
  for (const std::string& text : bad) {
    EXPECT_FALSE(check_exposition(text).problems.empty()) << text;
  }
}

TEST(PrometheusTest, FollowsTheExpositionFormat) {
  std::string text = render_prometheus(sample_snapshot());
  auto e = check_exposition(text, testing::compatibility_total_gauges());
  EXPECT_TRUE(e.problems.empty()) << problems_of(e) << text;
  EXPECT_GT(e.types.size(), 60U);
}

TEST(PrometheusTest, EmptySnapshotFollowsTheExpositionFormat) {
  MetricsSnapshot s;
  auto e = check_exposition(render_prometheus(s));
  EXPECT_TRUE(e.problems.empty()) << problems_of(e);
  EXPECT_EQ(e.series.count("pgmoneta_state"), 1U);
}

TEST(PrometheusTest, CountersEndInTotal) {
  auto e =
      check_exposition(render_prometheus(sample_snapshot()), testing::compatibility_total_gauges());
  size_t counters = 0;
  for (const auto& [name, type] : e.types) {
    if (type == "counter") {
      ++counters;
      EXPECT_TRUE(testing::ends_with(name, "_total")) << name;
    } else {
      EXPECT_EQ(type, "gauge") << name;
    }
  }
  EXPECT_EQ(counters, 3U);
}

TEST(PrometheusTest, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  MetricsSnapshot s = sample_snapshot();
  std::string text = render_prometheus(s);
  EXPECT_NE(text.find(R"(pgmoneta_server_online{name="we\"ird\\<b>&"} 0)"), std::string::npos);
  auto e = check_exposition(text, testing::compatibility_total_gauges());
  bool found = false;
  for (const auto& [series, labels] : e.labels) {
    if (series.rfind("pgmoneta_backup{", 0) == 0 && labels[0].second == s.servers[1].name) {
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(PrometheusTest, EscapesNewlinesInHelpAndLabels) {
  MetricsSnapshot s;
  s.version = "1\n2";
  std::string text = render_prometheus(s);
  EXPECT_NE(text.find(R"(pgmoneta_version{version="1\n2"} 1)"), std::string::npos);
  EXPECT_TRUE(check_exposition(text).problems.empty());
}

TEST(PrometheusTest, KeepsPgmonetaFamilyNames) {
  auto e =
      check_exposition(render_prometheus(sample_snapshot()), testing::compatibility_total_gauges());
  const char* expected[] = {"pgmoneta_state",
                            "pgmoneta_version",
                            "pgmoneta_fips",
                            "pgmoneta_compression",
                            "pgmoneta_logging_info",
                            "pgmoneta_logging_warn",
                            "pgmoneta_logging_error",
                            "pgmoneta_logging_fatal",
                            "pgmoneta_retention",
                            "pgmoneta_used_space",
                            "pgmoneta_free_space",
                            "pgmoneta_total_space",
                            "pgmoneta_retention_server",
                            "pgmoneta_server_valid",
                            "pgmoneta_server_online",
                            "pgmoneta_server_primary",
                            "pgmoneta_server_checksums",
                            "pgmoneta_server_summarize_wal",
                            "pgmoneta_server_workers",
                            "pgmoneta_server_timeline",
                            "pgmoneta_operations_total",
                            "pgmoneta_failed_operations_total",
                            "pgmoneta_wal_streaming",
                            "pgmoneta_current_wal_file",
                            "pgmoneta_current_wal_lsn",
                            "pgmoneta_wal_unfinished_segments",
                            "pgmoneta_wal_gap",
                            "pgmoneta_wal_first_missing_segment",
                            "pgmoneta_rpo_seconds",
                            "pgmoneta_wal_total_size",
                            "pgmoneta_total_size",
                            "pgmoneta_workspace_free_space",
                            "pgmoneta_workspace_total_space",
                            "pgmoneta_hot_standby",
                            "pgmoneta_hot_standby_free_space",
                            "pgmoneta_hot_standby_total_space",
                            "pgmoneta_active_backup",
                            "pgmoneta_active_restore",
                            "pgmoneta_active_archive",
                            "pgmoneta_active_delete",
                            "pgmoneta_active_retention",
                            "pgmoneta_progress_done",
                            "pgmoneta_progress_size",
                            "pgmoneta_progress_percentage",
                            "pgmoneta_progress_elapsed_time",
                            "pgmoneta_backup",
                            "pgmoneta_backup_size",
                            "pgmoneta_restore_size",
                            "pgmoneta_backup_compression_ratio",
                            "pgmoneta_backup_throughput",
                            "pgmoneta_backup_retain",
                            "pgmoneta_backup_version",
                            "pgmoneta_backup_start_timeline",
                            "pgmoneta_backup_end_timeline",
                            "pgmoneta_backup_start_walpos",
                            "pgmoneta_backup_end_walpos",
                            "pgmoneta_backup_checkpoint_walpos",
                            "pgmoneta_backup_total_elapsed_time",
                            "pgmoneta_backup_oldest",
                            "pgmoneta_backup_newest",
                            "pgmoneta_backup_newest_size",
                            "pgmoneta_backup_valid",
                            "pgmoneta_backup_invalid",
                            "pgmoneta_backup_total_size",
                            "pgmoneta_restore_newest_size"};
  for (const char* name : expected) {
    EXPECT_EQ(e.types.count(name), 1U) << name;
  }
  EXPECT_EQ(e.types["pgmoneta_operations_total"], "counter");
  EXPECT_EQ(e.types.count("pgmoneta_server_operation_count"), 0U);
  EXPECT_EQ(e.series[R"(pgmoneta_operations_total{name="primary"})"], 4);
  EXPECT_EQ(e.series[R"(pgmoneta_failed_operations_total{name="primary"})"], 1);
  EXPECT_EQ(e.series[R"(pgmoneta_retention_server{name="primary",parameter="weeks"})"], 4);
  EXPECT_EQ(e.series[R"(pgmoneta_retention_server{name="primary",parameter="months"})"], 0);
  EXPECT_EQ(e.series[R"(pgmoneta_current_wal_lsn{name="primary",lsn="0/3000000"})"], 1);
  EXPECT_EQ(e.series[R"(pgmoneta_wal_unfinished_segments{name="primary"})"], 2);
  EXPECT_EQ(e.series[R"(pgmoneta_wal_gap{name="primary"})"], 1);
  EXPECT_EQ(
      e.series
          [R"(pgmoneta_wal_first_missing_segment{name="primary",segment="000000010000000000000002"})"],
      1);
  EXPECT_EQ(e.series[R"(pgmoneta_rpo_seconds{name="primary"})"], 12);
  EXPECT_EQ(
      e.series
          [R"(pgmoneta_backup_version{name="primary",label="20260126080000",major="15",minor="4"})"],
      1);
}

TEST(PrometheusTest, ComputesDerivedValues) {
  auto e =
      check_exposition(render_prometheus(sample_snapshot()), testing::compatibility_total_gauges());
  EXPECT_EQ(e.series[R"(pgmoneta_wal_lag_bytes{name="primary"})"], 0x400);
  EXPECT_EQ(e.series["pgmoneta_uptime_seconds"], 3600);
  EXPECT_EQ(e.series[R"(pgmoneta_backup_valid{name="primary"})"], 2);
  EXPECT_EQ(e.series[R"(pgmoneta_backup_invalid{name="primary"})"], 2);
  EXPECT_EQ(e.series[R"(pgmoneta_backup_newest{name="primary"})"], 20260126080000.0);
  EXPECT_EQ(e.series[R"(pgmoneta_backup_oldest{name="primary"})"], 20260125080000.0);
  EXPECT_DOUBLE_EQ(e.series[R"(pgmoneta_backup_newest_age_seconds{name="primary"})"],
                   2 * 3600 - 12.5);
  EXPECT_DOUBLE_EQ(
      e.series[R"(pgmoneta_backup_compression_ratio{name="primary",label="20260125080000"})"],
      42.0 / 800.0);
  EXPECT_DOUBLE_EQ(e.series[R"(pgmoneta_backup_throughput{name="primary",label="20260125080000"})"],
                   800.0 / 12.5);
  EXPECT_DOUBLE_EQ(
      e.series
          [R"(pgmoneta_progress_percentage{name="primary",workflow="backup",phase="streaming"})"],
      50.0);
  EXPECT_DOUBLE_EQ(
      e.series
          [R"(pgmoneta_progress_elapsed_time{name="primary",workflow="backup",phase="streaming"})"],
      30.0);
  EXPECT_EQ(e.series[R"(pgmoneta_proven_restore_success{name="primary"})"], 1);
  EXPECT_DOUBLE_EQ(e.series[R"(pgmoneta_proven_restore_duration_seconds{name="primary"})"], 15.25);
  EXPECT_EQ(e.series[R"(pgmoneta_proven_restore_timestamp_seconds{name="primary"})"],
            static_cast<double>(kNow - 7200));
  EXPECT_EQ(e.series[R"(pgmoneta_proven_restore_label{name="primary",label="20260126080000"})"], 1);
  EXPECT_EQ(e.series[R"(pgmoneta_backup_proven_restore{name="primary",label="20260126080000"})"],
            1);
  EXPECT_EQ(e.series[R"(pgmoneta_backup{name="primary",label="20260126090000"})"], 0);
  EXPECT_EQ(
      e.series[R"(pgmoneta_backup_remote{name="primary",label="20260126080000",engine="s3"})"], 1);
  EXPECT_EQ(e.series[R"(pgmoneta_offsite_failures{name="primary",engine="s3"})"], 2);
  EXPECT_EQ(e.series[R"(pgmoneta_offsite_pending_backups{name="primary",engine="s3"})"], 1);
  EXPECT_EQ(e.series[R"(pgmoneta_backup_retain{name="primary",label="20260126080000"})"], 1);
  EXPECT_EQ(e.series[R"(pgmoneta_hot_standby{name="primary"})"], 3 << 20);
  EXPECT_EQ(e.series[R"(pgmoneta_hot_standby_free_space{name="primary"})"], 100 << 20);
  EXPECT_EQ(e.series[R"(pgmoneta_hot_standby_total_space{name="primary"})"], 400 << 20);
  EXPECT_EQ(e.series[R"(pgmoneta_hot_standby_success{name="primary"})"], 0);
  EXPECT_EQ(e.series[R"(pgmoneta_hot_standby_failed_updates{name="primary"})"], 1);
  EXPECT_EQ(e.series[R"(pgmoneta_hot_standby_timestamp_seconds{name="primary"})"],
            static_cast<double>(kNow - 60));
}

TEST(PrometheusTest, LeavesOutUnknownValues) {
  MetricsSnapshot s = sample_snapshot();
  std::string text = render_prometheus(s);
  EXPECT_EQ(text.find("NaN"), std::string::npos);
  EXPECT_EQ(text.find("Inf"), std::string::npos);
  auto e = check_exposition(text, testing::compatibility_total_gauges());
  const std::string odd = R"({name="we\"ird\\<b>&"})";
  // Never probed, no WAL, no proven restore, no progress.
  EXPECT_EQ(e.series.count("pgmoneta_server_primary" + odd), 0U);
  EXPECT_EQ(e.series.count("pgmoneta_wal_lag_bytes" + odd), 0U);
  EXPECT_EQ(e.series.count("pgmoneta_server_timeline" + odd), 0U);
  EXPECT_EQ(e.series.count("pgmoneta_proven_restore_success" + odd), 0U);
  EXPECT_EQ(e.series.count("pgmoneta_hot_standby_success" + odd), 0U);
  EXPECT_EQ(e.series["pgmoneta_hot_standby" + odd], 0);  // pgmoneta shows 0 without copies
  EXPECT_EQ(e.series.count("pgmoneta_wal_total_size" + odd), 0U);
  // A backup without backup.info only says it is not valid.
  EXPECT_EQ(e.series.count(R"(pgmoneta_backup_size{name="primary",label="20260126090000"})"), 0U);

  // A backup of size 0 and duration 0: no ratio, no throughput, rather than NaN or Inf.
  MetricsSnapshot z;
  ServerMetrics srv;
  srv.name = "z";
  BackupSnapshot b;
  b.label = "20260101000000";
  b.info_readable = true;
  srv.backups.push_back(b);
  z.servers.push_back(srv);
  auto ez = check_exposition(render_prometheus(z));
  EXPECT_TRUE(ez.problems.empty()) << problems_of(ez);
  EXPECT_EQ(ez.types.count("pgmoneta_backup_compression_ratio"), 0U);
  EXPECT_EQ(ez.types.count("pgmoneta_backup_throughput"), 0U);
  EXPECT_EQ(ez.types.count("pgmoneta_backup_newest_age_seconds"), 0U);
}

TEST(PrometheusTest, PromtoolAcceptsTheOutput) {
  const char* promtool = "/usr/bin/promtool";
  if (::access(promtool, X_OK) != 0) {
    GTEST_SKIP() << "promtool not installed";
  }
  std::string path = ::testing::TempDir() + "pgm_metrics_promtool.prom";
  {
    std::ofstream out(path, std::ios::binary);
    out << render_prometheus(sample_snapshot());
  }
  std::string command = std::string(promtool) + " check metrics < '" + path + "' 2>&1";
  test_support::CommandOutput run = test_support::run_command(command);
  ASSERT_NE(run.status, -1) << command;
  const std::string& output = run.output;
  std::remove(path.c_str());
  // promtool's lint must find nothing at all: pgmoneta's names it refuses (gauges ending in
  // "_count"/"_total", units other than seconds) were renamed (docs/monitoring.md).
  auto is_allowed = [](const std::string&) { return false; };
  size_t start = 0;
  while (start < output.size()) {
    size_t nl = output.find('\n', start);
    std::string line = output.substr(start, nl == std::string::npos ? nl : nl - start);
    start = nl == std::string::npos ? output.size() : nl + 1;
    if (!line.empty()) {
      EXPECT_TRUE(is_allowed(line)) << "promtool: " << line;
    }
  }
}

TEST(SnapshotTest, ReadsBackupInfo) {
  backup::BackupInfo info;
  info.label = "20260126080000";
  info.valid = true;
  info.keep = true;
  info.backup_size = 10;
  info.restore_size = 100;
  info.compression = 0x22;
  info.encryption = 1;
  info.type = backup::BackupType::kIncremental;
  info.parent = "20260125080000";
  info.elapsed = backup::Seconds(3.5);
  info.extra_keys = {{"PROVEN_RESTORE", "0"},
                     {"PROVEN_RESTORE_TIME", "20260126090000"},
                     {"PROVEN_RESTORE_ELAPSED", "12.2500"},
                     {"STORAGE_S3", "2026-11-26T13:42:07Z"},
                     {"STORAGE_AZURE", ""}};
  BackupSnapshot b = backup_from_info(info);
  EXPECT_TRUE(b.info_readable);
  EXPECT_TRUE(b.valid);
  EXPECT_TRUE(b.keep);
  EXPECT_TRUE(b.incremental);
  EXPECT_EQ(b.parent, "20260125080000");
  EXPECT_EQ(b.compression, "server-zstd");
  EXPECT_EQ(b.encryption, "aes-256-gcm");
  EXPECT_DOUBLE_EQ(b.elapsed_seconds, 3.5);
  ASSERT_TRUE(b.proven_restore.has_value());
  EXPECT_FALSE(*b.proven_restore);
  EXPECT_EQ(b.proven_restore_time, "20260126090000");
  EXPECT_DOUBLE_EQ(b.proven_restore_elapsed_seconds.value_or(0), 12.25);
  EXPECT_EQ(b.remote, std::vector<std::string>{"s3"});  // an empty value is no copy
}

TEST(SnapshotTest, NamesCompressionAndEncryption) {
  EXPECT_EQ(compression_name(0), "none");
  EXPECT_EQ(compression_name(0x11), "gzip");
  EXPECT_EQ(compression_name(0x12), "zstd");
  EXPECT_EQ(compression_name(0x13), "lz4");
  EXPECT_EQ(compression_name(0x14), "bzip2");
  EXPECT_EQ(compression_name(0x23), "server-lz4");
  EXPECT_EQ(compression_name(0x1f), "unknown");
  EXPECT_EQ(encryption_name(0), "none");
  EXPECT_EQ(encryption_name(3), "aes-128-gcm");
  EXPECT_EQ(encryption_name(9), "unknown");
}

}  // namespace
}  // namespace pgm::metrics
