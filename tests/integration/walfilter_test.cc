// pgmoneta-walfilter end to end: a PostgreSQL 15 and the daemon storing its WAL (zstd). A table
// holds a row D; a backup; then committed transactions INSERT X, INSERT A, INSERT B, DELETE D
// (X, A and B on one page, whose image only X's record carries). The real pgmoneta-walfilter
// reads the stored .zstd segments with the rules `xids: [A's xid]` and `operations: [DELETE]`;
// the backup is restored with the filtered segments in place of pg_wal's, and PostgreSQL 15
// replays them: it starts, and the table holds B, D and X, not A (A's commit became an abort;
// so did the commit of the transaction that deleted D). The stored segments are unchanged by
// the filter, and pg_waldump reads the filtered ones: A's and the delete's transactions end in
// ABORT, B's in COMMIT.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/cluster_fixture.h"
#include "integration/harness.h"
#include "integration/wal_helpers.h"
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "pgm/wal/segment.h"

namespace pgm::testing {
namespace {

using std::chrono::seconds;

class WalfilterTest : public ClusterTest<WalfilterTest> {
 public:
  static ClusterSetup cluster_setup() {
    return {.settings = {"autovacuum = off"}, .tablespace = false, .pgbench_scale = 1};
  }

 protected:
  bool wait_for_wal_streaming() const override { return true; }

  // pgmoneta-walfilter copied where the test user can run it; run as that user.
  CommandOutput walfilter(const std::string& yaml) {
    if (walfilter_.empty()) {
      bin_ = std::make_unique<TempDir>("pgm-walfilter-bin");
      walfilter_ = *bin_ / "pgmoneta-walfilter";
      std::error_code ec;
      std::filesystem::copy_file(pgmoneta_bin_dir() + "/pgmoneta-walfilter", walfilter_, ec);
      EXPECT_FALSE(ec) << ec.message();
      ::chmod(walfilter_.c_str(), 0755);
      chown_to_test_user(bin_->path());
      chown_to_test_user(walfilter_);
    }
    return as_test_user({walfilter_, yaml});
  }

  CommandOutput as_test_user(const std::vector<std::string>& argv) {
    ProcessOptions p;
    p.argv = argv;
    p.home = daemon().home();
    return run_command(p, seconds(120));
  }

  std::string sql(const std::string& statement) {
    bool ok = false;
    std::string v = sql_value(*pg(), statement, &ok);
    EXPECT_TRUE(ok) << statement << ": " << v;
    return v;
  }

  std::unique_ptr<TempDir> bin_;
  std::string walfilter_;
};

TEST_F(WalfilterTest, FilteredTransactionsAreAbsentAfterReplay) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  sql("CREATE TABLE wf (v text)");
  sql("INSERT INTO wf VALUES ('D')");
  const std::string label = take_backup();
  ASSERT_FALSE(label.empty());

  // X first: its insert carries the page's full-page image after the backup's checkpoint, so
  // A's insert, on the same page, carries none, and B's insert counts A's tuple in its item
  // offset. (Dropping A's insert record instead of its commit would make B's redo PANIC.)
  sql("INSERT INTO wf VALUES ('X')");
  const std::string xid_a = sql("INSERT INTO wf VALUES ('A') RETURNING xmin::text");
  const std::string xid_b = sql("INSERT INTO wf VALUES ('B') RETURNING xmin::text");
  const std::string xid_d =
      sql("WITH d AS (DELETE FROM wf WHERE v = 'D' RETURNING 1) "
          "SELECT txid_current()::text");
  ASSERT_EQ(sql("SELECT string_agg(v, ',' ORDER BY v) FROM wf"), "A,B,X");
  std::string error;
  const std::string switched = switch_wal(*pg(), &error);
  ASSERT_FALSE(switched.empty()) << error;
  const std::string wal_dir = daemon_wal_dir(daemon());
  ASSERT_EQ(wait_for_settled_segment(wal_dir, switched, ".zstd", seconds(30)), "");
  ASSERT_NO_FATAL_FAILURE(wait_wal_received());

  // ---- the restore, whose pg_wal gets the daemon's segments decompressed ----
  const std::string parent = daemon().dir().make_dir("restores");
  CliResult restored = cli({"restore", "primary", label, "current", parent}, "raw");
  ASSERT_EQ(restored.exit_code(), 0) << restored.describe();
  const std::string target = parent + "/primary-" + label;
  const std::string pg_wal = target + "/pg_wal";

