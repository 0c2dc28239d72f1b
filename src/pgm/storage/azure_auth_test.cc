#include "pgm/storage/azure_auth.h"

#include <gtest/gtest.h>

namespace pgm::storage::azure {
namespace {

// Azurite's well-known development account key (public, documented by Microsoft).
constexpr const char* kDevKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

SignedRequest put_block() {
  SignedRequest r;
  r.verb = "PUT";
  r.account = "devstoreaccount1";
  r.path = "/devstoreaccount1/backups/primary/a%20b.dat";
  r.query = {{"comp", "block"}, {"blockid", "YmxvY2stMDAx"}};
  r.headers = {{"X-Ms-Version", "2021-08-06"},
               {"Content-Type", "application/octet-stream"},
               {"x-ms-meta-sha512", " abc123 "},
               {"x-ms-date", "Thu, 26 Nov 2026 10:57:00 GMT"},
               {"Accept", "*/*"}};
  r.content_length = 11;
  return r;
}

TEST(SharedKeyTest, StringToSignOrdersHeadersAndQuery) {
  EXPECT_EQ(string_to_sign(put_block()),
            "PUT\n\n\n11\n\napplication/octet-stream\n\n\n\n\n\n\n"
            "x-ms-date:Thu, 26 Nov 2026 10:57:00 GMT\n"
            "x-ms-meta-sha512:abc123\n"
            "x-ms-version:2021-08-06\n"
            "/devstoreaccount1/devstoreaccount1/backups/primary/a%20b.dat\n"
            "blockid:YmxvY2stMDAx\n"
            "comp:block");
}

// Expected signatures computed independently with python3:
//   base64.b64encode(hmac.new(base64.b64decode(kDevKey), sts.encode(), hashlib.sha256).digest())
// where sts is the string-to-sign written out by hand from the Blob service documentation
// (the literal of StringToSignOrdersHeadersAndQuery above, and the List Blobs one below).
TEST(SharedKeyTest, SignsPutBlockLikeIndependentImplementation) {
  auto auth = authorization(put_block(), kDevKey);
  ASSERT_TRUE(auth) << auth.error().message();
  EXPECT_EQ(*auth, "SharedKey devstoreaccount1:e2q0ADr58uUzlgcW8Eae00eLTKw+KFLuJOZ0qCxFHJ4=");
}

TEST(SharedKeyTest, SignsListBlobsWithEmptyContentLength) {
  SignedRequest r;
  r.verb = "GET";
  r.account = "devstoreaccount1";
  r.path = "/devstoreaccount1/backups";
  r.query = {
      {"restype", "container"}, {"comp", "list"}, {"Prefix", "primary/"}, {"include", "metadata"}};
  r.headers = {{"x-ms-date", "Thu, 26 Nov 2026 10:57:00 GMT"}, {"x-ms-version", "2021-08-06"}};
  r.content_length = 0;
  EXPECT_EQ(string_to_sign(r),
            "GET\n\n\n\n\n\n\n\n\n\n\n\n"
            "x-ms-date:Thu, 26 Nov 2026 10:57:00 GMT\n"
            "x-ms-version:2021-08-06\n"
            "/devstoreaccount1/devstoreaccount1/backups\n"
            "comp:list\ninclude:metadata\nprefix:primary/\nrestype:container");
  auto auth = authorization(r, kDevKey);
  ASSERT_TRUE(auth) << auth.error().message();
  EXPECT_EQ(*auth, "SharedKey devstoreaccount1:B3T63fQu6k6d9bKQvShZrkTYFfB56TfP8Pb7ZdmMG80=");
}

TEST(SharedKeyTest, JoinsRepeatedQueryValuesAndPlacesRangeAndIfMatch) {
  SignedRequest r;
  r.verb = "GET";
  r.account = "acct";
  r.path = "/c/b";
  r.query = {{"b", "2"}, {"a", "1"}, {"B", "3"}};
  r.headers = {{"If-Match", "\"0x1\""}, {"Range", "bytes=0-9"}};
  EXPECT_EQ(string_to_sign(r), "GET\n\n\n\n\n\n\n\n\"0x1\"\n\n\nbytes=0-9\n/acct/c/b\na:1\nb:2,3");
}

TEST(SharedKeyTest, RejectsKeyThatIsNotBase64) {
  auto auth = authorization(put_block(), "not base64!");
  ASSERT_FALSE(auth);
  EXPECT_EQ(auth.error().code(), ErrorCode::kConfig);
  EXPECT_NE(auth.error().message().find("azure_shared_key"), std::string::npos);
}

TEST(SharedKeyTest, FormatsHttpDateInGmt) {
  EXPECT_EQ(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(http_date(1795690620), "Thu, 26 Nov 2026 10:57:00 GMT");
}

TEST(SharedKeyTest, UrlEncodesReservedCharacters) {
  EXPECT_EQ(url_encode("a b/c+d=~", true), "a%20b/c%2Bd%3D~");
  EXPECT_EQ(url_encode("a b/c", false), "a%20b%2Fc");
}

}  // namespace
}  // namespace pgm::storage::azure
