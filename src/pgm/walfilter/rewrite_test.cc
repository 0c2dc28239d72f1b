#include "pgm/walfilter/rewrite.h"

#include <cstring>
#include <map>

#include <gtest/gtest.h>

#include "pgm/xlog/decoder.h"
#include "pgm/xlog/format.h"
#include "pgm/xlog/wal_builder.h"

namespace pgm::walfilter {
namespace {

using xlog::testing::RecordSpec;
using xlog::testing::WalBuilder;

constexpr uint32_t kPage = 8192;
constexpr uint32_t kSegment = 1u << 20;

struct Seen {
  uint32_t total_length = 0;
  uint32_t xid = 0;
  uint8_t rmid = 0;
  uint8_t info = 0;
  std::vector<uint8_t> main_data;
  std::vector<uint8_t> bytes;
};

// Decodes `stream` (CRCs and xl_prev checked by the decoder), keyed by LSN.
std::map<uint64_t, Seen> decode(const std::vector<uint8_t>& stream) {
  std::map<uint64_t, Seen> seen;
  xlog::Decoder decoder;
  auto fed = decoder.feed(stream, [&](const xlog::Record& r) -> Result<void> {
    seen[r.lsn.value()] = {r.total_length,
                           r.xid,
                           r.rmid,
                           r.info,
                           {r.main_data.begin(), r.main_data.end()},
                           {r.bytes.begin(), r.bytes.end()}};
    return {};
  });
  EXPECT_TRUE(fed) << fed.error().message();
  return seen;
}

RecordSpec filler(uint32_t xid, size_t size) {
  RecordSpec spec;
  spec.rmid = xlog::kRmXlog;
  spec.info = 0x20;  // XLOG_NOOP
  spec.xid = xid;
  spec.main_data.assign(size, 0xAB);
  return spec;
}

// A COMMIT of `xid` with xinfo: db info and `subxacts`, main data of 8 + 4 + 8 + 4 + 4n bytes.
RecordSpec commit(uint32_t xid, const std::vector<uint32_t>& subxacts) {
  RecordSpec spec;
  spec.rmid = xlog::kRmTransaction;
  spec.info = 0x80;
  spec.xid = xid;
  auto put = [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    spec.main_data.insert(spec.main_data.end(), b, b + n);
  };
  const int64_t time = 789;
  const uint32_t xinfo = 0x03;  // db info, subxacts
  const uint32_t db[2] = {5, 1663};
  const auto count = static_cast<int32_t>(subxacts.size());
  put(&time, 8);
  put(&xinfo, 4);
  put(db, 8);
  put(&count, 4);
  put(subxacts.data(), 4 * subxacts.size());
  return spec;
}

// Appends fillers of `size` until fewer than `left` bytes remain before the next multiple of
// `unit` (a page or a segment).
void fill_until(WalBuilder& wal, uint64_t unit, uint64_t left, size_t size) {
  while (unit - wal.position().value() % unit > left) {
    wal.append(filler(0, size));
  }
}

// Rewrites the commit at `at` of `stream` as an abort through a SegmentWindow of its segments.
std::vector<uint8_t> rewrite(const std::vector<uint8_t>& stream, wal::Lsn at) {
  const auto seen = decode(stream);
  const Seen& original = seen.at(at.value());
  xlog::Record record;
  record.lsn = at;
  record.total_length = original.total_length;
  record.xid = original.xid;
  record.rmid = original.rmid;
  record.info = original.info;
  record.main_data = original.main_data;
  record.bytes = original.bytes;
  auto info = parse_commit(record);
  EXPECT_TRUE(info && *info);
  auto abort = abort_in_place_of(record, **info);
  EXPECT_TRUE(abort) << abort.error().message();
  SegmentWindow window(kPage);
  for (size_t off = 0; off < stream.size(); off += kSegment) {
    const size_t n = std::min<size_t>(kSegment, stream.size() - off);
    auto added = window.add("seg" + std::to_string(off / kSegment),
                            {stream.begin() + off, stream.begin() + off + n});
    EXPECT_TRUE(added) << added.error().message();
  }
  auto done = window.overwrite(at, original.bytes, *abort);
  EXPECT_TRUE(done) << done.error().message();
  std::vector<uint8_t> out;
  for (auto& segment : window.take_before(std::nullopt)) {
    out.insert(out.end(), segment.bytes.begin(), segment.bytes.end());
  }
  return out;
}

// Every record keeps its LSN and length; only the one at `at` changed, into an ABORT with
// the commit's `subxacts` subtransactions (the first 701).
void expect_only_commit_aborted(const std::vector<uint8_t>& before,
                                const std::vector<uint8_t>& after, wal::Lsn at, int32_t subxacts) {
  ASSERT_EQ(before.size(), after.size());
  const auto old_records = decode(before);
  const auto new_records = decode(after);
  ASSERT_EQ(old_records.size(), new_records.size());
  for (const auto& [lsn, old] : old_records) {
    ASSERT_EQ(new_records.count(lsn), 1u) << lsn;
    const Seen& now = new_records.at(lsn);
    EXPECT_EQ(now.total_length, old.total_length);
    EXPECT_EQ(now.xid, old.xid);
    if (lsn != at.value()) {
      EXPECT_EQ(now.bytes, old.bytes);
      continue;
    }
    EXPECT_EQ(now.rmid, xlog::kRmTransaction);
    EXPECT_EQ(now.info, 0x20 | 0x80);  // ABORT with xinfo
    ASSERT_GE(now.main_data.size(), 24u);
    uint32_t xinfo = 0;
    int32_t count = 0;
    uint32_t sub = 0;
    std::memcpy(&xinfo, now.main_data.data() + 8, 4);
    std::memcpy(&count, now.main_data.data() + 12, 4);
    std::memcpy(&sub, now.main_data.data() + 16, 4);
    EXPECT_EQ(xinfo, 0x02u);
    EXPECT_EQ(count, subxacts);
    EXPECT_EQ(sub, 701u);
    EXPECT_TRUE(xlog::record_crc_ok(now.bytes));
  }
}

TEST(RewriteTest, CommitBecomesAbortOfTheSameLength) {
  WalBuilder wal(15, kSegment, kPage);
  wal.append(filler(700, 40));
  const wal::Lsn at = wal.append(commit(700, {701, 702}));
  wal.append(filler(703, 40));
  const auto before = wal.bytes();
  expect_only_commit_aborted(before, rewrite(before, at), at, 2);
}

TEST(RewriteTest, CommitAcrossAPageBoundary) {
  WalBuilder wal(15, kSegment, kPage);
  fill_until(wal, kPage, 48, 8);
  const wal::Lsn at = wal.append(commit(700, {701, 702, 703, 704, 705, 706, 707, 708}));
  ASSERT_NE(at.value() / kPage, (at.value() + 80) / kPage);
  wal.append(filler(703, 40));
  const auto before = wal.bytes();
  expect_only_commit_aborted(before, rewrite(before, at), at, 8);
}

TEST(RewriteTest, LongCommitAcrossASegmentBoundary) {
  WalBuilder wal(15, kSegment, kPage);
  fill_until(wal, kSegment, 9000, 4000);
  fill_until(wal, kSegment, 300, 100);
  std::vector<uint32_t> subxacts = {701, 702};
  for (uint32_t x = 800; x < 900; ++x) {
    subxacts.push_back(x);  // main data over 255 bytes: the long data header
  }
  const wal::Lsn at = wal.append(commit(700, subxacts));
  ASSERT_NE(at.value() / kSegment, (at.value() + 400) / kSegment);
  wal.append(filler(703, 40));
  const auto before = wal.bytes();
  expect_only_commit_aborted(before, rewrite(before, at), at, 102);
}

TEST(RewriteTest, MismatchLeavesTheSegmentsUnchanged) {
  WalBuilder wal(15, kSegment, kPage);
  const wal::Lsn at = wal.append(commit(700, {701}));
  const auto bytes = wal.bytes();
  SegmentWindow window(kPage);
  ASSERT_TRUE(window.add("s", bytes));
  std::vector<uint8_t> wrong(42, 1);
  std::vector<uint8_t> replacement(42, 2);
  auto done = window.overwrite(at, wrong, replacement);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code(), ErrorCode::kCorruption);
  EXPECT_EQ(window.take_before(std::nullopt).at(0).bytes, bytes);
}

TEST(RewriteTest, UserDeletesAreTold) {
  xlog::Record record;
  record.rmid = xlog::kRmHeap;
  record.info = 0x10;                                             // DELETE
  const std::vector<uint8_t> data = {1, 0, 0, 0, 2, 0, 0, 0x02};  // flags: old tuple kept
  record.main_data = data;
  xlog::BlockRef block;
  block.rel = {1663, 5, 16384};
  record.blocks.push_back(block);
  EXPECT_TRUE(is_user_delete(record));
  record.blocks[0].rel.rel = 2608;  // pg_depend: DDL deleting catalog rows
  EXPECT_FALSE(is_user_delete(record));
  record.blocks[0].rel.rel = 16390;
  const std::vector<uint8_t> super = {1, 0, 0, 0, 2, 0, 0, 0x08};  // INSERT ON CONFLICT
  record.main_data = super;
  EXPECT_FALSE(is_user_delete(record));
  record.main_data = data;
  record.info = 0x00;  // INSERT
  EXPECT_FALSE(is_user_delete(record));
  EXPECT_FALSE(parse_commit(record).value().has_value());
}

}  // namespace
}  // namespace pgm::walfilter
