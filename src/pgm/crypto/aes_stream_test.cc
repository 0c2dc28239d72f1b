#include "pgm/crypto/aes_stream.h"

#include <random>
#include <string>

#include "support/bytes.h"
#include <gtest/gtest.h>

#include "pgm/crypto/aes.h"
#include "pgm/crypto/aes_test_names.h"

namespace pgm::crypto {
namespace {

// Any 64 bytes serve: the whole-buffer functions, checked against Python vectors in
// crypto_test.cc, are the reference here.
MasterKey stream_master_key() {
  MasterKey k;
  for (int i = 0; i < static_cast<int>(kMasterKeyLength); ++i) {
    k.bytes.push_back(static_cast<uint8_t>(i * 7 + 3));
  }
  return k;
}

MasterKey other_stream_master_key() {
  MasterKey k = stream_master_key();
  k.bytes[63] ^= 0x80;
  return k;
}

using test_support::random_bytes;

// Feeds `in` in pieces: 0 = whole, 1 = one byte at a time, otherwise random sizes up to `step`.
template <typename Feed>
Result<void> feed_pieces(std::span<const uint8_t> in, size_t step, uint32_t seed, Feed feed) {
  std::mt19937 rng(seed);
  size_t pos = 0;
  while (pos < in.size()) {
    size_t n = in.size() - pos;
    if (step == 1) {
      n = 1;
    } else if (step > 1) {
      n = std::min(n, static_cast<size_t>(rng() % step));  // empty pieces too
    }
    PGM_TRY(feed(in.subspan(pos, n)));
    pos += n;
  }
  return {};
}

Result<std::vector<uint8_t>> stream_encrypt(AesMode mode, std::span<const uint8_t> in, size_t step,
                                            uint32_t seed = 1) {
  PGM_ASSIGN_OR_RETURN(AesGcmEncryptor e, AesGcmEncryptor::create(stream_master_key(), mode));
  std::vector<uint8_t> out;
  PGM_TRY(
      feed_pieces(in, step, seed, [&](std::span<const uint8_t> p) { return e.update(p, out); }));
  PGM_TRY(e.finish(out));
  return out;
}

Result<std::vector<uint8_t>> stream_decrypt(const MasterKey& key, AesMode mode,
                                            std::span<const uint8_t> in, size_t step,
                                            uint32_t seed = 2) {
  PGM_ASSIGN_OR_RETURN(AesGcmDecryptor d, AesGcmDecryptor::create(key, mode));
  std::vector<uint8_t> out;
  PGM_TRY(
      feed_pieces(in, step, seed, [&](std::span<const uint8_t> p) { return d.update(p, out); }));
  PGM_TRY(d.finish(out));
  return out;
}

constexpr size_t kSizes[] = {0, 1, 15, 16, 17, 28, 44, 1000, 70001, size_t{1} << 20};
constexpr size_t kSteps[] = {0, 1, 5, 17, 4096, 300000};

class AesStreamTest : public ::testing::TestWithParam<AesMode> {};

TEST_P(AesStreamTest, StreamEncryptedDecryptsWithBufferFunction) {
  for (size_t n : kSizes) {
    auto in = random_bytes(n, static_cast<uint32_t>(n));
    for (size_t step : kSteps) {
      if (step == 1 && n > 100000) {
        continue;
      }
      auto enc = stream_encrypt(GetParam(), in, step);
      ASSERT_TRUE(enc.has_value()) << enc.error().message();
      EXPECT_EQ(enc->size(), n + kSaltLength + kIvLength + kTagLength);
      auto dec = aes_decrypt(stream_master_key(), GetParam(), *enc);
      ASSERT_TRUE(dec.has_value())
          << "size " << n << " step " << step << ": " << dec.error().message();
      EXPECT_EQ(*dec, in);
    }
  }
}

TEST_P(AesStreamTest, BufferEncryptedDecryptsWithStream) {
  for (size_t n : kSizes) {
    auto in = random_bytes(n, static_cast<uint32_t>(n) + 1);
    auto enc = aes_encrypt(stream_master_key(), GetParam(), in);
    ASSERT_TRUE(enc.has_value());
    for (size_t step : kSteps) {
      if (step == 1 && n > 100000) {
        continue;
      }
      auto dec = stream_decrypt(stream_master_key(), GetParam(), *enc, step);
      ASSERT_TRUE(dec.has_value())
          << "size " << n << " step " << step << ": " << dec.error().message();
      EXPECT_EQ(*dec, in);
    }
  }
}

TEST_P(AesStreamTest, MatchesBufferFormatByteForByte) {
  std::vector<uint8_t> salt(kSaltLength);
  std::vector<uint8_t> iv(kIvLength);
  for (size_t i = 0; i < salt.size(); ++i) {
    salt[i] = static_cast<uint8_t>(0xa0 + i);
  }
  for (size_t i = 0; i < iv.size(); ++i) {
    iv[i] = static_cast<uint8_t>(0xc0 + i);
  }
  auto in = random_bytes(100000, 3);
  auto want = internal::aes_encrypt_with(stream_master_key(), GetParam(), in, salt, iv);
  ASSERT_TRUE(want.has_value());
  auto e = internal::make_encryptor_with(stream_master_key(), GetParam(), salt, iv);
  ASSERT_TRUE(e.has_value()) << e.error().message();
  std::vector<uint8_t> got = {0xee};  // output is appended, never cleared
  ASSERT_TRUE(feed_pieces(in, 999, 4, [&](std::span<const uint8_t> p) {
                return e->update(p, got);
              }).has_value());
  ASSERT_TRUE(e->finish(got).has_value());
  ASSERT_EQ(got.front(), 0xee);
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + 1, got.end()), *want);
}

