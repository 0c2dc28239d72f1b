#include "pgm/backup/crc32c.h"

#include <array>
#include <cstring>

#include <fmt/format.h>

namespace pgm::backup {

namespace {

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) {
      c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli polynomial
    }
    t[i] = c;
  }
  return t;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

uint32_t crc32c_table(uint32_t crc, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    crc = kTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  }
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v = 0;
    std::memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = __builtin_ia32_crc32qi(c32, *p);
    ++p;
    --n;
  }
  return c32;
}

bool have_sse42() {
  static const bool has = __builtin_cpu_supports("sse4.2") != 0;
  return has;
}
#endif

}  // namespace

uint32_t crc32c_update(uint32_t crc, std::span<const uint8_t> data) {
#if defined(__x86_64__)
  if (have_sse42()) {
    return crc32c_sse42(crc, data.data(), data.size());
  }
#endif
  return crc32c_table(crc, data.data(), data.size());
}

std::string crc32c_manifest_hex(uint32_t final_crc) {
  return fmt::format("{:02x}{:02x}{:02x}{:02x}", final_crc & 0xFF, (final_crc >> 8) & 0xFF,
                     (final_crc >> 16) & 0xFF, final_crc >> 24);
}

}  // namespace pgm::backup
