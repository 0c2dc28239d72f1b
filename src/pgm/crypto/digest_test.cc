#include "pgm/crypto/digest.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdlib>
#include <string>

#include "support/bytes.h"
#include <gtest/gtest.h>

namespace pgm::crypto {
namespace {

const std::string& kEmptyHash = test_support::kSha512OfEmpty;
const std::string& kAbcHash = test_support::kSha512OfAbc;

TEST(Sha512Test, KnownAnswers) {
  auto hash = Sha512::create();
  ASSERT_TRUE(hash);
  EXPECT_EQ(Sha512::hex(hash->final()), kEmptyHash);
  hash->update(std::string_view("abc"));
  EXPECT_EQ(Sha512::hex(hash->final()), kAbcHash);
  // final() reset the context: the same object starts afresh.
  EXPECT_EQ(Sha512::hex(hash->final()), kEmptyHash);
}

TEST(Sha512Test, ChunkedEqualsWhole) {
  std::string data;
  for (int i = 0; i < 100000; ++i) {
    data.push_back(static_cast<char>(i * 31 + 7));
  }
  auto hash = Sha512::create();
  ASSERT_TRUE(hash);
  hash->update(data);
  Sha512Digest whole = hash->final();
  for (size_t chunk : {1U, 7U, 128U, 4096U, 99999U}) {
    for (size_t pos = 0; pos < data.size(); pos += chunk) {
      hash->update(std::string_view(data).substr(pos, chunk));
    }
    EXPECT_EQ(hash->final(), whole) << "chunk " << chunk;
  }
}

TEST(Sha512Test, ResetDiscardsInput) {
  auto hash = Sha512::create();
  ASSERT_TRUE(hash);
  hash->update(std::string_view("junk"));
  hash->reset();
  hash->update(std::string_view("abc"));
  EXPECT_EQ(Sha512::hex(hash->final()), kAbcHash);
}

TEST(Sha512Test, HexCheckWantsExactly128HexDigits) {
  EXPECT_TRUE(is_sha512_hex(kAbcHash));
  std::string upper = kAbcHash;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  EXPECT_TRUE(is_sha512_hex(upper));
  EXPECT_FALSE(is_sha512_hex(kAbcHash.substr(1)));
  EXPECT_FALSE(is_sha512_hex(kAbcHash + "0"));
  EXPECT_FALSE(is_sha512_hex("g" + kAbcHash.substr(1)));
}

TEST(Sha512Test, OfFileMatchesTheBufferDigestAndNamesAMissingFile) {
  char tmpl[] = "/tmp/pgm-digest-test-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "abc", 3), 3);
  ::close(fd);
  EXPECT_EQ(sha512_of_file(tmpl).value(), kAbcHash);
  ::unlink(tmpl);
  auto missing = sha512_of_file(tmpl);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find(tmpl), std::string::npos);
}

// Known answers from FIPS 180-4, RFC 1321 and RFC 4231 (test case 2).
TEST(DigestTest, OneShotKnownAnswers) {
  EXPECT_EQ(to_hex(sha256(bytes_of("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(md5(bytes_of(""))), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(to_hex(md5(bytes_of("abc"))), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(to_hex(hmac_sha256(bytes_of("Jefe"), bytes_of("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(DigestTest, HexIsLowerCaseTwoDigitsPerByte) {
  const std::array<uint8_t, 4> bytes = {0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(to_hex(bytes), "000fa0ff");
  EXPECT_EQ(to_hex({}), "");
}

TEST(Sha512Test, FromHexReadsEitherCaseAndRejectsTheRest) {
  auto hash = Sha512::create();
  ASSERT_TRUE(hash);
  hash->update(std::string_view("abc"));
  const Sha512Digest d = hash->final();
  const std::string hex = Sha512::hex(d);
  std::string upper = hex;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(sha512_from_hex(hex), d);
  EXPECT_EQ(sha512_from_hex(upper), d);
  EXPECT_FALSE(sha512_from_hex(hex.substr(1)));
  EXPECT_FALSE(sha512_from_hex(hex.substr(1) + "g"));
  EXPECT_FALSE(sha512_from_hex(""));
}

}  // namespace
}  // namespace pgm::crypto
