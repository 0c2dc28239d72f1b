// CRC-32C (Castagnoli), as PostgreSQL computes it for backup_manifest checksums when a backup
// is taken with MANIFEST_CHECKSUMS 'CRC32C'. Pure functions, thread-safe.
//
// No Debian library we already use exports CRC-32C (zlib has CRC-32 only, OpenSSL neither),
// so it is here: the SSE4.2 crc32 instruction when the CPU has it (8 bytes per instruction),
// otherwise a byte-wise table.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace pgm::backup {

// Starting value of a running CRC; pass the result of one call to the next.
inline constexpr uint32_t kCrc32cInit = 0xFFFFFFFFu;
uint32_t crc32c_update(uint32_t crc, std::span<const uint8_t> data);
// The finished CRC of a running value.
inline uint32_t crc32c_final(uint32_t crc) { return crc ^ 0xFFFFFFFFu; }
// How backup_manifest writes it: the four bytes in little-endian order, as lower-case hex
// (PostgreSQL hex-encodes the value's memory on x86).
std::string crc32c_manifest_hex(uint32_t final_crc);

}  // namespace pgm::backup
