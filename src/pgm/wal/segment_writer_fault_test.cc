// SegmentWriter's durability contract (segment_writer.h) under injected faults: a segment
// appears under its final name only complete, fsynced and with its directory fsynced, before
// the completion callback; a failure anywhere leaves the .partial (and the writer reports it
// naming the file); flushed() never claims bytes whose fsync failed.
#include <cerrno>
#include <string>
#include <vector>

#include "support/bytes.h"
#include "support/fault_file_system.h"
#include "support/temp_dir.h"
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pgm/io/file.h"
#include "pgm/wal/finish_queue_internal.h"
#include "pgm/wal/segment_writer.h"

namespace pgm::wal {
namespace {

using test_support::FaultFileSystem;
using Op = FaultFileSystem::Op;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kSeg = uint64_t{1} << 20;
constexpr TimelineId kTli1(1);
constexpr const char* kFirst = "000000010000000000000000";

class SegmentWriterFaultTest : public ::testing::Test {
 protected:
  SegmentWriter make_writer() {
    auto w = SegmentWriter::create(
        dir_.path(), kSeg, kTli1,
        [this](const std::string& name) {
          completed_.push_back(name);
          calls_at_completion_ = fs_.calls();
          return Result<void>();
        },
        fs_);
    EXPECT_TRUE(w);
    return std::move(*w);
  }
  std::vector<std::string> names() const { return *io::list_directory(dir_.path()); }
  std::string partial() const { return dir_.file(std::string(kFirst) + ".partial"); }
  std::string final_path() const { return dir_.file(kFirst); }

  test_support::TempDir dir_{"pgm-segment-fault"};
  FaultFileSystem fs_;
  std::vector<std::string> completed_;
  std::vector<std::string> calls_at_completion_;
  std::vector<uint8_t> wal_ = test_support::random_bytes(kSeg, 1);
};

TEST_F(SegmentWriterFaultTest, NewPartialIsAllocatedAndSyncedBeforeTheFirstWrite) {
  SegmentWriter w = make_writer();
  ASSERT_TRUE(w.write(Lsn(0), std::span<const uint8_t>(wal_).first(100)));
  EXPECT_THAT(fs_.calls(),
              ElementsAre("open " + partial(), "fstat " + partial(), "fallocate " + partial(),
                          "fsync " + partial(), "open " + dir_.path(), "fsync " + dir_.path(),
                          "write " + partial()));
}

TEST_F(SegmentWriterFaultTest, CompletedSegmentIsSyncedRenamedAndDirectorySyncedBeforeCallback) {
  SegmentWriter w = make_writer();
  ASSERT_TRUE(w.write(Lsn(0), wal_));
  ASSERT_THAT(completed_, ElementsAre(kFirst));
  // The last calls before the callback ran: fsync, rename, directory fsync.
  ASSERT_GE(calls_at_completion_.size(), 5u);
  std::vector<std::string> tail(calls_at_completion_.end() - 5, calls_at_completion_.end());
  EXPECT_THAT(tail, ElementsAre("fsync " + partial(), "close " + partial(),
                                "rename " + partial() + " " + final_path(), "open " + dir_.path(),
                                "fsync " + dir_.path()));
  EXPECT_EQ(*io::read_file(final_path()), std::string(wal_.begin(), wal_.end()));
}

TEST_F(SegmentWriterFaultTest, DiskFullMidSegmentLeavesOnlyThePartial) {
  SegmentWriter w = make_writer();
  ASSERT_TRUE(w.write(Lsn(0), std::span<const uint8_t>(wal_).first(1000)));
  fs_.disk_full_after(500);  // the next write is short, then ENOSPC
  auto r = w.write(Lsn(1000), std::span<const uint8_t>(wal_).subspan(1000));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("write " + partial()));
  EXPECT_THAT(r.error().message(), HasSubstr("No space left on device"));
  EXPECT_TRUE(completed_.empty());
  EXPECT_THAT(names(), ElementsAre(std::string(kFirst) + ".partial"));
  EXPECT_TRUE(fs_.calls("rename").empty());
  // Nothing past the last successful flush is claimed durable.
  EXPECT_EQ(w.flushed(), Lsn(0));
}

TEST_F(SegmentWriterFaultTest, ResumingAfterDiskFullCompletesTheSegmentWithoutAHole) {
  {
    SegmentWriter w = make_writer();
    fs_.disk_full_after(kSeg / 2);
    ASSERT_FALSE(w.write(Lsn(0), wal_));
  }
  FaultFileSystem healthy;  // space freed; the stream restarts at the segment start
  auto w = SegmentWriter::create(dir_.path(), kSeg, kTli1, nullptr, healthy);
  ASSERT_TRUE(w);
  auto resume = resume_position(dir_.path(), kSeg);
  ASSERT_TRUE(resume && resume->has_value());
  EXPECT_EQ((*resume)->lsn, Lsn(0));
  ASSERT_TRUE(w->write((*resume)->lsn, wal_));
  EXPECT_THAT(names(), ElementsAre(kFirst));
  EXPECT_EQ(*io::read_file(final_path()), std::string(wal_.begin(), wal_.end()));
}

TEST_F(SegmentWriterFaultTest, FailingFsyncAtCompletionKeepsThePartialAndSkipsTheCallback) {
  SegmentWriter w = make_writer();
  fs_.fail(Op::kFsync, 2, EIO, partial());  // the first is the allocation's
  auto r = w.write(Lsn(0), wal_);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("fsync " + partial()));
  EXPECT_TRUE(completed_.empty());
  EXPECT_THAT(names(), ElementsAre(std::string(kFirst) + ".partial"));
}

