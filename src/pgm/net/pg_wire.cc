#include "pgm/net/pg_wire.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace pgm::net::wire {
namespace {

tl::unexpected<Error> malformed(std::string_view what) {
  return make_error(ErrorCode::kProtocol, std::string(what));
}

// Messages are assembled in a std::string (GCC 12 reports false -Wstringop-overflow warnings
// for byte-wise push_back into a std::vector<uint8_t> at -O3) and copied out once.
class Builder {
 public:
  // type 0: an untyped packet (SSLRequest, StartupMessage).
  explicit Builder(char type) : typed_(type != 0) {
    if (typed_) {
      buf_.push_back(type);
    }
    put_i32(0);  // length, patched by finish()
  }
  void put_i32(int32_t v) {
    auto u = static_cast<uint32_t>(v);
    char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8),
                 static_cast<char>(u)};
    buf_.append(b, 4);
  }
  void put_byte(char c) { buf_.push_back(c); }
  void put_str(std::string_view s) { buf_.append(s); }
  void put_cstr(std::string_view s) {
    buf_.append(s);
    buf_.push_back('\0');
  }
  Bytes finish() {
    size_t at = typed_ ? 1 : 0;
    auto len = static_cast<uint32_t>(buf_.size() - at);
    buf_[at] = static_cast<char>(len >> 24);
    buf_[at + 1] = static_cast<char>(len >> 16);
    buf_[at + 2] = static_cast<char>(len >> 8);
    buf_[at + 3] = static_cast<char>(len);
    return {buf_.begin(), buf_.end()};
  }

 private:
  bool typed_;
  std::string buf_;
};

int32_t get_i32(const uint8_t* p) {
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                              (uint32_t{p[2]} << 8) | uint32_t{p[3]});
}

class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> data, std::string_view what) : data_(data), what_(what) {}

  size_t remaining() const { return data_.size(); }
  std::span<const uint8_t> rest() const { return data_; }

  Result<int32_t> i32() {
    if (data_.size() < 4) {
      return malformed(fmt::format("{} is truncated", what_));
    }
    int32_t v = get_i32(data_.data());
    data_ = data_.subspan(4);
    return v;
  }
  Result<std::string> cstring() {
    const void* nul = std::memchr(data_.data(), 0, data_.size());
    if (nul == nullptr) {
      return malformed(fmt::format("{} has an unterminated string", what_));
    }
    auto n = static_cast<size_t>(static_cast<const uint8_t*>(nul) - data_.data());
    std::string s(reinterpret_cast<const char*>(data_.data()), n);
    data_ = data_.subspan(n + 1);
    return s;
  }
  Result<uint8_t> byte() {
    if (data_.empty()) {
      return malformed(fmt::format("{} is truncated", what_));
    }
    uint8_t b = data_[0];
    data_ = data_.subspan(1);
    return b;
  }

 private:
  std::span<const uint8_t> data_;
  std::string_view what_;
};

}  // namespace

Bytes encode_ssl_request() {
  Builder b(0);
  b.put_i32(kSslRequestCode);
  return b.finish();
}

Bytes encode_startup(const StartupParams& params) {
  Builder b(0);
  b.put_i32(kProtocolVersion3);
  for (const auto& [key, value] : params) {
    b.put_cstr(key);
    b.put_cstr(value);
  }
  b.put_byte('\0');
  return b.finish();
}

Bytes encode_sasl_initial_response(std::string_view mechanism, std::string_view data) {
  Builder b('p');
  b.put_cstr(mechanism);
  b.put_i32(static_cast<int32_t>(data.size()));
  b.put_str(data);
  return b.finish();
}

Bytes encode_sasl_response(std::string_view data) {
  Builder b('p');
  b.put_str(data);
  return b.finish();
}

std::optional<std::string_view> StartupPacket::param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

Result<StartupPacket> decode_startup_packet(std::span<const uint8_t> body) {
  ByteReader r(body, "startup packet");
  StartupPacket p;
  PGM_ASSIGN_OR_RETURN(p.version, r.i32());
  switch (p.version) {
    case kSslRequestCode:
    case kGssEncRequestCode:
      if (r.remaining() != 0) {
        return malformed("SSL/GSS encryption request has an invalid length");
      }
      p.kind = p.version == kSslRequestCode ? StartupPacket::Kind::kSslRequest
                                            : StartupPacket::Kind::kGssEncRequest;
      return p;
    case kCancelRequestCode:
      p.kind = StartupPacket::Kind::kCancelRequest;
      return p;
    case kProtocolVersion3:
      break;
    default:
      p.kind = StartupPacket::Kind::kStartup;
      return p;
  }
  for (;;) {
    if (r.remaining() == 0) {
      return malformed("startup packet has no terminator");
    }
    if (r.remaining() == 1 && r.rest()[0] == 0) {
      return p;
    }
    PGM_ASSIGN_OR_RETURN(std::string key, r.cstring());
    if (key.empty()) {
      return malformed("startup packet has data after its terminator");
    }
    PGM_ASSIGN_OR_RETURN(std::string value, r.cstring());
    p.params.emplace_back(std::move(key), std::move(value));
  }
}

