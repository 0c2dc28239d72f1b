#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "support/bytes.h"
#include "support/temp_dir.h"
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pgm/io/file_system.h"
#include "pgm/walsummary/block_ref_table.h"
#include "pgm/walsummary/segment_summary.h"
#include "pgm/walsummary/summarize.h"
#include "pgm/walsummary/summary_file.h"
#include "pgm/xlog/wal_builder.h"

namespace pgm::walsummary {
namespace {

// A record of `rmid`/`info` with `main` as main data (the parts summarize_record reads).
struct Made {
  xlog::Record record;
  std::vector<uint8_t> main;
};

void put(std::vector<uint8_t>& out, uint32_t v) {
  const size_t at = out.size();
  out.resize(at + 4);
  std::memcpy(out.data() + at, &v, 4);
}

Made made(uint8_t rmid, uint8_t info, std::vector<uint8_t> main) {
  Made m;
  m.main = std::move(main);
  m.record.rmid = rmid;
  m.record.info = info;
  m.record.lsn = wal::Lsn(0x1000028);
  m.record.main_data = m.main;
  return m;
}

std::vector<uint32_t> blocks_of(BlockRefTable& t, const ForkKey& key) {
  auto it = t.forks().find(key);
  return it == t.forks().end() ? std::vector<uint32_t>{} : it->second.blocks;
}
uint32_t limit_of(BlockRefTable& t, const ForkKey& key) {
  auto it = t.forks().find(key);
  return it == t.forks().end() ? kNoLimit : it->second.limit;
}

TEST(BlockRefTableTest, BlocksAreSortedUniqueAndALimitOnlyGoesDown) {
  BlockRefTable t;
  const ForkKey k{1663, 5, 16384, 0};
  for (uint32_t b : {7u, 3u, 7u, 9u, 3u, 100u}) {
    t.mark_changed(k, b);
  }
  EXPECT_EQ(blocks_of(t, k), (std::vector<uint32_t>{3, 7, 9, 100}));
  t.set_limit(k, 8);  // blocks at or past 8 are covered by the limit
  EXPECT_EQ(blocks_of(t, k), (std::vector<uint32_t>{3, 7}));
  EXPECT_EQ(limit_of(t, k), 8u);
  t.set_limit(k, 20);  // a higher limit changes nothing
  EXPECT_EQ(limit_of(t, k), 8u);
  t.mark_changed(k, 12);  // past the limit: already covered
  t.mark_changed(k, 5);
  EXPECT_EQ(blocks_of(t, k), (std::vector<uint32_t>{3, 5, 7}));
  // Many repeats stay bounded.
  for (int round = 0; round < 100; ++round) {
    for (uint32_t b = 0; b < 1000; b += 2) {
      t.mark_changed({1663, 5, 1, 0}, b);
    }
  }
  EXPECT_EQ(blocks_of(t, {1663, 5, 1, 0}).size(), 500u);
}

TEST(SummarizeTest, BlockReferencesButNotTheFreeSpaceMap) {
  BlockRefTable t;
  Made m = made(10, 0x00, {});  // Heap INSERT
  xlog::BlockRef main_block;
  main_block.rel = {1663, 5, 16384};
  main_block.block = 42;
  xlog::BlockRef fsm = main_block;
  fsm.fork = 1;
  xlog::BlockRef vm = main_block;
  vm.fork = 2;
  vm.block = 0;
  m.record.blocks = {main_block, fsm, vm};
  ASSERT_TRUE(summarize_record(m.record, 15, t));
  EXPECT_EQ(blocks_of(t, {1663, 5, 16384, 0}), std::vector<uint32_t>{42});
  EXPECT_EQ(blocks_of(t, {1663, 5, 16384, 2}), std::vector<uint32_t>{0});
  EXPECT_EQ(t.forks().count({1663, 5, 16384, 1}), 0u);
}

TEST(SummarizeTest, StorageCreateAndTruncateWithTheVisibilityMapRule) {
  BlockRefTable t;
  std::vector<uint8_t> create;
  for (uint32_t v : {1663u, 5u, 16400u, 0u}) {
    put(create, v);
  }
  ASSERT_TRUE(summarize_record(made(2, 0x10 | 0x01, create).record, 15, t));
  EXPECT_EQ(limit_of(t, {1663, 5, 16400, 0}), 0u);
  std::vector<uint8_t> create_fsm;
  for (uint32_t v : {1663u, 5u, 16400u, 1u}) {
    put(create_fsm, v);
  }
  ASSERT_TRUE(summarize_record(made(2, 0x10 | 0x01, create_fsm).record, 15, t));
  EXPECT_EQ(t.forks().count({1663, 5, 16400, 1}), 0u);

  // Truncate heap and VM to 40,000 heap blocks: main limit 40,000, VM limit 2 (32,672 heap
  // blocks a VM page), and the VM page holding the cut (1) changed.
  std::vector<uint8_t> truncate;
  for (uint32_t v : {40000u, 1663u, 5u, 16500u, 0x3u}) {
    put(truncate, v);
  }
  ASSERT_TRUE(summarize_record(made(2, 0x20 | 0x01, truncate).record, 15, t));
  EXPECT_EQ(limit_of(t, {1663, 5, 16500, 0}), 40000u);
  EXPECT_EQ(limit_of(t, {1663, 5, 16500, 2}), 2u);
  EXPECT_EQ(blocks_of(t, {1663, 5, 16500, 2}), std::vector<uint32_t>{1});
  BlockRefTable strict;
  ASSERT_TRUE(summarize_record(made(2, 0x20 | 0x01, truncate).record, 15, strict,
                               Rules{.vm_cut_page = false}));
  EXPECT_TRUE(blocks_of(strict, {1663, 5, 16500, 2}).empty());
  EXPECT_EQ(vm_truncation_length(0), 0u);
  EXPECT_EQ(vm_truncation_length(1), 1u);
  EXPECT_EQ(vm_truncation_length(32672), 1u);
  EXPECT_EQ(vm_truncation_length(32673), 2u);

  std::vector<uint8_t> cut_short(create.begin(), create.begin() + 10);
  auto refused = summarize_record(made(2, 0x10 | 0x01, cut_short).record, 15, t);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(refused.error().message().find("Storage"), std::string::npos)
      << refused.error().message();
}

TEST(SummarizeTest, DatabaseCreateAndDropByVersion) {
  std::vector<uint8_t> create;  // db 16384 in tablespace 1663 (from template1)
  for (uint32_t v : {16384u, 1663u, 1u, 1663u}) {
    put(create, v);
  }
  std::vector<uint8_t> drop;  // db 16384 in two tablespaces
  for (uint32_t v : {16384u, 2u, 1663u, 16390u}) {
    put(drop, v);
  }
  for (int major : {13, 15, 17}) {
    SCOPED_TRACE(major);
    BlockRefTable t;
    ASSERT_TRUE(summarize_record(made(4, 0x00 | 0x01, create).record, major, t));
    EXPECT_EQ(limit_of(t, {1663, 16384, 0, 0}), 0u);
    BlockRefTable d;
    const uint8_t drop_type = major >= 15 ? 0x20 : 0x10;
    ASSERT_TRUE(summarize_record(made(4, drop_type | 0x01, drop).record, major, d));
    EXPECT_EQ(limit_of(d, {1663, 16384, 0, 0}), 0u);
    EXPECT_EQ(limit_of(d, {16390, 16384, 0, 0}), 0u);
  }
  // 15's CREATE_WAL_LOG (0x10) is a create; on 13 0x10 is the drop.
  std::vector<uint8_t> wal_log = {create.begin(), create.begin() + 8};
  BlockRefTable t15;
  ASSERT_TRUE(summarize_record(made(4, 0x10 | 0x01, wal_log).record, 15, t15));
  EXPECT_EQ(limit_of(t15, {1663, 16384, 0, 0}), 0u);
}

TEST(SummarizeTest, RelationsDroppedAtCommitAndAbort) {
  // xact_time, xinfo = DBINFO | SUBXACTS | RELFILENODES, dbinfo, 2 subxacts, 1 relation.
  std::vector<uint8_t> main(8, 0);
  put(main, 0x01 | 0x02 | 0x04);
  put(main, 5);
  put(main, 1663);
  put(main, 2);
  put(main, 901);
  put(main, 902);
  put(main, 1);
  for (uint32_t v : {1663u, 5u, 16700u}) {
    put(main, v);
  }
  for (uint8_t op : {0x00, 0x20, 0x30, 0x40}) {
    SCOPED_TRACE(op);
    BlockRefTable t;
    ASSERT_TRUE(summarize_record(made(1, op | 0x80, main).record, 15, t));
    EXPECT_EQ(limit_of(t, {1663, 5, 16700, 0}), 0u);
    EXPECT_EQ(t.forks().count({1663, 5, 16700, 1}), 0u);  // not the FSM
    EXPECT_EQ(limit_of(t, {1663, 5, 16700, 2}), 0u);
    EXPECT_EQ(limit_of(t, {1663, 5, 16700, 3}), 0u);
  }
  BlockRefTable prepare;  // PREPARE drops nothing yet
  ASSERT_TRUE(summarize_record(made(1, 0x10 | 0x80, main).record, 15, prepare));
  EXPECT_EQ(prepare.fork_count(), 0u);
  BlockRefTable no_info;  // a commit without xinfo
  ASSERT_TRUE(summarize_record(made(1, 0x00, std::vector<uint8_t>(8, 0)).record, 15, no_info));
  EXPECT_EQ(no_info.fork_count(), 0u);
}

TEST(SummarizeTest, AnUnknownResourceManagerChangingFilesIsRefused) {
  BlockRefTable t;
  EXPECT_TRUE(summarize_record(made(7, 0x00 | 0x01, {}).record, 15, t));  // RelMap: fine
  EXPECT_TRUE(summarize_record(made(130, 0x00, {}).record, 15, t));       // custom, no flag
  auto refused = summarize_record(made(130, 0x00 | 0x01, {}).record, 15, t);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
}

TEST(SummaryFileTest, RoundTripNameAndDamage) {
  BlockRefTable t;
  t.mark_changed({1663, 5, 16384, 0}, 0);
  t.mark_changed({1663, 5, 16384, 0}, 1);
  t.mark_changed({1663, 5, 16384, 0}, 300000);
  t.set_limit({1663, 16400, 0, 0}, 0);
  t.set_limit({1663, 5, 16500, 0}, 10);
  t.mark_changed({1663, 5, 16500, 0}, 4);
  const SummaryRange range{1, wal::Lsn(0x1000028), wal::Lsn(0x2000060), 17};
  EXPECT_EQ(summary_file_name(range), "0000000100000000010000280000000002000060.summary");
  auto parsed = parse_summary_file_name(summary_file_name(range));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->timeline, 1u);
  EXPECT_EQ(parsed->start, range.start);
  EXPECT_EQ(parsed->end, range.end);
  EXPECT_FALSE(parse_summary_file_name("ZZZZZZZZ00000000010000280000000002000060.summary"));
  EXPECT_FALSE(parse_summary_file_name("0000000100000000010000280000000002000060.summary.tmp"));
  test_support::TempDir dir("pgm-walsummary");
  auto path = write_summary_file(dir.path(), range, t);
  ASSERT_TRUE(path) << path.error().message();
  auto read = read_summary_file(*path);
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(read->range.timeline, 1u);
  EXPECT_EQ(read->range.major, 17);
  EXPECT_EQ(read->range.start, range.start);
  EXPECT_EQ(read->range.end, range.end);
  EXPECT_EQ(read->forks.size(), 3u);
  for (const auto& [key, changes] : t.forks()) {
    ASSERT_EQ(read->forks.count(key), 1u);
    EXPECT_EQ(read->forks.at(key).limit, changes.limit);
    EXPECT_EQ(read->forks.at(key).blocks, changes.blocks);
  }

