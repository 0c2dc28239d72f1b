// Streaming codecs for gzip, zstd, lz4 and bzip2: bytes in, chunks out through a callback, in
// the same formats as codec.h, so that streamed and whole-buffer data interoperate: the
// standard container formats (which the command-line tools read) and, for lz4, pgmoneta's
// block stream. Not thread-safe: one object per stream; objects are move-only and may move
// between threads between calls.
//
// Output is delivered in chunks of up to kStreamChunk bytes from a buffer owned by the codec
// and reused (no allocation per call after the first); a chunk is handed on when the buffer
// fills and at finish(), so a sink sees few, large writes. kNone is zero-copy: the input
// span itself reaches the sink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "pgm/compress/codec.h"
#include "pgm/core/result.h"

namespace pgm::compress {

inline constexpr size_t kStreamChunk = size_t{256} * 1024;

// Receives produced bytes, valid only during the call. An error stops the codec: the call
// that produced the bytes returns it unchanged, and the codec is unusable afterwards (every
// later call returns the same error; StreamCompressor::reset() clears it).
using Sink = std::function<Result<void>(std::span<const uint8_t>)>;

// Decodes one logical stream made of one or more concatenated frames (zstd frames, gzip
// members, LZ4 frames, bzip2 streams), as the command-line tools do. Input may be split
// anywhere. Corrupt input -> kCorruption "<algorithm> decompress: <what>".
//
// lz4 input is told apart by its first 4 bytes: the LZ4 frame magic (or a skippable frame)
// means frames; anything else is read as pgmoneta's block stream (a 4-byte little-endian
// length then a raw LZ4 block, repeated, each block referring to up to 64 KB of the output
// before it; no checksum, no end mark: a cut exactly between blocks goes unnoticed here and
// is caught by the backup's SHA-512 lines). That is what StreamCompressor writes; LZ4 frames
// come from our versions before issue 18 (and from the lz4 tool).
class Decompressor {
 public:
  // Unknown algorithm -> kInvalidArgument; library failure -> kInternal.
  static Result<Decompressor> create(Algorithm a);
  ~Decompressor();
  Decompressor(Decompressor&& other) noexcept;
  Decompressor& operator=(Decompressor&& other) noexcept;
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  Algorithm algorithm() const;
  // Feeds compressed bytes; decoded bytes go to `out` (possibly in a later call).
  Result<void> update(std::span<const uint8_t> in, const Sink& out);
  // End of input: delivers what is buffered. kCorruption when the input ended inside a frame,
  // or when no frame was seen at all (empty input is valid only for kNone).
  Result<void> finish(const Sink& out);
  // Ready for a new stream, reusing the contexts (bzip2 sets up a fresh one lazily).
  void reset();
  // Decoded bytes produced so far (after finish(): all delivered to the sink).
  uint64_t bytes_out() const;

 private:
  struct Impl;
  explicit Decompressor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Encodes ONE stream: a zstd frame (with checksum), a gzip member, a bzip2 stream, or for lz4
// pgmoneta's block stream (lz4_block_writer.h: blocks of 4 KiB, no checksum, an empty input is
// one empty block), which pgmoneta 0.22 reads and the lz4 tool does not. Library failures ->
// kInternal.
class StreamCompressor {
 public:
  // `level` is clamped as clamp_level(). Unknown algorithm -> kInvalidArgument.
  static Result<StreamCompressor> create(Algorithm a, int level);
  ~StreamCompressor();
  StreamCompressor(StreamCompressor&& other) noexcept;
  StreamCompressor& operator=(StreamCompressor&& other) noexcept;
  StreamCompressor(const StreamCompressor&) = delete;
  StreamCompressor& operator=(const StreamCompressor&) = delete;

  Algorithm algorithm() const;
  // Feeds plain bytes; compressed bytes go to `out` (possibly in a later call).
  // After finish() -> kInvalidArgument until reset().
  Result<void> update(std::span<const uint8_t> in, const Sink& out);
  // Ends the stream and delivers all remaining bytes. Without any update() this still writes a
  // valid stream of empty content (nothing for kNone).
  Result<void> finish(const Sink& out);
  // update(last) then finish() in one step. When `last` is the whole stream the encoder knows
  // its size up front, as a one-shot encoder does: zstd sizes its tables to it and records it
  // in the frame header (what the buffer codecs of codec.h build on).
  Result<void> finish(std::span<const uint8_t> last, const Sink& out);
  // Ready for a new stream, reusing contexts and buffer (bzip2 has no reset: its stream is
  // set up again). Also abandons a stream that was not finished, and clears a sink error.
  void reset();
  uint64_t bytes_in() const;   // plain bytes fed since the last reset
  uint64_t bytes_out() const;  // compressed bytes produced since the last reset

 private:
  struct Impl;
  explicit StreamCompressor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgm::compress
