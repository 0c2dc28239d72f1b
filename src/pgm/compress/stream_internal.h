// Module-private helpers shared by the streaming codecs (stream.cc, decompressor.cc): the
// reused output chunk, error builders and the failed/finished guard. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "pgm/compress/stream.h"

namespace pgm::compress::internal {

// Largest chunk handed to libraries whose length fields are `unsigned int`.
inline constexpr size_t kMaxChunk = size_t{1} << 30;

inline bool is_known(Algorithm a) {
  switch (a) {
    case Algorithm::kNone:
    case Algorithm::kGzip:
    case Algorithm::kZstd:
    case Algorithm::kLz4:
    case Algorithm::kBzip2:
      return true;
  }
  return false;
}

inline tl::unexpected<Error> unknown_algorithm(Algorithm a) {
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("compress: unknown algorithm {}", static_cast<int>(a)));
}

inline tl::unexpected<Error> corrupt(Algorithm a, std::string_view what) {
  return make_error(ErrorCode::kCorruption,
                    fmt::format("{} decompress: {}", algorithm_name(a), what));
}

inline tl::unexpected<Error> library_error(Algorithm a, std::string_view op,
                                           std::string_view what) {
  return make_error(ErrorCode::kInternal, fmt::format("{} {}: {}", algorithm_name(a), op, what));
}

// The reused output buffer: allocated once (on first use), handed to the sink when full and
// at the end of a stream.
class ChunkBuffer {
 public:
  uint8_t* free_ptr() {
    ensure();
    return buf_.data() + used_;
  }
  size_t free_size() {
    ensure();
    return buf_.size() - used_;
  }
  void advance(size_t n) { used_ += n; }
  bool full() const { return !buf_.empty() && used_ == buf_.size(); }
  void clear() { used_ = 0; }

  Result<void> flush(const Sink& out) {
    if (used_ == 0) {
      return {};
    }
    size_t n = std::exchange(used_, 0);
    return out(std::span<const uint8_t>(buf_.data(), n));
  }
  Result<void> flush_if_full(const Sink& out) {
    if (!full()) {
      return {};
    }
    return flush(out);
  }

 private:
  void ensure() {
    if (buf_.empty()) {
      buf_.resize(kStreamChunk);
    }
  }
  std::vector<uint8_t> buf_;
  size_t used_ = 0;
};

// Runs `op` unless the codec already failed or finished; remembers a failure.
template <typename Op>
Result<void> guarded(std::optional<Error>& failed, bool finished, std::string_view name, Op op) {
  if (failed) {
    return tl::unexpected<Error>(*failed);
  }
  if (finished) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: stream already finished", name));
  }
  Result<void> r = op();
  if (!r) {
    failed = r.error();
  }
  return r;
}

}  // namespace pgm::compress::internal
