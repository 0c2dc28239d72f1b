#include "pgm/walfilter/walfilter.h"

#include <cstring>
#include <filesystem>
#include <map>

#include "support/temp_dir.h"
#include <gtest/gtest.h>

#include "pgm/compress/stream.h"
#include "pgm/crypto/aes_stream.h"
#include "pgm/wal/segment.h"
#include "pgm/xlog/decoder.h"
#include "pgm/xlog/format.h"
#include "pgm/xlog/wal_builder.h"

namespace pgm::walfilter {
namespace {

using xlog::testing::BlockSpec;
using xlog::testing::RecordSpec;
using xlog::testing::WalBuilder;

constexpr uint64_t kSegmentSize = 1u << 20;

std::string segment_file(uint64_t segno) {
  return wal::segment_name_for(wal::TimelineId(1), segno, kSegmentSize);
}

RecordSpec heap(uint32_t xid, uint8_t info, std::vector<uint8_t> main_data, uint32_t rel) {
  RecordSpec spec;
  spec.rmid = xlog::kRmHeap;
  spec.info = info;
  spec.xid = xid;
  spec.main_data = std::move(main_data);
  BlockSpec block;
  block.rel.rel = rel;
  block.data = {1, 2, 3, 4};
  spec.blocks.push_back(block);
  return spec;
}

// A COMMIT (xinfo: database and tablespace, subxacts) of `xid`. (The abort has no database
// part: its subxact list lands 8 bytes earlier, so every byte after the time changes.)
RecordSpec commit(uint32_t xid, const std::vector<uint32_t>& subxacts) {
  RecordSpec spec;
  spec.rmid = xlog::kRmTransaction;
  spec.info = 0x80;
  spec.xid = xid;
  spec.main_data.resize(24 + 4 * subxacts.size());
  const int64_t time = 1;
  const uint32_t xinfo = 0x03;
  const uint32_t db[2] = {5, 1663};
  const auto count = static_cast<int32_t>(subxacts.size());
  std::memcpy(spec.main_data.data(), &time, 8);
  std::memcpy(spec.main_data.data() + 8, &xinfo, 4);
  std::memcpy(spec.main_data.data() + 12, db, 8);
  std::memcpy(spec.main_data.data() + 20, &count, 4);
  std::memcpy(spec.main_data.data() + 24, subxacts.data(), 4 * subxacts.size());
  return spec;
}

// xid -> "commit" or "abort", over the files of `dir` decoded as one stream.
std::map<uint32_t, std::string> transaction_ends(const std::string& dir, size_t files) {
  std::map<uint32_t, std::string> ends;
  xlog::Decoder decoder;
  for (uint64_t segno = 1; segno <= files; ++segno) {
    const auto bytes = test_support::read_bytes(dir + "/" + segment_file(segno));
    EXPECT_EQ(bytes.size(), kSegmentSize);
    auto fed = decoder.feed(bytes, [&](const xlog::Record& r) -> Result<void> {
      if (r.rmid == xlog::kRmTransaction) {
        ends[r.xid] = (r.info & 0x70) == 0x20 ? "abort" : "commit";
      }
      return {};
    });
    EXPECT_TRUE(fed) << fed.error().message();
  }
  return ends;
}

Result<crypto::MasterKey> no_key() {
  return make_error(ErrorCode::kNotFound, "no master key in this test");
}

TEST(FilterDirectoryTest, AbortsChosenCommitsAcrossSegmentsAndLeavesTheSourceAlone) {
  // Segment 1 plain; segment 2 zstd (the target gets both plain).
  test_support::TempDir source("walfilter-src");
  test_support::TempDir target("walfilter-dst");
  WalBuilder wal(15, static_cast<uint32_t>(kSegmentSize));
  wal.append(heap(700, 0x00, {1, 0, 0}, 16384));                 // INSERT by 700
  wal.append(heap(801, 0x10, {0, 0, 0, 0, 1, 0, 0, 0}, 16390));  // DELETE by 801, sub of 800
  wal.append(heap(901, 0x10, {0, 0, 0, 0, 1, 0, 0, 0}, 2608));   // a catalog delete: DDL
  wal.append(commit(800, {801}));
  wal.append(commit(900, {901}));
  while (kSegmentSize * 2 - wal.position().value() > 200) {  // the next commit crosses into 2
    wal.append(heap(0, 0x00, std::vector<uint8_t>(100, 0), 16384));
  }
  std::vector<uint32_t> many(100, 0);
  for (uint32_t i = 0; i < many.size(); ++i) {
    many[i] = 5000 + i;
  }
  wal.append(commit(700, many));
  wal.append(commit(1000, {}));
  std::vector<uint8_t> bytes = wal.bytes_to_segment_end();
  ASSERT_EQ(bytes.size(), 2 * kSegmentSize);
  const std::span<const uint8_t> all(bytes);
  test_support::write_bytes(source.file(segment_file(1)), all.first(kSegmentSize));
  // Segment 2 stored zstd-compressed, with a stale .partial of it beside (skipped).
  auto zstd = compress::StreamCompressor::create(compress::Algorithm::kZstd, 3);
  ASSERT_TRUE(zstd);
  std::vector<uint8_t> compressed;
  ASSERT_TRUE(zstd->finish(all.subspan(kSegmentSize), [&](std::span<const uint8_t> out) {
    compressed.insert(compressed.end(), out.begin(), out.end());
    return Result<void>();
  }));
  test_support::write_bytes(source.file(segment_file(2) + ".zstd"), compressed);
  test_support::write_bytes(source.file(segment_file(2) + ".partial"),
                            std::vector<uint8_t>(kSegmentSize, 0));
  test_support::write_text(source.file("00000002.history"), "1\t0/0\tno reason\n");

  FilterConfig config;
  config.source_dir = source.path();
  config.target_dir = target.file("out");
  config.xids = {700, 4242};
  config.delete_operations = true;
  auto report = filter_directory(config, crypto::AesMode::kAes256Gcm, no_key);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->segments, 2u);
  EXPECT_EQ(report->not_found, (std::set<uint32_t>{4242}));
  EXPECT_EQ(report->aborted.count(700), 1u);
  EXPECT_EQ(report->aborted.count(800), 1u);
  EXPECT_EQ(report->aborted.count(900), 0u);

