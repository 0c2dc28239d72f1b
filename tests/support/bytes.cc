#include "support/bytes.h"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>

#include <openssl/sha.h>

namespace pgm::test_support {
namespace {

std::string hex(const unsigned char* digest, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[digest[i] >> 4];
    out += kDigits[digest[i] & 0xf];
  }
  return out;
}

}  // namespace

std::vector<uint8_t> random_bytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(size);
  for (uint8_t& b : out) {
    b = static_cast<uint8_t>(rng());
  }
  return out;
}

std::string random_string(size_t size, uint32_t seed) {
  std::vector<uint8_t> bytes = random_bytes(size, seed);
  return {bytes.begin(), bytes.end()};
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hex(digest, sizeof(digest));
}

std::string sha512_hex(std::string_view data) {
  unsigned char digest[SHA512_DIGEST_LENGTH];
  SHA512(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hex(digest, sizeof(digest));
}

std::string sha512_hex(std::span<const uint8_t> data) {
  return sha512_hex(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

bool sha512sum_passes(const std::string& dir) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): tests are single-threaded
  if (std::system("command -v sha512sum >/dev/null 2>&1") != 0) {
    return true;
  }
  std::string cmd = "cd '" + dir + "' && sha512sum -c --quiet backup.sha512";
  return std::system(cmd.c_str()) == 0;  // NOLINT(concurrency-mt-unsafe)
}

std::vector<uint8_t> compressible_bytes(size_t size, std::string_view phrase) {
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) {
    v[i] = static_cast<uint8_t>(phrase[i % phrase.size()] + (i / 4096) % 3);
  }
  return v;
}

std::string compressible_string(size_t size, std::string_view phrase) {
  std::vector<uint8_t> bytes = compressible_bytes(size, phrase);
  return {bytes.begin(), bytes.end()};
}

std::vector<uint8_t> half_random_bytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(size);
  for (size_t i = 0; i < size; ++i) {
    out[i] = (i / 4096) % 2 == 0 ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>('a' + i % 7);
  }
  return out;
}

std::string half_random_string(size_t size, uint32_t seed) {
  std::vector<uint8_t> bytes = half_random_bytes(size, seed);
  return {bytes.begin(), bytes.end()};
}

std::vector<BitFlip> random_bit_flips(std::span<const uint8_t> data, size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<BitFlip> out;
  out.reserve(count);
  for (size_t i = 0; i < count && !data.empty(); ++i) {
    BitFlip f{{data.begin(), data.end()}, rng() % data.size()};
    f.bytes[f.at] ^= static_cast<uint8_t>(1u << (rng() % 8));
    out.push_back(std::move(f));
  }
  return out;
}

CommandOutput run_command(const std::string& command) {
  CommandOutput r;
  FILE* pipe = ::popen(command.c_str(), "r");  // NOLINT(cert-env33-c): fixed test commands
  if (pipe == nullptr) {
    return r;
  }
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) {
    r.output.append(buf, n);
  }
  r.status = ::pclose(pipe);
  return r;
}

}  // namespace pgm::test_support
