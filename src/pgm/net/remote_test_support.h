// Test-only helpers shared by remote_test.cc and remote_tls_test.cc: socket pairs, a server
// thread running accept_admin(), and the raw messages of the handshake.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "pgm/net/pg_wire.h"
#include "pgm/net/remote.h"
#include "pgm/net/stream.h"

namespace pgm::net::remote_testing {

using namespace std::chrono_literals;
using wire::Bytes;

using namespace std::chrono_literals;
using wire::Bytes;

inline Deadline soon() { return deadline_after(10s); }

inline std::pair<UniqueFd, UniqueFd> socket_pair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

inline std::optional<std::string> lookup_admin(std::string_view user) {
  if (user == "admin") {
    return std::string("secret");
  }
  return std::nullopt;
}

inline std::optional<std::string> lookup_nobody(std::string_view /*user*/) { return std::nullopt; }

// accept_admin() in a thread; `then` runs on success (e.g. the frame exchange).
class ServerThread {
 public:
  ServerThread(UniqueFd fd, const TlsContext* tls, AdminLookup lookup,
               std::function<void(AcceptedAdmin&)> then = {}, Deadline deadline = soon(),
               LoginPolicy policy = {})
      : thread_([this, fd = std::move(fd), tls, lookup = std::move(lookup), then = std::move(then),
                 deadline, policy = std::move(policy)]() mutable {
          result_.emplace(accept_admin(std::move(fd), tls, lookup, deadline, policy));
          if (*result_ && then) {
            then(**result_);
          }
        }) {}
  ~ServerThread() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  Result<AcceptedAdmin>& join() {
    thread_.join();
    return *result_;
  }

 private:
  std::optional<Result<AcceptedAdmin>> result_;
  std::thread thread_;
};

inline Bytes read_all(Stream& stream) {
  Bytes out;
  uint8_t buf[4096];
  for (;;) {
    auto n = stream.read_some(buf, soon());
    if (!n || *n == 0) {
      return out;
    }
    out.insert(out.end(), buf, buf + *n);
  }
}

// The typed messages in bytes (from `skip` on); stops at anything malformed.
inline std::vector<wire::Message> split_messages(const Bytes& bytes, size_t skip = 0) {
  std::vector<wire::Message> out;
  size_t pos = skip;
  while (pos + 5 <= bytes.size()) {
    uint32_t len = (uint32_t{bytes[pos + 1]} << 24) | (uint32_t{bytes[pos + 2]} << 16) |
                   (uint32_t{bytes[pos + 3]} << 8) | bytes[pos + 4];
    if (len < 4 || pos + 1 + len > bytes.size()) {
      break;
    }
    out.push_back({static_cast<char>(bytes[pos]),
                   Bytes(bytes.begin() + static_cast<std::ptrdiff_t>(pos + 5),
                         bytes.begin() + static_cast<std::ptrdiff_t>(pos + 1 + len))});
    pos += 1 + len;
  }
  return out;
}

inline std::optional<wire::ErrorFields> last_error(const Bytes& bytes, size_t skip = 0) {
  auto messages = split_messages(bytes, skip);
  if (messages.empty() || messages.back().type != 'E') {
    return std::nullopt;
  }
  auto f = wire::decode_error_response(messages.back().body);
  return f ? std::optional(*f) : std::nullopt;
}

inline Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

inline Bytes startup(std::string user = "admin", std::string database = "admin") {
  return wire::encode_startup({{"user", std::move(user)}, {"database", std::move(database)}});
}

inline Bytes frame(std::string_view json) {
  std::string f("\0\0\0\0\0", 5);
  f.push_back(static_cast<char>(json.size()));
  f.append(json);
  return {f.begin(), f.end()};
}

inline void echo_frame(AcceptedAdmin& admin) {
  auto request = read_frame(*admin.stream, 1 << 20, soon());
  ASSERT_TRUE(request) << request.error().message();
  EXPECT_EQ(*request, frame("{\"ping\":1}"));
  ASSERT_TRUE(write_frame(*admin.stream, frame("{\"pong\":2}"), soon()));
}

inline void client_round_trip(Stream& stream) {
  ASSERT_TRUE(write_frame(stream, frame("{\"ping\":1}"), soon()));
  auto response = read_frame(stream, 1 << 20, soon());
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(*response, frame("{\"pong\":2}"));
}

}  // namespace pgm::net::remote_testing
