// The PostgreSQL v3 protocol messages of the remote management handshake: encoders, decoders
// (pure functions over bytes) and a reader of whole messages from a Stream with length limits.
//
//   untyped packet = length:i32be (counts itself) body        (SSLRequest, StartupMessage, ...)
//   typed message  = type:u8 length:i32be (counts itself) body
//
// Thread-safe: no state. Errors: malformed bytes or a length above the limit -> kProtocol (the
// limit is checked before anything is allocated); Stream errors as in stream.h.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/net/stream.h"

namespace pgm::net::wire {

inline constexpr int32_t kProtocolVersion3 = 196608;  // 3.0
inline constexpr int32_t kCancelRequestCode = 80877102;
inline constexpr int32_t kSslRequestCode = 80877103;
inline constexpr int32_t kGssEncRequestCode = 80877104;
inline constexpr size_t kMaxStartupLength = 10000;        // whole packet, length word included
inline constexpr size_t kMaxSaslLength = 4096;            // body of a client SASL message
inline constexpr size_t kMaxServerMessageLength = 65536;  // body of a message the client reads

// Authentication request codes ('R').
inline constexpr int32_t kAuthOk = 0;
inline constexpr int32_t kAuthSasl = 10;
inline constexpr int32_t kAuthSaslContinue = 11;
inline constexpr int32_t kAuthSaslFinal = 12;

// SQLSTATEs we send.
inline constexpr std::string_view kSqlstateInvalidPassword = "28P01";
inline constexpr std::string_view kSqlstateInvalidAuthorization = "28000";
inline constexpr std::string_view kSqlstateProtocolViolation = "08P01";
inline constexpr std::string_view kSqlstateUndefinedDatabase = "3D000";
inline constexpr std::string_view kSqlstateFeatureNotSupported = "0A000";
inline constexpr std::string_view kSqlstateTooManyConnections = "53300";

using Bytes = std::vector<uint8_t>;
using StartupParams = std::vector<std::pair<std::string, std::string>>;

// ---- frontend (client) messages
Bytes encode_ssl_request();
Bytes encode_startup(const StartupParams& params);
Bytes encode_sasl_initial_response(std::string_view mechanism, std::string_view data);
Bytes encode_sasl_response(std::string_view data);

// The first packet a server reads (length word removed).
struct StartupPacket {
  enum class Kind { kSslRequest, kGssEncRequest, kCancelRequest, kStartup };
  Kind kind = Kind::kStartup;
  int32_t version = 0;   // kProtocolVersion3 for kStartup
  StartupParams params;  // kStartup only, in order

  // The value of a parameter, if present.
  std::optional<std::string_view> param(std::string_view name) const;
};
// Unsupported protocol versions are still decoded (kind kStartup, params empty); the caller
// refuses them. Malformed key/value lists -> kProtocol.
Result<StartupPacket> decode_startup_packet(std::span<const uint8_t> body);

struct SaslInitialResponse {
  std::string mechanism;
  std::string data;  // empty also when the client sent length -1
};
Result<SaslInitialResponse> decode_sasl_initial_response(std::span<const uint8_t> body);

// ---- backend (server) messages
Bytes encode_auth(int32_t code, std::string_view data = {});  // 'R'
Bytes encode_auth_sasl(std::span<const std::string_view> mechanisms);

struct ErrorFields {
  std::string severity;  // V when present (not localized), else S
  std::string sqlstate;  // C
  std::string message;   // M
  std::string detail;    // D (optional)
};
// 'E' with S and V = severity, C, M, D when not empty.
Bytes encode_error_response(const ErrorFields& fields);
Result<ErrorFields> decode_error_response(std::span<const uint8_t> body);

struct AuthRequest {
  int32_t code = 0;
  std::vector<std::string> mechanisms;  // kAuthSasl
  std::string data;                     // kAuthSaslContinue / kAuthSaslFinal
};
Result<AuthRequest> decode_auth(std::span<const uint8_t> body);

// ---- reading from a stream
struct Message {
  char type = 0;
  Bytes body;
};
// Reads the untyped first packet; length outside [8, kMaxStartupLength] -> kProtocol.
Result<Bytes> read_startup_packet(Stream& stream, Deadline deadline);
// Reads one typed message whose body is at most max_body bytes.
Result<Message> read_message(Stream& stream, size_t max_body, Deadline deadline);

}  // namespace pgm::net::wire
