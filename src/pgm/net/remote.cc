#include "pgm/net/remote.h"

#include <netdb.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <sys/socket.h>

#include "pgm/core/markup.h"
#include "pgm/management/frame.h"
#include "pgm/net/net_internal.h"
#include "pgm/net/pg_wire.h"
#include "pgm/net/scram.h"

namespace pgm::net {
namespace {

// The write of a refusal sent after a failure delay: the login deadline may have passed.
constexpr std::chrono::seconds kRefusalWriteTimeout{2};

// An error the server answers with an ErrorResponse before closing.
struct Refusal {
  ErrorCode code;
  std::string_view sqlstate;
  std::string wire_message;  // sent to the client
  std::string log_message;   // for the one log line
};

Result<void> send(Stream& stream, const wire::Bytes& bytes, Deadline deadline) {
  return stream.write_all(bytes, deadline);
}

// Best effort: the connection is being closed anyway, so a failed write changes nothing.
void send_fatal(Stream& stream, std::string_view sqlstate, const std::string& message,
                Deadline deadline) {
  wire::ErrorFields f{"FATAL", std::string(sqlstate), message, {}};
  stream.write_all(wire::encode_error_response(f), deadline).ignore_error();
}

std::string printable_type(char type) {
  auto u = static_cast<unsigned char>(type);
  return u >= 0x20 && u < 0x7f ? fmt::format("'{}'", type) : fmt::format("0x{:02x}", u);
}

// The server handshake. Returns the authenticated user; on error the ErrorResponse (if any) has
// been sent and the Error's message is the log line's detail.
// Authentication failures (kPermission) come back as the complete log line (they name the peer
// in the middle); other errors get "remote management: <peer>: " from the caller.
Result<std::string> server_handshake(std::unique_ptr<Stream>& stream, const TlsContext* tls,
                                     const AdminLookup& lookup, const std::string& peer,
                                     Deadline deadline, const LoginPolicy& policy) {
  auto refuse = [&](std::string_view sqlstate, ErrorCode code, const std::string& wire_message,
                    const std::string& log_message) -> tl::unexpected<Error> {
    send_fatal(*stream, sqlstate, wire_message, deadline);
    return make_error(code, log_message);
  };
  auto violation = [&](const std::string& what) {
    return refuse(wire::kSqlstateProtocolViolation, ErrorCode::kProtocol, what,
                  fmt::format("protocol violation: {}", what));
  };

  // 1. SSLRequest / GSSENCRequest, then the StartupMessage.
  bool ssl_seen = false;
  bool gss_seen = false;
  wire::StartupPacket startup;
  for (;;) {
    auto body = wire::read_startup_packet(*stream, deadline);
    if (!body) {
      if (body.error().code() == ErrorCode::kProtocol) {
        return violation(body.error().message());
      }
      return tl::unexpected(body.error().with_context("reading the startup packet"));
    }
    auto packet = wire::decode_startup_packet(*body);
    if (!packet) {
      return violation(packet.error().message());
    }
    using Kind = wire::StartupPacket::Kind;
    if (packet->kind == Kind::kSslRequest) {
      if (ssl_seen || stream->tls()) {
        return violation("SSLRequest received twice");
      }
      ssl_seen = true;
      if (tls == nullptr) {
        PGM_TRY(send(*stream, {'N'}, deadline));
        continue;
      }
      PGM_TRY(send(*stream, {'S'}, deadline));
      PGM_ASSIGN_OR_RETURN(stream, tls_accept(stream->release(), *tls, deadline));
      continue;
    }
    if (packet->kind == Kind::kGssEncRequest) {
      if (gss_seen || stream->tls()) {
        return violation("unexpected GSSENCRequest");
      }
      gss_seen = true;
      PGM_TRY(send(*stream, {'N'}, deadline));
      continue;
    }
    if (packet->kind == Kind::kCancelRequest) {
      // PostgreSQL never answers a cancel request; neither do we.
      return make_error(ErrorCode::kProtocol, "cancel requests are not supported");
    }
    if (packet->version != wire::kProtocolVersion3) {
      auto v = static_cast<uint32_t>(packet->version);
      std::string msg = fmt::format("unsupported frontend protocol {}.{}: server supports 3.0",
                                    v >> 16, v & 0xffff);
      return refuse(wire::kSqlstateFeatureNotSupported, ErrorCode::kProtocol, msg, msg);
    }
    startup = std::move(*packet);
    break;
  }

  std::string user(startup.param("user").value_or(""));
  if (user.empty()) {
    std::string msg = "no PostgreSQL user name specified in startup packet";
    return refuse(wire::kSqlstateInvalidAuthorization, ErrorCode::kProtocol, msg, msg);
  }
  if (tls != nullptr && !stream->tls()) {
    // As a hostssl-only pg_hba.conf: the password must never cross the network in plain.
    return refuse(wire::kSqlstateInvalidAuthorization, ErrorCode::kPermission,
                  "remote management requires TLS (tls = on): connect with SSL",
                  fmt::format("remote management: user \"{}\" from {} refused: the connection "
                              "did not ask for TLS and tls = on requires it",
                              core::printable(user), peer));
  }
  std::string database(startup.param("database").value_or(user));
  if (database.empty()) {
    database = user;  // PostgreSQL's default
  }
  if (database != kAdminDatabase) {
    return refuse(wire::kSqlstateUndefinedDatabase, ErrorCode::kNotFound,
                  fmt::format("database \"{}\" does not exist", database),
                  fmt::format(R"(user "{}" asked for database "{}" (only "{}" exists))",
                              core::printable(user), core::printable(database), kAdminDatabase));
  }

  // 2. SCRAM-SHA-256.
  std::optional<std::string> password = lookup(user);
  bool known = password.has_value();
  ScramServer scram =
      known ? ScramServer(std::move(*password)) : ScramServer::mock(user, internal::mock_secret());
  std::string_view mechanisms[] = {kScramMechanism};
  PGM_TRY(send(*stream, wire::encode_auth_sasl(mechanisms), deadline));

  auto read_sasl = [&](std::string_view what) -> Result<wire::Bytes> {
    auto msg = wire::read_message(*stream, wire::kMaxSaslLength, deadline);
    if (!msg) {
      if (msg.error().code() == ErrorCode::kProtocol) {
        return violation(msg.error().message());
      }
      return tl::unexpected(msg.error().with_context(fmt::format("waiting for {}", what)));
    }
    if (msg->type != 'p') {
      if (msg->type == 'X') {
        return make_error(ErrorCode::kIo,
                          fmt::format("client closed the connection instead of sending {}", what));
      }
      return violation(
          fmt::format("expected {}, got message type {}", what, printable_type(msg->type)));
    }
    return std::move(msg->body);
  };
  auto auth_failed = [&]() -> tl::unexpected<Error> {
    if (policy.report) {
      policy.report(false);
    }
    // The delay holds the refusal back, not the login deadline: it starts its own clock.
    std::this_thread::sleep_for(policy.failure_delay);
    send_fatal(*stream, wire::kSqlstateInvalidPassword,
               fmt::format("password authentication failed for user \"{}\"", user),
               std::chrono::steady_clock::now() + kRefusalWriteTimeout);
    return make_error(ErrorCode::kPermission,
                      fmt::format("remote management: authentication failed for user \"{}\" from "
                                  "{}{}",
                                  core::printable(user), peer, known ? "" : " (unknown user)"));
  };
  auto scram_error = [&](const Error& e) -> tl::unexpected<Error> {
    if (is_scram_auth_failure(e)) {
      return auth_failed();
    }
    return violation(e.message());
  };

  PGM_ASSIGN_OR_RETURN(wire::Bytes initial_body, read_sasl("SASLInitialResponse"));
  auto initial = wire::decode_sasl_initial_response(initial_body);
  if (!initial) {
    return violation(initial.error().message());
  }
  if (initial->mechanism != kScramMechanism) {
    return violation(fmt::format("client selected an invalid SASL authentication mechanism \"{}\"",
                                 core::printable(initial->mechanism)));
  }
  auto server_first = scram.handle_client_first(initial->data);
  if (!server_first) {
    return scram_error(server_first.error());
  }
  PGM_TRY(send(*stream, wire::encode_auth(wire::kAuthSaslContinue, *server_first), deadline));

  PGM_ASSIGN_OR_RETURN(wire::Bytes final_body, read_sasl("SASLResponse"));
  auto server_final = scram.handle_client_final(
      std::string_view(reinterpret_cast<const char*>(final_body.data()), final_body.size()));
  if (!server_final) {
    return scram_error(server_final.error());
  }
  if (policy.report) {
    policy.report(true);
  }
  wire::Bytes answer = wire::encode_auth(wire::kAuthSaslFinal, *server_final);
  wire::Bytes ok = wire::encode_auth(wire::kAuthOk);
  answer.insert(answer.end(), ok.begin(), ok.end());
  PGM_TRY(send(*stream, answer, deadline));
  return user;
}

std::string host_port(std::string_view host, int port) {
  return host.find(':') != std::string_view::npos ? fmt::format("[{}]:{}", host, port)
                                                  : fmt::format("{}:{}", host, port);
}

}  // namespace

namespace internal {

std::span<const uint8_t> mock_secret() {
  static const std::array<uint8_t, 32> secret = [] {
    std::array<uint8_t, 32> s{};
    PGM_CHECK(RAND_bytes(s.data(), static_cast<int>(s.size())) == 1);
    return s;
  }();
  return secret;
}

namespace {

struct PeerAddress {
  std::string host;  // "127.0.0.1", "::1", "local" or "unknown"
  int port = -1;     // -1 when there is none
  bool v6 = false;
};

PeerAddress peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return {"unknown"};
  }
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    return {buf, ntohs(in->sin_port), false};
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    return {buf, ntohs(in6->sin6_port), true};
  }
  return {ss.ss_family == AF_UNIX ? "local" : "unknown"};
}

}  // namespace