Result<SaslInitialResponse> decode_sasl_initial_response(std::span<const uint8_t> body) {
  ByteReader r(body, "SASLInitialResponse");
  SaslInitialResponse out;
  PGM_ASSIGN_OR_RETURN(out.mechanism, r.cstring());
  PGM_ASSIGN_OR_RETURN(int32_t len, r.i32());
  if (len == -1 && r.remaining() == 0) {
    return out;
  }
  if (len < 0 || static_cast<size_t>(len) != r.remaining()) {
    return malformed("SASLInitialResponse has an invalid data length");
  }
  out.data.assign(reinterpret_cast<const char*>(r.rest().data()), r.remaining());
  return out;
}

Bytes encode_auth(int32_t code, std::string_view data) {
  Builder b('R');
  b.put_i32(code);
  b.put_str(data);
  return b.finish();
}

Bytes encode_auth_sasl(std::span<const std::string_view> mechanisms) {
  Builder b('R');
  b.put_i32(kAuthSasl);
  for (std::string_view m : mechanisms) {
    b.put_cstr(m);
  }
  b.put_byte('\0');
  return b.finish();
}

Bytes encode_error_response(const ErrorFields& fields) {
  Builder b('E');
  auto field = [&b](char type, std::string_view value) {
    b.put_byte(type);
    std::string safe(value);
    std::replace(safe.begin(), safe.end(), '\0', '?');  // a NUL would end the field early
    b.put_cstr(safe);
  };
  field('S', fields.severity);
  field('V', fields.severity);
  field('C', fields.sqlstate);
  field('M', fields.message);
  if (!fields.detail.empty()) {
    field('D', fields.detail);
  }
  b.put_byte('\0');
  return b.finish();
}

Result<ErrorFields> decode_error_response(std::span<const uint8_t> body) {
  ByteReader r(body, "ErrorResponse");
  ErrorFields f;
  std::string localized_severity;
  for (;;) {
    PGM_ASSIGN_OR_RETURN(uint8_t type, r.byte());
    if (type == 0) {
      break;
    }
    PGM_ASSIGN_OR_RETURN(std::string value, r.cstring());
    switch (type) {
      case 'S':
        localized_severity = std::move(value);
        break;
      case 'V':
        f.severity = std::move(value);
        break;
      case 'C':
        f.sqlstate = std::move(value);
        break;
      case 'M':
        f.message = std::move(value);
        break;
      case 'D':
        f.detail = std::move(value);
        break;
      default:
        break;  // other fields (hint, position, file, line, routine) are not shown
    }
  }
  if (r.remaining() != 0) {
    return malformed("ErrorResponse has data after its terminator");
  }
  if (f.severity.empty()) {
    f.severity = std::move(localized_severity);
  }
  return f;
}

Result<AuthRequest> decode_auth(std::span<const uint8_t> body) {
  ByteReader r(body, "authentication request");
  AuthRequest a;
  PGM_ASSIGN_OR_RETURN(a.code, r.i32());
  if (a.code == kAuthSasl) {
    for (;;) {
      PGM_ASSIGN_OR_RETURN(std::string m, r.cstring());
      if (m.empty()) {
        break;
      }
      a.mechanisms.push_back(std::move(m));
    }
    if (r.remaining() != 0) {
      return malformed("AuthenticationSASL has data after its mechanism list");
    }
  } else {
    a.data.assign(reinterpret_cast<const char*>(r.rest().data()), r.remaining());
  }
  return a;
}

Result<Bytes> read_startup_packet(Stream& stream, Deadline deadline) {
  uint8_t head[4];
  PGM_TRY(stream.read_exact(head, deadline));
  int32_t len = get_i32(head);
  if (len < 8 || static_cast<size_t>(len) > kMaxStartupLength) {
    return malformed(
        fmt::format("invalid startup packet length {} (must be 8 to {})", len, kMaxStartupLength));
  }
  Bytes body(static_cast<size_t>(len) - 4);
  PGM_TRY(stream.read_exact(body, deadline));
  return body;
}

Result<Message> read_message(Stream& stream, size_t max_body, Deadline deadline) {
  uint8_t head[5];
  PGM_TRY(stream.read_exact(head, deadline));
  Message m;
  m.type = static_cast<char>(head[0]);
  int32_t len = get_i32(head + 1);
  if (len < 4 || static_cast<size_t>(len) - 4 > max_body) {
    auto printable = [](char c) { return c >= 0x20 && c < 0x7f ? c : '?'; };
    return malformed(fmt::format("invalid length {} for message type '{}' (limit {} bytes)", len,
                                 printable(m.type), max_body));
  }
  m.body.resize(static_cast<size_t>(len) - 4);
  PGM_TRY(stream.read_exact(m.body, deadline));
  return m;
}

}  // namespace pgm::net::wire
