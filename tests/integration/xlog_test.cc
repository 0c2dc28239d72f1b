// The WAL decoder (pgm::xlog) against PostgreSQL 15's own pg_waldump: a throwaway server with
// 1 MB segments (more segment boundaries to cross) runs pgbench plus DDL (CREATE/DROP TABLE,
// CREATE INDEX of every access method, TRUNCATE, VACUUM, CREATE/DROP DATABASE with both
// strategies, an unlogged table, subtransactions, a sequence, compressed full-page images),
// switches WAL, and every complete segment in its pg_wal is decoded by both. Record by record,
// the (LSN, rmgr, xid, total and main length, prev, record type, block references with their
// image flag) must be equal; descriptions we word in detail must equal pg_waldump's too.
// The `[   INFO   ]` lines give the figures: segments, records, MB/s of each.
//
// XlogMajorsTest does the same on 13, 14, 16, 17 and 18 (scripts/install-deps.sh), which come
// without pg_waldump: every segment must decode, and on 16+ match pg_walinspect's rows.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "integration/postgres_instance.h"
#include "integration/process.h"
#include <gtest/gtest.h>

#include "pgm/wal/lsn.h"
#include "pgm/xlog/decoder.h"
#include "pgm/xlog/rmgr.h"

namespace pgm::testing {
namespace {

using std::chrono::seconds;
using std::chrono::steady_clock;

// What both sides say about one record.
struct Line {
  uint64_t lsn = 0;
  uint64_t prev = 0;
  std::string rmgr;
  uint32_t xid = 0;
  uint32_t rec_len = 0;  // total minus images
  uint32_t tot_len = 0;
  std::string type;    // the record type name (first word of the description)
  std::string desc;    // the description without the block references
  std::string blocks;  // ", blkref #0: rel 1663/5/16384 blk 0 FPW" ...
};

std::string describe_line(const Line& l) {
  return l.rmgr + " lsn " + wal::Lsn(l.lsn).to_string() + " prev " + wal::Lsn(l.prev).to_string() +
         " tx " + std::to_string(l.xid) + " len " + std::to_string(l.rec_len) + "/" +
         std::to_string(l.tot_len) + " desc: " + l.desc + l.blocks;
}

std::string trim_right(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) {
    s.pop_back();
  }
  return s;
}

// One line of pg_waldump 15's default output:
// rmgr: Heap        len (rec/tot):     54/   150, tx:        735, lsn: 0/01734D28, prev
// 0/01734CF0, desc: INSERT off 2 flags 0x00, blkref #0: rel 1663/5/16384 blk 0 FPW
bool parse_waldump_line(const std::string& text, Line& line) {
  char rmgr[64] = {0};
  unsigned lsn_hi = 0, lsn_lo = 0, prev_hi = 0, prev_lo = 0;
  int desc_at = -1;
  // NOLINTNEXTLINE(cert-err34-c): the fields are checked by the count and desc_at
  const int n = std::sscanf(text.c_str(),
                            "rmgr: %63s len (rec/tot): %u/ %u, tx: %u, lsn: %X/%X, prev %X/%X, "
                            "desc: %n",
                            rmgr, &line.rec_len, &line.tot_len, &line.xid, &lsn_hi, &lsn_lo,
                            &prev_hi, &prev_lo, &desc_at);
  if (n != 8 || desc_at < 0) {
    return false;
  }
  line.rmgr = rmgr;
  line.lsn = (uint64_t{lsn_hi} << 32) | lsn_lo;
  line.prev = (uint64_t{prev_hi} << 32) | prev_lo;
  std::string rest = text.substr(static_cast<size_t>(desc_at));
  const size_t blocks = rest.find(", blkref #");
  line.desc = trim_right(rest.substr(0, blocks));
  line.blocks = blocks == std::string::npos ? "" : trim_right(rest.substr(blocks));
  line.type = line.desc.substr(0, line.desc.find(' '));
  return true;
}

// Our side, worded the same way.
Line our_line(const xlog::Record& r, int major) {
  Line line;
  line.lsn = r.lsn.value();
  line.prev = r.prev.value();
  line.rmgr = xlog::rmgr_name(r.rmid);
  line.xid = r.xid;
  line.tot_len = r.total_length;
  line.rec_len = r.total_length - r.image_bytes();
  line.type = xlog::record_type_name(r.rmid, r.info, major);
  line.desc = trim_right(xlog::describe(r, major));
  for (const xlog::BlockRef& b : r.blocks) {
    line.blocks += ", blkref #" + std::to_string(b.id) + ": rel " + std::to_string(b.rel.spc) +
                   "/" + std::to_string(b.rel.db) + "/" + std::to_string(b.rel.rel);
    if (b.fork != 0) {
      line.blocks += std::string(" fork ") + xlog::fork_name(b.fork);
    }
    line.blocks += " blk " + std::to_string(b.block);
    if (b.has_image) {
      line.blocks += b.apply_image ? " FPW" : " FPW for WAL verification";
    }
  }
  return line;
}

bool is_segment_name(const std::string& name) {
  return name.size() == 24 && name.find_first_not_of("0123456789ABCDEF") == std::string::npos;
}

class XlogDecoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!run_as().error.empty()) {
      GTEST_FAIL() << run_as().error;
    }
    if (pg_bin_dir().empty()) {
      GTEST_SKIP() << "PostgreSQL 15 binaries not found (set PGM_PG_BINDIR)";
    }
    dir_ = std::make_unique<TempDir>("pgm-xlog");
    pg_ = std::make_unique<PostgresInstance>(dir_->path());
    pg_->add_initdb_option("--wal-segsize=1");
    pg_->add_setting("wal_keep_size = '4GB'");
    pg_->add_setting("max_wal_size = '4GB'");
    pg_->add_setting("checkpoint_timeout = '1h'");
    pg_->add_setting("max_prepared_transactions = 4");
    pg_->add_setting("track_commit_timestamp = on");
    const std::string error = pg_->start();
    ASSERT_TRUE(error.empty()) << "PostgreSQL: " << error;
  }

  void sql(const std::string& statement, const std::string& database = "postgres") {
    CommandOutput r = pg_->psql(statement, "postgres", database);
    ASSERT_EQ(r.exit_code, 0) << statement << ": " << r.describe();
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<PostgresInstance> pg_;
};