std::string peer_name(int fd) {
  PeerAddress a = peer_address(fd);
  if (a.port < 0) {
    return a.host;
  }
  return a.v6 ? fmt::format("[{}]:{}", a.host, a.port) : fmt::format("{}:{}", a.host, a.port);
}

std::string peer_host(int fd) { return peer_address(fd).host; }

}  // namespace internal

Result<AcceptedAdmin> accept_admin(UniqueFd fd, const TlsContext* tls, const AdminLookup& lookup,
                                   Deadline deadline, const LoginPolicy& policy) {
  std::string peer = internal::peer_name(fd.get());
  std::unique_ptr<Stream> stream = Stream::plain(std::move(fd));
  auto user = server_handshake(stream, tls, lookup, peer, deadline, policy);
  if (!user) {
    const Error& e = user.error();
    if (e.code() == ErrorCode::kPermission) {
      return tl::unexpected(e);  // already the whole log line
    }
    return make_error(e.code(), fmt::format("remote management: {}: {}", peer, e.message()));
  }
  return AcceptedAdmin{std::move(stream), std::move(*user)};
}

void send_refusal(int fd, std::string_view sqlstate, const std::string& message) {
  // What the client already sent (its SSLRequest or StartupMessage) is read and dropped: a
  // close with unread data would reset the connection and could lose the message below.
  std::array<uint8_t, 1024> unread{};
  while (::recv(fd, unread.data(), unread.size(), MSG_DONTWAIT) > 0) {
  }
  wire::Bytes bytes = wire::encode_error_response({"FATAL", std::string(sqlstate), message, {}});
  // A new socket's send buffer takes a few hundred bytes at once; MSG_DONTWAIT keeps the
  // caller (the main loop) from ever waiting on a client.
  ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  static_cast<void>(sent);  // best effort: the connection is closed next either way
}

