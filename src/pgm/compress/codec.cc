#include "pgm/compress/codec.h"

#include <bzlib.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <lz4frame.h>

namespace pgm::compress {
namespace {

// Largest chunk handed to libraries whose length fields are `unsigned int`.
constexpr size_t kMaxChunk = size_t{1} << 30;
constexpr size_t kInitialOutput = 64 * 1024;

tl::unexpected<Error> corrupt(Algorithm a, std::string_view what) {
  return make_error(ErrorCode::kCorruption,
                    fmt::format("{} decompress: {}", algorithm_name(a), what));
}

tl::unexpected<Error> too_large(Algorithm a, size_t max_output) {
  return make_error(ErrorCode::kCorruption,
                    fmt::format("{} decompress: output exceeds the limit of {} bytes",
                                algorithm_name(a), max_output));
}

// Output buffer for decompression: grows geometrically but never beyond max_output + 1
// bytes, so that producing more than max_output bytes is detectable without unbounded
// allocation.
class BoundedOutput {
 public:
  BoundedOutput(size_t max_output, size_t hint)
      : limit_(max_output == SIZE_MAX ? SIZE_MAX : max_output + 1) {
    buf_.resize(std::min(limit_, std::max(hint, kInitialOutput)));
  }
  // Ensures free space exists; false when the limit is reached.
  bool reserve_space() {
    if (used_ < buf_.size()) {
      return true;
    }
    if (buf_.size() >= limit_) {
      return false;
    }
    size_t next = buf_.size() > limit_ / 2 ? limit_ : buf_.size() * 2;
    buf_.resize(next);
    return true;
  }
  uint8_t* free_ptr() { return buf_.data() + used_; }
  size_t free_size() const { return buf_.size() - used_; }
  void advance(size_t n) { used_ += n; }
  size_t used() const { return used_; }
  std::vector<uint8_t> take() {
    buf_.resize(used_);
    return std::move(buf_);
  }

 private:
  size_t limit_;
  std::vector<uint8_t> buf_;
  size_t used_ = 0;
};

// ---- gzip -------------------------------------------------------------------------------

// `zs` is a deflate stream initialised for gzip at the wanted level (reset here). `out` is
// overwritten; its capacity is reused.
Result<void> gzip_compress_into(z_stream& zs, std::span<const uint8_t> in,
                                std::vector<uint8_t>& out) {
  if (deflateReset(&zs) != Z_OK) {
    return make_error(ErrorCode::kInternal, "gzip compress: deflateReset failed");
  }
  out.resize(deflateBound(&zs, static_cast<uLong>(std::min(in.size(), kMaxChunk))) + 64);
  size_t used = 0;
  size_t pos = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.avail_in == 0 && pos < in.size()) {
      size_t n = std::min(in.size() - pos, kMaxChunk);
      zs.next_in = const_cast<Bytef*>(in.data() + pos);
      zs.avail_in = static_cast<uInt>(n);
      pos += n;
    }
    if (used == out.size()) {
      out.resize(out.size() * 2);
    }
    size_t room = std::min(out.size() - used, kMaxChunk);
    zs.next_out = out.data() + used;
    zs.avail_out = static_cast<uInt>(room);
    int flush = (pos == in.size()) ? Z_FINISH : Z_NO_FLUSH;
    rc = deflate(&zs, flush);
    if (rc == Z_STREAM_ERROR) {
      return make_error(ErrorCode::kInternal, "gzip compress: deflate failed");
    }
    used += room - zs.avail_out;
  }
  out.resize(used);
  return {};
}

