#include "pgm/xlog/stored_segment.h"

#include <cstring>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pgm/compress/codec.h"
#include "pgm/io/file_system.h"
#include "pgm/xlog/wal_builder.h"

namespace pgm::xlog {
namespace {

// A whole segment (1 MB) of records, as PostgreSQL leaves it after a switch.
std::vector<uint8_t> segment(size_t& records) {
  testing::WalBuilder wal;
  records = 0;
  for (int i = 0; i < 50; ++i) {
    testing::RecordSpec spec;
    spec.main_data.assign(size_t{100} + size_t{97} * static_cast<size_t>(i),
                          static_cast<uint8_t>(i));
    wal.append(spec);
    ++records;
  }
  wal.append_switch();
  ++records;
  return wal.bytes_to_segment_end();
}

crypto::MasterKey key() { return crypto::MasterKey{std::vector<uint8_t>(64, 0x5a)}; }

struct Layers {
  const char* suffix;
  compress::Algorithm algorithm;
  bool encrypted;
};

class StoredSegmentTest : public ::testing::TestWithParam<Layers> {};

TEST_P(StoredSegmentTest, DecodesEveryLayering) {
  const Layers layers = GetParam();
  size_t expected = 0;
  std::vector<uint8_t> bytes = segment(expected);
  if (layers.algorithm != compress::Algorithm::kNone) {
    auto compressed = compress::compress(layers.algorithm, bytes);
    ASSERT_TRUE(compressed) << compressed.error().message();
    bytes = std::move(*compressed);
  }
  const crypto::MasterKey master = key();
  if (layers.encrypted) {
    auto sealed = crypto::aes_encrypt(master, crypto::AesMode::kAes256Gcm, bytes);
    ASSERT_TRUE(sealed) << sealed.error().message();
    bytes = std::move(*sealed);
  }
  test_support::TempDir dir("pgm-xlog");
  const std::string path = dir.file(std::string("000000010000000000000001") + layers.suffix);
  test_support::write_bytes(path, bytes);

  Decoder decoder;
  size_t records = 0;
  auto sink = [&](const Record&) -> Result<void> {
    ++records;
    return {};
  };
  auto decoded = decode_stored_file(io::posix_file_system(), path, crypto::AesMode::kAes256Gcm,
                                    &master, decoder, sink);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_TRUE(decoder.finish());
  EXPECT_EQ(records, expected);
}

INSTANTIATE_TEST_SUITE_P(Layers, StoredSegmentTest,
                         ::testing::Values(Layers{"", compress::Algorithm::kNone, false},
                                           Layers{".partial", compress::Algorithm::kNone, false},
                                           Layers{".gz", compress::Algorithm::kGzip, false},
                                           Layers{".zstd", compress::Algorithm::kZstd, false},
                                           Layers{".lz4", compress::Algorithm::kLz4, false},
                                           Layers{".bz2", compress::Algorithm::kBzip2, false},
                                           Layers{".aes", compress::Algorithm::kNone, true},
                                           Layers{".zstd.aes", compress::Algorithm::kZstd, true}),
                         [](const ::testing::TestParamInfo<Layers>& param) {
                           std::string name =
                               std::string(compress::info(param.param.algorithm).name) +
                               (param.param.encrypted ? "Aes" : "");
                           return param.index == 1 ? std::string("partial") : name;
                         });

TEST(StoredSegmentFeederTest, WrongKeyFailsAtFinish) {
  size_t expected = 0;
  std::vector<uint8_t> bytes = segment(expected);
  auto sealed = crypto::aes_encrypt(key(), crypto::AesMode::kAes256Gcm, bytes);
  ASSERT_TRUE(sealed);
  const crypto::MasterKey other{std::vector<uint8_t>(64, 0x11)};
  auto feeder = StoredSegmentFeeder::create("000000010000000000000001.aes",
                                            crypto::AesMode::kAes256Gcm, &other);
  ASSERT_TRUE(feeder);
  Decoder decoder;
  auto sink = [](const Record&) -> Result<void> { return {}; };
  auto fed = feeder->update(*sealed, decoder, sink);
  Result<void> outcome = fed ? feeder->finish(decoder, sink) : fed;
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message().find("000000010000000000000001.aes"), std::string::npos)
      << outcome.error().message();
}

TEST(StoredSegmentFeederTest, RefusesNamesAndMissingKey) {
  EXPECT_FALSE(StoredSegmentFeeder::create("00000002.history", crypto::AesMode::kNone, nullptr));
  EXPECT_FALSE(StoredSegmentFeeder::create("000000010000000000000001.aes",
                                           crypto::AesMode::kAes256Gcm, nullptr));
}

TEST(StoredSegmentFeederTest, CorruptCompressedSegmentNamesTheFile) {
  size_t expected = 0;
  std::vector<uint8_t> bytes = segment(expected);
  bytes[5000] ^= 0x40;  // inside a record: a CRC failure
  auto compressed = compress::compress(compress::Algorithm::kZstd, bytes);
  ASSERT_TRUE(compressed);
  test_support::TempDir dir("pgm-xlog");
  const std::string path = dir.file("000000010000000000000001.zstd");
  test_support::write_bytes(path, *compressed);
  Decoder decoder;
  auto sink = [](const Record&) -> Result<void> { return {}; };
  auto decoded = decode_stored_file(io::posix_file_system(), path, crypto::AesMode::kNone, nullptr,
                                    decoder, sink);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message().find("000000010000000000000001.zstd (as decoded): offset 0x"),
            std::string::npos)
      << decoded.error().message();
}

