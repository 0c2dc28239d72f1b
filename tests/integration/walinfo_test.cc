// pgmoneta-walinfo end to end: a PostgreSQL 15 and the daemon storing its WAL (zstd), a little
// DDL and DML, a few switched segments; then the real pgmoneta-walinfo binary reads what the
// daemon stored and is compared with PostgreSQL's pg_waldump on the server's own pg_wal:
//   - each stored .zstd segment (-F json) and the same segment in pg_wal (raw): the records'
//     LSNs, resource managers and xids (and, for raw, lengths and prev) equal pg_waldump's;
//   - a tar of the stored segments: the same records as pg_waldump over that range, and -S
//     counts per resource manager equal to pg_waldump --stats;
//   - a damaged segment: exit 1 and a message naming the file and the offset.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "integration/harness.h"
#include "integration/wal_helpers.h"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pgm/wal/lsn.h"
#include "pgm/wal/segment.h"

namespace pgm::testing {
namespace {

using std::chrono::seconds;

// What both programs say about one record.
struct Row {
  uint64_t lsn = 0;
  uint64_t prev = 0;
  std::string rmgr;
  uint32_t xid = 0;
  uint32_t rec_len = 0;
  uint32_t tot_len = 0;
  friend bool operator==(const Row&, const Row&) = default;
};

std::string show(const Row& r) {
  return r.rmgr + " lsn " + wal::Lsn(r.lsn).to_string() + " prev " + wal::Lsn(r.prev).to_string() +
         " tx " + std::to_string(r.xid) + " len " + std::to_string(r.rec_len) + "/" +
         std::to_string(r.tot_len);
}

// The records of pg_waldump's line format, which pgmoneta-walinfo's raw output shares.
std::vector<Row> rows_of_lines(const std::string& text, size_t* unparsed) {
  std::vector<Row> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    Row r;
    char rmgr[64] = {0};
    unsigned lsn_hi = 0, lsn_lo = 0, prev_hi = 0, prev_lo = 0;
    // NOLINTNEXTLINE(cert-err34-c): the count of fields read is checked
    const int n = std::sscanf(
        line.c_str(), "rmgr: %63s len (rec/tot): %u/ %u, tx: %u, lsn: %X/%X, prev %X/%X,", rmgr,
        &r.rec_len, &r.tot_len, &r.xid, &lsn_hi, &lsn_lo, &prev_hi, &prev_lo);
    if (n != 8) {
      *unparsed += line.empty() ? 0 : 1;
      continue;
    }
    r.rmgr = rmgr;
    r.lsn = (uint64_t{lsn_hi} << 32) | lsn_lo;
    r.prev = (uint64_t{prev_hi} << 32) | prev_lo;
    rows.push_back(r);
  }
  return rows;
}

// LSN, resource manager and xid of each record of a -F json document (the rest left zero).
std::vector<Row> rows_of_json(const std::string& text, std::string* error) {
  std::vector<Row> rows;
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.contains("WAL") || !doc["WAL"].is_array()) {
    *error = "not a {\"WAL\": [...]} document: " + text.substr(0, 200);
    return rows;
  }
  for (const nlohmann::json& item : doc["WAL"]) {
    const nlohmann::json& rec = item["Record"];
    Row r;
    r.lsn = rec["StartLSN"].get<uint64_t>();
    r.rmgr = rec["ResourceManager"].get<std::string>();
    r.xid = rec["Xid"].get<uint32_t>();
    rows.push_back(r);
  }
  return rows;
}

// Keeps only what -F json has.
std::vector<Row> lsn_rmgr_xid(std::vector<Row> rows) {
  for (Row& r : rows) {
    r.prev = 0;
    r.rec_len = 0;
    r.tot_len = 0;
  }
  return rows;
}

// Count per resource manager of pg_waldump --stats ("Heap   42 ( 12.50) ..."), non-zero only.
std::map<std::string, uint64_t> waldump_stats(const std::string& text) {
  std::map<std::string, uint64_t> counts;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    char name[64] = {0};
    unsigned long long count = 0;
    char paren = 0;
    // NOLINTNEXTLINE(cert-err34-c): the count of fields read is checked
    if (std::sscanf(line.c_str(), "%63s %llu %c", name, &count, &paren) == 3 && paren == '(' &&
        std::string(name) != "Total" && count != 0) {
      counts[name] = count;
    }
  }
  return counts;
}

