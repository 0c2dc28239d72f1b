// Buffer codecs for gzip, zstd, lz4 and bzip2. Pure functions, thread-safe.
//
// Formats are the standard container formats so that files interoperate with the
// command-line tools: gzip (RFC 1952), zstd frame, LZ4 frame, bzip2 stream.
// Streaming (file) codecs are built on the same libraries in codec_stream.h (later issues).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"

namespace pgm::compress {

// Values are the management-protocol compression bytes (reference §4.1).
enum class Algorithm : uint8_t { kNone = 0, kGzip = 1, kZstd = 2, kLz4 = 3, kBzip2 = 4 };

// "none", "gzip"/"gz", "zstd", "lz4", "bzip2"/"bz2" (case-insensitive). Unknown -> nullopt.
std::optional<Algorithm> parse_algorithm(std::string_view name);
std::string_view algorithm_name(Algorithm a);
// File suffix including the dot: ".gz", ".zstd", ".lz4", ".bz2"; "" for kNone.
std::string_view file_suffix(Algorithm a);

// Clamps `level` into the algorithm's valid range (gzip 1-9, zstd 1-19, lz4 1-12, bzip2 1-9).
int clamp_level(Algorithm a, int level);

// Compresses `in`. kNone returns a copy.
Result<std::vector<uint8_t>> compress(Algorithm a, std::span<const uint8_t> in, int level = 3);

// Decompresses `in`. Corrupt or truncated input -> kCorruption. Output larger than
// `max_output` bytes -> kCorruption (guards against decompression bombs from the network).
Result<std::vector<uint8_t>> decompress(Algorithm a, std::span<const uint8_t> in,
                                        size_t max_output = 64u << 20);

}  // namespace pgm::compress