TEST_F(SegmentWriterFaultTest, FailingRenameKeepsThePartialAndSkipsTheCallback) {
  SegmentWriter w = make_writer();
  fs_.fail(Op::kRename, 1, EIO);
  auto r = w.write(Lsn(0), wal_);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("rename " + partial() + " to " + final_path()));
  EXPECT_TRUE(completed_.empty());
  EXPECT_THAT(names(), ElementsAre(std::string(kFirst) + ".partial"));
}

TEST_F(SegmentWriterFaultTest, FailingDirectoryFsyncAfterRenameSkipsTheCallback) {
  SegmentWriter w = make_writer();
  // fsyncs: allocation (file, directory), completion (file, then the directory after rename).
  fs_.fail(Op::kFsync, 4, EIO);
  auto r = w.write(Lsn(0), wal_);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("fsync directory " + dir_.path()));
  EXPECT_TRUE(completed_.empty());
}

TEST_F(SegmentWriterFaultTest, FailingFlushDoesNotAdvanceFlushed) {
  SegmentWriter w = make_writer();
  ASSERT_TRUE(w.write(Lsn(0), std::span<const uint8_t>(wal_).first(1000)));
  fs_.fail(Op::kFsync, 1, EIO);
  auto r = w.flush();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("fsync " + partial()));
  EXPECT_EQ(w.flushed(), Lsn(0));
  auto again = w.flush();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, Lsn(1000));
}

TEST_F(SegmentWriterFaultTest, FailingAllocationIsReportedAndResumeRefillsTheShortFile) {
  {
    SegmentWriter w = make_writer();
    fs_.fail(Op::kFallocate, 1, ENOSPC);
    auto r = w.write(Lsn(0), wal_);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message(), HasSubstr("allocate " + partial()));
  }
  SegmentWriter w = make_writer();
  ASSERT_TRUE(w.write(Lsn(0), wal_));
  EXPECT_EQ(*io::read_file(final_path()), std::string(wal_.begin(), wal_.end()));
}

TEST_F(SegmentWriterFaultTest, WithoutFallocateZerosAreWrittenDespiteShortWrites) {
  fs_.fail(Op::kFallocate, 1, EOPNOTSUPP);
  fs_.short_writes(100000);
  SegmentWriter w = make_writer();
  ASSERT_TRUE(w.write(Lsn(0), std::span<const uint8_t>(wal_).first(10)));
  ASSERT_TRUE(w.close());
  std::string text = *io::read_file(partial());
  ASSERT_EQ(text.size(), kSeg);
  EXPECT_EQ(text.substr(0, 10), std::string(wal_.begin(), wal_.begin() + 10));
  EXPECT_EQ(text.substr(10), std::string(kSeg - 10, '\0'));
}

// finish_segment on a full disk: the plain segment stays, no temp file is left, and a later
// attempt with space stores it.
TEST_F(SegmentWriterFaultTest, FinishOnAFullDiskKeepsThePlainSegmentAndNoTempFile) {
  ASSERT_TRUE(io::write_file_atomic(final_path(), std::string(wal_.begin(), wal_.end()), 0600));
  {
    SegmentFinisher finisher(compress::Algorithm::kZstd, 3, crypto::AesMode::kNone, nullptr, fs_);
    fs_.disk_full_after(1000);
    auto r = finisher.finish(dir_.path(), kFirst);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message(), HasSubstr("No space left on device"));
    EXPECT_TRUE(is_out_of_space(r.error()));
  }
  EXPECT_THAT(names(), ElementsAre(kFirst));
  EXPECT_EQ(*io::read_file(final_path()), std::string(wal_.begin(), wal_.end()));

  SegmentFinisher finisher(compress::Algorithm::kZstd, 3, crypto::AesMode::kNone, nullptr);
  auto again = finisher.finish(dir_.path(), kFirst);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, std::string(kFirst) + ".zstd");
  EXPECT_THAT(names(), ElementsAre(std::string(kFirst) + ".zstd"));
  auto stored = io::read_file(dir_.file(*again));
  ASSERT_TRUE(stored);
  auto plain = compress::decompress(
      compress::Algorithm::kZstd,
      std::span(reinterpret_cast<const uint8_t*>(stored->data()), stored->size()));
  ASSERT_TRUE(plain);
  EXPECT_EQ(*plain, wal_);
}

}  // namespace
}  // namespace pgm::wal