// A ustar member: header block, data, padding to 512.
void add_member(std::vector<uint8_t>& tar, const std::string& name, std::span<const uint8_t> data) {
  std::vector<uint8_t> header(512, 0);
  std::memcpy(header.data(), name.data(), name.size());
  auto octal = [&](size_t at, size_t width, uint64_t value) {
    const std::string text = fmt::format("{:0{}o}", value, width - 1);
    std::memcpy(header.data() + at, text.data(), text.size());
  };
  octal(100, 8, 0644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, data.size());
  octal(136, 12, 0);
  header[156] = '0';
  std::memcpy(header.data() + 257, "ustar", 6);
  header[263] = '0';
  header[264] = '0';
  std::memset(header.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (uint8_t byte : header) {
    sum += byte;
  }
  const std::string check = fmt::format("{:06o}", sum);
  std::memcpy(header.data() + 148, check.data(), 6);
  header[154] = 0;
  tar.insert(tar.end(), header.begin(), header.end());
  tar.insert(tar.end(), data.begin(), data.end());
  tar.resize((tar.size() + 511) / 512 * 512, 0);
}

TEST(StoredSegmentFeederTest, DecodesTheSegmentsOfATarArchive) {
  // Two consecutive segments, a record crossing from the first into the second.
  testing::WalBuilder wal;
  size_t expected = 0;
  while (wal.position().value() < (2u << 20) + 20000) {
    testing::RecordSpec spec;
    spec.main_data.assign(7000, 0x21);
    wal.append(spec);
    ++expected;
  }
  std::vector<uint8_t> both = wal.bytes_to_segment_end();
  const std::span<const uint8_t> first = std::span<const uint8_t>(both).first(1u << 20);
  auto second = compress::compress(compress::Algorithm::kGzip,
                                   std::span<const uint8_t>(both).subspan(1u << 20));
  ASSERT_TRUE(second);
  std::vector<uint8_t> tar;
  const std::string note = "not WAL";
  add_member(tar, "backup_label",
             std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(note.data()), note.size()));
  add_member(tar, "pg_wal/000000010000000000000001", first);
  add_member(tar, "pg_wal/000000010000000000000002.gz", *second);
  tar.resize(tar.size() + 1024, 0);
  test_support::TempDir dir("pgm-xlog");
  const std::string path = dir.file("wal.tar");
  test_support::write_bytes(path, tar);

  Decoder decoder;
  size_t records = 0;
  auto sink = [&](const Record&) -> Result<void> {
    ++records;
    return {};
  };
  auto decoded = decode_wal_in_tar(io::posix_file_system(), path, crypto::AesMode::kNone, nullptr,
                                   decoder, sink);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_TRUE(decoder.finish());
  EXPECT_EQ(records, expected);

  // A damaged record in the compressed member: the error names the archive and the member.
  std::vector<uint8_t> damaged = both;
  damaged[(1u << 20) + 10000] ^= 0x10;
  auto bad = compress::compress(compress::Algorithm::kGzip,
                                std::span<const uint8_t>(damaged).subspan(1u << 20));
  ASSERT_TRUE(bad);
  std::vector<uint8_t> tar2;
  add_member(tar2, "pg_wal/000000010000000000000001", first);
  add_member(tar2, "pg_wal/000000010000000000000002.gz", *bad);
  tar2.resize(tar2.size() + 1024, 0);
  test_support::write_bytes(path, tar2);
  Decoder again;
  decoded = decode_wal_in_tar(io::posix_file_system(), path, crypto::AesMode::kNone, nullptr, again,
                              sink);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message().find(path + ": pg_wal/000000010000000000000002.gz (as "
                                                  "decoded): offset 0x"),
            std::string::npos)
      << decoded.error().message();
}

