#include "pgm/storage/sigv4.h"

#include <chrono>

#include <gtest/gtest.h>

#include "pgm/crypto/digest.h"

namespace pgm::storage::sigv4 {
namespace {

// The examples of https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kDate = "20130524T000000Z";

Credentials example_credentials() {
  return {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3"};
}

Request get_object_example() {
  return Request{"GET",
                 "/test.txt",
                 {},
                 {{"Host", "examplebucket.s3.amazonaws.com"},
                  {"Range", "bytes=0-9"},
                  {"x-amz-content-sha256", std::string(kEmptySha256)},
                  {"x-amz-date", std::string(kDate)}},
                 std::string(kEmptySha256)};
}

TEST(SigV4Test, GetObjectExampleCanonicalRequest) {
  EXPECT_EQ(canonical_request(get_object_example()),
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SigV4Test, GetObjectExampleStringToSign) {
  EXPECT_EQ(string_to_sign(kDate, "20130524/us-east-1/s3/aws4_request",
                           canonical_request(get_object_example())),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
}

TEST(SigV4Test, GetObjectExampleSignature) {
  EXPECT_EQ(signature(example_credentials(), kDate, get_object_example()),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(authorization(example_credentials(), kDate, get_object_example()),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature="
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4Test, PutObjectExampleSignature) {
  const std::string payload_hash = sha256_hex(std::string_view("Welcome to Amazon S3."));
  EXPECT_EQ(payload_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(uri_encode("/test$file.text", true), "/test%24file.text");
  const Request r{"PUT",
                  "/test%24file.text",
                  {},
                  {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                   {"Host", "examplebucket.s3.amazonaws.com"},
                   {"x-amz-date", std::string(kDate)},
                   {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                   {"x-amz-content-sha256", payload_hash}},
                  payload_hash};
  EXPECT_EQ(signature(example_credentials(), kDate, r),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4Test, GetBucketLifecycleExampleSignature) {
  const Request r{"GET",
                  "/",
                  {{"lifecycle", ""}},
                  {{"Host", "examplebucket.s3.amazonaws.com"},
                   {"x-amz-date", std::string(kDate)},
                   {"x-amz-content-sha256", std::string(kEmptySha256)}},
                  std::string(kEmptySha256)};
  EXPECT_EQ(signature(example_credentials(), kDate, r),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4Test, ListObjectsExampleSignature) {
  const Request r{"GET",
                  "/",
                  {{"prefix", "J"}, {"max-keys", "2"}},
                  {{"Host", "examplebucket.s3.amazonaws.com"},
                   {"x-amz-date", std::string(kDate)},
                   {"x-amz-content-sha256", std::string(kEmptySha256)}},
                  std::string(kEmptySha256)};
  EXPECT_EQ(canonical_query(r.query), "max-keys=2&prefix=J");
  EXPECT_EQ(signature(example_credentials(), kDate, r),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

// https://docs.aws.amazon.com/general/latest/gr/signature-v4-examples.html
TEST(SigV4Test, SigningKeyExample) {
  EXPECT_EQ(crypto::to_hex(signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215",
                                       "us-east-1", "iam")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(SigV4Test, UriEncodeKeepsUnreservedAndOptionallySlash) {
  struct Case {
    std::string_view in;
    bool keep_slash;
    std::string_view out;
  };
  const Case cases[] = {
      {"abcXYZ019-_.~", false, "abcXYZ019-_.~"},
      {"a b+c", false, "a%20b%2Bc"},
      {"base/1/1259.zstd", true, "base/1/1259.zstd"},
      {"base/1/1259.zstd", false, "base%2F1%2F1259.zstd"},
      {"x=y&z*", false, "x%3Dy%26z%2A"},
      {"\xc3\xa9", true, "%C3%A9"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(uri_encode(c.in, c.keep_slash), c.out) << c.in;
  }
}

TEST(SigV4Test, CanonicalQuerySortsEncodedNames) {
  EXPECT_EQ(
      canonical_query({{"prefix", "a b/"}, {"list-type", "2"}, {"continuation-token", "x+y="}}),
      "continuation-token=x%2By%3D&list-type=2&prefix=a%20b%2F");
  EXPECT_EQ(canonical_query({{"delete", ""}}), "delete=");
}

TEST(SigV4Test, CanonicalRequestFoldsHeaderSpaces) {
  const Request r{
      "PUT", "/k", {}, {{"X-Amz-Meta-A", "  one   two  "}}, std::string(kUnsignedPayload)};
  EXPECT_EQ(canonical_request(r),
            "PUT\n/k\n\nx-amz-meta-a:one two\n\nx-amz-meta-a\nUNSIGNED-PAYLOAD");
}

TEST(SigV4Test, AmzDateIsUtcBasicFormat) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1369353600));
  EXPECT_EQ(amz_date(t), "20130524T000000Z");
}

TEST(SigV4Test, Md5Base64) { EXPECT_EQ(md5_base64(""), "1B2M2Y8AsgTpgAmY7PhCfg=="); }

}  // namespace
}  // namespace pgm::storage::sigv4
