#include "pgm/management/frame.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <lz4.h>

#include "pgm/crypto/base64.h"

namespace pgm::management {

namespace {

constexpr size_t kMaxJsonDepth = 128;
constexpr uint8_t kLz4FrameMagic[4] = {0x04, 0x22, 0x4D, 0x18};

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void write_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// pgmoneta's wire lz4 (0.22): the JSON text's length as a big-endian u32, then the text as one
// raw LZ4 block.
Result<std::vector<uint8_t>> lz4_wire_compress(std::span<const uint8_t> in) {
  if (in.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
    return make_error(ErrorCode::kInvalidArgument, "lz4: payload too large");
  }
  int bound = LZ4_compressBound(static_cast<int>(in.size()));
  std::vector<uint8_t> out(4 + static_cast<size_t>(bound));
  write_be32(out.data(), static_cast<uint32_t>(in.size()));
  int n = LZ4_compress_default(reinterpret_cast<const char*>(in.data()),
                               reinterpret_cast<char*>(out.data() + 4), static_cast<int>(in.size()),
                               bound);
  if (n <= 0) {
    return make_error(ErrorCode::kInternal, "lz4: compression failed");
  }
  out.resize(4 + static_cast<size_t>(n));
  return out;
}

// Decodes one raw LZ4 block into at most `capacity` bytes; nullopt when it does not decode.
std::optional<std::vector<uint8_t>> lz4_block_decode(std::span<const uint8_t> block,
                                                     size_t capacity) {
  capacity = std::min(capacity, static_cast<size_t>(std::numeric_limits<int>::max()));
  std::unique_ptr<char[]> buf(new char[std::max<size_t>(capacity, 1)]);
  int n = LZ4_decompress_safe(reinterpret_cast<const char*>(block.data()), buf.get(),
                              static_cast<int>(block.size()), static_cast<int>(capacity));
  if (n < 0) {
    return std::nullopt;
  }
  return std::vector<uint8_t>(buf.get(), buf.get() + n);
}

// What pgmoneta 0.22 sends (the length, then the block; the block must give exactly that many
// bytes), else a bare block, as earlier pgmoneta versions and we before issue 18 sent it.
Result<std::vector<uint8_t>> lz4_wire_decompress(std::span<const uint8_t> in, size_t max_out) {
  if (in.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
    return make_error(ErrorCode::kCorruption, "lz4: compressed payload too large");
  }
  if (in.size() > 4) {
    const size_t length = read_be32(in.data());
    if (length <= max_out) {
      auto text = lz4_block_decode(in.subspan(4), length);
      if (text && text->size() == length) {
        return std::move(*text);
      }
    }
  }
  // An LZ4 block expands at most ~255 times.
  auto text = lz4_block_decode(in, std::min(max_out, in.size() * 255 + 64));
  if (!text) {
    return make_error(ErrorCode::kCorruption,
                      "lz4: corrupt block or decompressed payload above the limit");
  }
  return std::move(*text);
}

Result<std::vector<uint8_t>> wire_compress(compress::Algorithm a, std::span<const uint8_t> in) {
  if (a == compress::Algorithm::kLz4) {
    return lz4_wire_compress(in);
  }
  return compress::compress(a, in);
}

Result<std::vector<uint8_t>> wire_decompress(compress::Algorithm a, std::span<const uint8_t> in,
                                             size_t max_out) {
  if (a == compress::Algorithm::kLz4 &&
      (in.size() < sizeof(kLz4FrameMagic) ||
       std::memcmp(in.data(), kLz4FrameMagic, sizeof(kLz4FrameMagic)) != 0)) {
    return lz4_wire_decompress(in, max_out);
  }
  return compress::decompress(a, in, max_out);
}

// Index of the first byte that is not part of valid UTF-8, or npos.
size_t invalid_utf8_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > s.size()) {
      return i;
    }
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return i;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    bool overlong =
        (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

// Deepest nesting of arrays/objects outside strings (the parser recurses on it).
size_t json_depth(std::string_view s) {
  size_t depth = 0;
  size_t max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace

bool valid_compression_byte(uint8_t b) { return b <= 4; }
bool valid_encryption_byte(uint8_t b) { return b <= 3; }

FrameReader::FrameReader(uint32_t max_length) : max_length_(max_length) {}

FrameReader::State FrameReader::fail(std::string message) {
  state_ = State::kError;
  error_ = std::move(message);
  payload_.clear();
  payload_.shrink_to_fit();
  return state_;
}

FrameReader::State FrameReader::feed(std::span<const uint8_t> data) {
  if (state_ == State::kError) {
    return state_;
  }
  if (state_ == State::kComplete) {
    if (data.empty()) {
      return state_;
    }
    return fail(fmt::format("{} unexpected byte(s) after the frame", data.size()));
  }
  size_t pos = 0;
  if (head_filled_ < kFrameHeaderSize) {
    size_t take = std::min(kFrameHeaderSize - head_filled_, data.size());
    std::memcpy(head_ + head_filled_, data.data(), take);
    head_filled_ += take;
    pos += take;
    if (head_filled_ < kFrameHeaderSize) {
      return state_;
    }
    header_.compression = head_[0];
    header_.encryption = head_[1];
    header_.length = read_be32(head_ + 2);
    if (!valid_compression_byte(header_.compression)) {
      return fail(fmt::format("unknown compression byte {}", header_.compression));
    }
    if (!valid_encryption_byte(header_.encryption)) {
      return fail(fmt::format("unknown encryption byte {}", header_.encryption));
    }
    if (header_.length > max_length_) {
      return fail(fmt::format("frame length {} exceeds the limit of {} bytes", header_.length,
                              max_length_));
    }
    payload_.reserve(std::min<size_t>(header_.length, 1u << 20));
  }
  size_t want = header_.length - payload_.size();
  size_t take = std::min(want, data.size() - pos);
  payload_.insert(payload_.end(), data.begin() + static_cast<std::ptrdiff_t>(pos),
                  data.begin() + static_cast<std::ptrdiff_t>(pos + take));
  pos += take;
  if (payload_.size() < header_.length) {
    return state_;
  }
  state_ = State::kComplete;
  if (pos < data.size()) {
    return fail(fmt::format("{} unexpected byte(s) after the frame", data.size() - pos));
  }
  return state_;
}

Result<std::vector<uint8_t>> encode_frame(const nlohmann::json& doc,
                                          compress::Algorithm compression,
                                          crypto::AesMode encryption,
                                          const crypto::MasterKey* key) {
  std::string text = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::vector<uint8_t> payload;
  if (compression == compress::Algorithm::kNone && encryption == crypto::AesMode::kNone) {
    payload.assign(text.begin(), text.end());
  } else {
    std::vector<uint8_t> buf(text.begin(), text.end());
    if (compression != compress::Algorithm::kNone) {
      auto packed = wire_compress(compression, buf);
      if (!packed) {
        return tl::unexpected(packed.error().with_context("management frame"));
      }
      buf = std::move(*packed);
    }
    if (encryption != crypto::AesMode::kNone) {
      if (key == nullptr) {
        return make_error(ErrorCode::kConfig,
                          "management frame: encryption requested but no master key is loaded");
      }
      auto sealed = crypto::aes_encrypt(*key, encryption, buf);
      if (!sealed) {
        return tl::unexpected(sealed.error().with_context("management frame"));
      }
      buf = std::move(*sealed);
    }
    std::string b64 = crypto::base64_encode(buf);
    payload.assign(b64.begin(), b64.end());
  }
  if (payload.size() > std::numeric_limits<uint32_t>::max()) {
    return make_error(ErrorCode::kInvalidArgument, "management frame: payload too large");
  }
  std::vector<uint8_t> frame(kFrameHeaderSize + payload.size());
  frame[0] = static_cast<uint8_t>(compression);
  frame[1] = static_cast<uint8_t>(encryption);
  write_be32(frame.data() + 2, static_cast<uint32_t>(payload.size()));
  std::copy(payload.begin(), payload.end(), frame.begin() + kFrameHeaderSize);
  return frame;
}

Result<nlohmann::json> decode_payload(uint8_t compression, uint8_t encryption,
                                      std::span<const uint8_t> payload,
                                      const crypto::MasterKey* key, size_t max_json) {
  if (!valid_compression_byte(compression)) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("unknown compression byte {}", compression));
  }
  if (!valid_encryption_byte(encryption)) {
    return make_error(ErrorCode::kProtocol, fmt::format("unknown encryption byte {}", encryption));
  }
  std::vector<uint8_t> plain;
  std::span<const uint8_t> text_bytes = payload;
  if (compression != 0 || encryption != 0) {
    std::string_view b64(reinterpret_cast<const char*>(payload.data()), payload.size());
    auto decoded = crypto::base64_decode(b64);
    if (!decoded) {
      return make_error(ErrorCode::kProtocol,
                        fmt::format("payload is not valid base64: {}", decoded.error().message()));
    }
    plain = std::move(*decoded);
    if (encryption != 0) {
      if (key == nullptr) {
        return make_error(ErrorCode::kConfig, "payload is encrypted but no master key is loaded");
      }
      auto opened = crypto::aes_decrypt(*key, static_cast<crypto::AesMode>(encryption), plain);
      if (!opened) {
        return make_error(ErrorCode::kCorruption,
                          fmt::format("cannot decrypt the payload (different master key?): {}",
                                      opened.error().message()));
      }
      plain = std::move(*opened);
    }
    if (compression != 0) {
      auto unpacked =
          wire_decompress(static_cast<compress::Algorithm>(compression), plain, max_json);
      if (!unpacked) {
        return make_error(ErrorCode::kCorruption, fmt::format("cannot decompress the payload: {}",
                                                              unpacked.error().message()));
      }
      plain = std::move(*unpacked);
    }
    text_bytes = plain;
  }
  std::string_view text(reinterpret_cast<const char*>(text_bytes.data()), text_bytes.size());
  while (!text.empty() && text.back() == '\0') {  // a C sender may include its terminator
    text.remove_suffix(1);
  }
  if (text.size() > max_json) {
    return make_error(ErrorCode::kProtocol, "payload JSON is too large");
  }
  if (text.empty()) {
    return make_error(ErrorCode::kProtocol, "empty payload");
  }
  if (size_t at = invalid_utf8_at(text); at != std::string_view::npos) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("payload is not valid UTF-8 (byte offset {})", at));
  }
  if (json_depth(text) > kMaxJsonDepth) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("payload JSON nests deeper than {} levels", kMaxJsonDepth));
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kProtocol, fmt::format("payload is not valid JSON: {}", e.what()));
  }
  if (!doc.is_object()) {
    return make_error(ErrorCode::kProtocol, "payload JSON is not an object");
  }
  return doc;
}

}  // namespace pgm::management