// Count per resource manager of pgmoneta-walinfo -S -F json.
std::map<std::string, uint64_t> walinfo_stats(const std::string& text, std::string* error) {
  std::map<std::string, uint64_t> counts;
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.contains("wal_stats")) {
    *error = "not a {\"wal_stats\": [...]} document: " + text.substr(0, 200);
    return counts;
  }
  for (const nlohmann::json& row : doc["wal_stats"]) {
    counts[row["resource_manager"].get<std::string>()] = row["count"].get<uint64_t>();
  }
  return counts;
}

class WalinfoTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    bin_ = std::make_unique<TempDir>("pgm-walinfo-bin");
    const std::string src = pgmoneta_bin_dir() + "/pgmoneta-walinfo";
    walinfo_ = *bin_ / "pgmoneta-walinfo";
    std::error_code ec;
    ASSERT_TRUE(std::filesystem::copy_file(src, walinfo_, ec)) << src << ": " << ec.message();
    ::chmod(walinfo_.c_str(), 0755);
    chown_to_test_user(walinfo_);
  }

  // pgmoneta-walinfo args..., as the test user with the daemon's HOME.
  CommandOutput walinfo(const std::vector<std::string>& args) {
    ProcessOptions p;
    p.argv = {walinfo_};
    p.argv.insert(p.argv.end(), args.begin(), args.end());
    p.home = daemon().home();
    return run_command(p, seconds(60));
  }

  CommandOutput as_test_user(const std::vector<std::string>& argv) {
    ProcessOptions p;
    p.argv = argv;
    p.home = daemon().home();
    return run_command(p, seconds(60));
  }

  void sql(const std::string& statement) {
    CommandOutput r = pg()->psql(statement);
    ASSERT_EQ(r.exit_code, 0) << statement << ": " << r.describe();
  }

  std::unique_ptr<TempDir> bin_;
  std::string walinfo_;
};