TEST_F(XlogDecoderTest, EverySegmentDecodesAsPgWaldumpDecodesIt) {
  // ---- the workload ----
  CommandOutput init = pg_->run_tool("pgbench", {"-i", "-q", "-s", "3"}, seconds(300));
  ASSERT_EQ(init.exit_code, 0) << init.describe();
  CommandOutput run =
      pg_->run_tool("pgbench", {"-n", "-c", "2", "-j", "2", "-t", "400"}, seconds(300));
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  const char* statements[] = {
      "CREATE TABLE t (id int PRIMARY KEY, v text, n int[], p point, r int4range)",
      // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one statement on two lines
      "INSERT INTO t SELECT i, repeat(md5(i::text), 1 + i % 40), ARRAY[i, i + 1], "
      "point(i, i), int4range(i, i + 10) FROM generate_series(1, 20000) i",
      "CREATE INDEX t_hash ON t USING hash (id)",
      "CREATE INDEX t_gin ON t USING gin (n)",
      "CREATE INDEX t_gist ON t USING gist (p)",
      "CREATE INDEX t_spgist ON t USING spgist (r)",
      "CREATE INDEX t_brin ON t USING brin (id)",
      "CREATE INDEX t_v ON t (v)",
      "UPDATE t SET v = v || 'x' WHERE id % 7 = 0",
      "DELETE FROM t WHERE id % 11 = 0",
      "VACUUM t",
      "ALTER SYSTEM SET wal_compression = 'lz4'",
      "SELECT pg_reload_conf()",
      "CHECKPOINT",
      "UPDATE t SET n = ARRAY[id] WHERE id % 13 = 0",
      "ALTER SYSTEM SET wal_compression = 'zstd'",
      "SELECT pg_reload_conf()",
      "CHECKPOINT",
      "UPDATE t SET n = ARRAY[id, 0] WHERE id % 17 = 0",
      "ALTER SYSTEM SET wal_compression = 'pglz'",
      "SELECT pg_reload_conf()",
      "CHECKPOINT",
      "UPDATE t SET n = ARRAY[id, 1] WHERE id % 19 = 0",
      "ALTER SYSTEM SET wal_compression = 'off'",
      "SELECT pg_reload_conf()",
      "TRUNCATE pgbench_history",
      "CREATE UNLOGGED TABLE u (id int PRIMARY KEY, v text)",
      "INSERT INTO u SELECT i, md5(i::text) FROM generate_series(1, 5000) i",
      "CREATE SEQUENCE s",
      "SELECT nextval('s') FROM generate_series(1, 100)",
      "BEGIN; INSERT INTO t VALUES (100001, 'a'); SAVEPOINT a; INSERT INTO t VALUES (100002, 'b'); "
      "SAVEPOINT b; INSERT INTO t VALUES (100003, 'c'); RELEASE a; COMMIT",
      "BEGIN; INSERT INTO t VALUES (100004, 'd'); ROLLBACK",
      "BEGIN; INSERT INTO t VALUES (100005, 'e'); PREPARE TRANSACTION 'p1'",
      "COMMIT PREPARED 'p1'",
      "SELECT pg_logical_emit_message(true, 'pgm', 'hello')",
      "CREATE EXTENSION bloom",
      "CREATE TABLE b (a int, c int)",
      "CREATE INDEX b_bloom ON b USING bloom (a, c)",
      "INSERT INTO b SELECT i, i * 2 FROM generate_series(1, 2000) i",
      "CREATE TABLE m (id int PRIMARY KEY, v int)",
      "INSERT INTO m VALUES (1, 1), (2, 2)",
      "BEGIN; SELECT * FROM m FOR SHARE; SAVEPOINT s; UPDATE m SET v = 3 WHERE id = 1; COMMIT",
      "SELECT pg_replication_origin_create('pgm_origin')",
      "SELECT pg_replication_origin_advance('pgm_origin', '0/1234')",
      "SELECT pg_replication_origin_session_setup('pgm_origin'); INSERT INTO m VALUES (3, 3)",
      "SELECT pg_replication_origin_drop('pgm_origin')",
      "CREATE DATABASE d_wal STRATEGY WAL_LOG",
      "CREATE DATABASE d_copy STRATEGY FILE_COPY",
      "DROP DATABASE d_wal",
      "DROP TABLE t",
      "DROP TABLE u",
      "VACUUM FULL pgbench_branches",
      "VACUUM FREEZE pgbench_accounts",
      "VACUUM",
      "CHECKPOINT",
  };
  for (const char* statement : statements) {
    sql(statement);
    if (HasFatalFailure()) {
      return;
    }
  }
  sql("CREATE TABLE in_copy (x int); INSERT INTO in_copy VALUES (1)", "d_copy");
  const std::string ts_dir = dir_->make_dir("tablespace");
  sql("CREATE TABLESPACE ts LOCATION '" + ts_dir + "'");
  sql("CREATE TABLE in_ts (x int) TABLESPACE ts; INSERT INTO in_ts SELECT generate_series(1, 100)");
  sql("DROP TABLE in_ts");
  sql("DROP TABLESPACE ts");
  sql("DROP DATABASE d_copy");
  CommandOutput current = pg_->psql(
      "SELECT pg_walfile_name(pg_current_wal_insert_lsn()) FROM (SELECT pg_switch_wal()) s");
  ASSERT_EQ(current.exit_code, 0) << current.describe();
  const std::string current_segment = trim_right(current.out);
  ASSERT_TRUE(is_segment_name(current_segment)) << current.out;

  // ---- the complete segments ----
  const std::string pg_wal = pg_->data_dir() + "/pg_wal";
  std::vector<std::string> segments;
  for (const auto& entry : std::filesystem::directory_iterator(pg_wal)) {
    const std::string name = entry.path().filename().string();
    if (is_segment_name(name) && name < current_segment) {
      segments.push_back(name);
    }
  }
  std::sort(segments.begin(), segments.end());
  ASSERT_GE(segments.size(), 20u);
  uint64_t total_bytes = 0;
  for (const std::string& name : segments) {
    total_bytes += std::filesystem::file_size((std::filesystem::path(pg_wal) / name));
  }

  // ---- pg_waldump ----
  const auto waldump_start = steady_clock::now();
  CommandOutput dump = pg_->run_tool(
      "pg_waldump", {"--path=" + pg_wal, segments.front(), segments.back()}, seconds(600));
  const double waldump_seconds =
      std::chrono::duration<double>(steady_clock::now() - waldump_start).count();
  ASSERT_FALSE(dump.timed_out);
  // It stops at the end of the last segment: the next one is not among those named.
  EXPECT_TRUE(dump.exit_code == 0 || dump.err.find("could not find file") != std::string::npos ||
              dump.err.find("invalid record length") != std::string::npos)
      << dump.describe();
  std::vector<Line> theirs;
  size_t unparsed = 0;
  size_t start = 0;
  while (start < dump.out.size()) {
    size_t end = dump.out.find('\n', start);
    if (end == std::string::npos) {
      end = dump.out.size();
    }
    Line line;
    if (parse_waldump_line(dump.out.substr(start, end - start), line)) {
      theirs.push_back(std::move(line));
    } else if (end > start) {
      ++unparsed;
    }
    start = end + 1;
  }
  EXPECT_EQ(unparsed, 0u);
  const auto stats_start = steady_clock::now();
  CommandOutput stats = pg_->run_tool(
      "pg_waldump", {"--stats", "--path=" + pg_wal, segments.front(), segments.back()},
      seconds(600));
  const double stats_seconds =
      std::chrono::duration<double>(steady_clock::now() - stats_start).count();

  // ---- ours, reading each file in 64 kB chunks ----
  std::vector<Line> ours;
  int major = 0;
  double decode_seconds = 0;
  {
    xlog::Decoder decoder;
    std::vector<char> buffer(1 << 16);
    std::vector<xlog::Record> unused;
    const auto decode_start = steady_clock::now();
    auto sink = [&](const xlog::Record& r) -> Result<void> {
      ours.push_back(our_line(r, decoder.major()));
      return {};
    };
    for (const std::string& name : segments) {
      decoder.set_file_name(name);
      std::ifstream in((std::filesystem::path(pg_wal) / name), std::ios::binary);
      ASSERT_TRUE(in) << name;
      while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto got = static_cast<size_t>(in.gcount());
        auto fed = decoder.feed(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buffer.data()), got), sink);
        ASSERT_TRUE(fed) << fed.error().message();
      }
    }
    auto finished = decoder.finish();
    EXPECT_TRUE(finished) << finished.error().message();
    decode_seconds = std::chrono::duration<double>(steady_clock::now() - decode_start).count();
    major = decoder.major();
  }
  EXPECT_EQ(major, 15);

  // Decode only (no text), for the throughput of the decoder itself.
  double bare_seconds = 0;
  {
    std::vector<std::vector<uint8_t>> files;
    for (const std::string& name : segments) {
      std::ifstream in((std::filesystem::path(pg_wal) / name), std::ios::binary);
      files.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    xlog::Decoder decoder;
    uint64_t blocks = 0;
    auto sink = [&](const xlog::Record& r) -> Result<void> {
      blocks += r.blocks.size();
      return {};
    };
    const auto bare_start = steady_clock::now();
    for (const auto& file : files) {
      for (size_t at = 0; at < file.size(); at += 1 << 16) {
        auto fed = decoder.feed(
            std::span<const uint8_t>(file).subspan(at, std::min<size_t>(1 << 16, file.size() - at)),
            sink);
        ASSERT_TRUE(fed) << fed.error().message();
      }
    }
    bare_seconds = std::chrono::duration<double>(steady_clock::now() - bare_start).count();
    EXPECT_GT(blocks, 0u);
  }

  // ---- record by record ----
  ASSERT_FALSE(ours.empty());
  ASSERT_FALSE(theirs.empty());
  size_t mismatches = 0;
  size_t described = 0;
  size_t desc_mismatches = 0;
  std::map<std::string, size_t> per_rmgr;
  std::map<std::string, size_t> described_types;
  const size_t n = std::min(ours.size(), theirs.size());
  for (size_t i = 0; i < n; ++i) {
    const Line& a = ours[i];
    const Line& b = theirs[i];
    per_rmgr[b.rmgr]++;
    const bool same = a.lsn == b.lsn && a.prev == b.prev && a.rmgr == b.rmgr && a.xid == b.xid &&
                      a.tot_len == b.tot_len && a.rec_len == b.rec_len && a.type == b.type &&
                      a.blocks == b.blocks;
    if (!same && ++mismatches <= 10) {
      ADD_FAILURE() << "record " << i << " differs\n  ours:       " << describe_line(a)
                    << "\n  pg_waldump: " << describe_line(b);
    }
    if (a.desc != a.type) {  // a record we describe beyond its name
      ++described;
      described_types[a.rmgr + "/" + a.type]++;
      if (a.desc != b.desc && ++desc_mismatches <= 10) {
        ADD_FAILURE() << "description differs at " << wal::Lsn(a.lsn).to_string()
                      << "\n  ours:       " << a.desc << "\n  pg_waldump: " << b.desc;
      }
    }
  }
  EXPECT_EQ(ours.size(), theirs.size());
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(desc_mismatches, 0u);

  const double mb = static_cast<double>(total_bytes) / (1024.0 * 1024.0);
  std::string rmgrs;
  for (const auto& [name, count] : per_rmgr) {
    rmgrs += " " + name + "=" + std::to_string(count);
  }
  std::string types;
  for (const auto& [name, count] : described_types) {
    types += " " + name + "=" + std::to_string(count);
  }
  std::cout << "[   INFO   ] " << segments.size() << " segments (" << segments.front() << " .. "
            << segments.back() << ", " << mb << " MB), " << ours.size() << " records ours, "
            << theirs.size() << " pg_waldump, " << (n - mismatches) << " identical, " << described
            << " descriptions compared (" << desc_mismatches << " differ)\n"
            << "[   INFO   ] records per rmgr:" << rmgrs << "\n"
            << "[   INFO   ] descriptions compared per type:" << types << "\n"
            << "[   INFO   ] throughput: ours decode only " << mb / bare_seconds
            << " MB/s; ours decode + text " << mb / decode_seconds
            << " MB/s; pg_waldump (text, through a pipe) " << mb / waldump_seconds
            << " MB/s; pg_waldump --stats " << mb / stats_seconds << " MB/s"
            << (stats.exit_code == 0 ? "" : " (--stats exited non-zero)") << "\n";
}

