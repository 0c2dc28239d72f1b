#include "pgm/compress/lz4_block_writer.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include <lz4.h>
#include <lz4hc.h>

namespace pgm::compress::internal {

static_assert(kLz4MaxStoredBlock == 4 + LZ4_COMPRESSBOUND(kLz4BlockBytes));

namespace {

struct FastDeleter {
  void operator()(LZ4_stream_t* s) const { LZ4_freeStream(s); }
};
struct HighDeleter {
  void operator()(LZ4_streamHC_t* s) const { LZ4_freeStreamHC(s); }
};

constexpr int kFirstHighLevel = 3;  // LZ4HC_CLEVEL_MIN: where LZ4 frames switched to HC too

}  // namespace

// Blocks are gathered in two buffers, alternately, with a byte between them so that no block
// follows on from the one before in memory: liblz4 then takes the previous block, and only
// it, as the dictionary of the next (lz4.h, "double-buffer"), which is exactly the history a
// pgmoneta reader still has.
struct Lz4BlockWriter::Impl {
  int level = 1;
  std::unique_ptr<LZ4_stream_t, FastDeleter> fast;
  std::unique_ptr<LZ4_streamHC_t, HighDeleter> high;
  std::array<char, 2 * kLz4BlockBytes + 1> ring{};
  size_t half = 0;     // 0 or 1: which buffer gathers the current block
  size_t filled = 0;   // bytes of the current block
  bool wrote = false;  // a block was written since the last reset

  char* block() { return ring.data() + half * (kLz4BlockBytes + 1); }
};

Lz4BlockWriter::Lz4BlockWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Lz4BlockWriter::~Lz4BlockWriter() = default;
Lz4BlockWriter::Lz4BlockWriter(Lz4BlockWriter&& other) noexcept = default;
Lz4BlockWriter& Lz4BlockWriter::operator=(Lz4BlockWriter&& other) noexcept = default;

Result<Lz4BlockWriter> Lz4BlockWriter::create(int level) {
  auto impl = std::make_unique<Impl>();
  impl->level = level;
  if (level >= kFirstHighLevel) {
    impl->high.reset(LZ4_createStreamHC());
    if (!impl->high) {
      return make_error(ErrorCode::kInternal, "lz4 compress: cannot create context");
    }
    LZ4_resetStreamHC_fast(impl->high.get(), level);
  } else {
    impl->fast.reset(LZ4_createStream());
    if (!impl->fast) {
      return make_error(ErrorCode::kInternal, "lz4 compress: cannot create context");
    }
  }
  return Lz4BlockWriter(std::move(impl));
}

size_t Lz4BlockWriter::take(std::span<const uint8_t> in) {
  Impl& s = *impl_;
  const size_t n = std::min(in.size(), kLz4BlockBytes - s.filled);
  if (n > 0) {
    std::memcpy(s.block() + s.filled, in.data(), n);
    s.filled += n;
  }
  return n;
}

bool Lz4BlockWriter::block_full() const { return impl_->filled == kLz4BlockBytes; }

bool Lz4BlockWriter::block_due_at_end() const { return impl_->filled > 0 || !impl_->wrote; }

Result<size_t> Lz4BlockWriter::write_block(uint8_t* dst) {
  Impl& s = *impl_;
  char* body = reinterpret_cast<char*>(dst + 4);
  const int room = static_cast<int>(kLz4MaxStoredBlock - 4);
  const int size = static_cast<int>(s.filled);
  int n = 0;
  if (size == 0) {
    // The empty block: one token, no literals, no match (what pgmoneta stores for an empty
    // file). Written here so that it does not depend on how liblz4 treats empty input.
    body[0] = 0;
    n = 1;
  } else if (s.high) {
    n = LZ4_compress_HC_continue(s.high.get(), s.block(), body, size, room);
  } else {
    n = LZ4_compress_fast_continue(s.fast.get(), s.block(), body, size, room, 1);
  }
  if (n <= 0) {
    return make_error(ErrorCode::kInternal, "lz4 compress: block compression failed");
  }
  const auto length = static_cast<uint32_t>(n);
  for (size_t i = 0; i < 4; ++i) {
    dst[i] = static_cast<uint8_t>(length >> (8 * i));
  }
  s.half ^= 1;
  s.filled = 0;
  s.wrote = true;
  return 4 + static_cast<size_t>(n);
}

void Lz4BlockWriter::reset() {
  Impl& s = *impl_;
  if (s.high) {
    LZ4_resetStreamHC_fast(s.high.get(), s.level);
  } else {
    LZ4_resetStream_fast(s.fast.get());
  }
  s.half = 0;
  s.filled = 0;
  s.wrote = false;
}

}  // namespace pgm::compress::internal