Result<z_stream*> gzip_init(int level) {
  auto zs = std::make_unique<z_stream>();
  if (deflateInit2(zs.get(), level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return make_error(ErrorCode::kInternal, "gzip compress: deflateInit2 failed");
  }
  return zs.release();
}

void gzip_free(z_stream* zs) {
  if (zs != nullptr) {
    deflateEnd(zs);
    delete zs;  // NOLINT(cppcoreguidelines-owning-memory): paired with gzip_init
  }
}

Result<std::vector<uint8_t>> gzip_decompress(std::span<const uint8_t> in, size_t max_output) {
  constexpr Algorithm a = Algorithm::kGzip;
  if (in.empty()) {
    return corrupt(a, "empty input");
  }
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) {
    return make_error(ErrorCode::kInternal, "gzip decompress: inflateInit2 failed");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  BoundedOutput out(max_output, in.size() * 4);
  size_t pos = 0;
  bool member_done = false;
  while (true) {
    if (zs.avail_in == 0 && pos < in.size()) {
      size_t n = std::min(in.size() - pos, kMaxChunk);
      zs.next_in = const_cast<Bytef*>(in.data() + pos);
      zs.avail_in = static_cast<uInt>(n);
      pos += n;
    }
    if (member_done) {
      if (zs.avail_in == 0) {
        break;  // all members consumed
      }
      // Another gzip member follows (concatenated files are valid gzip).
      if (inflateReset(&zs) != Z_OK) {
        return corrupt(a, "inflateReset failed");
      }
      member_done = false;
    }
    if (!out.reserve_space()) {
      return too_large(a, max_output);
    }
    size_t room = std::min(out.free_size(), kMaxChunk);
    zs.next_out = out.free_ptr();
    zs.avail_out = static_cast<uInt>(room);
    uInt avail_in_before = zs.avail_in;
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = room - zs.avail_out;
    out.advance(produced);
    if (rc == Z_STREAM_END) {
      member_done = true;
      continue;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
      return corrupt(a, zs.msg != nullptr ? zs.msg : "invalid data");
    }
    if (rc == Z_MEM_ERROR) {
      return make_error(ErrorCode::kInternal, "gzip decompress: out of memory");
    }
    bool progress = produced > 0 || zs.avail_in != avail_in_before;
    if (!progress) {
      if (zs.avail_in == 0 && pos == in.size()) {
        return corrupt(a, "truncated input");
      }
      if (zs.avail_out != 0) {
        return corrupt(a, "decoder made no progress");
      }
    }
  }
  if (out.used() > max_output) {
    return too_large(a, max_output);
  }
  return out.take();
}

// ---- zstd -------------------------------------------------------------------------------

Result<ZSTD_CCtx*> zstd_init(int level) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (cctx == nullptr) {
    return make_error(ErrorCode::kInternal, "zstd compress: cannot create context");
  }
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  return cctx;
}

// ZSTD_compress2 starts a new frame each call and keeps the context's tables allocated.
Result<void> zstd_compress_into(ZSTD_CCtx* cctx, std::span<const uint8_t> in,
                                std::vector<uint8_t>& out) {
  out.resize(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compress2(cctx, out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n)) {
    return make_error(ErrorCode::kInternal, fmt::format("zstd compress: {}", ZSTD_getErrorName(n)));
  }
  out.resize(n);
  return {};
}

Result<std::vector<uint8_t>> zstd_decompress(std::span<const uint8_t> in, size_t max_output) {
  constexpr Algorithm a = Algorithm::kZstd;
  if (in.empty()) {
    return corrupt(a, "empty input");
  }
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) {
    return make_error(ErrorCode::kInternal, "zstd decompress: cannot create context");
  }
  unsigned long long content = ZSTD_getFrameContentSize(in.data(), in.size());
  size_t hint = in.size() * 4;
  if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != ZSTD_CONTENTSIZE_ERROR) {
    if (content > max_output) {
      return too_large(a, max_output);
    }
    hint = static_cast<size_t>(content) + 1;
  }
  BoundedOutput out(max_output, hint);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  size_t last = 1;  // non-zero: a frame is in progress
  while (input.pos < input.size || last != 0) {
    if (!out.reserve_space()) {
      return too_large(a, max_output);
    }
    ZSTD_outBuffer output{out.free_ptr(), out.free_size(), 0};
    size_t in_before = input.pos;
    last = ZSTD_decompressStream(dctx.get(), &output, &input);
    if (ZSTD_isError(last)) {
      return corrupt(a, ZSTD_getErrorName(last));
    }
    out.advance(output.pos);
    if (last != 0 && output.pos == 0 && input.pos == in_before) {
      if (input.pos == input.size) {
        return corrupt(a, "truncated input");
      }
      if (output.pos < output.size) {
        return corrupt(a, "decoder made no progress");
      }
    }
    if (last != 0 && input.pos == input.size && output.pos < output.size) {
      // Everything consumed, output space left, and the frame is still incomplete.
      return corrupt(a, "truncated input");
    }
  }
  if (out.used() > max_output) {
    return too_large(a, max_output);
  }
  return out.take();
}

