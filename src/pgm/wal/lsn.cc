#include "pgm/wal/lsn.h"

#include <fmt/format.h>

namespace pgm::wal {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

// Parses 1 to 8 hex digits; false on anything else.
bool parse_hex32(std::string_view text, uint32_t& out) {
  if (text.empty() || text.size() > 8) {
    return false;
  }
  uint32_t value = 0;
  for (char c : text) {
    int digit = hex_value(c);
    if (digit < 0) {
      return false;
    }
    value = (value << 4) | static_cast<uint32_t>(digit);
  }
  out = value;
  return true;
}

}  // namespace

Result<Lsn> Lsn::parse(std::string_view text) {
  auto slash = text.find('/');
  uint32_t high = 0;
  uint32_t low = 0;
  if (slash == std::string_view::npos || !parse_hex32(text.substr(0, slash), high) ||
      !parse_hex32(text.substr(slash + 1), low)) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("invalid lsn \"{}\": expected X/X with 1-8 hex digits each", text));
  }
  return Lsn(high, low);
}

std::string Lsn::to_string() const { return fmt::format("{:X}/{:X}", high(), low()); }

}  // namespace pgm::wal
