// Test data: reproducible pseudo-random bytes and hex digests of test data. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgm::test_support {

// `size` bytes from std::mt19937 seeded with `seed`: the same seed gives the same bytes.
std::vector<uint8_t> random_bytes(size_t size, uint32_t seed);
// The same bytes as a string.
std::string random_string(size_t size, uint32_t seed);

// Lower-case hex SHA-256 / SHA-512 (OpenSSL's one-shot digests).
std::string sha256_hex(std::string_view data);
std::string sha512_hex(std::string_view data);
std::string sha512_hex(std::span<const uint8_t> data);

// True when `sha512sum -c backup.sha512` passes in `dir` (coreutils, an independent check of
// our backup.sha512 format), or when sha512sum is not installed.
bool sha512sum_passes(const std::string& dir);

}  // namespace pgm::test_support