// ---- lz4 (frame format) -----------------------------------------------------------------

Result<LZ4F_cctx*> lz4_init() {
  LZ4F_cctx* cctx = nullptr;
  if (LZ4F_isError(LZ4F_createCompressionContext(&cctx, LZ4F_VERSION))) {
    return make_error(ErrorCode::kInternal, "lz4 compress: cannot create context");
  }
  return cctx;
}

// One whole frame per call through a reused context (LZ4F_compressFrame would allocate a
// fresh context, and for high-compression levels its large tables, on every call).
Result<void> lz4_compress_into(LZ4F_cctx* cctx, std::span<const uint8_t> in, int level,
                               std::vector<uint8_t>& out) {
  LZ4F_preferences_t prefs{};
  prefs.compressionLevel = level;
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  prefs.frameInfo.contentSize = in.size();
  out.resize(LZ4F_compressFrameBound(in.size(), &prefs));
  auto fail = [](size_t code) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("lz4 compress: {}", LZ4F_getErrorName(code)));
  };
  size_t used = LZ4F_compressBegin(cctx, out.data(), out.size(), &prefs);
  if (LZ4F_isError(used)) {
    return fail(used);
  }
  size_t n = LZ4F_compressUpdate(cctx, out.data() + used, out.size() - used, in.data(), in.size(),
                                 nullptr);
  if (LZ4F_isError(n)) {
    return fail(n);
  }
  used += n;
  n = LZ4F_compressEnd(cctx, out.data() + used, out.size() - used, nullptr);
  if (LZ4F_isError(n)) {
    return fail(n);
  }
  out.resize(used + n);
  return {};
}

Result<std::vector<uint8_t>> lz4_decompress(std::span<const uint8_t> in, size_t max_output) {
  constexpr Algorithm a = Algorithm::kLz4;
  if (in.empty()) {
    return corrupt(a, "empty input");
  }
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
    return make_error(ErrorCode::kInternal, "lz4 decompress: cannot create context");
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> dctx(raw,
                                                                    LZ4F_freeDecompressionContext);
  BoundedOutput out(max_output, in.size() * 4);
  size_t pos = 0;
  size_t hint = 1;  // non-zero: a frame is in progress
  while (pos < in.size() || hint != 0) {
    if (!out.reserve_space()) {
      return too_large(a, max_output);
    }
    size_t src_size = in.size() - pos;
    size_t dst_size = out.free_size();
    hint =
        LZ4F_decompress(dctx.get(), out.free_ptr(), &dst_size, in.data() + pos, &src_size, nullptr);
    if (LZ4F_isError(hint)) {
      return corrupt(a, LZ4F_getErrorName(hint));
    }
    pos += src_size;
    out.advance(dst_size);
    if (hint != 0 && pos == in.size() && out.free_size() > 0) {
      return corrupt(a, "truncated input");
    }
    if (hint != 0 && src_size == 0 && dst_size == 0 && out.free_size() > 0) {
      return corrupt(a, "decoder made no progress");
    }
  }
  if (out.used() > max_output) {
    return too_large(a, max_output);
  }
  return out.take();
}

// ---- bzip2 ------------------------------------------------------------------------------