// An archive made with `tar -z`/`--zstd`/... (or encrypted as the daemon encrypts a file) is
// read through its layers on the fly; its members keep their own (.zstd inside a .tar.gz).
TEST(StoredSegmentFeederTest, DecodesACompressedOrEncryptedTarArchive) {
  size_t expected = 0;
  const std::vector<uint8_t> plain_segment = segment(expected);
  auto member = compress::compress(compress::Algorithm::kZstd, plain_segment);
  ASSERT_TRUE(member);
  std::vector<uint8_t> tar;
  add_member(tar, "pg_wal/000000010000000000000001.zstd", *member);
  tar.resize(tar.size() + 1024, 0);

  const crypto::MasterKey master = key();
  test_support::TempDir dir("pgm-xlog");
  struct Case {
    const char* name;
    compress::Algorithm algorithm;
    bool encrypted;
  };
  for (const Case& c : {Case{"wal.tar.gz", compress::Algorithm::kGzip, false},
                        Case{"wal.tgz", compress::Algorithm::kGzip, false},
                        Case{"wal.tar.zst", compress::Algorithm::kZstd, false},
                        Case{"wal.tar.lz4", compress::Algorithm::kLz4, false},
                        Case{"wal.tar.bz2", compress::Algorithm::kBzip2, false},
                        Case{"wal.tar.aes", compress::Algorithm::kNone, true},
                        Case{"wal.tar.zstd.aes", compress::Algorithm::kZstd, true}}) {
    SCOPED_TRACE(c.name);
    auto layers = wal_tar_layers(std::string("/some/dir/") + c.name);
    ASSERT_TRUE(layers.has_value());
    EXPECT_EQ(layers->compression, c.algorithm);
    EXPECT_EQ(layers->encrypted, c.encrypted);
    std::vector<uint8_t> bytes = tar;
    if (c.algorithm != compress::Algorithm::kNone) {
      auto compressed = compress::compress(c.algorithm, bytes);
      ASSERT_TRUE(compressed) << compressed.error().message();
      bytes = std::move(*compressed);
    }
    if (c.encrypted) {
      auto sealed = crypto::aes_encrypt(master, crypto::AesMode::kAes256Gcm, bytes);
      ASSERT_TRUE(sealed) << sealed.error().message();
      bytes = std::move(*sealed);
    }
    const std::string path = dir.file(c.name);
    test_support::write_bytes(path, bytes);
    Decoder decoder;
    size_t records = 0;
    auto sink = [&](const Record&) -> Result<void> {
      ++records;
      return {};
    };
    auto decoded = decode_wal_in_tar(io::posix_file_system(), path, crypto::AesMode::kAes256Gcm,
                                     &master, decoder, sink);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(records, expected);

    if (c.encrypted) {  // no key: refused, naming the archive
      Decoder keyless;
      auto refused = decode_wal_in_tar(io::posix_file_system(), path, crypto::AesMode::kAes256Gcm,
                                       nullptr, keyless, sink);
      ASSERT_FALSE(refused);
      EXPECT_NE(refused.error().message().find(path), std::string::npos);
    } else {  // a cut archive: an error naming it, never a crash
      test_support::write_bytes(path, std::span<const uint8_t>(bytes).first(bytes.size() / 2));
      Decoder cut;
      auto failed = decode_wal_in_tar(io::posix_file_system(), path, crypto::AesMode::kNone,
                                      nullptr, cut, sink);
      ASSERT_FALSE(failed);
      EXPECT_NE(failed.error().message().find(path), std::string::npos) << failed.error().message();
    }
  }
  EXPECT_FALSE(wal_tar_layers("wal.zst").has_value());
  EXPECT_FALSE(wal_tar_layers("000000010000000000000001.gz.aes").has_value());
  EXPECT_FALSE(wal_tar_layers(".tar").has_value());
}

}  // namespace
}  // namespace pgm::xlog
