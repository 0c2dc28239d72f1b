// WAL summaries (pgm::walsummary) against PostgreSQL's own: a PostgreSQL 17 or 18 server with
// summarize_wal = on writes a summary per range of its WAL (pg_available_wal_summaries(),
// pg_wal_summary_contents()). The same WAL, decoded from its pg_wal by pgm::xlog and
// summarized by our rules, must give for every range the same forks, the same limit blocks
// and the same changed blocks below them, over a workload with every special case the
// walsummarizer has: pgbench, CREATE/DROP TABLE, CREATE INDEX, TRUNCATE, a VACUUM that
// truncates, an unlogged table, CREATE/DROP DATABASE with both strategies, a transaction that
// creates and drops a table, and an aborted one that created a table. PostgreSQL keeps blocks
// at or past a limit that were changed after the cut; "changed" includes them anyway, so they
// are compared as covered by the limit. Our extra rule (the VM page holding a truncation
// point) is off here, as PostgreSQL does not have it.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/postgres_instance.h"
#include "integration/process.h"
#include <gtest/gtest.h>

#include "pgm/wal/lsn.h"
#include "pgm/walsummary/block_ref_table.h"
#include "pgm/walsummary/summarize.h"
#include "pgm/xlog/decoder.h"

namespace pgm::testing {
namespace {

using std::chrono::seconds;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  for (std::string field; std::getline(in, field, '|');) {
    fields.push_back(field);
  }
  return fields;
}

struct Range {
  uint32_t tli = 0;
  wal::Lsn start;
  wal::Lsn end;
  std::string start_text;
  std::string end_text;
  walsummary::BlockRefTable ours;
};

// "spc/db/rel/fork limit N" and "spc/db/rel/fork blk N" lines (blocks below the limit).
std::set<std::string> describe(
    const std::map<walsummary::ForkKey, walsummary::ForkChanges>& forks) {
  std::set<std::string> out;
  for (const auto& [key, changes] : forks) {
    const std::string name = std::to_string(key.spc) + "/" + std::to_string(key.db) + "/" +
                             std::to_string(key.rel) + "/" + std::to_string(key.fork);
    if (changes.limit != walsummary::kNoLimit) {
      out.insert(name + " limit " + std::to_string(changes.limit));
    }
    for (uint32_t b : changes.blocks) {
      if (b < changes.limit) {
        out.insert(name + " blk " + std::to_string(b));
      }
    }
  }
  return out;
}

class WalSummaryMajorsTest : public ::testing::TestWithParam<int> {};

TEST_P(WalSummaryMajorsTest, OurSummariesEqualPostgresqlsOwn) {
  const int major = GetParam();
  if (!run_as().error.empty()) {
    GTEST_FAIL() << run_as().error;
  }
  if (pg_bin_dir(major).empty() || pg_bin_dir().empty()) {
    GTEST_FAIL() << "PostgreSQL " << major << " binaries not found (scripts/install-deps.sh)";
  }
  TempDir dir("pgm-walsummary");
  PostgresInstance pg(dir.path(), major);
  pg.add_initdb_option("--wal-segsize=1");
  pg.add_setting("summarize_wal = on");
  pg.add_setting("wal_keep_size = '4GB'");
  pg.add_setting("max_wal_size = '4GB'");
  pg.add_setting("checkpoint_timeout = '1h'");
  pg.add_setting("autovacuum = off");
  const std::string error = pg.start();
  ASSERT_TRUE(error.empty()) << "PostgreSQL " << major << ": " << error;
  auto sql = [&](const std::string& statement) {
    CommandOutput r = pg.psql(statement);
    EXPECT_EQ(r.exit_code, 0) << statement << ": " << r.describe();
    return r.out;
  };
  CommandOutput init = pg.run_tool("pgbench", {"-i", "-q", "-s", "1"}, seconds(300));
  ASSERT_EQ(init.exit_code, 0) << init.describe();
  CommandOutput run =
      pg.run_tool("pgbench", {"-n", "-c", "2", "-j", "2", "-t", "200"}, seconds(300));
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  for (const char* statement : {
           "CHECKPOINT",
           "CREATE TABLE t (id int PRIMARY KEY, v text)",
           "INSERT INTO t SELECT i, repeat('x', i % 300) FROM generate_series(1, 20000) i",
           "CREATE INDEX t_v ON t (v)",
           "CHECKPOINT",
           "UPDATE t SET v = v || 'y' WHERE id % 3 = 0",
           "DELETE FROM t WHERE id > 5000",
           "VACUUM t",  // truncates the heap's empty tail: Storage TRUNCATE
           "TRUNCATE pgbench_history",
           "CREATE UNLOGGED TABLE u AS SELECT generate_series(1, 1000) AS x",
           "BEGIN; CREATE TABLE gone AS SELECT 1 AS x; DROP TABLE gone; COMMIT",
           "BEGIN; CREATE TABLE never AS SELECT 1 AS x; ROLLBACK",
           "CREATE DATABASE d1 STRATEGY wal_log",
           "CREATE DATABASE d2 STRATEGY file_copy",
           "CHECKPOINT",
           "DROP DATABASE d1",
           "DROP DATABASE d2",
           "DROP TABLE t",
           "SELECT pg_switch_wal()",
           "CHECKPOINT",
       }) {
    sql(statement);
  }
  // Wait until the summarizer has written the range ending at the last checkpoint's redo.
  const std::string redo = sql("SELECT redo_lsn FROM pg_control_checkpoint()");
  std::string covered;
  for (int i = 0; i < 300; ++i) {
    covered = sql("SELECT coalesce(max(end_lsn) >= '" + redo.substr(0, redo.find('\n')) +
                  "', false) FROM pg_available_wal_summaries()");
    if (covered.rfind("t", 0) == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(covered.rfind("t", 0), 0u) << "the summarizer did not reach " << redo;

  std::vector<Range> ranges;
  for (const std::string& line : lines_of(sql("SELECT tli, start_lsn, end_lsn FROM "
                                              "pg_available_wal_summaries() ORDER BY start_lsn"))) {
    const std::vector<std::string> f = fields_of(line);
    ASSERT_EQ(f.size(), 3u) << line;
    Range r;
    r.tli = static_cast<uint32_t>(std::stoul(f[0]));
    r.start = *wal::Lsn::parse(f[1]);
    r.end = *wal::Lsn::parse(f[2]);
    r.start_text = f[1];
    r.end_text = f[2];
    ranges.push_back(std::move(r));
  }
  ASSERT_GE(ranges.size(), 3u);

  // Our side: every complete segment of pg_wal, each record summarized into its range.
  const std::string current = lines_of(sql("SELECT pg_walfile_name(pg_current_wal_lsn())"))[0];
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(pg.data_dir() + "/pg_wal")) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 24 && name.find_first_not_of("0123456789ABCDEF") == std::string::npos &&
        name < current) {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  xlog::Decoder decoder;
  size_t records = 0;
  auto sink = [&](const xlog::Record& record) -> Result<void> {
    for (Range& r : ranges) {
      if (record.lsn >= r.start && record.lsn < r.end) {
        ++records;
        return walsummary::summarize_record(record, decoder.major(), r.ours,
                                            walsummary::Rules{.vm_cut_page = false});
      }
    }
    return {};
  };
  std::vector<char> buffer(1 << 16);
  for (const std::string& name : names) {
    decoder.set_file_name(name);
    std::ifstream in(std::filesystem::path(pg.data_dir()) / "pg_wal" / name, std::ios::binary);
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      auto fed =
          decoder.feed(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buffer.data()),
                                                static_cast<size_t>(in.gcount())),
                       sink);
      ASSERT_TRUE(fed) << fed.error().message();
    }
  }
  ASSERT_GT(records, 1000u);

  size_t limits = 0, blocks = 0;
  for (Range& r : ranges) {
    SCOPED_TRACE(r.start_text + " .. " + r.end_text);
    std::map<walsummary::ForkKey, walsummary::ForkChanges> theirs;
    for (const std::string& line : lines_of(
             sql("SELECT reltablespace, reldatabase, relfilenode, relforknumber, relblocknumber, "
                 "is_limit_block FROM pg_wal_summary_contents(" +
                 std::to_string(r.tli) + ", '" + r.start_text + "', '" + r.end_text + "')"))) {
      const std::vector<std::string> f = fields_of(line);
      ASSERT_EQ(f.size(), 6u) << line;
      const walsummary::ForkKey key{
          static_cast<uint32_t>(std::stoul(f[0])), static_cast<uint32_t>(std::stoul(f[1])),
          static_cast<uint32_t>(std::stoul(f[2])), static_cast<uint8_t>(std::stoul(f[3]))};
      walsummary::ForkChanges& changes = theirs[key];
      const auto block = static_cast<uint32_t>(std::stoul(f[4]));
      if (f[5] == "t") {
        changes.limit = std::min(changes.limit, block);
      } else {
        changes.blocks.push_back(block);
      }
    }
    const std::set<std::string> expected = describe(theirs);
    const std::set<std::string> got = describe(r.ours.forks());
    std::vector<std::string> missing, extra;
    std::set_difference(expected.begin(), expected.end(), got.begin(), got.end(),
                        std::back_inserter(missing));
    std::set_difference(got.begin(), got.end(), expected.begin(), expected.end(),
                        std::back_inserter(extra));
    auto head = [](const std::vector<std::string>& v) {
      std::string s;
      for (size_t i = 0; i < std::min<size_t>(v.size(), 20); ++i) {
        s += "\n  " + v[i];
      }
      return s;
    };
    EXPECT_TRUE(missing.empty()) << missing.size()
                                 << " in PostgreSQL's summary, not ours:" << head(missing);
    EXPECT_TRUE(extra.empty()) << extra.size() << " in ours, not PostgreSQL's:" << head(extra);
    for (const std::string& e : expected) {
      (e.find(" limit ") != std::string::npos ? limits : blocks) += 1;
    }
  }
  std::cout << "[   INFO   ] PostgreSQL " << major << ": " << ranges.size() << " summaries, "
            << records << " records, " << limits << " limit blocks, " << blocks
            << " changed blocks, all equal\n";
}

INSTANTIATE_TEST_SUITE_P(Majors, WalSummaryMajorsTest, ::testing::Values(17, 18),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return "pg" + std::to_string(param.param);
                         });

}  // namespace
}  // namespace pgm::testing