// libbz2 has no reset: a stream is set up per call (its state is small next to the work).
Result<void> bzip2_compress_into(std::span<const uint8_t> in, int level,
                                 std::vector<uint8_t>& out) {
  bz_stream bz{};
  if (BZ2_bzCompressInit(&bz, level, 0, 0) != BZ_OK) {
    return make_error(ErrorCode::kInternal, "bzip2 compress: init failed");
  }
  std::unique_ptr<bz_stream, int (*)(bz_stream*)> guard(&bz, BZ2_bzCompressEnd);
  out.resize(in.size() + in.size() / 100 + 600);
  size_t used = 0;
  size_t pos = 0;
  int rc = BZ_RUN_OK;
  while (rc != BZ_STREAM_END) {
    if (bz.avail_in == 0 && pos < in.size()) {
      size_t n = std::min(in.size() - pos, kMaxChunk);
      bz.next_in = const_cast<char*>(reinterpret_cast<const char*>(in.data() + pos));
      bz.avail_in = static_cast<unsigned int>(n);
      pos += n;
    }
    if (used == out.size()) {
      out.resize(out.size() * 2);
    }
    size_t room = std::min(out.size() - used, kMaxChunk);
    bz.next_out = reinterpret_cast<char*>(out.data() + used);
    bz.avail_out = static_cast<unsigned int>(room);
    int action = (pos == in.size() && bz.avail_in == 0) ? BZ_FINISH : BZ_RUN;
    rc = BZ2_bzCompress(&bz, action);
    if (rc != BZ_RUN_OK && rc != BZ_FINISH_OK && rc != BZ_STREAM_END) {
      return make_error(ErrorCode::kInternal,
                        fmt::format("bzip2 compress: BZ2_bzCompress returned {}", rc));
    }
    used += room - bz.avail_out;
  }
  out.resize(used);
  return {};
}

Result<std::vector<uint8_t>> bzip2_decompress(std::span<const uint8_t> in, size_t max_output) {
  constexpr Algorithm a = Algorithm::kBzip2;
  if (in.empty()) {
    return corrupt(a, "empty input");
  }
  bz_stream bz{};
  if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK) {
    return make_error(ErrorCode::kInternal, "bzip2 decompress: init failed");
  }
  // Owned through a flag because a multi-stream input re-initialises the stream.
  bool live = true;
  struct Ender {
    bz_stream* s;
    bool* live;
    ~Ender() {
      if (*live) {
        BZ2_bzDecompressEnd(s);
      }
    }
  } ender{&bz, &live};
  BoundedOutput out(max_output, in.size() * 5);
  size_t pos = 0;
  bool stream_done = false;
  while (true) {
    if (bz.avail_in == 0 && pos < in.size()) {
      size_t n = std::min(in.size() - pos, kMaxChunk);
      bz.next_in = const_cast<char*>(reinterpret_cast<const char*>(in.data() + pos));
      bz.avail_in = static_cast<unsigned int>(n);
      pos += n;
    }
    if (stream_done) {
      if (bz.avail_in == 0) {
        break;
      }
      // Concatenated bzip2 streams (as pbzip2 writes them).
      char* next_in = bz.next_in;
      unsigned int avail_in = bz.avail_in;
      BZ2_bzDecompressEnd(&bz);
      live = false;
      bz = bz_stream{};
      if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK) {
        return make_error(ErrorCode::kInternal, "bzip2 decompress: init failed");
      }
      live = true;
      bz.next_in = next_in;
      bz.avail_in = avail_in;
      stream_done = false;
    }
    if (!out.reserve_space()) {
      return too_large(a, max_output);
    }
    size_t room = std::min(out.free_size(), kMaxChunk);
    bz.next_out = reinterpret_cast<char*>(out.free_ptr());
    bz.avail_out = static_cast<unsigned int>(room);
    unsigned int avail_in_before = bz.avail_in;
    int rc = BZ2_bzDecompress(&bz);
    size_t produced = room - bz.avail_out;
    out.advance(produced);
    if (rc == BZ_STREAM_END) {
      stream_done = true;
      continue;
    }
    if (rc != BZ_OK) {
      return corrupt(a, rc == BZ_MEM_ERROR ? "out of memory" : "invalid data");
    }
    if (produced == 0 && bz.avail_in == avail_in_before) {
      if (bz.avail_in == 0 && pos == in.size()) {
        return corrupt(a, "truncated input");
      }
      if (bz.avail_out != 0) {
        return corrupt(a, "decoder made no progress");
      }
    }
  }
  if (out.used() > max_output) {
    return too_large(a, max_output);
  }
  return out.take();
}

}  // namespace

