// Standard base64 (RFC 4648, with padding, no line breaks). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"

namespace pgm::crypto {

std::string base64_encode(std::span<const uint8_t> data);
inline std::string base64_encode(std::string_view s) {
  return base64_encode(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}
// Ignores surrounding whitespace; any other invalid character or bad padding -> kCorruption.
Result<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace pgm::crypto
