#include "pgm/management/frame.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <lz4.h>
#include <lz4frame.h>

#include "pgm/crypto/base64.h"

namespace pgm::management {
namespace {

using nlohmann::json;

std::vector<uint8_t> bytes(std::initializer_list<int> list) {
  std::vector<uint8_t> v;
  for (int b : list) {
    v.push_back(static_cast<uint8_t>(b));
  }
  return v;
}

std::vector<uint8_t> plain_frame(const std::string& payload) {
  std::vector<uint8_t> f = bytes({0, 0, 0, 0, 0, 0});
  auto n = static_cast<uint32_t>(payload.size());
  f[2] = static_cast<uint8_t>(n >> 24);
  f[3] = static_cast<uint8_t>(n >> 16);
  f[4] = static_cast<uint8_t>(n >> 8);
  f[5] = static_cast<uint8_t>(n);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

TEST(FrameReaderTest, CompleteFrameInOneFeed) {
  FrameReader r;
  auto f = plain_frame(R"({"a":1})");
  EXPECT_EQ(r.feed(f), FrameReader::State::kComplete);
  EXPECT_EQ(r.header().length, 7u);
  EXPECT_EQ(std::string(r.payload().begin(), r.payload().end()), R"({"a":1})");
}

TEST(FrameReaderTest, ByteAtATime) {
  FrameReader r;
  auto f = plain_frame(R"({"Header":{"Command":9}})");
  for (size_t i = 0; i < f.size(); ++i) {
    auto s = r.feed(std::span<const uint8_t>(&f[i], 1));
    EXPECT_EQ(s, i + 1 == f.size() ? FrameReader::State::kComplete : FrameReader::State::kNeedMore)
        << "at byte " << i;
  }
  EXPECT_EQ(r.payload().size(), f.size() - kFrameHeaderSize);
}

TEST(FrameReaderTest, LengthExactlyAtLimitIsAccepted) {
  FrameReader r(4);
  EXPECT_EQ(r.feed(plain_frame("abcd")), FrameReader::State::kComplete);
}

TEST(FrameReaderTest, OversizedLengthRejectedBeforePayload) {
  FrameReader r(4);
  // Only the header: the reader must refuse without waiting for 5 payload bytes.
  EXPECT_EQ(r.feed(bytes({0, 0, 0, 0, 0, 5})), FrameReader::State::kError);
  EXPECT_NE(r.error().find("exceeds the limit"), std::string::npos) << r.error();
  EXPECT_EQ(r.feed(bytes({1, 2, 3})), FrameReader::State::kError);
}

TEST(FrameReaderTest, HugeLengthRejectedWithDefaultLimit) {
  FrameReader r;
  EXPECT_EQ(r.feed(bytes({0, 0, 0xff, 0xff, 0xff, 0xff})), FrameReader::State::kError);
}

TEST(FrameReaderTest, UnknownCompressionByte) {
  FrameReader r;
  EXPECT_EQ(r.feed(bytes({5, 0, 0, 0, 0, 1})), FrameReader::State::kError);
  EXPECT_EQ(r.error(), "unknown compression byte 5");
}

TEST(FrameReaderTest, UnknownEncryptionByte) {
  FrameReader r;
  EXPECT_EQ(r.feed(bytes({0, 4, 0, 0, 0, 1})), FrameReader::State::kError);
  EXPECT_EQ(r.error(), "unknown encryption byte 4");
}

TEST(FrameReaderTest, ZeroLengthCompletesWithEmptyPayload) {
  FrameReader r;
  EXPECT_EQ(r.feed(bytes({0, 0, 0, 0, 0, 0})), FrameReader::State::kComplete);
  EXPECT_TRUE(r.payload().empty());
}

TEST(FrameReaderTest, PartialHeaderNeedsMore) {
  FrameReader r;
  EXPECT_EQ(r.feed(bytes({0, 0, 0})), FrameReader::State::kNeedMore);
  EXPECT_EQ(r.feed({}), FrameReader::State::kNeedMore);
}

TEST(FrameReaderTest, TrailingBytesInSameFeedAreAnError) {
  FrameReader r;
  auto f = plain_frame("{}");
  f.push_back('x');
  EXPECT_EQ(r.feed(f), FrameReader::State::kError);
  EXPECT_NE(r.error().find("after the frame"), std::string::npos);
}

TEST(FrameReaderTest, BytesAfterCompletionAreAnError) {
  FrameReader r;
  ASSERT_EQ(r.feed(plain_frame("{}")), FrameReader::State::kComplete);
  EXPECT_EQ(r.feed({}), FrameReader::State::kComplete);
  EXPECT_EQ(r.feed(bytes({0})), FrameReader::State::kError);
}

class FrameCodecTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<uint8_t> salt(16, 0x5a);
    auto k = crypto::derive_master_key("management-test-password", salt);
    ASSERT_TRUE(k.has_value()) << k.error().message();
    key_ = std::make_unique<crypto::MasterKey>(std::move(*k));
    std::vector<uint8_t> other_salt(16, 0x11);
    auto o = crypto::derive_master_key("another-password", other_salt);
    ASSERT_TRUE(o.has_value());
    other_ = std::make_unique<crypto::MasterKey>(std::move(*o));
  }
  static void TearDownTestSuite() {
    key_.reset();
    other_.reset();
  }
  static json sample() {
    json doc;
    doc["Header"] = {{"Command", 1}, {"ClientVersion", "0.22.0"}, {"Output", 0}};
    doc["Request"] = {{"Server", "primary"}, {"Backup", nullptr}};
    doc["Response"]["Text"] = std::string(3000, 'x') + "\xc3\xa9";  // compressible + UTF-8
    return doc;
  }
  static std::unique_ptr<crypto::MasterKey> key_;
  static std::unique_ptr<crypto::MasterKey> other_;
};

std::unique_ptr<crypto::MasterKey> FrameCodecTest::key_;
std::unique_ptr<crypto::MasterKey> FrameCodecTest::other_;

TEST_F(FrameCodecTest, RoundTripEveryCompressionAndEncryption) {
  const compress::Algorithm algorithms[] = {compress::Algorithm::kNone, compress::Algorithm::kGzip,
                                            compress::Algorithm::kZstd, compress::Algorithm::kLz4,
                                            compress::Algorithm::kBzip2};
  const crypto::AesMode modes[] = {crypto::AesMode::kNone, crypto::AesMode::kAes256Gcm,
                                   crypto::AesMode::kAes192Gcm, crypto::AesMode::kAes128Gcm};
  json doc = sample();
  for (auto a : algorithms) {
    for (auto m : modes) {
      SCOPED_TRACE(testing::Message() << "compression " << int(a) << " encryption " << int(m));
      auto frame = encode_frame(doc, a, m, key_.get());
      ASSERT_TRUE(frame.has_value()) << frame.error().message();
      EXPECT_EQ((*frame)[0], static_cast<uint8_t>(a));
      EXPECT_EQ((*frame)[1], static_cast<uint8_t>(m));
      FrameReader r;
      ASSERT_EQ(r.feed(*frame), FrameReader::State::kComplete) << r.error();
      if (a == compress::Algorithm::kNone && m == crypto::AesMode::kNone) {
        EXPECT_EQ(std::string(r.payload().begin(), r.payload().end()), doc.dump());
      } else {
        // base64 text
        std::string text(r.payload().begin(), r.payload().end());
        EXPECT_TRUE(crypto::base64_decode(text).has_value());
      }
      auto back =
          decode_payload(r.header().compression, r.header().encryption, r.payload(), key_.get());
      ASSERT_TRUE(back.has_value()) << back.error().message();
      EXPECT_EQ(*back, doc);
    }
  }
}

TEST_F(FrameCodecTest, WrongKeyIsCorruption) {
  auto frame =
      encode_frame(sample(), compress::Algorithm::kZstd, crypto::AesMode::kAes256Gcm, key_.get());
  ASSERT_TRUE(frame.has_value());
  std::span<const uint8_t> payload(frame->data() + kFrameHeaderSize,
                                   frame->size() - kFrameHeaderSize);
  auto back = decode_payload(2, 1, payload, other_.get());
  ASSERT_FALSE(back.has_value());
  EXPECT_EQ(back.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(back.error().message().find("master key"), std::string::npos);
}

TEST_F(FrameCodecTest, EncryptedWithoutKeyIsConfigError) {
  auto frame =
      encode_frame(sample(), compress::Algorithm::kNone, crypto::AesMode::kAes128Gcm, nullptr);
  ASSERT_FALSE(frame.has_value());
  EXPECT_EQ(frame.error().code(), ErrorCode::kConfig);
  auto sealed =
      encode_frame(sample(), compress::Algorithm::kNone, crypto::AesMode::kAes128Gcm, key_.get());
  ASSERT_TRUE(sealed.has_value());
  std::span<const uint8_t> payload(sealed->data() + kFrameHeaderSize,
                                   sealed->size() - kFrameHeaderSize);
  auto back = decode_payload(0, 3, payload, nullptr);
  ASSERT_FALSE(back.has_value());
  EXPECT_EQ(back.error().code(), ErrorCode::kConfig);
}

TEST_F(FrameCodecTest, Lz4IsTheLengthThenARawBlockAsPgmonetaSends) {
  auto frame = encode_frame(sample(), compress::Algorithm::kLz4, crypto::AesMode::kNone, nullptr);
  ASSERT_TRUE(frame.has_value());
  std::string text(frame->begin() + kFrameHeaderSize, frame->end());
  auto raw = crypto::base64_decode(text);
  ASSERT_TRUE(raw.has_value());
  ASSERT_GT(raw->size(), 4u);
  // The JSON text's length, big-endian, then one block that decodes to exactly that text.
  const std::string json_text = sample().dump();
  const uint32_t length = (uint32_t{(*raw)[0]} << 24) | (uint32_t{(*raw)[1]} << 16) |
                          (uint32_t{(*raw)[2]} << 8) | uint32_t{(*raw)[3]};
  ASSERT_EQ(length, json_text.size());
  std::string back(length, '\0');
  int n = LZ4_decompress_safe(reinterpret_cast<const char*>(raw->data() + 4), back.data(),
                              static_cast<int>(raw->size() - 4), static_cast<int>(length));
  ASSERT_EQ(n, static_cast<int>(length));
  EXPECT_EQ(json::parse(back), sample());
}

// What senders before pgmoneta 0.22 (and we before issue 18) sent: the block alone.
TEST_F(FrameCodecTest, Lz4BareBlockIsAcceptedToo) {
  std::string text = sample().dump();
  std::vector<char> block(static_cast<size_t>(LZ4_compressBound(static_cast<int>(text.size()))));
  int n = LZ4_compress_default(text.data(), block.data(), static_cast<int>(text.size()),
                               static_cast<int>(block.size()));
  ASSERT_GT(n, 0);
  std::string b64 = crypto::base64_encode(
      std::span(reinterpret_cast<const uint8_t*>(block.data()), static_cast<size_t>(n)));
  auto back = decode_payload(
      3, 0, std::span(reinterpret_cast<const uint8_t*>(b64.data()), b64.size()), nullptr);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(*back, sample());
}

TEST_F(FrameCodecTest, Lz4FrameFormatIsAcceptedToo) {
  std::string text = sample().dump();
  std::vector<uint8_t> framed(LZ4F_compressFrameBound(text.size(), nullptr));
  size_t n = LZ4F_compressFrame(framed.data(), framed.size(), text.data(), text.size(), nullptr);
  ASSERT_FALSE(LZ4F_isError(n));
  framed.resize(n);
  std::string b64 = crypto::base64_encode(framed);
  auto back = decode_payload(
      3, 0, std::span(reinterpret_cast<const uint8_t*>(b64.data()), b64.size()), nullptr);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(*back, sample());
}

struct BadPayload {
  const char* name;
  uint8_t compression;
  uint8_t encryption;
  std::string payload;
  ErrorCode code;
  const char* message_part;
};

class DecodePayloadErrorTest : public ::testing::TestWithParam<BadPayload> {};

TEST_P(DecodePayloadErrorTest, ReportsClearError) {
  const BadPayload& p = GetParam();
  auto r = decode_payload(
      p.compression, p.encryption,
      std::span(reinterpret_cast<const uint8_t*>(p.payload.data()), p.payload.size()), nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), p.code) << r.error().message();
  EXPECT_NE(r.error().message().find(p.message_part), std::string::npos) << r.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, DecodePayloadErrorTest,
    ::testing::Values(
        BadPayload{"Empty", 0, 0, "", ErrorCode::kProtocol, "empty payload"},
        BadPayload{"NotJson", 0, 0, "{nope", ErrorCode::kProtocol, "not valid JSON"},
        BadPayload{"NotObject", 0, 0, "[1,2]", ErrorCode::kProtocol, "not an object"},
        BadPayload{"BadUtf8", 0, 0, "{\"a\":\"\xff\"}", ErrorCode::kProtocol, "UTF-8"},
        BadPayload{"Overlong", 0, 0, "{\"a\":\"\xc0\xaf\"}", ErrorCode::kProtocol, "UTF-8"},
        BadPayload{"TooDeep", 0, 0, std::string(200, '[') + std::string(200, ']'),
                   ErrorCode::kProtocol, "nests deeper"},
        BadPayload{"BadBase64", 2, 0, "!!!!", ErrorCode::kProtocol, "base64"},
        BadPayload{"BadZstd", 2, 0, "aGVsbG8=", ErrorCode::kCorruption, "decompress"},
        BadPayload{"BadGzip", 1, 0, "aGVsbG8=", ErrorCode::kCorruption, "decompress"},
        BadPayload{"BadBzip2", 4, 0, "aGVsbG8=", ErrorCode::kCorruption, "decompress"},
        BadPayload{"UnknownCompression", 9, 0, "{}", ErrorCode::kProtocol, "compression byte"},
        BadPayload{"UnknownEncryption", 0, 7, "{}", ErrorCode::kProtocol, "encryption byte"}),
    [](const testing::TestParamInfo<BadPayload>& param_info) { return param_info.param.name; });

TEST_F(FrameCodecTest, RandomBytesNeverCrashOrThrow) {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> len(0, 300);
  int complete = 0;
  for (int i = 0; i < 10000; ++i) {
    std::vector<uint8_t> data(static_cast<size_t>(len(rng)));
    for (auto& b : data) {
      b = static_cast<uint8_t>(byte(rng));
    }
    // Bias toward plausible headers so the payload paths get exercised.
    if (data.size() >= kFrameHeaderSize && i % 2 == 0) {
      data[0] = static_cast<uint8_t>(byte(rng) % 5);
      data[1] = static_cast<uint8_t>(byte(rng) % 4);
      uint32_t n = static_cast<uint32_t>(data.size() - kFrameHeaderSize);
      data[2] = 0;
      data[3] = 0;
      data[4] = static_cast<uint8_t>(n >> 8);
      data[5] = static_cast<uint8_t>(n);
      if (i % 4 == 0 && n > 0) {  // valid base64 of random bytes
        std::vector<uint8_t> raw(data.begin() + kFrameHeaderSize, data.end());
        std::string b64 = crypto::base64_encode(raw);
        data.resize(kFrameHeaderSize);
        data.insert(data.end(), b64.begin(), b64.end());
        n = static_cast<uint32_t>(b64.size());
        data[4] = static_cast<uint8_t>(n >> 8);
        data[5] = static_cast<uint8_t>(n);
      }
    }
    FrameReader reader(1024);
    size_t pos = 0;
    FrameReader::State s = FrameReader::State::kNeedMore;
    while (pos < data.size() && s == FrameReader::State::kNeedMore) {
      size_t chunk = std::min<size_t>(data.size() - pos, 1 + static_cast<size_t>(byte(rng) % 17));
      EXPECT_NO_THROW(s = reader.feed(std::span(data.data() + pos, chunk)));
      pos += chunk;
    }
    if (s == FrameReader::State::kComplete) {
      ++complete;
      EXPECT_NO_THROW({
        auto r = decode_payload(reader.header().compression, reader.header().encryption,
                                reader.payload(), key_.get());
        (void)r;
      });
    }
    EXPECT_NO_THROW({
      auto r = decode_payload(static_cast<uint8_t>(byte(rng) % 6),
                              static_cast<uint8_t>(byte(rng) % 5), data, key_.get());
      (void)r;
    });
  }
  EXPECT_GT(complete, 100);
}

}  // namespace
}  // namespace pgm::management
