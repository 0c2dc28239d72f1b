#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "support/temp_dir.h"
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "pgm/net/remote.h"
#include "pgm/net/remote_test_support.h"
#include "pgm/net/tls.h"

namespace pgm::net {
namespace {

using namespace std::chrono_literals;
using namespace remote_testing;

// ---------------------------------------------------------------------------------------------
// TCP and TLS.

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"root.crt", "server.crt", "server.key", "client.crt", "client.key",
                             "other.crt", "other.key"}) {
      std::filesystem::copy_file(std::filesystem::path(PGM_TLS_TESTDATA) / name, path(name));
      ::chmod(path(name).c_str(), std::string_view(name).ends_with(".key") ? 0600 : 0644);
    }
  }

  std::string path(const char* name) const { return tmp_.file(name); }

  std::shared_ptr<TlsContext> server_ctx(bool with_ca = false) {
    auto ctx = TlsContext::server(
        {path("server.crt"), path("server.key"), with_ca ? path("root.crt") : ""});
    EXPECT_TRUE(ctx) << ctx.error().message();
    return ctx ? *ctx : nullptr;
  }

  test_support::TempDir tmp_{"pgm_net_test"};
};

TEST_F(TlsTest, HandshakeOverTlsThenOneFrameEachWay) {
  auto server_tls = server_ctx();
  auto client_tls = TlsContext::client({});
  ASSERT_TRUE(client_tls);
  auto [server_fd, client_fd] = socket_pair();
  bool server_saw_tls = false;
  ServerThread server(std::move(server_fd), server_tls.get(), lookup_admin,
                      [&server_saw_tls](AcceptedAdmin& admin) {
                        server_saw_tls = admin.stream->tls();
                        echo_frame(admin);
                      });
  auto stream = authenticate_admin(std::move(client_fd), "localhost", "admin", "secret",
                                   client_tls->get(), soon());
  ASSERT_TRUE(stream) << stream.error().message();
  EXPECT_TRUE((*stream)->tls());
  client_round_trip(**stream);
  ASSERT_TRUE(server.join());
  EXPECT_TRUE(server_saw_tls);
}

TEST_F(TlsTest, LargeFramesCrossTlsInPieces) {
  auto server_tls = server_ctx();
  auto client_tls = TlsContext::client({});
  ASSERT_TRUE(client_tls);
  std::string big_json = R"({"x":")" + std::string(3 << 20, 'a') + R"("})";
  Bytes big = {0, 0};
  for (int shift : {24, 16, 8, 0}) {
    big.push_back(static_cast<uint8_t>(big_json.size() >> shift));
  }
  big.insert(big.end(), big_json.begin(), big_json.end());
  auto [server_fd, client_fd] = socket_pair();
  ServerThread server(std::move(server_fd), server_tls.get(), lookup_admin,
                      [&big](AcceptedAdmin& admin) {
                        auto request = read_frame(*admin.stream, 16 << 20, soon());
                        ASSERT_TRUE(request) << request.error().message();
                        EXPECT_EQ(*request, big);
                        ASSERT_TRUE(write_frame(*admin.stream, *request, soon()));
                      });
  auto stream = authenticate_admin(std::move(client_fd), "localhost", "admin", "secret",
                                   client_tls->get(), soon());
  ASSERT_TRUE(stream) << stream.error().message();
  ASSERT_TRUE(write_frame(**stream, big, soon()));
  auto echoed = read_frame(**stream, 16 << 20, soon());
  ASSERT_TRUE(echoed) << echoed.error().message();
  EXPECT_EQ(*echoed, big);
  EXPECT_TRUE(server.join());
}

TEST_F(TlsTest, ClientWithTlsFallsBackToPlainWhenServerSaysN) {
  auto client_tls = TlsContext::client({});
  ASSERT_TRUE(client_tls);
  auto [server_fd, client_fd] = socket_pair();
  ServerThread server(std::move(server_fd), nullptr, lookup_admin, echo_frame);
  auto stream = authenticate_admin(std::move(client_fd), "localhost", "admin", "secret",
                                   client_tls->get(), soon());
  ASSERT_TRUE(stream) << stream.error().message();
  EXPECT_FALSE((*stream)->tls());
  client_round_trip(**stream);
  EXPECT_TRUE(server.join());
}

TEST_F(TlsTest, TlsOnRefusesALoginWithoutSslRequest) {
  auto server_tls = server_ctx();
  auto [server_fd, client_fd] = socket_pair();
  ServerThread server(std::move(server_fd), server_tls.get(), lookup_admin);
  auto stream =
      authenticate_admin(std::move(client_fd), "localhost", "admin", "secret", nullptr, soon());
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().code(), ErrorCode::kServer);
  EXPECT_EQ(stream.error().sqlstate(), "28000");
  EXPECT_NE(stream.error().message().find("requires TLS"), std::string::npos)
      << stream.error().message();
  auto& result = server.join();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kPermission);
  EXPECT_NE(result.error().message().find("did not ask for TLS"), std::string::npos)
      << result.error().message();
}