// Decodes the complete segments of `pg_wal` (those before `current`) in order; returns the
// records as Lines and fills `compressed_images`. An error fails the calling test.
std::vector<Line> decode_pg_wal(const std::string& pg_wal, const std::string& current,
                                int expected_major, size_t& segments, size_t& compressed_images) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(pg_wal)) {
    const std::string name = entry.path().filename().string();
    if (is_segment_name(name) && name < current) {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  segments = names.size();
  compressed_images = 0;
  std::vector<Line> lines;
  xlog::Decoder decoder;
  auto sink = [&](const xlog::Record& r) -> Result<void> {
    lines.push_back(our_line(r, decoder.major()));
    for (const xlog::BlockRef& b : r.blocks) {
      compressed_images += b.compression != xlog::ImageCompression::kNone ? 1 : 0;
    }
    return {};
  };
  std::vector<char> buffer(1 << 16);
  for (const std::string& name : names) {
    decoder.set_file_name(name);
    std::ifstream in((std::filesystem::path(pg_wal) / name), std::ios::binary);
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      auto fed =
          decoder.feed(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buffer.data()),
                                                static_cast<size_t>(in.gcount())),
                       sink);
      EXPECT_TRUE(fed) << fed.error().message();
      if (!fed) {
        return lines;
      }
    }
  }
  auto finished = decoder.finish();
  EXPECT_TRUE(finished) << finished.error().message();
  EXPECT_EQ(decoder.major(), expected_major);
  return lines;
}