  // ---- the filter, from a copy of the stored .zstd segments ----
  const std::string source = daemon().dir().make_dir("wf-source");
  const std::string filtered = daemon().dir() / "wf-target";
  std::vector<std::string> copied;
  for (const std::string& name : list_dir(wal_dir)) {
    if (wal::classify_wal_file(name).kind == wal::WalFileKind::kSegment) {
      std::filesystem::copy_file(path_join(wal_dir, name), path_join(source, name));
      chown_to_test_user(path_join(source, name));
      copied.push_back(name);
    }
  }
  ASSERT_FALSE(copied.empty());
  std::vector<std::string> before;
  for (const std::string& name : copied) {
    before.push_back(read_text(path_join(source, name)));
  }
  const std::string yaml = daemon().dir() / "walfilter.yaml";
  daemon().dir().write_file(
      "walfilter.yaml", "source_dir: " + source + "\ntarget_dir: " + filtered +
                            "\nrules:\n  - xids:\n    - " + xid_a + "\n  - operations: [DELETE]\n");
  chown_to_test_user(yaml);
  CommandOutput run = walfilter(yaml);
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  EXPECT_NE(run.out.find("2 transaction(s) filtered"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(xid_a), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(xid_d), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find(xid_b), std::string::npos) << run.out;
  for (size_t i = 0; i < copied.size(); ++i) {
    EXPECT_EQ(read_text(path_join(source, copied[i])), before[i]) << copied[i] << " modified";
  }

  // ---- PostgreSQL's own reader (CRCs, lengths, prev links) over the filtered segments ----
  std::vector<std::string> written;
  for (const std::string& name : list_dir(filtered)) {
    if (wal::classify_wal_file(name).kind == wal::WalFileKind::kSegment) {
      written.push_back(name);
    }
  }
  ASSERT_EQ(written.size(), copied.size());
  CommandOutput dump =
      pg()->run_tool("pg_waldump", {"--path=" + filtered, written.front(), written.back()});
  std::map<std::string, std::string> ends;  // xid -> COMMIT or ABORT
  std::istringstream lines(dump.out);
  size_t a_inserts = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("rmgr: Heap ") == 0 && line.find("desc: INSERT") != std::string::npos &&
        line.find("tx: " + std::string(10 - std::min<size_t>(10, xid_a.size()), ' ') + xid_a +
                  ",") != std::string::npos) {
      ++a_inserts;
      EXPECT_EQ(line.find("FPW"), std::string::npos) << "A's insert carries an image: " << line;
    }
    char xid[16] = {0};
    char what[16] = {0};
    // NOLINTNEXTLINE(cert-err34-c): the count of fields read is checked
    if (std::sscanf(line.c_str(),
                    "rmgr: Transaction len (rec/tot): %*u/ %*u, tx: %15[0-9], "
                    "lsn: %*X/%*X, prev %*X/%*X, desc: %15[A-Z]",
                    xid, what) == 2) {
      ends[xid] = what;
    }
  }
  EXPECT_EQ(a_inserts, 1u) << dump.out.substr(0, 3000);
  EXPECT_EQ(ends[xid_a], "ABORT") << dump.describe();
  EXPECT_EQ(ends[xid_b], "COMMIT") << dump.describe();
  EXPECT_EQ(ends[xid_d], "ABORT") << dump.describe();
  EXPECT_EQ(dump.err.find("error"), std::string::npos) << dump.err;

  // ---- the filtered segments in place of the restored ones, then PostgreSQL replays ----
  size_t replaced = 0;
  for (const std::string& name : list_dir(filtered)) {
    if (std::filesystem::exists(path_join(pg_wal, name))) {
      CommandOutput cp = as_test_user({"/bin/cp", path_join(filtered, name), pg_wal + "/"});
      ASSERT_EQ(cp.exit_code, 0) << cp.describe();
      ++replaced;
    }
  }
  ASSERT_GE(replaced, 1u);
  ASSERT_TRUE(std::filesystem::exists(path_join(filtered, switched)));
  PostgresInstance* copy = start_copy(target);
  ASSERT_NE(copy, nullptr);
  bool ok = false;
  std::string rows;
  for (int i = 0; i < 100; ++i) {  // the end of recovery, then a query
    rows = sql_value(*copy, "SELECT string_agg(v, ',' ORDER BY v) FROM wf", &ok);
    if (ok) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(ok) << rows << "\n" << tail(copy->log());
  EXPECT_EQ(rows, "B,D,X") << tail(copy->log());
  std::cout << "[   INFO   ] pgmoneta-walfilter: " << copied.size() << " stored segments, "
            << replaced << " replaced in pg_wal; filtered xids " << xid_a << " (INSERT A) and "
            << xid_d << " (DELETE D), kept " << xid_b << " (INSERT B): " << run.out;
}

}  // namespace
}  // namespace pgm::testing