TEST_F(TlsTest, TlsOnNeverOffersSaslToAPlainClient) {
  auto server_tls = server_ctx();
  auto [server_fd, client_fd] = socket_pair();
  ServerThread server(std::move(server_fd), server_tls.get(), lookup_admin);
  auto client = Stream::plain(std::move(client_fd));
  ASSERT_TRUE(client->write_all(startup(), soon()));
  Bytes answer = read_all(*client);
  auto messages = split_messages(answer);
  ASSERT_EQ(messages.size(), 1u);  // no AuthenticationSASL before the refusal
  EXPECT_EQ(messages[0].type, 'E');
  auto error = last_error(answer);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->sqlstate, "28000");
  EXPECT_FALSE(server.join());
}

TEST_F(TlsTest, ClientReportsARefusalSentInsteadOfTheSslAnswer) {
  auto client_tls = TlsContext::client({});
  ASSERT_TRUE(client_tls);
  auto [server_fd, client_fd] = socket_pair();
  send_refusal(server_fd.get(), wire::kSqlstateTooManyConnections, "too many connections");
  auto stream = authenticate_admin(std::move(client_fd), "localhost", "admin", "secret",
                                   client_tls->get(), soon());
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().code(), ErrorCode::kServer);
  EXPECT_EQ(stream.error().sqlstate(), "53300");
  EXPECT_EQ(stream.error().message(), "too many connections");
}

TEST_F(TlsTest, VerifyingClientRefusesPlainServer) {
  auto client_tls = TlsContext::client({"", "", path("root.crt")});
  ASSERT_TRUE(client_tls);
  auto [server_fd, client_fd] = socket_pair();
  ServerThread server(std::move(server_fd), nullptr, lookup_admin);
  auto stream = authenticate_admin(std::move(client_fd), "localhost", "admin", "secret",
                                   client_tls->get(), soon());
  ASSERT_FALSE(stream);
  EXPECT_NE(stream.error().message().find("does not support TLS"), std::string::npos);
}

TEST_F(TlsTest, ClientVerifiesServerAgainstRootCa) {
  auto server_tls = server_ctx();
  for (const char* host : {"localhost", "127.0.0.1"}) {
    auto client_tls = TlsContext::client({"", "", path("root.crt")});
    ASSERT_TRUE(client_tls);
    auto [server_fd, client_fd] = socket_pair();
    ServerThread server(std::move(server_fd), server_tls.get(), lookup_admin, echo_frame);
    auto stream = authenticate_admin(std::move(client_fd), host, "admin", "secret",
                                     client_tls->get(), soon());
    ASSERT_TRUE(stream) << host << ": " << stream.error().message();
    client_round_trip(**stream);
    EXPECT_TRUE(server.join());
  }
}

TEST_F(TlsTest, ClientRefusesServerFromAnotherCaOrName) {
  auto server_tls = server_ctx();
  struct Case {
    const char* ca;
    const char* host;
  };
  for (Case c : {Case{"other.crt", "localhost"}, Case{"root.crt", "example.com"}}) {
    auto client_tls = TlsContext::client({"", "", path(c.ca)});
    ASSERT_TRUE(client_tls);
    auto [server_fd, client_fd] = socket_pair();
    ServerThread server(std::move(server_fd), server_tls.get(), lookup_admin);
    auto stream = authenticate_admin(std::move(client_fd), c.host, "admin", "secret",
                                     client_tls->get(), soon());
    ASSERT_FALSE(stream);
    EXPECT_NE(stream.error().message().find("certificate verification failed"), std::string::npos)
        << stream.error().message();
    auto& result = server.join();
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message().find("TLS handshake failed"), std::string::npos)
        << result.error().message();
  }
}

TEST_F(TlsTest, ClientCertificateIsVerifiedWhenPresented) {
  auto server_tls = server_ctx(/*with_ca=*/true);
  // Signed by the CA: accepted. No certificate: accepted (SCRAM still applies).
  for (bool with_cert : {true, false}) {
    auto client_tls = TlsContext::client(
        with_cert ? TlsFiles{path("client.crt"), path("client.key"), path("root.crt")}
                  : TlsFiles{"", "", path("root.crt")});
    ASSERT_TRUE(client_tls) << client_tls.error().message();
    auto [server_fd, client_fd] = socket_pair();
    ServerThread server(std::move(server_fd), server_tls.get(), lookup_admin, echo_frame);
    auto stream = authenticate_admin(std::move(client_fd), "localhost", "admin", "secret",
                                     client_tls->get(), soon());
    ASSERT_TRUE(stream) << stream.error().message();
    client_round_trip(**stream);
    EXPECT_TRUE(server.join());
  }
  // Not signed by the CA: refused by the server.
  auto client_tls = TlsContext::client({path("other.crt"), path("other.key"), ""});
  ASSERT_TRUE(client_tls);
  auto [server_fd, client_fd] = socket_pair();
  ServerThread server(std::move(server_fd), server_tls.get(), lookup_admin);
  auto stream = authenticate_admin(std::move(client_fd), "localhost", "admin", "secret",
                                   client_tls->get(), soon());
  EXPECT_FALSE(stream);
  auto& result = server.join();
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message().find("TLS handshake failed"), std::string::npos);
}

