#include "pgm/compress/codec.h"

#include <algorithm>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "pgm/compress/stream.h"
#include "pgm/compress/stream_internal.h"

namespace pgm::compress {
namespace {

using internal::is_known;

tl::unexpected<Error> unknown_algorithm(Algorithm a) {
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("unknown compression algorithm {}", static_cast<int>(a)));
}

tl::unexpected<Error> too_large(Algorithm a, size_t max_output) {
  return make_error(ErrorCode::kCorruption,
                    fmt::format("{} decompress: output exceeds the limit of {} bytes",
                                algorithm_name(a), max_output));
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

Compressor::~Compressor() = default;

Compressor::Compressor(Compressor&& other) noexcept = default;

Result<void> Compressor::compress_into(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  if (!is_known(algorithm_)) {
    return unknown_algorithm(algorithm_);
  }
  if (!stream_) {
    PGM_ASSIGN_OR_RETURN(StreamCompressor stream, StreamCompressor::create(algorithm_, level_));
    stream_ = std::make_unique<StreamCompressor>(std::move(stream));
  }
  stream_->reset();
  out.clear();
  // The whole input in one step: the encoder learns its size (as a one-shot call would).
  return stream_->finish(in, [&out](std::span<const uint8_t> bytes) -> Result<void> {
    out.insert(out.end(), bytes.begin(), bytes.end());
    return {};
  });
}

Result<std::span<const uint8_t>> Compressor::compress(std::span<const uint8_t> in) {
  PGM_TRY(compress_into(in, out_));
  return std::span<const uint8_t>(out_);
}

Result<std::vector<uint8_t>> decompress(Algorithm a, std::span<const uint8_t> in,
                                        size_t max_output) {
  if (!is_known(a)) {
    return unknown_algorithm(a);
  }
  PGM_ASSIGN_OR_RETURN(Decompressor decompressor, Decompressor::create(a));
  std::vector<uint8_t> out;
  out.reserve(std::min(max_output, in.size() * 4));
  auto collect = [&](std::span<const uint8_t> bytes) -> Result<void> {
    if (bytes.size() > max_output - out.size()) {
      return too_large(a, max_output);
    }
    out.insert(out.end(), bytes.begin(), bytes.end());
    return {};
  };
  PGM_TRY(decompressor.update(in, collect));
  PGM_TRY(decompressor.finish(collect));
  return out;
}

}  // namespace pgm::compress