// The other majors Debian's postgresql-15 is not: their servers come from
// scripts/install-deps.sh (no pg_waldump there). Every complete segment must decode (pages,
// CRCs, prev-links, block headers of that major, compressed images included); on 16 and later
// pg_walinspect, which those packages ship, gives each record's LSN, rmgr, xid, type, lengths
// and block count to compare with.
class XlogMajorsTest : public ::testing::TestWithParam<int> {};

TEST_P(XlogMajorsTest, EverySegmentDecodesAndMatchesPgWalinspect) {
  const int major = GetParam();
  if (!run_as().error.empty()) {
    GTEST_FAIL() << run_as().error;
  }
  if (pg_bin_dir(major).empty() || pg_bin_dir().empty()) {
    GTEST_SKIP() << "PostgreSQL " << major << " binaries not found";
  }
  TempDir dir("pgm-xlog");
  PostgresInstance pg(dir.path(), major);
  pg.add_initdb_option("--wal-segsize=1");
  pg.add_setting("wal_keep_size = '4GB'");
  pg.add_setting("max_wal_size = '4GB'");
  pg.add_setting("checkpoint_timeout = '1h'");
  // pglz: the only method every build has (the packages of 16+ here lack lz4).
  pg.add_setting(major >= 15 ? "wal_compression = pglz" : "wal_compression = on");
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
           "INSERT INTO t SELECT i, repeat('x', i % 300) FROM generate_series(1, 5000) i",
           "CREATE INDEX t_v ON t (v)",
           "CHECKPOINT",
           "UPDATE t SET v = v || 'y' WHERE id % 3 = 0",
           "DELETE FROM t WHERE id % 5 = 0",
           "VACUUM t",
           "TRUNCATE pgbench_history",
           "CREATE UNLOGGED TABLE u AS SELECT generate_series(1, 1000) AS x",
           "CREATE DATABASE d",
           "DROP DATABASE d",
           "DROP TABLE t",
       }) {
    sql(statement);
  }
  if (major >= 16) {
    sql("CREATE EXTENSION pg_walinspect");
  }
  const std::string current = trim_right(
      sql("SELECT pg_walfile_name(pg_current_wal_insert_lsn()) FROM (SELECT pg_switch_wal()) s"));
  ASSERT_TRUE(is_segment_name(current)) << current;

  size_t segments = 0;
  size_t compressed = 0;
  const std::vector<Line> ours =
      decode_pg_wal(pg.data_dir() + "/pg_wal", current, major, segments, compressed);
  ASSERT_FALSE(HasFailure());
  ASSERT_GE(ours.size(), 1000u);
  EXPECT_GT(compressed, 0u) << "no compressed full-page image in the WAL";
  std::string summary = std::to_string(segments) + " segments, " + std::to_string(ours.size()) +
                        " records, " + std::to_string(compressed) + " compressed images";

  if (major >= 16) {
    // The records from the first we decoded to the start of the current segment (1 MB ones):
    // pg_walinspect lists those that end by then.
    const wal::Lsn segment_start((std::stoull(current.substr(8, 8), nullptr, 16) << 32) +
                                 (std::stoull(current.substr(16, 8), nullptr, 16) << 20));
    const std::string first = wal::Lsn(ours.front().lsn).to_string();
    CommandOutput theirs = pg.psql(
        "SELECT start_lsn, resource_manager, xid, record_type, record_length, fpi_length, "
        "coalesce(block_ref, '') FROM pg_get_wal_records_info('" +
        first + "', '" + segment_start.to_string() + "') ORDER BY start_lsn");
    ASSERT_EQ(theirs.exit_code, 0) << theirs.describe();
    std::vector<std::string> rows;
    size_t start = 0;
    while (start < theirs.out.size()) {
      size_t stop = theirs.out.find('\n', start);
      if (stop == std::string::npos) {
        stop = theirs.out.size();
      }
      if (stop > start) {
        rows.push_back(theirs.out.substr(start, stop - start));
      }
      start = stop + 1;
    }
    EXPECT_EQ(rows.size(), ours.size());
    size_t mismatches = 0;
    for (size_t i = 0; i < std::min(rows.size(), ours.size()); ++i) {
      const Line& a = ours[i];
      size_t blocks = 0;
      for (size_t at = a.blocks.find("blkref #"); at != std::string::npos;
           at = a.blocks.find("blkref #", at + 1)) {
        ++blocks;
      }
      size_t their_blocks = 0;
      for (size_t at = rows[i].find("blkref #"); at != std::string::npos;
           at = rows[i].find("blkref #", at + 1)) {
        ++their_blocks;
      }
      const std::string mine =
          wal::Lsn(a.lsn).to_string() + "|" + a.rmgr + "|" + std::to_string(a.xid) + "|" + a.type +
          "|" + std::to_string(a.tot_len) + "|" + std::to_string(a.tot_len - a.rec_len) + "|";
      const bool same = rows[i].rfind(mine, 0) == 0 && blocks == their_blocks;
      if (!same && ++mismatches <= 10) {
        ADD_FAILURE() << "record " << i << "\n  ours:          " << mine << " " << blocks
                      << " blocks\n  pg_walinspect: " << rows[i].substr(0, 300);
      }
    }
    EXPECT_EQ(mismatches, 0u);
    summary += ", " + std::to_string(rows.size()) + " pg_walinspect rows, " +
               std::to_string(std::min(rows.size(), ours.size()) - mismatches) + " identical";
  }
  std::cout << "[   INFO   ] PostgreSQL " << major << ": " << summary << "\n";
}

INSTANTIATE_TEST_SUITE_P(Majors, XlogMajorsTest, ::testing::Values(13, 14, 16, 17, 18),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return "pg" + std::to_string(param.param);
                         });

}  // namespace
}  // namespace pgm::testing