TEST_P(AesStreamTest, EmptyStreamStillHasHeaderAndTag) {
  auto e = AesGcmEncryptor::create(stream_master_key(), GetParam());
  ASSERT_TRUE(e.has_value());
  std::vector<uint8_t> out;
  ASSERT_TRUE(e->finish(out).has_value());
  ASSERT_EQ(out.size(), kSaltLength + kIvLength + kTagLength);
  auto dec = aes_decrypt(stream_master_key(), GetParam(), out);
  ASSERT_TRUE(dec.has_value()) << dec.error().message();
  EXPECT_TRUE(dec->empty());
}

TEST_P(AesStreamTest, UsesFreshSaltAndIv) {
  auto in = random_bytes(64, 1);
  auto a = stream_encrypt(GetParam(), in, 0);
  auto b = stream_encrypt(GetParam(), in, 0);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(std::vector<uint8_t>(a->begin(), a->begin() + kSaltLength + kIvLength),
            std::vector<uint8_t>(b->begin(), b->begin() + kSaltLength + kIvLength));
}

TEST_P(AesStreamTest, HoldsBackThePossibleTag) {
  auto in = random_bytes(1000, 6);
  auto enc = aes_encrypt(stream_master_key(), GetParam(), in);
  ASSERT_TRUE(enc.has_value());
  auto d = AesGcmDecryptor::create(stream_master_key(), GetParam());
  ASSERT_TRUE(d.has_value());
  std::vector<uint8_t> out;
  ASSERT_TRUE(d->update(*enc, out).has_value());
  EXPECT_EQ(out, in);  // all plaintext out, the last 16 bytes held as the tag
  ASSERT_TRUE(d->finish(out).has_value());
  EXPECT_EQ(out, in);
}

TEST_P(AesStreamTest, RejectsEveryFlippedByte) {
  auto in = random_bytes(300, 8);
  auto enc = aes_encrypt(stream_master_key(), GetParam(), in);
  ASSERT_TRUE(enc.has_value());
  for (size_t i = 0; i < enc->size(); ++i) {
    auto bad = *enc;
    bad[i] ^= static_cast<uint8_t>(1u << (i % 8));
    auto dec = stream_decrypt(stream_master_key(), GetParam(), bad, 37, static_cast<uint32_t>(i));
    ASSERT_FALSE(dec.has_value()) << "byte " << i;
    EXPECT_EQ(dec.error().code(), ErrorCode::kCorruption);
    EXPECT_NE(dec.error().message().find("authentication failed (wrong key or damaged file)"),
              std::string::npos)
        << dec.error().message();
  }
}

TEST_P(AesStreamTest, RejectsEveryTruncation) {
  auto enc = stream_encrypt(GetParam(), random_bytes(100, 9), 7);
  ASSERT_TRUE(enc.has_value());
  for (size_t len = 0; len < enc->size(); ++len) {
    auto dec = stream_decrypt(stream_master_key(), GetParam(), std::span(enc->data(), len), 5);
    ASSERT_FALSE(dec.has_value()) << len;
    EXPECT_EQ(dec.error().code(), ErrorCode::kCorruption) << len;
    EXPECT_NE(dec.error().message().find("authentication failed"), std::string::npos);
  }
}

TEST_P(AesStreamTest, RejectsWrongKeyAndWrongMode) {
  auto enc = stream_encrypt(GetParam(), random_bytes(500, 10), 0);
  ASSERT_TRUE(enc.has_value());
  auto dec = stream_decrypt(other_stream_master_key(), GetParam(), *enc, 64);
  ASSERT_FALSE(dec.has_value());
  EXPECT_EQ(dec.error().code(), ErrorCode::kCorruption);
  for (AesMode other : {AesMode::kAes256Gcm, AesMode::kAes192Gcm, AesMode::kAes128Gcm}) {
    if (other != GetParam()) {
      auto wrong = stream_decrypt(stream_master_key(), other, *enc, 64);
      ASSERT_FALSE(wrong.has_value());
      EXPECT_EQ(wrong.error().code(), ErrorCode::kCorruption);
    }
  }
}

TEST_P(AesStreamTest, RefusesUseAfterFinish) {
  auto e = AesGcmEncryptor::create(stream_master_key(), GetParam());
  ASSERT_TRUE(e.has_value());
  std::vector<uint8_t> out;
  ASSERT_TRUE(e->finish(out).has_value());
  auto r = e->update(random_bytes(3, 1), out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  auto d = AesGcmDecryptor::create(stream_master_key(), GetParam());
  ASSERT_TRUE(d.has_value());
  std::vector<uint8_t> plain;
  ASSERT_TRUE(d->update(out, plain).has_value());
  ASSERT_TRUE(d->finish(plain).has_value());
  auto late = d->update(out, plain);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code(), ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(AllModes, AesStreamTest, all_aes_gcm_modes(), aes_mode_test_name);

TEST(AesStreamCreateTest, RejectsNoneAndEmptyKey) {
  auto e = AesGcmEncryptor::create(stream_master_key(), AesMode::kNone);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code(), ErrorCode::kInvalidArgument);
  auto d = AesGcmDecryptor::create(MasterKey{}, AesMode::kAes256Gcm);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace pgm::crypto