  EXPECT_EQ(transaction_ends(config.target_dir, 2),
            (std::map<uint32_t, std::string>{
                {700, "abort"}, {800, "abort"}, {900, "commit"}, {1000, "commit"}}));
  EXPECT_EQ(test_support::read_bytes(source.file(segment_file(1))),
            std::vector<uint8_t>(all.begin(), all.begin() + kSegmentSize));
  EXPECT_FALSE(std::filesystem::exists(config.target_dir + "/" + segment_file(2) + ".partial"));
  EXPECT_EQ(test_support::read_bytes(source.file(segment_file(2) + ".zstd")), compressed);
  EXPECT_NE(test_support::read_bytes(config.target_dir + "/" + segment_file(2)),
            std::vector<uint8_t>(all.begin() + kSegmentSize, all.end()));  // the commit of 700
}

TEST(FilterDirectoryTest, ReadsAnEncryptedSegmentWithTheKeyLoadedOnce) {
  test_support::TempDir source("walfilter-src");
  test_support::TempDir target("walfilter-dst");
  WalBuilder wal(15, static_cast<uint32_t>(kSegmentSize));
  wal.append(heap(700, 0x00, {1, 0, 0}, 16384));
  wal.append(commit(700, {}));
  wal.append(commit(701, {}));
  const std::vector<uint8_t> plain = wal.bytes_to_segment_end();
  const crypto::MasterKey key{std::vector<uint8_t>(64, 0x5a)};
  auto encryptor = crypto::AesGcmEncryptor::create(key, crypto::AesMode::kAes192Gcm);
  ASSERT_TRUE(encryptor);
  std::vector<uint8_t> sealed;
  ASSERT_TRUE(encryptor->update(plain, sealed));
  ASSERT_TRUE(encryptor->finish(sealed));
  test_support::write_bytes(source.file(segment_file(1) + ".aes"), sealed);

  FilterConfig config;
  config.source_dir = source.path();
  config.target_dir = target.path();
  config.xids = {700};
  int loads = 0;
  auto load = [&]() -> Result<crypto::MasterKey> {
    ++loads;
    return key;
  };
  auto report = filter_directory(config, crypto::AesMode::kAes192Gcm, load);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(transaction_ends(target.path(), 1),
            (std::map<uint32_t, std::string>{{700, "abort"}, {701, "commit"}}));

  // The wrong mode: AES-GCM's tag fails, and the error names the file.
  test_support::TempDir other("walfilter-dst");
  config.target_dir = other.path();
  auto wrong = filter_directory(config, crypto::AesMode::kAes256Gcm, load);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find(segment_file(1) + ".aes"), std::string::npos)
      << wrong.error().message();
}

TEST(FilterDirectoryTest, RefusesToWriteIntoTheSource) {
  test_support::TempDir source("walfilter-src");
  FilterConfig config;
  config.source_dir = source.path();
  config.target_dir = source.path() + "/.";
  auto report = filter_directory(config, crypto::AesMode::kAes256Gcm, no_key);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(report.error().message().find("is source_dir"), std::string::npos);
}

TEST(FilterDirectoryTest, EmptySourceIsAnError) {
  test_support::TempDir source("walfilter-src");
  test_support::TempDir target("walfilter-dst");
  FilterConfig config;
  config.source_dir = source.path();
  config.target_dir = target.path();
  auto report = filter_directory(config, crypto::AesMode::kAes256Gcm, no_key);
  ASSERT_FALSE(report);
  EXPECT_NE(report.error().message().find("no WAL segment files"), std::string::npos);
}

}  // namespace
}  // namespace pgm::walfilter
