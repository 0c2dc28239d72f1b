#include "pgm/xlog/stored_segment.h"

#include <string>
#include <vector>

#include "support/temp_dir.h"
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
    spec.main_data.assign(static_cast<size_t>(100 + 97 * i), static_cast<uint8_t>(i));
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

}  // namespace
}  // namespace pgm::xlog