Result<std::unique_ptr<Stream>> authenticate_admin(UniqueFd fd, std::string_view host,
                                                   const std::string& user,
                                                   const std::string& password,
                                                   const TlsContext* tls, Deadline deadline) {
  std::unique_ptr<Stream> stream = Stream::plain(std::move(fd));
  if (tls != nullptr) {
    PGM_TRY(send(*stream, wire::encode_ssl_request(), deadline));
    uint8_t answer = 0;
    PGM_TRY(stream->read_exact(std::span(&answer, 1), deadline).map_error([](const Error& e) {
      return e.with_context("SSLRequest");
    }));
    if (answer == 'S') {
      PGM_ASSIGN_OR_RETURN(stream, tls_connect(stream->release(), *tls, host, deadline));
    } else if (answer == 'E') {
      // Refused before any handshake (too many connections): an ErrorResponse follows.
      std::array<uint8_t, 4> len_bytes{};
      PGM_TRY(stream->read_exact(len_bytes, deadline));
      uint32_t len = (uint32_t{len_bytes[0]} << 24) | (uint32_t{len_bytes[1]} << 16) |
                     (uint32_t{len_bytes[2]} << 8) | uint32_t{len_bytes[3]};
      if (len < 4 || len > wire::kMaxServerMessageLength) {
        return make_error(ErrorCode::kProtocol, "the server refused the connection");
      }
      wire::Bytes body(len - 4);
      PGM_TRY(stream->read_exact(body, deadline));
      PGM_ASSIGN_OR_RETURN(wire::ErrorFields f, wire::decode_error_response(body));
      return tl::unexpected(Error(ErrorCode::kServer, f.message, f.sqlstate));
    } else if (answer == 'N') {
      if (tls->verifies_peer()) {
        return make_error(ErrorCode::kUnavailable,
                          "the server does not support TLS, but a CA to verify it is configured");
      }
    } else {
      return make_error(ErrorCode::kProtocol,
                        fmt::format("unexpected answer {} to SSLRequest",
                                    printable_type(static_cast<char>(answer))));
    }
  }
  wire::StartupParams params = {{"user", user}, {"database", std::string(kAdminDatabase)}};
  PGM_TRY(send(*stream, wire::encode_startup(params), deadline));

  // libpq leaves the SCRAM user name empty; the StartupMessage user counts.
  ScramClient scram("", password, stream->tls());
  enum class Stage { kStart, kSentFirst, kSentFinal, kVerified } stage = Stage::kStart;
  for (;;) {
    PGM_ASSIGN_OR_RETURN(wire::Message msg,
                         wire::read_message(*stream, wire::kMaxServerMessageLength, deadline));
    if (msg.type == 'E') {
      PGM_ASSIGN_OR_RETURN(wire::ErrorFields f, wire::decode_error_response(msg.body));
      return tl::unexpected(Error(ErrorCode::kServer, f.message, f.sqlstate));
    }
    if (msg.type == 'N') {
      continue;  // NoticeResponse: nothing to do with it here
    }
    if (msg.type != 'R') {
      return make_error(ErrorCode::kProtocol,
                        fmt::format("unexpected message type {} during authentication",
                                    printable_type(msg.type)));
    }
    PGM_ASSIGN_OR_RETURN(wire::AuthRequest auth, wire::decode_auth(msg.body));
    if (auth.code == wire::kAuthSasl && stage == Stage::kStart) {
      if (std::find(auth.mechanisms.begin(), auth.mechanisms.end(), kScramMechanism) ==
          auth.mechanisms.end()) {
        return make_error(ErrorCode::kProtocol,
                          "the server offers no SASL mechanism we support (SCRAM-SHA-256)");
      }
      PGM_TRY(send(*stream,
                   wire::encode_sasl_initial_response(kScramMechanism, scram.client_first()),
                   deadline));
      stage = Stage::kSentFirst;
    } else if (auth.code == wire::kAuthSaslContinue && stage == Stage::kSentFirst) {
      PGM_ASSIGN_OR_RETURN(std::string client_final, scram.handle_server_first(auth.data));
      PGM_TRY(send(*stream, wire::encode_sasl_response(client_final), deadline));
      stage = Stage::kSentFinal;
    } else if (auth.code == wire::kAuthSaslFinal && stage == Stage::kSentFinal) {
      PGM_TRY(scram.verify_server_final(auth.data));
      stage = Stage::kVerified;
    } else if (auth.code == wire::kAuthOk) {
      if (stage != Stage::kVerified) {
        return make_error(ErrorCode::kPermission,
                          "the server accepted the connection without proving it knows the "
                          "password");
      }
      return stream;
    } else if (auth.code == wire::kAuthSasl || auth.code == wire::kAuthSaslContinue ||
               auth.code == wire::kAuthSaslFinal) {
      return make_error(ErrorCode::kProtocol,
                        fmt::format("unexpected SASL message (code {})", auth.code));
    } else {
      return make_error(ErrorCode::kProtocol,
                        fmt::format("the server asks for authentication method {}; only "
                                    "SCRAM-SHA-256 is supported",
                                    auth.code));
    }
  }
}

