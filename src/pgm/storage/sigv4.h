// AWS Signature Version 4 for S3: pure functions from request parts to the Authorization header.
// Thread-safe (no state). See
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgm::storage::sigv4 {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// The hash S3 accepts in x-amz-content-sha256 instead of the payload's SHA-256.
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// RFC 3986 percent-encoding as S3 wants it: A-Z a-z 0-9 - _ . ~ kept, everything else %XX
// (uppercase); '/' kept when `keep_slash` (object key paths), encoded otherwise (query values).
std::string uri_encode(std::string_view text, bool keep_slash);

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::span<const uint8_t> data);
std::string sha256_hex(std::string_view data);

// Base64 of the MD5 of `data` (the Content-MD5 header).
std::string md5_base64(std::string_view data);

// "YYYYMMDDTHHMMSSZ" (UTC) for x-amz-date.
std::string amz_date(std::chrono::system_clock::time_point when);

// A request as signed. `canonical_uri` is the already-encoded path as sent on the wire
// ("/examplebucket/photos/2006/x.jpg"); `query` holds raw (unencoded) name/value pairs;
// `headers` the headers to sign (names in any case; values are trimmed, inner spaces folded).
// Must include "host", "x-amz-date" and "x-amz-content-sha256".
struct Request {
  std::string method;
  std::string canonical_uri;
  Pairs query;
  Pairs headers;
  std::string payload_hash;  // hex SHA-256 of the body or kUnsignedPayload
};

// Query string with names and values encoded and sorted: "max-keys=2&prefix=J". Also the form
// to put in the URL, so that what is signed is what is sent.
std::string canonical_query(const Pairs& query);

// Lowercase header names sorted and ';'-joined: "host;range;x-amz-date".
std::string signed_headers(const Request& request);

std::string canonical_request(const Request& request);

// scope = "<YYYYMMDD>/<region>/<service>/aws4_request"
std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request);

// HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request".
std::array<uint8_t, 32> signing_key(std::string_view secret_access_key, std::string_view date,
                                    std::string_view region, std::string_view service);

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string region;
  std::string service = "s3";
};

// Hex signature of `request` at `amz_date` (which must equal its x-amz-date header).
std::string signature(const Credentials& credentials, std::string_view amz_date,
                      const Request& request);

// The Authorization header's value:
// "AWS4-HMAC-SHA256 Credential=<id>/<scope>,SignedHeaders=<...>,Signature=<hex>".
std::string authorization(const Credentials& credentials, std::string_view amz_date,
                          const Request& request);

}  // namespace pgm::storage::sigv4
