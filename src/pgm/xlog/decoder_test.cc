#include "pgm/xlog/decoder.h"

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pgm/xlog/format.h"
#include "pgm/xlog/wal_builder.h"

namespace pgm::xlog {
namespace {

using testing::RecordSpec;
using testing::WalBuilder;

struct Seen {
  wal::Lsn lsn;
  wal::Lsn end;
  wal::Lsn prev;
  uint32_t xid;
  uint8_t rmid;
  uint32_t main_length;
  size_t blocks;
};

// Feeds `bytes` in chunks of `chunk` bytes; collects the records.
Result<std::vector<Seen>> decode(const std::vector<uint8_t>& bytes, size_t chunk = 4096,
                                 Decoder* decoder_out = nullptr) {
  Decoder local;
  Decoder& decoder = decoder_out != nullptr ? *decoder_out : local;
  std::vector<Seen> seen;
  auto sink = [&](const Record& r) -> Result<void> {
    seen.push_back({r.lsn, r.end_lsn, r.prev, r.xid, r.rmid,
                    static_cast<uint32_t>(r.main_data.size()), r.blocks.size()});
    return {};
  };
  for (size_t i = 0; i < bytes.size(); i += chunk) {
    const size_t n = std::min(chunk, bytes.size() - i);
    PGM_TRY(decoder.feed(std::span<const uint8_t>(bytes).subspan(i, n), sink));
  }
  PGM_TRY(decoder.finish());
  return seen;
}

RecordSpec with_main(size_t length, uint32_t xid = 700) {
  RecordSpec spec;
  spec.xid = xid;
  spec.main_data.resize(length);
  for (size_t i = 0; i < length; ++i) {
    spec.main_data[i] = static_cast<uint8_t>(i * 7);
  }
  return spec;
}

TEST(DecoderTest, DecodesRecordsInOrderWithTheirLsns) {
  WalBuilder wal;
  std::vector<wal::Lsn> lsns;
  for (uint32_t i = 0; i < 20; ++i) {
    lsns.push_back(wal.append(with_main(10 + i, 700 + i)));
  }
  auto seen = decode(wal.bytes());
  ASSERT_TRUE(seen) << seen.error().message();
  ASSERT_EQ(seen->size(), lsns.size());
  for (size_t i = 0; i < lsns.size(); ++i) {
    EXPECT_EQ((*seen)[i].lsn, lsns[i]);
    EXPECT_EQ((*seen)[i].xid, 700 + i);
    EXPECT_EQ((*seen)[i].main_length, 10 + i);
  }
  EXPECT_EQ((*seen)[0].lsn, wal::Lsn(0x100028));  // after the long page header
  EXPECT_EQ((*seen)[1].prev, lsns[0]);
  EXPECT_EQ((*seen)[0].end, lsns[0] + (24 + 2 + 10));
}

TEST(DecoderTest, ReassemblesRecordsAcrossPagesWhateverTheChunkSize) {
  WalBuilder wal;
  wal.append(with_main(100));
  const wal::Lsn big = wal.append(with_main(20000));  // spans three pages
  const wal::Lsn after = wal.append(with_main(5));
  for (size_t chunk : {1, 7, 512, 8192, 100000}) {
    auto seen = decode(wal.bytes(), chunk);
    ASSERT_TRUE(seen) << "chunk " << chunk << ": " << seen.error().message();
    ASSERT_EQ(seen->size(), 3u) << "chunk " << chunk;
    EXPECT_EQ((*seen)[1].lsn, big);
    EXPECT_EQ((*seen)[1].main_length, 20000u);
    // Three page headers of 24 bytes lie inside the record.
    EXPECT_EQ((*seen)[1].end, big + (24 + 5 + 20000 + 2 * 24));
    EXPECT_EQ((*seen)[2].lsn, after);
  }
}

TEST(DecoderTest, RecordHeaderSplitAcrossPagesIsReassembled) {
  WalBuilder wal;
  // Leave exactly 8 bytes on the first page: the next header starts there and continues.
  const size_t first_page_room = 8192 - 40;
  wal.append(with_main(first_page_room - 8 - 29));  // 24 + 5 header bytes + data
  const wal::Lsn split = wal.append(with_main(40));
  EXPECT_EQ(split.value() % 8192, 8192u - 8);
  auto seen = decode(wal.bytes());
  ASSERT_TRUE(seen) << seen.error().message();
  ASSERT_EQ(seen->size(), 2u);
  EXPECT_EQ((*seen)[1].lsn, split);
  EXPECT_EQ((*seen)[1].main_length, 40u);
}

TEST(DecoderTest, ReassemblesARecordAcrossSegments) {
  WalBuilder wal;
  while (wal.position().value() < 2 * (1u << 20) - 3000) {
    wal.append(with_main(6000));
  }
  const wal::Lsn crossing = wal.append(with_main(9000));
  const wal::Lsn next = wal.append(with_main(10));
  ASSERT_LT(crossing.value(), 2u << 20);
  ASSERT_GT(next.value(), 2u << 20);
  std::vector<uint8_t> bytes = wal.bytes();
  Decoder decoder;
  auto seen = decode(bytes, 65536, &decoder);
  ASSERT_TRUE(seen) << seen.error().message();
  EXPECT_EQ(seen->back().lsn, next);
  EXPECT_EQ((*seen)[seen->size() - 2].lsn, crossing);
  EXPECT_EQ((*seen)[seen->size() - 2].main_length, 9000u);
  EXPECT_EQ(decoder.segment_size(), 1u << 20);
  EXPECT_EQ(decoder.major(), 15);
}

TEST(DecoderTest, SkipsARecordContinuedFromBeforeTheStream) {
  WalBuilder wal;
  while (wal.position().value() < 2 * (1u << 20) - 3000) {
    wal.append(with_main(6000));
  }
  wal.append(with_main(20000));  // ends on the second page of segment 2
  const wal::Lsn first_whole = wal.append(with_main(10));
  std::vector<uint8_t> all = wal.bytes();
  std::vector<uint8_t> second(all.begin() + (1 << 20), all.end());
  auto seen = decode(second);
  ASSERT_TRUE(seen) << seen.error().message();
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ(seen->front().lsn, first_whole);
}

TEST(DecoderTest, SwitchSkipsTheRestOfTheSegment) {
  WalBuilder wal;
  wal.append(with_main(10));
  const wal::Lsn sw = wal.append_switch();
  const wal::Lsn next = wal.append(with_main(10));
  std::vector<uint8_t> bytes = wal.bytes();
  // Garbage after the switch record does not matter.
  for (size_t i = size_t{3} * 8192; i < (size_t{1} << 20); ++i) {
    bytes[i] = 0xA5;
  }
  auto seen = decode(bytes);
  ASSERT_TRUE(seen) << seen.error().message();
  ASSERT_EQ(seen->size(), 3u);
  EXPECT_EQ((*seen)[1].lsn, sw);
  EXPECT_EQ((*seen)[1].end, wal::Lsn(2u << 20));
  EXPECT_EQ((*seen)[2].lsn, next);
  EXPECT_EQ(next, wal::Lsn((2u << 20) + 40));
  EXPECT_EQ((*seen)[2].prev, sw);
}

TEST(DecoderTest, OverwriteContrecordDropsTheUnfinishedRecord) {
  WalBuilder wal;
  const wal::Lsn kept = wal.append(with_main(7000));
  wal.append_aborted(with_main(5000));
  RecordSpec overwrite = with_main(16, 0);
  overwrite.rmid = kRmXlog;
  overwrite.info = kXlogOverwriteContRecord;
  const wal::Lsn marker = wal.append(overwrite);
  auto seen = decode(wal.bytes());
  ASSERT_TRUE(seen) << seen.error().message();
  ASSERT_EQ(seen->size(), 2u);
  EXPECT_EQ((*seen)[0].lsn, kept);
  EXPECT_EQ((*seen)[1].lsn, marker);
  EXPECT_EQ((*seen)[1].prev, kept);
}

TEST(DecoderTest, EndsAtZeroRecordLength) {
  WalBuilder wal;
  wal.append(with_main(10));
  std::vector<uint8_t> bytes = wal.bytes_to_segment_end();
  Decoder decoder;
  auto seen = decode(bytes, 4096, &decoder);
  ASSERT_TRUE(seen) << seen.error().message();
  EXPECT_EQ(seen->size(), 1u);
  EXPECT_TRUE(decoder.ended());
}

// ---- malformed input: an error naming the file and the offset, never a crash ----

Error decode_error(const std::vector<uint8_t>& bytes, const std::string& name = "") {
  Decoder decoder;
  if (!name.empty()) {
    decoder.set_file_name(name);
  }
  auto sink = [](const Record&) -> Result<void> { return {}; };
  auto fed = decoder.feed(bytes, sink);
  if (!fed) {
    return fed.error();
  }
  auto finished = decoder.finish();
  if (!finished) {
    return finished.error();
  }
  return {ErrorCode::kInternal, "no error"};
}

TEST(DecoderTest, BadCrcNamesFileAndOffset) {
  WalBuilder wal;
  wal.append(with_main(10));
  const wal::Lsn bad = wal.append(with_main(30));
  std::vector<uint8_t> bytes = wal.bytes();
  bytes[bad.value() - (1u << 20) + 30] ^= 0x01;
  Error e = decode_error(bytes, "000000010000000000000001.partial");
  EXPECT_EQ(e.code(), ErrorCode::kCorruption);
  EXPECT_NE(e.message().find("000000010000000000000001.partial: offset 0x"), std::string::npos)
      << e.message();
  EXPECT_NE(e.message().find("checksum"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find(bad.to_string()), std::string::npos) << e.message();
}

TEST(DecoderTest, BadPrevLinkIsRefused) {
  WalBuilder wal;
  wal.append(with_main(10));
  const wal::Lsn second = wal.append(with_main(10));
  wal.append_raw(testing::encode_record(with_main(10), second - 8));
  Error e = decode_error(wal.bytes());
  EXPECT_NE(e.message().find("incorrect prev-link"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("000000010000000000000001: offset 0x"), std::string::npos)
      << e.message();
}

TEST(DecoderTest, TruncatedStreamIsReportedByFinish) {
  WalBuilder wal;
  wal.append(with_main(10));
  wal.append(with_main(20000));
  std::vector<uint8_t> bytes = wal.bytes();
  std::vector<uint8_t> whole_pages(bytes.begin(), bytes.begin() + std::ptrdiff_t{2} * 8192);
  Error e = decode_error(whole_pages);
  EXPECT_NE(e.message().find("ends inside the record"), std::string::npos) << e.message();
  std::vector<uint8_t> mid_page(bytes.begin(), bytes.begin() + 8192 + 100);
  e = decode_error(mid_page);
  EXPECT_NE(e.message().find("ends inside a page"), std::string::npos) << e.message();
  e = decode_error(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 20));
  EXPECT_NE(e.message().find("first page header"), std::string::npos) << e.message();
}

TEST(DecoderTest, MissingContrecordFlagIsRefused) {
  WalBuilder wal;
  wal.append(with_main(20000));
  std::vector<uint8_t> bytes = wal.bytes();
  bytes[8192 + 2] &= static_cast<uint8_t>(~kPageFirstIsContRecord);
  Error e = decode_error(bytes);
  EXPECT_NE(e.message().find("no contrecord flag"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("offset 0x2000"), std::string::npos) << e.message();
}

TEST(DecoderTest, WrongContrecordLengthIsRefused) {
  WalBuilder wal;
  wal.append(with_main(20000));
  std::vector<uint8_t> bytes = wal.bytes();
  bytes[8192 + 16] ^= 0x01;
  Error e = decode_error(bytes);
  EXPECT_NE(e.message().find("invalid contrecord length"), std::string::npos) << e.message();
}

TEST(DecoderTest, PageHeaderChecks) {
  WalBuilder wal;
  for (int i = 0; i < 5; ++i) {
    wal.append(with_main(3000));
  }
  const std::vector<uint8_t> good = wal.bytes();
  struct Case {
    size_t offset;
    uint8_t value;
    const char* expected;
  };
  const Case cases[] = {
      {0, 0x00, "invalid magic number"},            // first page
      {8192, 0x00, "invalid magic number"},         // second page
      {8192 + 2, 0x40, "invalid info bits"},        // unknown flag
      {8192 + 2, 0x03, "long page header inside"},  // long header mid-segment
      {8192 + 9, 0x77, "unexpected page address"},  // wrong xlp_pageaddr
      {2, 0x00, "does not start at a segment"},     // no long header on the first page
      {36, 0x07, "invalid WAL page size"},          // page size
      {32 + 2, 0x03, "invalid WAL segment size"},   // segment size
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> bytes = good;
    bytes[c.offset] = c.value;
    Error e = decode_error(bytes);
    EXPECT_NE(e.message().find(c.expected), std::string::npos)
        << "offset " << c.offset << ": " << e.message();
  }
}

TEST(DecoderTest, InvalidRecordLengthAndRmgrAreRefused) {
  WalBuilder wal;
  const wal::Lsn first = wal.append(with_main(10));
  std::vector<uint8_t> bytes = wal.bytes();
  const size_t at = first.value() - (1u << 20);
  std::vector<uint8_t> short_length = bytes;
  short_length[at] = 12;
  short_length[at + 1] = 0;
  EXPECT_NE(decode_error(short_length).message().find("invalid record length"), std::string::npos);
  std::vector<uint8_t> bad_rmid = bytes;
  bad_rmid[at + 17] = 60;
  EXPECT_NE(decode_error(bad_rmid).message().find("invalid resource manager id 60"),
            std::string::npos);
}

TEST(DecoderTest, StaysFailedAfterAnError) {
  WalBuilder wal;
  wal.append(with_main(10));
  std::vector<uint8_t> bytes = wal.bytes();
  bytes[0] = 0;
  Decoder decoder;
  auto sink = [](const Record&) -> Result<void> { return {}; };
  EXPECT_FALSE(decoder.feed(bytes, sink));
  EXPECT_FALSE(decoder.feed(bytes, sink));
  EXPECT_FALSE(decoder.finish());
}

TEST(DecoderTest, SinkErrorStopsDecoding) {
  WalBuilder wal;
  wal.append(with_main(10));
  wal.append(with_main(10));
  Decoder decoder;
  int calls = 0;
  auto sink = [&](const Record&) -> Result<void> {
    ++calls;
    return make_error(ErrorCode::kCancelled, "enough");
  };
  auto fed = decoder.feed(wal.bytes(), sink);
  ASSERT_FALSE(fed);
  EXPECT_EQ(fed.error().code(), ErrorCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

TEST(DecoderTest, EveryMajorsMagicIsAccepted) {
  for (int major = 13; major <= 18; ++major) {
    WalBuilder wal(major);
    wal.append(with_main(10));
    Decoder decoder;
    auto seen = decode(wal.bytes(), 4096, &decoder);
    ASSERT_TRUE(seen) << major << ": " << seen.error().message();
    EXPECT_EQ(decoder.major(), major);
  }
}

}  // namespace
}  // namespace pgm::xlog