Result<std::unique_ptr<Stream>> connect_admin(const std::string& host, int port,
                                              const std::string& user, const std::string& password,
                                              const TlsContext* tls, Deadline deadline) {
  std::string where = host_port(host, port);
  if (port <= 0 || port > 65535) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("invalid port {}", port));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (rc != 0) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("could not resolve host \"{}\": {}", host,
                                  rc == EAI_SYSTEM ? errno_error("getaddrinfo", errno).message()
                                                   : std::string(gai_strerror(rc))));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(list, ::freeaddrinfo);
  int last_errno = ECONNREFUSED;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) {
      last_errno = errno;
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last_errno = errno;
        continue;
      }
      auto waited = internal::wait_fd(fd.get(), POLLOUT, deadline);
      if (!waited) {
        if (waited.error().code() == ErrorCode::kTimeout) {
          return make_error(ErrorCode::kTimeout, fmt::format("connect to {} timed out", where));
        }
        last_errno = errno;
        continue;
      }
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) {
        so_error = errno;
      }
      if (so_error != 0) {
        last_errno = so_error;
        continue;
      }
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // best effort
    return authenticate_admin(std::move(fd), host, user, password, tls, deadline);
  }
  return make_error(
      ErrorCode::kUnavailable,
      errno_error(fmt::format("could not connect to {}", where), last_errno).message());
}

