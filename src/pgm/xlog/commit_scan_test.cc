#include "pgm/xlog/commit_scan.h"

#include <cstring>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include <gtest/gtest.h>

#include "pgm/io/file_system.h"
#include "pgm/xlog/wal_builder.h"

namespace pgm::xlog {
namespace {

testing::RecordSpec commit(int64_t pg_micros, uint8_t op = 0x00) {
  testing::RecordSpec spec;
  spec.rmid = 1;  // Transaction
  spec.info = op;
  spec.main_data.resize(16, 0);  // xact_time, xinfo
  std::memcpy(spec.main_data.data(), &pg_micros, sizeof(pg_micros));
  return spec;
}

// One 1 MB segment: heap records, commits at 10 s and 30 s after PostgreSQL's epoch, an abort
// at 50 s (not a commit), then a switch.
std::vector<uint8_t> segment() {
  testing::WalBuilder wal;
  wal.append(testing::RecordSpec{});
  wal.append(commit(10'000'000));
  wal.append(commit(30'000'000, 0x30));  // COMMIT_PREPARED
  wal.append(commit(50'000'000, 0x20));  // ABORT
  wal.append(testing::RecordSpec{});
  wal.append_switch();
  return wal.bytes_to_segment_end();
}

TEST(CommitScanTest, CommitTimeReadsCommitsOnly) {
  std::vector<uint8_t> bytes = encode_record(commit(42), wal::Lsn(0));
  auto r = parse_record(bytes, 15);
  ASSERT_TRUE(r);
  EXPECT_EQ(commit_time(*r), 42);
  std::vector<uint8_t> abort = encode_record(commit(42, 0x20), wal::Lsn(0));
  auto a = parse_record(abort, 15);
  ASSERT_TRUE(a);
  EXPECT_EQ(commit_time(*a), std::nullopt);
  EXPECT_EQ(pg_to_unix_micros(0), int64_t{946684800} * 1000000);
}

TEST(CommitScanTest, CompleteSegmentGivesNewestCommit) {
  test_support::TempDir dir("pgm-xlog");
  const std::string path = dir.file("000000010000000000000001");
  test_support::write_bytes(path, segment());
  SegmentScan scan =
      scan_stored_segment(io::posix_file_system(), path, crypto::AesMode::kNone, nullptr, true);
  EXPECT_EQ(scan.problem, "");
  EXPECT_FALSE(scan.unreadable);
  EXPECT_EQ(scan.records, 6U);
  EXPECT_EQ(scan.newest_commit_unix_us, pg_to_unix_micros(30'000'000));
}

TEST(CommitScanTest, BadCrcAndTruncationAreProblems) {
  test_support::TempDir dir("pgm-xlog");
  std::vector<uint8_t> bytes = segment();
  std::vector<uint8_t> bad = bytes;
  bad[100] ^= 0x40;
  const std::string path = dir.file("000000010000000000000001");
  test_support::write_bytes(path, bad);
  SegmentScan scan =
      scan_stored_segment(io::posix_file_system(), path, crypto::AesMode::kNone, nullptr, true);
  EXPECT_NE(scan.problem.find("000000010000000000000001: offset 0x"), std::string::npos)
      << scan.problem;

  bytes.resize(bytes.size() / 2);
  test_support::write_bytes(path, bytes);
  scan = scan_stored_segment(io::posix_file_system(), path, crypto::AesMode::kNone, nullptr, true);
  EXPECT_NE(scan.problem.find("a segment holds"), std::string::npos) << scan.problem;
}

TEST(CommitScanTest, PartialSegmentTailIsNoProblem) {
  test_support::TempDir dir("pgm-xlog");
  std::vector<uint8_t> bytes = segment();
  bytes.resize(8192 + 100);  // the second page cut inside its header
  const std::string path = dir.file("000000010000000000000001.partial");
  test_support::write_bytes(path, bytes);
  SegmentScan scan =
      scan_stored_segment(io::posix_file_system(), path, crypto::AesMode::kNone, nullptr, false);
  EXPECT_EQ(scan.problem, "");
  EXPECT_EQ(scan.newest_commit_unix_us, pg_to_unix_micros(30'000'000));
}

TEST(CommitScanTest, MissingFileIsUnreadable) {
  test_support::TempDir dir("pgm-xlog");
  SegmentScan scan =
      scan_stored_segment(io::posix_file_system(), dir.file("000000010000000000000009"),
                          crypto::AesMode::kNone, nullptr, true);
  EXPECT_TRUE(scan.unreadable);
  EXPECT_EQ(scan.problem, "");
}

}  // namespace
}  // namespace pgm::xlog