TEST_F(TlsTest, KeyFileReadableByOthersIsRefused) {
  ::chmod(path("server.key").c_str(), 0644);
  auto ctx = TlsContext::server({path("server.crt"), path("server.key"), ""});
  ASSERT_FALSE(ctx);
  EXPECT_EQ(ctx.error().code(), ErrorCode::kPermission);
  EXPECT_NE(ctx.error().message().find(path("server.key")), std::string::npos);
  EXPECT_NE(ctx.error().message().find("0644"), std::string::npos) << ctx.error().message();
  ::chmod(path("client.key").c_str(), 0604);
  auto client = TlsContext::client({path("client.crt"), path("client.key"), ""});
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code(), ErrorCode::kPermission);
}

TEST_F(TlsTest, BadFilesNameTheFile) {
  auto missing = TlsContext::server({path("nope.crt"), path("server.key"), ""});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("nope.crt"), std::string::npos);
  // A certificate that is not PEM.
  auto bad = TlsContext::server({path("server.key"), path("server.key"), ""});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kConfig);
  EXPECT_NE(bad.error().message().find("server.key"), std::string::npos) << bad.error().message();
  // A key that does not match the certificate.
  auto mismatch = TlsContext::server({path("server.crt"), path("other.key"), ""});
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().message().find("mismatch"), std::string::npos)
      << mismatch.error().message();
  EXPECT_FALSE(TlsContext::server({"", "", ""}));
}

TEST_F(TlsTest, TlsHandshakeDeadline) {
  auto server_tls = server_ctx();
  auto [server_fd, client_fd] = socket_pair();
  auto start = std::chrono::steady_clock::now();
  auto stream = tls_accept(std::move(server_fd), *server_tls, deadline_after(200ms));
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().code(), ErrorCode::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

// connect_admin() over loopback TCP.
class Listener {
 public:
  Listener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  void listen() { EXPECT_EQ(::listen(fd_.get(), 4), 0); }
  UniqueFd accept() { return UniqueFd(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC)); }
  int port() const { return port_; }

 private:
  UniqueFd fd_;
  int port_ = 0;
};

TEST_F(TlsTest, ConnectAdminOverTcpWithTls) {
  auto server_tls = server_ctx();
  auto client_tls = TlsContext::client({"", "", path("root.crt")});
  ASSERT_TRUE(client_tls);
  Listener listener;
  listener.listen();
  std::string server_log;
  std::thread server([&] {
    UniqueFd fd = listener.accept();
    auto r = accept_admin(std::move(fd), server_tls.get(), lookup_admin, soon());
    ASSERT_TRUE(r) << r.error().message();
    echo_frame(*r);
  });
  auto stream =
      connect_admin("127.0.0.1", listener.port(), "admin", "secret", client_tls->get(), soon());
  ASSERT_TRUE(stream) << stream.error().message();
  EXPECT_TRUE((*stream)->tls());
  client_round_trip(**stream);
  server.join();
}

TEST(RemoteTcpTest, ConnectionRefusedNamesHostAndPort) {
  Listener bound_not_listening;
  auto stream =
      connect_admin("127.0.0.1", bound_not_listening.port(), "admin", "secret", nullptr, soon());
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().message(),
            "could not connect to 127.0.0.1:" + std::to_string(bound_not_listening.port()) +
                ": Connection refused");
}

TEST(RemoteTcpTest, WrongPasswordOverTcpNamesThePeer) {
  Listener listener;
  listener.listen();
  std::optional<Result<AcceptedAdmin>> result;
  std::thread server(
      [&] { result.emplace(accept_admin(listener.accept(), nullptr, lookup_admin, soon())); });
  auto stream = connect_admin("127.0.0.1", listener.port(), "admin", "bad", nullptr, soon());
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().message(), "password authentication failed for user \"admin\"");
  server.join();
  ASSERT_FALSE(*result);
  EXPECT_NE(result->error().message().find("authentication failed for user \"admin\" from "
                                           "127.0.0.1:"),
            std::string::npos)
      << result->error().message();
}
}  // namespace
}  // namespace pgm::net
