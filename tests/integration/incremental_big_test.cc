// Incremental backups of a relation over 1 GB, end to end on the real daemon and PostgreSQL 15:
// a table whose heap has a second segment (`<relfilenode>.1`), a full backup, then rows changed
// in both segments and the table extended -> incremental -> the table's tail deleted and cut off
// by a truncating VACUUM (`.1` shrinks) -> incremental of the incremental. Each incremental
// stores both segments as INCREMENTAL files, few bytes against the full backup's; the newest
// restores through pgmoneta-cli with both segments at the source's sizes, and PostgreSQL starts
// on it with the source's exact rows at the same places (ctid).
// A binary of its own: about 3.5 GB of temporary files at the peak, on tmpfs (PGM_TEST_TMPDIR).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>

#include "integration/backup_helpers.h"
#include "integration/harness.h"
#include "integration/incremental_fixture.h"
#include "integration/restore_fixture.h"
#include "integration/wal_helpers.h"

namespace pgm::testing {
namespace {

constexpr uint64_t kBlock = 8192;
constexpr uint64_t kSegmentBlocks = 131072;  // 1 GB
// 7 rows of 1160 bytes fill a page with fillfactor 100; rows under 2032 bytes are never
// compressed or TOASTed. 938 504 rows are 134 072 blocks: the first segment and 3 000 blocks
// of `.1`.
constexpr int kRows = 938504;
constexpr int kRowsPerBlock = 7;
constexpr const char* kPad = "rpad(md5(i::text), 1128, 'x')";
// Every row, where it lies (ctid) and the relation's length.
constexpr const char* kBigChecksumSql =
    "SELECT count(*) || ':' || sum(hashtext(ctid::text || ':' || id || ':' || pad)) || ':' || "
    "pg_relation_size('big') FROM big";

// The suite's server commits asynchronously: a VACUUM right after such a commit sets neither
// hint bits nor all-visible on the pages it reaches before the commit record is flushed, and
// the next scan then rewrites them (a third of the table in the next incremental). Changes
// are therefore committed synchronously.
std::string durably(const std::string& statement) {
  return "SET synchronous_commit = on; " + statement;
}

std::string insert_rows(int from, int to) {
  return durably("INSERT INTO big SELECT i, " + std::string(kPad) + " FROM generate_series(" +
                 std::to_string(from) + ", " + std::to_string(to) + ") i");
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST_F(IncrementalTest, RelationOverOneSegmentRestoresExactlyAndIsSmall) {
  const auto started = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(start_online());
  ASSERT_NO_FATAL_FAILURE(sql("CREATE TABLE big (id int, pad text) WITH (fillfactor = 100)"));
  {
    // One statement; on a busy machine it may take longer than the 60 s psql() allows.
    CommandOutput load =
        pg()->run_tool("psql", {"-XAtq", "-c", insert_rows(1, kRows)}, std::chrono::seconds(300));
    ASSERT_EQ(load.exit_code, 0) << load.describe();
  }
  // Hint bits and the visibility map now: otherwise the first read after the full backup
  // would rewrite every page.
  ASSERT_NO_FATAL_FAILURE(sql("VACUUM big"));
  const double loaded = seconds_since(started);
  const std::string relpath = sql_value(*pg(), "SELECT pg_relation_filepath('big')");
  const std::string source = pg()->data_dir() + "/" + relpath;
  ASSERT_EQ(std::filesystem::file_size(source), kSegmentBlocks * kBlock);
  ASSERT_EQ(std::filesystem::file_size(source + ".1"),
            (kRows / kRowsPerBlock - kSegmentBlocks) * kBlock);
  const std::string dir = std::filesystem::path(relpath).parent_path().string();
  const std::string node = std::filesystem::path(relpath).filename().string();

  const std::string full = take_backup();
  ASSERT_FALSE(full.empty());
  const std::string full_data = daemon_backup_root(daemon()) + "/" + full + "/data/";
  ASSERT_TRUE(path_exists(full_data + relpath + ".zstd"));
  ASSERT_TRUE(path_exists(full_data + relpath + ".1.zstd"));
  const double full_done = seconds_since(started);

  // Rows changed in the first segment and in `.1` (their new versions go to the end: the
  // pages are full), then 3 000 more blocks of rows.
  ASSERT_NO_FATAL_FAILURE(sql(
      durably("UPDATE big SET pad = rpad(md5((-id)::text), 1128, 'y') WHERE ctid < '(100,0)'")));
  ASSERT_NO_FATAL_FAILURE(
      sql(durably("UPDATE big SET pad = rpad(md5((-id)::text), 1128, 'z') "
                  "WHERE ctid >= '(132000,0)' AND ctid < '(132100,0)'")));
  ASSERT_NO_FATAL_FAILURE(sql(insert_rows(kRows + 1, kRows + 3000 * kRowsPerBlock)));
  const uint64_t grown = std::filesystem::file_size(source + ".1") / kBlock;
  EXPECT_EQ(grown, kRows / kRowsPerBlock - kSegmentBlocks + 200 + 3000);
  const std::string first = take_incremental(full);
  ASSERT_FALSE(first.empty());
  const double first_done = seconds_since(started);

  // The last 2 000 blocks deleted; VACUUM removes the dead rows in both segments and cuts
  // the empty tail off `.1`.
  ASSERT_NO_FATAL_FAILURE(
      sql(durably("DELETE FROM big WHERE id > " + std::to_string(kRows + 1000 * kRowsPerBlock))));
  ASSERT_NO_FATAL_FAILURE(sql("VACUUM big"));
  const uint64_t shrunk = std::filesystem::file_size(source + ".1") / kBlock;
  EXPECT_EQ(shrunk, grown - 2000);
  const std::string second = take_incremental(first);
  ASSERT_FALSE(second.empty());
  const double second_done = seconds_since(started);

  // Both segments are INCREMENTAL files in both incrementals, and small.
  const uint64_t full_bytes = info_of(full).value("BackupSize", uint64_t{0});
  const uint64_t full_segment = std::filesystem::file_size(full_data + relpath + ".zstd");
  for (const std::string& label : {first, second}) {
    SCOPED_TRACE(label);
    const auto stored = incremental_files(label);
    const std::string data = daemon_backup_root(daemon()) + "/" + label + "/data/";
    for (const std::string& segment : {node, node + ".1"}) {
      const std::string name = dir + "/INCREMENTAL." + segment + ".zstd";
      EXPECT_NE(std::find(stored.begin(), stored.end(), name), stored.end()) << name;
      EXPECT_FALSE(path_exists(data + dir + "/" + segment + ".zstd")) << segment;
    }
    const uint64_t bytes = info_of(label).value("BackupSize", uint64_t{0});
    EXPECT_GT(bytes, 0u);
    EXPECT_LE(bytes * 10, full_bytes) << "an incremental stores more than 10 % of the full";
    const std::string base = data + dir + "/INCREMENTAL." + node + ".zstd";
    if (path_exists(base)) {
      EXPECT_LE(std::filesystem::file_size(base) * 50, full_segment)
          << "the first segment's INCREMENTAL file stores more than 2 % of the whole segment";
    }
    std::cout << "[   INFO   ] " << label << ": " << bytes << " bytes stored (full " << full_bytes
              << "), first segment's INCREMENTAL "
              << (path_exists(base) ? std::filesystem::file_size(base) : 0) << " bytes (full "
              << full_segment << ")\n";
  }

  const std::string expected = sql_value(*pg(), kBigChecksumSql) + " " + checksums(*pg());
  const uint64_t source_size = std::filesystem::file_size(source);
  const uint64_t source_tail = std::filesystem::file_size(source + ".1");
  ASSERT_NO_FATAL_FAILURE(wait_wal_received());
  const std::string parent = restore_parent("restores");
  CliResult r = cli({"restore", "primary", second, "current", parent}, "raw");
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  const std::string target = parent + "/primary-" + second;
  const double restored = seconds_since(started);
  EXPECT_EQ(std::filesystem::file_size(target + "/" + relpath), source_size);
  EXPECT_EQ(std::filesystem::file_size(target + "/" + relpath + ".1"), source_tail);
  EXPECT_FALSE(path_exists(target + "/" + dir + "/INCREMENTAL." + node + ".1"));
  PostgresInstance* copy = start_copy(target);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(sql_value(*copy, kBigChecksumSql) + " " + checksums(*copy), expected);
  std::cout << "[   INFO   ] seconds: loaded " << loaded << ", full " << full_done
            << ", first incremental " << first_done << ", second " << second_done << ", restored "
            << restored << ", compared " << seconds_since(started) << "\n";
}

}  // namespace
}  // namespace pgm::testing
