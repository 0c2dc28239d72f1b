// Buffer codecs for gzip, zstd, lz4 and bzip2. Pure functions, thread-safe.
//
// Formats are those pgmoneta writes, so that files interoperate with it and, but for lz4, with
// the command-line tools: gzip (RFC 1952), zstd frame, bzip2 stream, and pgmoneta's lz4 block
// stream (see StreamCompressor in stream.h). decompress() also reads LZ4 frames, which our
// versions before issue 18 wrote (see Decompressor).
// They are thin wrappers over the streaming codecs of stream.h (one implementation per
// algorithm); algorithm names and suffixes are in names.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "pgm/compress/names.h"
#include "pgm/core/result.h"

namespace pgm::compress {

class StreamCompressor;  // stream.h

// Clamps `level` into the algorithm's valid range (gzip 1-9, zstd 1-19, lz4 1-12, bzip2 1-9).
int clamp_level(Algorithm a, int level);

// Compresses `in`. kNone returns a copy.
Result<std::vector<uint8_t>> compress(Algorithm a, std::span<const uint8_t> in, int level = 3);

// A compressor that keeps its library context and output buffer between calls, so
// compressing many similar buffers (WAL segments, backup files) costs no fresh allocations
// or page faults after the first. Each call produces one complete, independent stream in the
// same format as compress(). Not thread-safe; one per thread.
class Compressor {
 public:
  Compressor(Algorithm a, int level);  // level clamped as clamp_level()
  ~Compressor();
  Compressor(Compressor&& other) noexcept;
  Compressor& operator=(Compressor&&) = delete;
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  Algorithm algorithm() const { return algorithm_; }
  // Compresses `in` into a buffer owned by this object; valid until the next call.
  Result<std::span<const uint8_t>> compress(std::span<const uint8_t> in);
  // Compresses `in` into `out` (overwritten; its capacity is reused).
  Result<void> compress_into(std::span<const uint8_t> in, std::vector<uint8_t>& out);

 private:
  Algorithm algorithm_;
  int level_;
  std::unique_ptr<StreamCompressor> stream_;  // created on first use
  std::vector<uint8_t> out_;
};

// Decompresses `in`. Corrupt or truncated input -> kCorruption. Output larger than
// `max_output` bytes -> kCorruption (guards against decompression bombs from the network).
Result<std::vector<uint8_t>> decompress(Algorithm a, std::span<const uint8_t> in,
                                        size_t max_output = 64u << 20);

}  // namespace pgm::compress