TEST_F(WalinfoTest, StoredSegmentsReadAsPgWaldumpReadsTheServersCopy) {
  // Keep the server's copies of the segments the daemon stores, for pg_waldump.
  sql("ALTER SYSTEM SET wal_keep_size = '1GB'");
  sql("SELECT pg_reload_conf()");
  std::string last;
  ASSERT_TRUE(wait_for_details(
                  daemon(), "primary",
                  [](const nlohmann::json& j) { return json_bool(j, "WalStreaming"); }, seconds(30),
                  &last)
                  .has_value())
      << "WAL not streaming: " << last;

  // ---- a workload, over a few switched segments ----
  std::vector<std::string> switched;
  const char* batches[][4] = {
      {"CREATE TABLE w (id int PRIMARY KEY, v text)",
       "INSERT INTO w SELECT i, md5(i::text) FROM generate_series(1, 20000) i",
       "CREATE INDEX w_v ON w (v)", "UPDATE w SET v = v || 'x' WHERE id % 5 = 0"},
      {"DELETE FROM w WHERE id % 7 = 0", "VACUUM w", "CREATE DATABASE wdb", "DROP DATABASE wdb"},
      {"CREATE UNLOGGED TABLE u (id int)", "TRUNCATE w",
       "BEGIN; INSERT INTO w VALUES (1, 'a'); SAVEPOINT s; INSERT INTO w VALUES (2, 'b'); COMMIT",
       "SELECT pg_logical_emit_message(true, 'pgm', 'walinfo')"},
  };
  for (const auto& batch : batches) {
    for (const char* statement : batch) {
      sql(statement);
    }
    std::string error;
    switched.push_back(switch_wal(*pg(), &error));
    ASSERT_FALSE(switched.back().empty()) << error;
  }
  const std::string wal_dir = daemon_wal_dir(daemon());
  const std::string pg_wal = pg()->data_dir() + "/pg_wal";
  ASSERT_EQ(wait_for_settled_segment(wal_dir, switched.back(), ".zstd", seconds(30)), "");

  std::vector<std::string> stored;  // complete segments the daemon holds, sorted
  for (const std::string& name : list_dir(wal_dir)) {
    if (wal::classify_wal_file(name).kind == wal::WalFileKind::kSegment) {
      ASSERT_TRUE(name.size() > 24 && name.substr(24) == ".zstd") << name;
      stored.push_back(name.substr(0, 24));
    }
  }
  ASSERT_GE(stored.size(), 3u);

  // ---- each segment: the stored .zstd as JSON, the server's copy as raw lines ----
  size_t compared = 0;
  uint64_t damage_at = 0;  // a record in the middle of stored[1]
  for (const std::string& segment : stored) {
    CommandOutput theirs = pg()->run_tool("pg_waldump", {"--path=" + pg_wal, segment});
    ASSERT_FALSE(theirs.timed_out);
    size_t unparsed = 0;
    const std::vector<Row> expected = rows_of_lines(theirs.out, &unparsed);
    EXPECT_EQ(unparsed, 0u) << theirs.out.substr(0, 500);
    ASSERT_FALSE(expected.empty()) << segment << ": " << theirs.describe();

    CommandOutput json = walinfo({"-F", "json", path_join(wal_dir, segment) + ".zstd"});
    ASSERT_EQ(json.exit_code, 0) << json.describe();
    std::string error;
    const std::vector<Row> ours = rows_of_json(json.out, &error);
    ASSERT_TRUE(error.empty()) << error;
    ASSERT_EQ(ours.size(), expected.size()) << segment;
    for (size_t i = 0; i < ours.size(); ++i) {
      ASSERT_EQ(ours[i], lsn_rmgr_xid({expected[i]})[0])
          << segment << " record " << i << "\n  ours:       " << show(ours[i])
          << "\n  pg_waldump: " << show(expected[i]);
    }

    CommandOutput raw = walinfo({"--color", "off", path_join(pg_wal, segment)});
    ASSERT_EQ(raw.exit_code, 0) << raw.describe();
    unparsed = 0;
    const std::vector<Row> raw_rows = rows_of_lines(raw.out, &unparsed);
    EXPECT_EQ(unparsed, 0u);
    ASSERT_EQ(raw_rows.size(), expected.size()) << segment;
    for (size_t i = 0; i < raw_rows.size(); ++i) {
      ASSERT_EQ(raw_rows[i], expected[i])
          << segment << " record " << i << "\n  ours:       " << show(raw_rows[i])
          << "\n  pg_waldump: " << show(expected[i]);
    }
    compared += ours.size();
    if (segment == stored[1]) {
      damage_at = expected[expected.size() / 2].lsn % wal::kDefaultSegmentSize;
    }
  }

  // ---- a tar of the stored segments: one stream, and -S against pg_waldump --stats ----
  const std::string tar = *bin_ / "wal.tar";
  std::vector<std::string> tar_argv = {"/usr/bin/tar", "-cf", tar, "-C", wal_dir};
  for (const std::string& segment : stored) {
    tar_argv.push_back(segment + ".zstd");
  }
  CommandOutput made = as_test_user(tar_argv);
  ASSERT_EQ(made.exit_code, 0) << made.describe();

  CommandOutput range =
      pg()->run_tool("pg_waldump", {"--path=" + pg_wal, stored.front(), stored.back()});
  size_t unparsed = 0;
  const std::vector<Row> expected_range = rows_of_lines(range.out, &unparsed);
  CommandOutput tar_json = walinfo({"-F", "json", tar});
  ASSERT_EQ(tar_json.exit_code, 0) << tar_json.describe();
  std::string error;
  const std::vector<Row> tar_rows = rows_of_json(tar_json.out, &error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(tar_rows, lsn_rmgr_xid(expected_range));

  // The same archive compressed by tar itself (gzip): read through its layer, same records.
  const std::string tgz = *bin_ / "wal.tar.gz";
  CommandOutput zipped = as_test_user({"/bin/sh", "-c", "gzip -c " + tar + " > " + tgz});
  ASSERT_EQ(zipped.exit_code, 0) << zipped.describe();
  CommandOutput tgz_json = walinfo({"-F", "json", tgz});
  ASSERT_EQ(tgz_json.exit_code, 0) << tgz_json.describe();
  EXPECT_EQ(rows_of_json(tgz_json.out, &error), tar_rows);
  ASSERT_TRUE(error.empty()) << error;

  CommandOutput stats =
      pg()->run_tool("pg_waldump", {"--stats", "--path=" + pg_wal, stored.front(), stored.back()});
  const std::map<std::string, uint64_t> expected_stats = waldump_stats(stats.out);
  ASSERT_GE(expected_stats.size(), 5u) << stats.describe();
  CommandOutput summary = walinfo({"-S", "-F", "json", tar});
  ASSERT_EQ(summary.exit_code, 0) << summary.describe();
  EXPECT_EQ(walinfo_stats(summary.out, &error), expected_stats) << summary.out;
  EXPECT_TRUE(error.empty()) << error;
  CommandOutput summary_raw =
      walinfo({"-S", wal_dir, "-e", wal::Lsn(expected_range.back().lsn + 1).to_string()});
  ASSERT_EQ(summary_raw.exit_code, 0) << summary_raw.describe();
  EXPECT_NE(summary_raw.out.find("Resource Manager"), std::string::npos) << summary_raw.out;
  EXPECT_NE(summary_raw.out.find("Total"), std::string::npos) << summary_raw.out;

  // ---- filters on the real stream ----
  CommandOutput heap = walinfo({"-r", "Heap", "-l", "5", "--color", "off", tar});
  ASSERT_EQ(heap.exit_code, 0) << heap.describe();
  unparsed = 0;
  const std::vector<Row> heap_rows = rows_of_lines(heap.out, &unparsed);
  ASSERT_EQ(heap_rows.size(), 5u) << heap.out;
  for (const Row& r : heap_rows) {
    EXPECT_EQ(r.rmgr, "Heap");
  }

  // ---- -t without a mapping file: names read from the server of the configuration ----
  // The daemon's own pgmoneta.conf and users file, as a pgmoneta user would pass them.
  CommandOutput named = walinfo({"-c", daemon().config_path(), "-u", daemon().users_path(), "-t",
                                 "-r", "Heap", "--color", "off", "-v", tar});
  ASSERT_EQ(named.exit_code, 0) << named.describe();
  // Table w's file since the TRUNCATE has its name; the file before it is gone from the server,
  // so that one stays a number (a live server knows only what exists now).
  EXPECT_NE(named.out.find("rel pg_default/postgres/public.w blk"), std::string::npos)
      << named.out.substr(0, 4000);
  EXPECT_NE(named.out.find("rel pg_default/template1/pg_catalog.pg_class blk"), std::string::npos)
      << named.out.substr(0, 4000);
  EXPECT_NE(named.err.find("names read from server [primary]"), std::string::npos) << named.err;

  // A server that cannot be reached: the error names its section and the step.
  const std::string nowhere =
      bin_->write_file("nowhere.conf", "[far]\nhost = 127.0.0.1\nport = 1\nuser = repl\n");
  CommandOutput refused = walinfo({"-c", nowhere, "-t", tar});
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_NE(refused.err.find("server [far]: connect: "), std::string::npos) << refused.err;

  // ---- a damaged copy: a clear error, no crash ----
  const std::string damaged = *bin_ / stored[1];
  std::string bytes = read_text(pg_wal + "/" + stored[1]);
  ASSERT_FALSE(bytes.empty());
  ASSERT_GT(damage_at, 0u);
  bytes[damage_at + 4] = static_cast<char>(bytes[damage_at + 4] ^ 0x5A);  // its xid: CRC fails
  bin_->write_file(stored[1], bytes);
  CommandOutput bad = walinfo({"--color", "off", damaged});
  EXPECT_EQ(bad.exit_code, 1) << bad.describe();
  EXPECT_NE(bad.err.find(stored[1]), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("offset 0x"), std::string::npos) << bad.err;

  std::cout << "[   INFO   ] pgmoneta-walinfo: " << stored.size() << " stored segments, "
            << compared << " records compared with pg_waldump (json and raw), " << tar_rows.size()
            << " through a tar\n";
}

}  // namespace
}  // namespace pgm::testing
