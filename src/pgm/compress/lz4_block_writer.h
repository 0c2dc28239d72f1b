// Module-private: the writer of pgmoneta's lz4 block stream, the lz4 format we write (the
// StreamCompressor, and so codec.h, use it). Not thread-safe: one per stream.
//
// The format, as pgmoneta 0.22 writes and reads it (docs/backup.md):
//   stream = block+
//   block  = length:u32le lz4_block[length]     (a raw LZ4 block, no frame, no checksum)
// Each block holds kLz4BlockBytes of input, the last one fewer; an empty input is one block
// holding nothing (length 1, the single token byte 00), as pgmoneta stores an empty file.
// A block may copy from the block before it and from itself, never from further back:
// pgmoneta decodes into two alternating buffers of kLz4BlockBytes, so the block before the
// previous one is gone by then. There is no end mark: a cut between blocks is invisible here
// (a backup's SHA-512 lines catch it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "pgm/core/result.h"

namespace pgm::compress::internal {

// pgmoneta's BLOCK_BYTES: plain bytes per block, and the most one block may decode to there.
inline constexpr size_t kLz4BlockBytes = 4096;
// LZ4_COMPRESSBOUND(kLz4BlockBytes) plus the length: the most one block takes in the stream.
inline constexpr size_t kLz4MaxStoredBlock = 4 + kLz4BlockBytes + kLz4BlockBytes / 255 + 16;

class Lz4BlockWriter {
 public:
  // Levels 1-2 use liblz4's fast mode (what pgmoneta uses), 3-12 its high-compression mode;
  // both give plain LZ4 blocks. Out of memory -> kInternal.
  static Result<Lz4BlockWriter> create(int level);
  ~Lz4BlockWriter();
  Lz4BlockWriter(Lz4BlockWriter&& other) noexcept;
  Lz4BlockWriter& operator=(Lz4BlockWriter&& other) noexcept;
  Lz4BlockWriter(const Lz4BlockWriter&) = delete;
  Lz4BlockWriter& operator=(const Lz4BlockWriter&) = delete;

  // Copies the first bytes of `in` into the current block, up to where it is full; returns
  // how many. Call write_block() when block_full(), before taking more.
  size_t take(std::span<const uint8_t> in);
  bool block_full() const;
  // At the end of the input: true when a block is still to be written (a partial one, or the
  // empty block of an empty stream).
  bool block_due_at_end() const;
  // Compresses the current block into `dst` (kLz4MaxStoredBlock bytes of room), length first;
  // returns the bytes written. Library failure -> kInternal, and the stream must be reset().
  Result<size_t> write_block(uint8_t* dst);
  // A new stream: no history, nothing taken.
  void reset();

 private:
  struct Impl;
  explicit Lz4BlockWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgm::compress::internal
