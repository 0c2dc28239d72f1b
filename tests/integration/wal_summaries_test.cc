// WAL summaries written by the daemon (issue 17, point 4): after WAL with a new table, updates
// and a few switches is streamed and stored (zstd), each complete segment gets a summary file
// under <base_dir>/primary/summaries, and each equals the summary computed from the server's
// own copy of that segment in pg_wal (walsummary's rules are checked against PostgreSQL 17 and
// 18's own summaries in walsummary_integration_test). The table's creation shows as a limit
// block 0 on its main fork, its updated blocks as changed blocks.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "integration/cluster_fixture.h"

#include "pgm/io/file_system.h"
#include "pgm/walsummary/segment_summary.h"
#include "pgm/walsummary/summary_file.h"

namespace pgm::testing {
namespace {

namespace fs = std::filesystem;

class WalSummariesTest : public ClusterTest<WalSummariesTest> {
 public:
  static ClusterSetup cluster_setup() { return {.settings = {"autovacuum = off"}}; }

 protected:
  bool wait_for_wal_streaming() const override { return true; }

  std::vector<std::string> summary_files() {
    std::vector<std::string> names;
    const std::string dir = daemon().dir() / "base/primary/summaries";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      names.push_back(entry.path().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
};

TEST_F(WalSummariesTest, EveryStoredSegmentIsSummarizedAsItsServerCopy) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  ASSERT_EQ(pg()->psql("CREATE TABLE sm (id int PRIMARY KEY, v text)").exit_code, 0);
  ASSERT_EQ(pg()->psql("INSERT INTO sm SELECT i, repeat('s', 200) FROM generate_series(1, 5000) i")
                .exit_code,
            0);
  bool ok = false;
  const std::string relfilenode = sql_value(*pg(), "SELECT pg_relation_filenode('sm')", &ok);
  ASSERT_TRUE(ok) << relfilenode;
  ASSERT_EQ(pg()->psql("UPDATE sm SET v = 'u' WHERE id % 100 = 0").exit_code, 0);
  std::string last_switched;
  for (int i = 0; i < 3; ++i) {
    std::string error;
    last_switched = switch_wal(*pg(), &error);
    ASSERT_FALSE(last_switched.empty()) << error;
  }
  ASSERT_NO_FATAL_FAILURE(wait_wal_received());

  // The probe writes summaries; a reload runs one now. The segment before the last switched
  // one has its successor stored, so it must get its summary.
  std::vector<std::string> files;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto covered = [&] {
    for (const std::string& f : files) {
      if (fs::path(f).filename().string().rfind(".summary") != std::string::npos &&
          fs::path(f).filename().string().substr(0, 8) == last_switched.substr(0, 8)) {
        auto summary = walsummary::read_summary_file(f);
        if (summary && wal::segment_number(summary->range.start, 16u << 20) + 1 >=
                           std::stoull(last_switched.substr(16, 8), nullptr, 16)) {
          return true;
        }
      }
    }
    return false;
  };
  while (std::chrono::steady_clock::now() < deadline) {
    files = summary_files();
    if (covered()) {
      break;
    }
    CliResult r = cli({"conf", "reload"});
    ASSERT_EQ(r.exit_code(), 0) << r.describe();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(covered()) << files.size() << " summary files; waited for the one before "
                         << last_switched << "\n"
                         << tail(daemon().log());

  // Each one against the server's own copy of its segment (and the next, for its last record).
  const std::string pg_wal = pg()->data_dir() + "/pg_wal";
  bool created = false;
  bool updated = false;
  size_t compared = 0;
  size_t blocks = 0;
  for (const std::string& f : files) {
    SCOPED_TRACE(f);
    auto ours = walsummary::read_summary_file(f);
    ASSERT_TRUE(ours) << ours.error().message();
    const uint64_t segno = wal::segment_number(ours->range.start, 16u << 20);
    const std::string name =
        wal::segment_name_for(wal::TimelineId(ours->range.timeline), segno, 16u << 20);
    const std::string next =
        wal::segment_name_for(wal::TimelineId(ours->range.timeline), segno + 1, 16u << 20);
    if (!fs::exists(pg_wal + "/" + name) || !fs::exists(pg_wal + "/" + next)) {
      continue;  // recycled by the server since
    }
    walsummary::BlockRefTable table;
    auto theirs = walsummary::summarize_stored_segment(
        io::posix_file_system(), {pg_wal + "/" + name, {pg_wal + "/" + next}}, table);
    ASSERT_TRUE(theirs) << theirs.error().message();
    ASSERT_TRUE(theirs->has_value());
    EXPECT_EQ((*theirs)->start, ours->range.start);
    EXPECT_EQ((*theirs)->end, ours->range.end);
    const auto& expected = table.forks();
    ASSERT_EQ(ours->forks.size(), expected.size());
    ++compared;
    blocks += table.block_count();
    for (const auto& [key, changes] : expected) {
      ASSERT_EQ(ours->forks.count(key), 1u) << key.rel;
      EXPECT_EQ(ours->forks.at(key).limit, changes.limit) << key.rel;
      EXPECT_EQ(ours->forks.at(key).blocks, changes.blocks) << key.rel;
      if (std::to_string(key.rel) == relfilenode && key.fork == 0) {
        created |= changes.limit == 0;
        updated |= !changes.blocks.empty() || changes.limit == 0;
      }
    }
  }
  std::cout << "[   INFO   ] " << files.size() << " summaries, " << compared
            << " compared with the server's segments (" << blocks << " changed blocks)\n";
  EXPECT_GE(compared, 2u);
  EXPECT_TRUE(created) << "no summary shows table sm (file " << relfilenode << ") created";
  EXPECT_TRUE(updated);
}

}  // namespace
}  // namespace pgm::testing
