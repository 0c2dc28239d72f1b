// Azure Blob SharedKey request signing (the "Blob, Queue and File services" string-to-sign,
// version 2009-09-19 and later). Pure functions over strings; thread-safe.
//
//   string-to-sign = VERB "\n" Content-Encoding "\n" Content-Language "\n" Content-Length "\n"
//                    Content-MD5 "\n" Content-Type "\n" Date "\n" If-Modified-Since "\n"
//                    If-Match "\n" If-None-Match "\n" If-Unmodified-Since "\n" Range "\n"
//                    CanonicalizedHeaders CanonicalizedResource
//   CanonicalizedHeaders  = for each x-ms-* header, lower-cased and sorted: name ":" value "\n"
//   CanonicalizedResource = "/" account path, then for each query parameter, lower-cased and
//                           sorted: "\n" name ":" value (repeated names: values comma-joined)
//   Authorization: SharedKey <account>:base64(HMAC-SHA256(base64decode(key), string-to-sign))
//
// Content-Length is empty when 0 (versions 2015-02-21 and later).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgm/core/result.h"

namespace pgm::storage::azure {

struct SignedRequest {
  std::string verb;     // "GET", "PUT", ...
  std::string account;  // storage account name
  // The URL path exactly as sent (percent-encoded), starting with '/'. With path-style
  // (emulator) URLs it starts with the account ("/devstoreaccount1/container/blob").
  std::string path;
  // Query parameters, decoded (names in any case).
  std::vector<std::pair<std::string, std::string>> query;
  // Every header sent, names in any case; standard and x-ms-* ones are picked out.
  std::vector<std::pair<std::string, std::string>> headers;
  uint64_t content_length = 0;
};

std::string string_to_sign(const SignedRequest& request);

// base64(HMAC-SHA256(base64decode(key_base64), text)). kConfig when the key is not base64.
Result<std::string> shared_key_signature(std::string_view key_base64, std::string_view text);

// "SharedKey <account>:<signature>", the value of the Authorization header.
Result<std::string> authorization(const SignedRequest& request, std::string_view key_base64);

// RFC 1123 date in GMT ("Thu, 26 Nov 2026 10:57:00 GMT") for x-ms-date, locale-independent.
std::string http_date(int64_t unix_seconds);

// Percent-encodes everything except RFC 3986 unreserved characters (and '/' when keep_slash).
std::string url_encode(std::string_view text, bool keep_slash);

}  // namespace pgm::storage::azure
