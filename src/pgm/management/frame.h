// Management frames (reference §4.1):
//
//   frame   = compression:u8 encryption:u8 length:u32be payload[length]
//   payload = JSON                                   if compression == 0 && encryption == 0
//           = base64( encrypt( compress( JSON ) ) )  otherwise (each step only when its byte
//                                                    is non-zero)
//
// as pgmoneta's pgmoneta_management_write_json()/read_json() do it. JSON is compact UTF-8.
// Compression bytes 0 none, 1 gzip (RFC 1952), 2 zstd frame, 3 lz4, 4 bzip2; for lz4 pgmoneta
// 0.22 sends the JSON's length (u32 big-endian) then one raw LZ4 *block* (LZ4_compress_default),
// and so do we; we accept that, a bare block (earlier senders) or an LZ4 frame. Encryption bytes 0
// none, 1/2/3 AES-256/192/128-GCM in the salt||iv||ct||tag format keyed from the master key. Base64
// is standard, padded, without line breaks.
//
// All functions are pure and thread-safe; FrameReader is a value type used by one thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/management/protocol.h"

namespace pgm::management {

struct FrameHeader {
  uint8_t compression = 0;
  uint8_t encryption = 0;
  uint32_t length = 0;
};

// Incremental parser of exactly one frame (one request or one response per connection).
// Errors are reported as soon as they are knowable: an unknown compression/encryption byte or
// a length above max_length right after the 6 header bytes, before any payload is buffered.
// Trailing bytes: a connection carries one frame, so any byte after the frame (in the same
// feed() or a later one) is an error. Once kError, the reader stays in kError.
class FrameReader {
 public:
  enum class State { kNeedMore, kComplete, kError };

  explicit FrameReader(uint32_t max_length = kDefaultMaxFrameLength);

  State feed(std::span<const uint8_t> data);
  State state() const { return state_; }

  // Valid once the 6 header bytes have been read (always when kComplete).
  const FrameHeader& header() const { return header_; }
  // The payload; complete only when state() == kComplete.
  std::span<const uint8_t> payload() const { return payload_; }
  // Why kError, e.g. "frame length 33554432 exceeds the limit of 16777216 bytes".
  const std::string& error() const { return error_; }

 private:
  State fail(std::string message);

  uint32_t max_length_;
  State state_ = State::kNeedMore;
  uint8_t head_[kFrameHeaderSize] = {};
  size_t head_filled_ = 0;
  FrameHeader header_;
  std::vector<uint8_t> payload_;
  std::string error_;
};

// True for the bytes §4.1 defines (compression 0-4, encryption 0-3).
bool valid_compression_byte(uint8_t b);
bool valid_encryption_byte(uint8_t b);

// Serializes doc (compact JSON; invalid UTF-8 in strings is replaced, never thrown) into a
// whole frame. Encryption other than kNone needs key (else kConfig). A payload longer than
// UINT32_MAX -> kInvalidArgument.
Result<std::vector<uint8_t>> encode_frame(const nlohmann::json& doc,
                                          compress::Algorithm compression,
                                          crypto::AesMode encryption, const crypto::MasterKey* key);

// Decodes a payload into a JSON object. Never throws. Errors name the failing step:
// unknown byte, bad base64, encrypted but no key (kConfig), wrong key or modified bytes
// (kCorruption), decompression failure or output above max_json (kCorruption), invalid UTF-8,
// invalid JSON, nesting deeper than 128, or not an object (kProtocol).
Result<nlohmann::json> decode_payload(uint8_t compression, uint8_t encryption,
                                      std::span<const uint8_t> payload,
                                      const crypto::MasterKey* key,
                                      size_t max_json = 4 * size_t{kDefaultMaxFrameLength});

}  // namespace pgm::management
