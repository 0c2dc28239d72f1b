#include "pgm/storage/sigv4.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <fmt/format.h>

#include "pgm/crypto/base64.h"
#include "pgm/crypto/digest.h"

namespace pgm::storage::sigv4 {
namespace {

bool unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~';
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Trims and folds runs of spaces into one, as the canonical header value requires.
std::string canonical_value(std::string_view value) {
  std::string out;
  bool space = false;
  for (const char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) {
      out.push_back(' ');
      space = false;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string sha256_hex(std::span<const uint8_t> data) {
  return crypto::to_hex(crypto::sha256(data));
}

std::string sha256_hex(std::string_view data) { return sha256_hex(crypto::bytes_of(data)); }

std::string md5_base64(std::string_view data) {
  return crypto::base64_encode(crypto::md5(crypto::bytes_of(data)));
}

std::string amz_date(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return {buf, n};
}

std::string canonical_query(const Pairs& query) {
  Pairs encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) {
      out.push_back('&');
    }
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

namespace {

Pairs sorted_headers(const Request& request) {
  Pairs headers;
  headers.reserve(request.headers.size());
  for (const auto& [name, value] : request.headers) {
    headers.emplace_back(lower(name), canonical_value(value));
  }
  std::sort(headers.begin(), headers.end());
  return headers;
}

}  // namespace

std::string signed_headers(const Request& request) {
  std::string out;
  for (const auto& [name, value] : sorted_headers(request)) {
    if (!out.empty()) {
      out.push_back(';');
    }
    out += name;
  }
  return out;
}

std::string canonical_request(const Request& request) {
  std::string out = request.method;
  out.push_back('\n');
  out += request.canonical_uri.empty() ? "/" : request.canonical_uri;
  out.push_back('\n');
  out += canonical_query(request.query);
  out.push_back('\n');
  for (const auto& [name, value] : sorted_headers(request)) {
    out += name;
    out.push_back(':');
    out += value;
    out.push_back('\n');
  }
  out.push_back('\n');
  out += signed_headers(request);
  out.push_back('\n');
  out += request.payload_hash;
  return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request) {
  return fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", amz_date, scope,
                     sha256_hex(canonical_request));
}

std::array<uint8_t, 32> signing_key(std::string_view secret_access_key, std::string_view date,
                                    std::string_view region, std::string_view service) {
  const std::string first = fmt::format("AWS4{}", secret_access_key);
  auto key = crypto::hmac_sha256(crypto::bytes_of(first), crypto::bytes_of(date));
  key = crypto::hmac_sha256(key, crypto::bytes_of(region));
  key = crypto::hmac_sha256(key, crypto::bytes_of(service));
  return crypto::hmac_sha256(key, crypto::bytes_of("aws4_request"));
}

namespace {

std::string scope_of(const Credentials& credentials, std::string_view amz_date) {
  return fmt::format("{}/{}/{}/aws4_request", amz_date.substr(0, 8), credentials.region,
                     credentials.service);
}

}  // namespace

std::string signature(const Credentials& credentials, std::string_view amz_date,
                      const Request& request) {
  const std::string to_sign =
      string_to_sign(amz_date, scope_of(credentials, amz_date), canonical_request(request));
  const auto key = signing_key(credentials.secret_access_key, amz_date.substr(0, 8),
                               credentials.region, credentials.service);
  return crypto::to_hex(crypto::hmac_sha256(key, crypto::bytes_of(to_sign)));
}

std::string authorization(const Credentials& credentials, std::string_view amz_date,
                          const Request& request) {
  return fmt::format("AWS4-HMAC-SHA256 Credential={}/{},SignedHeaders={},Signature={}",
                     credentials.access_key_id, scope_of(credentials, amz_date),
                     signed_headers(request), signature(credentials, amz_date, request));
}

}  // namespace pgm::storage::sigv4
