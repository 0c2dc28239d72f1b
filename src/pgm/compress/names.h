// The one table of compression algorithms: names, file suffixes, whether PostgreSQL can
// compress a BASE_BACKUP with it, and pgmoneta's backup.info type byte. Header-only (constexpr)
// so that modules below compress in the layering (config) can use it without linking it.
// Pure, thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgm::compress {

// Values are the management-protocol compression bytes (reference §4.1).
enum class Algorithm : uint8_t { kNone = 0, kGzip = 1, kZstd = 2, kLz4 = 3, kBzip2 = 4 };

struct AlgorithmInfo {
  Algorithm algorithm;
  std::string_view name;               // canonical: "none", "gzip", "zstd", "lz4", "bzip2"
  std::string_view alias;              // short spelling ("gz", "bz2"), "" when none
  std::string_view suffix;             // file suffix with the dot, "" for kNone
  bool server_side;                    // PostgreSQL's BASE_BACKUP can compress with it (15+)
  std::string_view other_suffix = {};  // also recognised when reading (".zst"), "" when none
};

// Every algorithm in enum order, so kAlgorithms[value] describes Algorithm{value}.
inline constexpr std::array<AlgorithmInfo, 5> kAlgorithms{{
    {Algorithm::kNone, "none", "", "", false},
    {Algorithm::kGzip, "gzip", "gz", ".gz", true},
    {Algorithm::kZstd, "zstd", "", ".zstd", true, ".zst"},
    {Algorithm::kLz4, "lz4", "", ".lz4", true},
    {Algorithm::kBzip2, "bzip2", "bz2", ".bz2", false},
}};

// The row of `a`; a value outside the enum gets the kNone row.
constexpr const AlgorithmInfo& info(Algorithm a) {
  const auto i = static_cast<size_t>(a);
  return i < kAlgorithms.size() ? kAlgorithms[i] : kAlgorithms[0];
}

constexpr std::string_view algorithm_name(Algorithm a) { return info(a).name; }
// File suffix including the dot: ".gz", ".zstd", ".lz4", ".bz2"; "" for kNone.
constexpr std::string_view file_suffix(Algorithm a) { return info(a).suffix; }

// The compression suffix that ends `name` (".gz", ".zstd" or ".zst", ".lz4", ".bz2") and its
// length; nullopt when there is none or it is all of `name`.
struct SuffixMatch {
  Algorithm algorithm;
  size_t length;
};
constexpr std::optional<SuffixMatch> match_suffix(std::string_view name) {
  for (const AlgorithmInfo& i : kAlgorithms) {
    for (std::string_view s : {i.suffix, i.other_suffix}) {
      if (!s.empty() && name.size() > s.size() && name.substr(name.size() - s.size()) == s) {
        return SuffixMatch{i.algorithm, s.size()};
      }
    }
  }
  return std::nullopt;
}

// "none", "gzip"/"gz", "zstd", "lz4", "bzip2"/"bz2" (case-insensitive). Unknown -> nullopt.
constexpr std::optional<Algorithm> parse_algorithm(std::string_view name) {
  auto same = [name](std::string_view lower) {
    if (lower.empty() || name.size() != lower.size()) {
      return false;
    }
    for (size_t i = 0; i < name.size(); ++i) {
      const char c = name[i] >= 'A' && name[i] <= 'Z' ? static_cast<char>(name[i] + 32) : name[i];
      if (c != lower[i]) {
        return false;
      }
    }
    return true;
  };
  for (const AlgorithmInfo& i : kAlgorithms) {
    if (same(i.name) || same(i.alias)) {
      return i.algorithm;
    }
  }
  return std::nullopt;
}

// The accepted spellings for messages: "none, gz, gzip, zstd, lz4, bz2, bzip2".
inline std::string algorithm_spellings() {
  std::string out;
  for (const AlgorithmInfo& i : kAlgorithms) {
    for (std::string_view s : {i.alias, i.name}) {
      if (!s.empty()) {
        out += out.empty() ? "" : ", ";
        out += s;
      }
    }
  }
  return out;
}

// pgmoneta's type byte in backup.info: 0 for none, else 0x10 client / 0x20 server | algorithm.
inline constexpr uint8_t kClientTypeBit = 0x10;
inline constexpr uint8_t kServerTypeBit = 0x20;
constexpr uint8_t type_byte(Algorithm a, bool server_side) {
  if (a == Algorithm::kNone) {
    return 0;
  }
  return static_cast<uint8_t>((server_side ? kServerTypeBit : kClientTypeBit) |
                              static_cast<uint8_t>(a));
}

// A type byte's name: "none", "zstd", "server-zstd", ...; "unknown" when it names no algorithm.
inline std::string type_byte_name(uint8_t type_byte) {
  const size_t code = type_byte & 0x0f;
  if (code >= kAlgorithms.size()) {
    return "unknown";
  }
  std::string name(kAlgorithms[code].name);
  return code != 0 && (type_byte & kServerTypeBit) != 0 ? "server-" + name : name;
}

}  // namespace pgm::compress
