#include <bzlib.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <lz4.h>
#include <lz4frame.h>

#include "pgm/compress/stream.h"
#include "pgm/compress/stream_internal.h"

namespace pgm::compress {

using internal::ChunkBuffer;
using internal::corrupt;
using internal::guarded;
using internal::is_known;
using internal::kMaxChunk;
using internal::library_error;
using internal::unknown_algorithm;

namespace {

// An LZ4 frame starts with the magic 0x184D2204, a skippable frame with 0x184D2A50-5F (both
// little-endian). pgmoneta writes a block stream instead: each block is a 4-byte
// little-endian compressed length then that many bytes of a raw LZ4 block, compressed with
// LZ4_compress_fast_continue (a block may copy from up to 64 KB of the output before it), and
// nothing after the last block. Its lengths are far below the magic's value.
constexpr uint32_t kLz4FrameMagic = 0x184D2204;
constexpr uint32_t kLz4SkippableMagic = 0x184D2A50;  // low 4 bits free
constexpr size_t kLz4History = size_t{64} * 1024;
// The largest decoded block accepted from a block stream (pgmoneta's are a few KB).
constexpr size_t kLz4MaxBlock = size_t{1} << 20;

uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

bool is_lz4_frame_magic(uint32_t v) {
  return v == kLz4FrameMagic || (v & 0xFFFFFFF0u) == kLz4SkippableMagic;
}

}  // namespace

// ---- Decompressor -----------------------------------------------------------------------

struct Decompressor::Impl {
  explicit Impl(Algorithm a) : algorithm(a) {}
  ~Impl() {
    if (gzip_live) {
      inflateEnd(&zs);
    }
    ZSTD_freeDCtx(zstd);
    if (lz4 != nullptr) {
      LZ4F_freeDecompressionContext(lz4);
    }
    if (bz_live) {
      BZ2_bzDecompressEnd(&bz);
    }
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Result<void> init();
  Result<void> update(std::span<const uint8_t> in, const Sink& out);
  Result<void> finish(const Sink& out);
  void reset();

  Result<void> gzip_update(std::span<const uint8_t> in, const Sink& out);
  Result<void> zstd_update(std::span<const uint8_t> in, const Sink& out);
  Result<void> lz4_update(std::span<const uint8_t> in, const Sink& out);
  Result<void> lz4_frame_update(std::span<const uint8_t> in, const Sink& out);
  Result<void> lz4_blocks_update(std::span<const uint8_t> in, const Sink& out);
  Result<void> lz4_block(std::span<const uint8_t> block, const Sink& out);
  Result<void> bzip2_update(std::span<const uint8_t> in, const Sink& out);
  Result<void> bzip2_start();
  // Frame accounting for the zstd/lz4 loops: `hint` is the library's return value.
  void account(size_t hint, bool progress) {
    if (hint == 0) {
      if (in_frame || progress) {
        ++frames;
      }
      in_frame = false;
    } else if (progress) {
      in_frame = true;
    }
  }

  Algorithm algorithm;
  ChunkBuffer buf;
  uint64_t produced = 0;
  uint64_t frames = 0;    // completed frames
  bool in_frame = false;  // bytes of an unfinished frame were consumed
  bool finished = false;
  std::optional<Error> failed;

  // The library streams live here, at a fixed address (zlib and libbz2 check that).
  z_stream zs{};
  bool gzip_live = false;
  bool gzip_at_boundary = true;  // the next byte starts a new member
  ZSTD_DCtx* zstd = nullptr;
  LZ4F_dctx* lz4 = nullptr;
  // lz4 input is an LZ4 frame or pgmoneta's block stream, told apart by its first 4 bytes.
  enum class Lz4Kind { kUnknown, kFrame, kBlocks };
  Lz4Kind lz4_kind = Lz4Kind::kUnknown;
  std::vector<uint8_t> lz4_pending;  // first bytes (kUnknown), or a partial block (kBlocks)
  // Block stream: decoded output, the last kLz4History bytes before lz4_pos being the
  // dictionary of the next block; slid to the front when less than kLz4MaxBlock is free.
  std::vector<uint8_t> lz4_window;
  size_t lz4_pos = 0;
  bz_stream bz{};
  bool bz_live = false;
  bool bz_fresh = false;  // initialised and not fed yet
};

Result<void> Decompressor::Impl::init() {
  switch (algorithm) {
    case Algorithm::kNone:
      break;
    case Algorithm::kGzip:
      if (inflateInit2(&zs, 15 + 16) != Z_OK) {
        return library_error(algorithm, "decompress", "inflateInit2 failed");
      }
      gzip_live = true;
      break;
    case Algorithm::kZstd:
      zstd = ZSTD_createDCtx();
      if (zstd == nullptr) {
        return library_error(algorithm, "decompress", "cannot create context");
      }
      break;
    case Algorithm::kLz4:
      if (LZ4F_isError(LZ4F_createDecompressionContext(&lz4, LZ4F_VERSION))) {
        lz4 = nullptr;
        return library_error(algorithm, "decompress", "cannot create context");
      }
      break;
    case Algorithm::kBzip2:
      return bzip2_start();
  }
  return {};
}

Result<void> Decompressor::Impl::update(std::span<const uint8_t> in, const Sink& out) {
  switch (algorithm) {
    case Algorithm::kNone:
      produced += in.size();
      return in.empty() ? Result<void>{} : out(in);
    case Algorithm::kGzip:
      return gzip_update(in, out);
    case Algorithm::kZstd:
      return zstd_update(in, out);
    case Algorithm::kLz4:
      return lz4_update(in, out);
    case Algorithm::kBzip2:
      return bzip2_update(in, out);
  }
  return unknown_algorithm(algorithm);
}

Result<void> Decompressor::Impl::finish(const Sink& out) {
  if (algorithm == Algorithm::kLz4 && lz4_kind == Lz4Kind::kUnknown && !lz4_pending.empty()) {
    return corrupt(algorithm, "truncated input");
  }
  if (algorithm != Algorithm::kNone) {
    if (in_frame) {
      return corrupt(algorithm, "truncated input");
    }
    if (frames == 0) {
      return corrupt(algorithm, "empty input");
    }
  }
  return buf.flush(out);
}

void Decompressor::Impl::reset() {
  buf.clear();
  produced = 0;
  frames = 0;
  in_frame = false;
  finished = false;
  failed.reset();
  gzip_at_boundary = true;
  // Input of an abandoned call must not be read again.
  zs.next_in = nullptr;
  zs.avail_in = 0;
  bz.next_in = nullptr;
  bz.avail_in = 0;
  if (zstd != nullptr) {
    ZSTD_DCtx_reset(zstd, ZSTD_reset_session_only);
  }
  if (lz4 != nullptr) {
    LZ4F_resetDecompressionContext(lz4);
  }
  lz4_kind = Lz4Kind::kUnknown;
  lz4_pending.clear();
  lz4_pos = 0;
  // bzip2: a used stream is replaced lazily, when bytes of the next stream arrive.
}

Result<void> Decompressor::Impl::gzip_update(std::span<const uint8_t> in, const Sink& out) {
  size_t pos = 0;
  bool more_out = false;  // the last call filled the output: zlib may hold more
  while (true) {
    if (zs.avail_in == 0 && pos < in.size()) {
      size_t n = std::min(in.size() - pos, kMaxChunk);
      zs.next_in = const_cast<Bytef*>(in.data() + pos);
      zs.avail_in = static_cast<uInt>(n);
      pos += n;
    }
    if (zs.avail_in == 0 && !more_out) {
      return {};
    }
    if (gzip_at_boundary) {
      // A member begins (concatenated members are valid gzip).
      if (inflateReset(&zs) != Z_OK) {
        return library_error(algorithm, "decompress", "inflateReset failed");
      }
      gzip_at_boundary = false;
    }
    in_frame = true;
    size_t room = buf.free_size();
    zs.next_out = buf.free_ptr();
    zs.avail_out = static_cast<uInt>(room);
    uInt avail_in_before = zs.avail_in;
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t n = room - zs.avail_out;
    buf.advance(n);
    produced += n;
    more_out = zs.avail_out == 0;
    if (rc == Z_STREAM_ERROR) {
      return library_error(algorithm, "decompress", "inflate failed");
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
      return corrupt(algorithm, zs.msg != nullptr ? zs.msg : "invalid data");
    }
    if (rc == Z_MEM_ERROR) {
      return library_error(algorithm, "decompress", "out of memory");
    }
    PGM_TRY(buf.flush_if_full(out));
    if (rc == Z_STREAM_END) {
      ++frames;
      in_frame = false;
      gzip_at_boundary = true;
      more_out = false;
      continue;
    }
    if (n == 0 && zs.avail_in == avail_in_before && zs.avail_in != 0) {
      return corrupt(algorithm, "decoder made no progress");
    }
  }
}

Result<void> Decompressor::Impl::zstd_update(std::span<const uint8_t> in, const Sink& out) {
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  while (true) {
    ZSTD_outBuffer output{buf.free_ptr(), buf.free_size(), 0};
    size_t in_before = input.pos;
    size_t hint = ZSTD_decompressStream(zstd, &output, &input);
    if (ZSTD_isError(hint)) {
      return corrupt(algorithm, ZSTD_getErrorName(hint));
    }
    buf.advance(output.pos);
    produced += output.pos;
    bool progress = output.pos > 0 || input.pos > in_before;
    account(hint, progress);
    PGM_TRY(buf.flush_if_full(out));
    if (input.pos == input.size && (hint == 0 || output.pos < output.size)) {
      return {};
    }
    if (!progress && output.pos < output.size) {
      return corrupt(algorithm, "decoder made no progress");
    }
  }
}

Result<void> Decompressor::Impl::lz4_update(std::span<const uint8_t> in, const Sink& out) {
  if (lz4_kind == Lz4Kind::kUnknown) {
    if (lz4_pending.size() + in.size() < 4) {
      lz4_pending.insert(lz4_pending.end(), in.begin(), in.end());
      return {};
    }
    // Decide on the first 4 bytes, then feed them (kept or from `in`) to the chosen decoder.
    const size_t from_in = 4 - lz4_pending.size();
    std::vector<uint8_t> head = std::move(lz4_pending);
    lz4_pending.clear();
    head.insert(head.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(from_in));
    lz4_kind = is_lz4_frame_magic(le32(head.data())) ? Lz4Kind::kFrame : Lz4Kind::kBlocks;
    PGM_TRY(lz4_kind == Lz4Kind::kFrame ? lz4_frame_update(head, out)
                                        : lz4_blocks_update(head, out));
    in = in.subspan(from_in);
  }
  return lz4_kind == Lz4Kind::kFrame ? lz4_frame_update(in, out) : lz4_blocks_update(in, out);
}

// pgmoneta's block stream (see kLz4FrameMagic). Without a checksum or an end mark, damage
// shows only as an undecodable block or a truncated one; the backup's SHA-512 lines catch the
// rest.
Result<void> Decompressor::Impl::lz4_blocks_update(std::span<const uint8_t> in, const Sink& out) {
  static const size_t max_compressed =
      static_cast<size_t>(LZ4_compressBound(static_cast<int>(kLz4MaxBlock)));
  while (!in.empty()) {
    size_t need = 4;
    if (lz4_pending.size() >= 4) {
      need += le32(lz4_pending.data());
    } else if (lz4_pending.empty() && in.size() >= 4) {
      need += le32(in.data());
    }
    if (need - 4 > max_compressed) {
      return corrupt(algorithm, fmt::format("block of {} bytes is larger than an lz4 block "
                                            "stream allows (not lz4 data?)",
                                            need - 4));
    }
    if (lz4_pending.empty() && in.size() >= need) {
      // The whole block is in `in`: no copy.
      PGM_TRY(lz4_block(in.subspan(4, need - 4), out));
      in = in.subspan(need);
      continue;
    }
    // Collect the length, then the block, across calls.
    const size_t want = (lz4_pending.size() < 4 ? 4 : need) - lz4_pending.size();
    const size_t take = std::min(want, in.size());
    lz4_pending.insert(lz4_pending.end(), in.begin(),
                       in.begin() + static_cast<std::ptrdiff_t>(take));
    in = in.subspan(take);
    in_frame = true;
    if (lz4_pending.size() >= 4 && lz4_pending.size() == 4 + le32(lz4_pending.data())) {
      std::vector<uint8_t> block = std::move(lz4_pending);
      lz4_pending.clear();
      PGM_TRY(lz4_block(std::span<const uint8_t>(block).subspan(4), out));
      lz4_pending = std::move(block);  // keep its capacity
      lz4_pending.clear();
    }
  }
  return {};
}

Result<void> Decompressor::Impl::lz4_block(std::span<const uint8_t> block, const Sink& out) {
  in_frame = false;
  ++frames;
  if (block.empty()) {
    return {};  // a zero length: nothing (LZ4's own examples end their streams with one)
  }
  if (lz4_window.empty()) {
    lz4_window.resize(kLz4History + 2 * kLz4MaxBlock);
  }
  if (lz4_window.size() - lz4_pos < kLz4MaxBlock) {
    std::memmove(lz4_window.data(), lz4_window.data() + lz4_pos - kLz4History, kLz4History);
    lz4_pos = kLz4History;
  }
  const size_t dict_size = std::min(lz4_pos, kLz4History);
  char* dst = reinterpret_cast<char*>(lz4_window.data() + lz4_pos);
  int n = LZ4_decompress_safe_usingDict(
      reinterpret_cast<const char*>(block.data()), dst, static_cast<int>(block.size()),
      static_cast<int>(kLz4MaxBlock), dst - dict_size, static_cast<int>(dict_size));
  if (n < 0) {
    return corrupt(algorithm, "invalid block in an lz4 block stream");
  }
  std::span<const uint8_t> decoded(lz4_window.data() + lz4_pos, static_cast<size_t>(n));
  lz4_pos += static_cast<size_t>(n);
  produced += decoded.size();
  while (!decoded.empty()) {
    size_t k = std::min(decoded.size(), buf.free_size());
    std::memcpy(buf.free_ptr(), decoded.data(), k);
    buf.advance(k);
    decoded = decoded.subspan(k);
    PGM_TRY(buf.flush_if_full(out));
  }
  return {};
}

Result<void> Decompressor::Impl::lz4_frame_update(std::span<const uint8_t> in, const Sink& out) {
  size_t pos = 0;
  while (true) {
    size_t src_size = in.size() - pos;
    size_t room = buf.free_size();
    size_t dst_size = room;
    size_t hint =
        LZ4F_decompress(lz4, buf.free_ptr(), &dst_size, in.data() + pos, &src_size, nullptr);
    if (LZ4F_isError(hint)) {
      return corrupt(algorithm, LZ4F_getErrorName(hint));
    }
    pos += src_size;
    buf.advance(dst_size);
    produced += dst_size;
    bool progress = src_size > 0 || dst_size > 0;
    account(hint, progress);
    PGM_TRY(buf.flush_if_full(out));
    if (pos == in.size() && (hint == 0 || dst_size < room)) {
      return {};
    }
    if (!progress && dst_size < room) {
      return corrupt(algorithm, "decoder made no progress");
    }
  }
}

// libbz2 has no reset: each stream of a concatenation needs a fresh bz_stream.
Result<void> Decompressor::Impl::bzip2_start() {
  if (bz_live) {
    BZ2_bzDecompressEnd(&bz);
    bz_live = false;
  }
  bz = bz_stream{};
  if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK) {
    return library_error(algorithm, "decompress", "init failed");
  }
  bz_live = true;
  bz_fresh = true;
  return {};
}

Result<void> Decompressor::Impl::bzip2_update(std::span<const uint8_t> in, const Sink& out) {
  size_t pos = 0;
  bool more_out = false;
  while (true) {
    if (bz.avail_in == 0 && pos < in.size()) {
      size_t n = std::min(in.size() - pos, kMaxChunk);
      bz.next_in = const_cast<char*>(reinterpret_cast<const char*>(in.data() + pos));
      bz.avail_in = static_cast<unsigned int>(n);
      pos += n;
    }
    if (bz.avail_in == 0 && !more_out) {
      return {};
    }
    if (!bz_fresh && !in_frame) {
      // Bytes after the end of a stream: a new stream follows (as pbzip2 writes them).
      char* next_in = bz.next_in;
      unsigned int avail_in = bz.avail_in;
      PGM_TRY(bzip2_start());
      bz.next_in = next_in;
      bz.avail_in = avail_in;
    }
    bz_fresh = false;
    in_frame = true;
    size_t room = std::min(buf.free_size(), kMaxChunk);
    bz.next_out = reinterpret_cast<char*>(buf.free_ptr());
    bz.avail_out = static_cast<unsigned int>(room);
    unsigned int avail_in_before = bz.avail_in;
    int rc = BZ2_bzDecompress(&bz);
    size_t n = room - bz.avail_out;
    buf.advance(n);
    produced += n;
    more_out = bz.avail_out == 0;
    if (rc == BZ_MEM_ERROR) {
      return library_error(algorithm, "decompress", "out of memory");
    }
    if (rc != BZ_OK && rc != BZ_STREAM_END) {
      return corrupt(algorithm, rc == BZ_DATA_ERROR_MAGIC ? "not bzip2 data" : "invalid data");
    }
    PGM_TRY(buf.flush_if_full(out));
    if (rc == BZ_STREAM_END) {
      ++frames;
      in_frame = false;
      more_out = false;
      continue;
    }
    if (n == 0 && bz.avail_in == avail_in_before && bz.avail_in != 0) {
      return corrupt(algorithm, "decoder made no progress");
    }
  }
}

Decompressor::Decompressor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Decompressor::~Decompressor() = default;
Decompressor::Decompressor(Decompressor&& other) noexcept = default;
Decompressor& Decompressor::operator=(Decompressor&& other) noexcept = default;

Result<Decompressor> Decompressor::create(Algorithm a) {
  if (!is_known(a)) {
    return unknown_algorithm(a);
  }
  auto impl = std::make_unique<Impl>(a);
  PGM_TRY(impl->init());
  return Decompressor(std::move(impl));
}

Algorithm Decompressor::algorithm() const { return impl_->algorithm; }

Result<void> Decompressor::update(std::span<const uint8_t> in, const Sink& out) {
  Impl& s = *impl_;
  return guarded(s.failed, s.finished, "decompress", [&] { return s.update(in, out); });
}

Result<void> Decompressor::finish(const Sink& out) {
  Impl& s = *impl_;
  Result<void> r = guarded(s.failed, s.finished, "decompress", [&] { return s.finish(out); });
  s.finished = true;
  return r;
}

void Decompressor::reset() { impl_->reset(); }

uint64_t Decompressor::bytes_out() const { return impl_->produced; }

}  // namespace pgm::compress