Result<std::vector<uint8_t>> read_frame(Stream& stream, uint32_t max_length, Deadline deadline) {
  management::FrameReader reader(max_length);
  std::vector<uint8_t> raw(management::kFrameHeaderSize);
  PGM_TRY(stream.read_exact(raw, deadline).map_error([](const Error& e) {
    return e.with_context("reading the management frame");
  }));
  if (reader.feed(raw) == management::FrameReader::State::kError) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("invalid management frame: {}", reader.error()));
  }
  size_t total = management::kFrameHeaderSize + reader.header().length;
  std::vector<uint8_t> chunk(std::min<size_t>(total - raw.size(), 65536));
  while (raw.size() < total) {
    size_t want = std::min(chunk.size(), total - raw.size());
    PGM_TRY(
        stream.read_exact(std::span(chunk.data(), want), deadline).map_error([](const Error& e) {
          return e.with_context("reading the management frame");
        }));
    reader.feed(std::span(chunk.data(), want));
    raw.insert(raw.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(want));
  }
  if (reader.state() != management::FrameReader::State::kComplete) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("invalid management frame: {}", reader.error()));
  }
  return raw;
}

Result<void> write_frame(Stream& stream, std::span<const uint8_t> frame, Deadline deadline) {
  if (frame.size() < management::kFrameHeaderSize) {
    return make_error(ErrorCode::kInvalidArgument, "management frame shorter than its header");
  }
  uint32_t length = (uint32_t{frame[2]} << 24) | (uint32_t{frame[3]} << 16) |
                    (uint32_t{frame[4]} << 8) | uint32_t{frame[5]};
  if (length != frame.size() - management::kFrameHeaderSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("management frame header says {} bytes, payload has {}", length,
                                  frame.size() - management::kFrameHeaderSize));
  }
  return stream.write_all(frame, deadline).map_error([](const Error& e) {
    return e.with_context("writing the management frame");
  });
}

}  // namespace pgm::net
