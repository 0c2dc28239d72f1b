#include "pgm/xlog/record.h"

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "pgm/xlog/format.h"
#include "pgm/xlog/wal_builder.h"

namespace pgm::xlog {
namespace {

using testing::BlockSpec;
using testing::encode_record;
using testing::RecordSpec;

TEST(RecordTest, ParsesBlocksImagesDataAndMainData) {
  RecordSpec spec;
  spec.xid = 812;
  spec.info = 0x80;
  BlockSpec first;
  first.id = 0;
  first.rel = {1663, 5, 16390};
  first.block = 42;
  first.fork = 0;
  first.image_info = kImageHasHole | kImageApply15;
  first.hole_offset = 100;
  first.image.assign(kBlockSize - 4000, 0x11);
  first.data = {1, 2, 3};
  BlockSpec second;
  second.id = 1;
  second.same_rel = true;
  second.fork = 2;
  second.block = 7;
  second.data = {9};
  spec.blocks = {first, second};
  spec.origin = 3;
  spec.toplevel_xid = 811;
  spec.main_data.assign(300, 0x42);  // the long form of the main data header
  const std::vector<uint8_t> bytes = encode_record(spec, wal::Lsn(0x1000028));

  EXPECT_TRUE(record_crc_ok(bytes));
  auto record = parse_record(bytes, 15);
  ASSERT_TRUE(record) << record.error().message();
  EXPECT_EQ(record->xid, 812u);
  EXPECT_EQ(record->prev, wal::Lsn(0x1000028));
  EXPECT_EQ(record->record_type(), 0x80);
  ASSERT_EQ(record->blocks.size(), 2u);
  const BlockRef& b0 = record->blocks[0];
  EXPECT_EQ(b0.rel, (RelLocator{1663, 5, 16390}));
  EXPECT_EQ(b0.block, 42u);
  EXPECT_TRUE(b0.has_image);
  EXPECT_TRUE(b0.apply_image);
  EXPECT_EQ(b0.image_length, kBlockSize - 4000);
  EXPECT_EQ(b0.hole_offset, 100);
  EXPECT_EQ(b0.hole_length, 4000);
  EXPECT_EQ(b0.compression, ImageCompression::kNone);
  EXPECT_EQ(b0.data.size(), 3u);
  EXPECT_EQ(b0.data[2], 3);
  EXPECT_EQ(b0.image[0], 0x11);
  const BlockRef& b1 = record->blocks[1];
  EXPECT_EQ(b1.rel, b0.rel);
  EXPECT_EQ(b1.fork, 2);
  EXPECT_EQ(b1.block, 7u);
  EXPECT_FALSE(b1.has_image);
  EXPECT_EQ(b1.data_length, 1);
  EXPECT_EQ(record->origin, 3);
  EXPECT_EQ(record->toplevel_xid, 811u);
  EXPECT_EQ(record->main_data.size(), 300u);
  EXPECT_EQ(record->main_data[299], 0x42);
  EXPECT_EQ(record->image_bytes(), kBlockSize - 4000);
}

TEST(RecordTest, CompressionFlagsDependOnTheMajor) {
  struct Case {
    int major;
    uint8_t bimg_info;
    ImageCompression compression;
    bool apply;
  };
  const Case cases[] = {
      {15, kImageCompressPglz, ImageCompression::kPglz, false},
      {15, kImageCompressLz4 | kImageApply15, ImageCompression::kLz4, true},
      {16, kImageCompressZstd, ImageCompression::kZstd, false},
      {14, kImageIsCompressed14 | kImageApply14, ImageCompression::kPglz, true},
      {13, kImageApply14 | kImageIsCompressed14, ImageCompression::kPglz, true},
  };
  for (const Case& c : cases) {
    RecordSpec spec;
    BlockSpec block;
    block.image_info = c.bimg_info;
    block.image.assign(1000, 0x33);  // compressed, no hole
    spec.blocks = {block};
    auto record = parse_record(encode_record(spec, wal::Lsn()), c.major);
    ASSERT_TRUE(record) << c.major << ": " << record.error().message();
    EXPECT_EQ(record->blocks[0].compression, c.compression) << c.major;
    EXPECT_EQ(record->blocks[0].apply_image, c.apply) << c.major;
  }
  // 15's zstd bit means nothing to 14.
  RecordSpec spec;
  BlockSpec block;
  block.image_info = kImageCompressZstd;
  block.image.assign(1000, 0x33);
  spec.blocks = {block};
  EXPECT_FALSE(parse_record(encode_record(spec, wal::Lsn()), 14));
}

TEST(RecordTest, CompressedImageWithHoleStoresTheHoleLength) {
  RecordSpec spec;
  BlockSpec block;
  block.image_info = kImageHasHole | kImageCompressLz4;
  block.hole_offset = 200;
  block.hole_length = 5000;
  block.image.assign(900, 0x01);
  spec.blocks = {block};
  auto record = parse_record(encode_record(spec, wal::Lsn()), 15);
  ASSERT_TRUE(record) << record.error().message();
  EXPECT_EQ(record->blocks[0].hole_length, 5000);
  EXPECT_EQ(record->blocks[0].image_length, 900);
}

TEST(RecordTest, RefusesInconsistentHeaders) {
  auto with_block = [](auto change) {
    RecordSpec spec;
    BlockSpec block;
    block.data = {1, 2};
    spec.blocks = {block};
    spec.main_data = {5, 6, 7};
    std::vector<uint8_t> bytes = encode_record(spec, wal::Lsn());
    change(bytes);
    return parse_record(bytes, 15);
  };
  // Offsets: header 24, block id 24, fork_flags 25, data length 26..27, rel 28..39, block 40.
  EXPECT_TRUE(with_block([](std::vector<uint8_t>&) {}));
  EXPECT_FALSE(with_block([](std::vector<uint8_t>& b) { b[24] = 40; }));     // block id > 32
  EXPECT_FALSE(with_block([](std::vector<uint8_t>& b) { b[25] &= 0x0F; }));  // data, no flag
  EXPECT_FALSE(with_block([](std::vector<uint8_t>& b) { b[26] = 9; }));      // length mismatch
  EXPECT_FALSE(with_block([](std::vector<uint8_t>& b) { b[25] |= 0x80; }));  // same rel, none
  EXPECT_FALSE(with_block([](std::vector<uint8_t>& b) { b[45] = 200; }));    // main data length
  EXPECT_FALSE(with_block([](std::vector<uint8_t>& b) {
    b.resize(30);
    std::memcpy(b.data(), "\x1e\0\0\0", 4);
  }));
  // Blocks out of order.
  RecordSpec spec;
  BlockSpec a;
  a.id = 3;
  BlockSpec b;
  b.id = 2;
  spec.blocks = {a, b};
  EXPECT_FALSE(parse_record(encode_record(spec, wal::Lsn()), 15));
}

TEST(RecordTest, ImageRulesFollowPostgres) {
  auto image = [](uint8_t info, uint16_t hole_offset, size_t length) {
    RecordSpec spec;
    BlockSpec block;
    block.image_info = info;
    block.hole_offset = hole_offset;
    block.image.assign(length, 0);
    spec.blocks = {block};
    return parse_record(encode_record(spec, wal::Lsn()), 15);
  };
  EXPECT_TRUE(image(0, 0, kBlockSize));
  EXPECT_FALSE(image(0, 0, 100));                          // short image, no hole, not compressed
  EXPECT_FALSE(image(0, 20, kBlockSize));                  // hole offset without hole flag
  EXPECT_FALSE(image(kImageHasHole, 0, 4000));             // hole at offset 0
  EXPECT_FALSE(image(kImageHasHole, 100, kBlockSize));     // a hole of no bytes
  EXPECT_FALSE(image(kImageCompressPglz, 0, kBlockSize));  // compressed to a whole block
  EXPECT_FALSE(image(kImageCompressPglz | kImageCompressLz4, 0, 100));
}

TEST(RecordTest, CrcCoversBodyAndHeader) {
  RecordSpec spec;
  spec.main_data = {1, 2, 3, 4};
  std::vector<uint8_t> bytes = encode_record(spec, wal::Lsn(0x2000000));
  EXPECT_TRUE(record_crc_ok(bytes));
  std::vector<uint8_t> body = bytes;
  body.back() ^= 0x80;
  EXPECT_FALSE(record_crc_ok(body));
  std::vector<uint8_t> header = bytes;
  header[4] ^= 0x01;  // xid
  EXPECT_FALSE(record_crc_ok(header));
  std::vector<uint8_t> padding = bytes;
  padding[18] ^= 0x01;  // the two bytes of padding are outside the CRC
  EXPECT_FALSE(record_crc_ok(padding));
}

}  // namespace
}  // namespace pgm::xlog