int clamp_level(Algorithm a, int level) {
  switch (a) {
    case Algorithm::kNone:
      return 0;
    case Algorithm::kGzip:
    case Algorithm::kBzip2:
      return std::clamp(level, 1, 9);
    case Algorithm::kZstd:
      return std::clamp(level, 1, 19);
    case Algorithm::kLz4:
      return std::clamp(level, 1, 12);
  }
  return level;
}

Result<std::vector<uint8_t>> compress(Algorithm a, std::span<const uint8_t> in, int level) {
  Compressor c(a, level);
  std::vector<uint8_t> out;
  PGM_TRY(c.compress_into(in, out));
  return out;
}

Compressor::Compressor(Algorithm a, int level) : algorithm_(a), level_(clamp_level(a, level)) {}

Compressor::~Compressor() { reset(); }

Compressor::Compressor(Compressor&& other) noexcept
    : algorithm_(other.algorithm_),
      level_(other.level_),
      zstd_(std::exchange(other.zstd_, nullptr)),
      lz4_(std::exchange(other.lz4_, nullptr)),
      gzip_(std::exchange(other.gzip_, nullptr)),
      out_(std::move(other.out_)) {}

void Compressor::reset() {
  ZSTD_freeCCtx(zstd_);
  zstd_ = nullptr;
  if (lz4_ != nullptr) {
    LZ4F_freeCompressionContext(lz4_);
    lz4_ = nullptr;
  }
  gzip_free(gzip_);
  gzip_ = nullptr;
}

Result<void> Compressor::compress_into(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  switch (algorithm_) {
    case Algorithm::kNone:
      out.assign(in.begin(), in.end());
      return {};
    case Algorithm::kGzip:
      if (gzip_ == nullptr) {
        PGM_ASSIGN_OR_RETURN(gzip_, gzip_init(level_));
      }
      return gzip_compress_into(*gzip_, in, out);
    case Algorithm::kZstd:
      if (zstd_ == nullptr) {
        PGM_ASSIGN_OR_RETURN(zstd_, zstd_init(level_));
      }
      return zstd_compress_into(zstd_, in, out);
    case Algorithm::kLz4:
      if (lz4_ == nullptr) {
        PGM_ASSIGN_OR_RETURN(lz4_, lz4_init());
      }
      return lz4_compress_into(lz4_, in, level_, out);
    case Algorithm::kBzip2:
      return bzip2_compress_into(in, level_, out);
  }
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("unknown compression algorithm {}", static_cast<int>(algorithm_)));
}

Result<std::span<const uint8_t>> Compressor::compress(std::span<const uint8_t> in) {
  PGM_TRY(compress_into(in, out_));
  return std::span<const uint8_t>(out_);
}

Result<std::vector<uint8_t>> decompress(Algorithm a, std::span<const uint8_t> in,
                                        size_t max_output) {
  switch (a) {
    case Algorithm::kNone:
      if (in.size() > max_output) {
        return too_large(a, max_output);
      }
      return std::vector<uint8_t>(in.begin(), in.end());
    case Algorithm::kGzip:
      return gzip_decompress(in, max_output);
    case Algorithm::kZstd:
      return zstd_decompress(in, max_output);
    case Algorithm::kLz4:
      return lz4_decompress(in, max_output);
    case Algorithm::kBzip2:
      return bzip2_decompress(in, max_output);
  }
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("unknown compression algorithm {}", static_cast<int>(a)));
}

}  // namespace pgm::compress
