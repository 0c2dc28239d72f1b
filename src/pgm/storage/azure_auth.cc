#include "pgm/storage/azure_auth.h"

#include <algorithm>
#include <array>
#include <ctime>

#include <fmt/format.h>

#include "pgm/crypto/base64.h"
#include "pgm/crypto/digest.h"

namespace pgm::storage::azure {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// The value of the header named `name` (lower-case), or "" when absent.
std::string header_value(const SignedRequest& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (lower(key) == name) {
      return std::string(trim(value));
    }
  }
  return {};
}

}  // namespace

std::string string_to_sign(const SignedRequest& request) {
  std::string out = request.verb + "\n";
  static constexpr std::array<std::string_view, 11> kStandard = {"content-encoding",
                                                                 "content-language",
                                                                 "content-length",
                                                                 "content-md5",
                                                                 "content-type",
                                                                 "date",
                                                                 "if-modified-since",
                                                                 "if-match",
                                                                 "if-none-match",
                                                                 "if-unmodified-since",
                                                                 "range"};
  for (std::string_view name : kStandard) {
    if (name == "content-length") {
      if (request.content_length > 0) {
        out += std::to_string(request.content_length);
      }
    } else {
      out += header_value(request, name);
    }
    out += '\n';
  }

  std::vector<std::pair<std::string, std::string>> ms;
  for (const auto& [key, value] : request.headers) {
    std::string name = lower(trim(key));
    if (name.rfind("x-ms-", 0) == 0) {
      ms.emplace_back(std::move(name), std::string(trim(value)));
    }
  }
  std::sort(ms.begin(), ms.end());
  for (const auto& [name, value] : ms) {
    out += name;
    out += ':';
    out += value;
    out += '\n';
  }

  out += "/" + request.account + request.path;
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [key, value] : request.query) {
    query.emplace_back(lower(key), value);
  }
  std::stable_sort(query.begin(), query.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < query.size(); ++i) {
    if (i > 0 && query[i].first == query[i - 1].first) {
      out += "," + query[i].second;
    } else {
      out += "\n" + query[i].first + ":" + query[i].second;
    }
  }
  return out;
}

Result<std::string> shared_key_signature(std::string_view key_base64, std::string_view text) {
  auto key = crypto::base64_decode(key_base64);
  if (!key || key->empty()) {
    return make_error(ErrorCode::kConfig, "azure_shared_key is not valid base64");
  }
  return crypto::base64_encode(crypto::hmac_sha256(*key, crypto::bytes_of(text)));
}

Result<std::string> authorization(const SignedRequest& request, std::string_view key_base64) {
  PGM_ASSIGN_OR_RETURN(std::string signature,
                       shared_key_signature(key_base64, string_to_sign(request)));
  return "SharedKey " + request.account + ":" + signature;
}

std::string http_date(int64_t unix_seconds) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays.at(tm.tm_wday), tm.tm_mday,
                     kMonths.at(tm.tm_mon), tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string url_encode(std::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace pgm::storage::azure