  // Every single-byte change and every cut is caught (CRC or structure), never a crash.
  const std::vector<uint8_t> good = encode_summary(range, t.forks());
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x20;
    EXPECT_FALSE(decode_summary(bad, "x.summary")) << "byte " << i;
    EXPECT_FALSE(decode_summary(std::span<const uint8_t>(good).first(i), "x.summary"))
        << "cut at " << i;
  }
  std::vector<uint8_t> bad = good;
  bad[good.size() - 1] ^= 1;
  auto refused = decode_summary(bad, "x.summary");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message().rfind("x.summary: CRC mismatch", 0), 0u)
      << refused.error().message();
}

// Segment by segment (each one read on into the next for its last record) the summaries add up
// to the summary of the whole stream, and no record is counted in two of them.
TEST(SegmentSummaryTest, ConsecutiveSegmentsAddUpToTheWholeStream) {
  xlog::testing::WalBuilder wal;                       // 1 MB segments from segment 1
  std::vector<std::pair<wal::Lsn, uint32_t>> records;  // LSN, the block it changes
  uint32_t block = 0;
  while (wal.position().value() < (4u << 20) + 300000) {
    xlog::testing::RecordSpec spec;
    xlog::testing::BlockSpec b;
    b.block = block;
    b.data.assign(40, 0x11);
    spec.blocks.push_back(b);
    spec.main_data.assign(9000, 0x22);  // records cross pages and segments
    records.emplace_back(wal.append(spec), block);
    ++block;
  }
  const std::vector<uint8_t> stream = wal.bytes_to_segment_end();
  test_support::TempDir dir("pgm-walsummary");
  std::vector<std::string> paths;
  for (size_t i = 0; i * (1u << 20) < stream.size(); ++i) {
    const std::string path = dir.file(fmt::format("0000000100000000{:08X}", i + 1));
    test_support::write_bytes(path,
                              std::span<const uint8_t>(stream).subspan(i * (1u << 20), 1u << 20));
    paths.push_back(path);
  }
  ASSERT_EQ(paths.size(), 4u);
  std::set<uint32_t> seen;
  for (size_t i = 0; i + 1 < paths.size(); ++i) {
    SCOPED_TRACE(paths[i]);
    BlockRefTable t;
    SegmentSource source{paths[i], {paths[i + 1]}};
    auto summarized = summarize_stored_segment(io::posix_file_system(), source, t);
    ASSERT_TRUE(summarized) << summarized.error().message();
    ASSERT_TRUE(summarized->has_value());
    const SummaryRange* range = &**summarized;
    EXPECT_EQ(range->timeline, 1u);
    EXPECT_EQ(range->major, 15);
    EXPECT_EQ(range->start.value(), (i + 1) << 20);
    EXPECT_EQ(range->end.value(), (i + 2) << 20);
    const std::vector<uint32_t> blocks = blocks_of(t, {1663, 5, 16384, 0});
    for (const auto& [lsn, b] : records) {  // exactly the records that start in the segment
      const bool inside = lsn >= range->start && lsn < range->end;
      EXPECT_EQ(std::binary_search(blocks.begin(), blocks.end(), b), inside)
          << "block " << b << " of the record at " << lsn.to_string();
    }
    for (uint32_t b : blocks) {
      EXPECT_TRUE(seen.insert(b).second) << "block " << b << " in two summaries";
    }
    // Without the next segment, its last record is not known to end: try again later.
    SegmentSource alone{paths[i], {}};
    BlockRefTable partial;
    auto unavailable = summarize_stored_segment(io::posix_file_system(), alone, partial);
    ASSERT_TRUE(unavailable) << unavailable.error().message();
    EXPECT_FALSE(unavailable->has_value());
  }
  // A damaged segment: an error naming the file, no summary.
  std::vector<uint8_t> damaged(stream.begin() + (1u << 20), stream.begin() + (2u << 20));
  damaged[500000] ^= 0x40;
  test_support::write_bytes(paths[1], damaged);
  BlockRefTable t;
  auto refused = summarize_stored_segment(io::posix_file_system(), {paths[1], {paths[2]}}, t);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(refused.error().message().find(paths[1]), std::string::npos)
      << refused.error().message();
}

}  // namespace
}  // namespace pgm::walsummary
