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
// `size` bytes of `phrase` repeated, shifted a little every 4 KiB: compresses well, but not to
// nothing.
inline constexpr std::string_view kCompressiblePhrase =
    "pgmoneta backs up PostgreSQL; WAL segment 000000010000000000000001 ";
std::vector<uint8_t> compressible_bytes(size_t size, std::string_view phrase = kCompressiblePhrase);
// The same bytes as a string.
std::string compressible_string(size_t size, std::string_view phrase = kCompressiblePhrase);
// `size` bytes in 4 KiB runs, alternately from std::mt19937 seeded with `seed` (the first run)
// and of a few letters repeated: compressors have work to do both ways. The same seed gives the
// same bytes.
std::vector<uint8_t> half_random_bytes(size_t size, uint32_t seed);
// The same bytes as a string.
std::string half_random_string(size_t size, uint32_t seed);
// `count` copies of `data`, each with one bit flipped: the byte `at` (std::mt19937 seeded with
// `seed` draws the byte, then the bit). For checking that corruption is detected.
struct BitFlip {
  std::vector<uint8_t> bytes;
  size_t at = 0;
};
std::vector<BitFlip> random_bit_flips(std::span<const uint8_t> data, size_t count, uint32_t seed);
// The bytes of a string.
inline std::vector<uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

// SHA-512 of "" and of "abc" (FIPS 180-2 known answers).
inline const std::string kSha512OfEmpty =
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
inline const std::string kSha512OfAbc =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

// Lower-case hex SHA-256 / SHA-512 (OpenSSL's one-shot digests).
std::string sha256_hex(std::string_view data);
std::string sha512_hex(std::string_view data);
std::string sha512_hex(std::span<const uint8_t> data);

// True when `sha512sum -c backup.sha512` passes in `dir` (coreutils, an independent check of
// our backup.sha512 format), or when sha512sum is not installed.
bool sha512sum_passes(const std::string& dir);

// Runs `command` with /bin/sh and returns what it printed on stdout and its wait status
// (-1 when it could not be started).
struct CommandOutput {
  std::string output;
  int status = -1;
};
CommandOutput run_command(const std::string& command);

}  // namespace pgm::test_support
