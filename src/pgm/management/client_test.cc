#include "pgm/management/client.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "pgm/management/document.h"
#include "pgm/management/frame.h"

namespace pgm::management {
namespace {

using nlohmann::json;

// Serves one exchange on `fd` like the daemon: read a frame, answer make_success.
void serve_once(int fd, bool close_early) {
  FrameReader reader;
  uint8_t buf[4096];
  while (reader.state() == FrameReader::State::kNeedMore) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      return;
    }
    reader.feed(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
  }
  if (close_early) {
    uint8_t partial[3] = {0, 0, 0};
    ::send(fd, partial, sizeof(partial), MSG_NOSIGNAL);
    return;
  }
  auto doc = decode_payload(reader.header().compression, reader.header().encryption,
                            reader.payload(), nullptr);
  json answer = make_success(doc ? *doc : json::object(), json{{"Pong", true}}, 0.001);
  auto frame = encode_frame(answer, static_cast<compress::Algorithm>(reader.header().compression),
                            crypto::AesMode::kNone, nullptr);
  ::send(fd, frame->data(), frame->size(), MSG_NOSIGNAL);
}

TEST(ClientTest, ExchangeOverSocketPair) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd client(sv[0]);
  UniqueFd server(sv[1]);
  std::thread t([&] { serve_once(server.get(), false); });
  json req = make_request(Command::kPing, json::object(), OutputFormat::kText,
                          compress::Algorithm::kGzip, crypto::AesMode::kNone);
  auto resp = exchange(client.get(), req, compress::Algorithm::kGzip, crypto::AesMode::kNone,
                       nullptr, std::chrono::seconds(5));
  t.join();
  ASSERT_TRUE(resp.has_value()) << resp.error().message();
  EXPECT_EQ((*resp)["Outcome"]["Status"], true);
  EXPECT_EQ((*resp)["Response"]["Pong"], true);
  EXPECT_EQ((*resp)["Header"]["Command"], 9);
}

TEST(ClientTest, PeerClosingEarlyIsProtocolError) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd client(sv[0]);
  std::thread t([fd = sv[1]] {
    serve_once(fd, true);
    ::close(fd);
  });
  json req = make_request(Command::kPing, json::object(), OutputFormat::kText,
                          compress::Algorithm::kNone, crypto::AesMode::kNone);
  auto resp = exchange(client.get(), req, compress::Algorithm::kNone, crypto::AesMode::kNone,
                       nullptr, std::chrono::seconds(5));
  t.join();
  ASSERT_FALSE(resp.has_value());
  EXPECT_EQ(resp.error().code(), ErrorCode::kProtocol);
  EXPECT_NE(resp.error().message().find("closed the connection after 3 byte(s)"), std::string::npos)
      << resp.error().message();
}

TEST(ClientTest, SilentPeerTimesOut) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd client(sv[0]);
  UniqueFd server(sv[1]);
  json req = make_request(Command::kPing, json::object(), OutputFormat::kText,
                          compress::Algorithm::kNone, crypto::AesMode::kNone);
  auto resp = exchange(client.get(), req, compress::Algorithm::kNone, crypto::AesMode::kNone,
                       nullptr, std::chrono::milliseconds(100));
  ASSERT_FALSE(resp.has_value());
  EXPECT_EQ(resp.error().code(), ErrorCode::kTimeout);
}

TEST(ClientTest, ConnectToMissingSocketNamesThePath) {
  auto dir = std::filesystem::temp_directory_path() / "pgm-mgmt-client-test-missing";
  auto fd = connect_unix(dir.string());
  ASSERT_FALSE(fd.has_value());
  EXPECT_EQ(fd.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(fd.error().message(), "no pgmoneta daemon is listening on " + dir.string() +
                                      "/.s.pgmoneta: No such file or directory");
}

TEST(ClientTest, ConnectUnixReachesAListener) {
  char tmpl[] = "/tmp/pgm-mgmt-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = socket_path(dir);
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  auto fd = connect_unix(dir);
  EXPECT_TRUE(fd.has_value()) << fd.error().message();
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace pgm::management
