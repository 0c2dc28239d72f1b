#include "pgm/pg/connection.h"

#include <unistd.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace pgm::pg {
namespace {

// A loopback TCP port nothing listens on (bound then released).
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(DescribeConnectErrorTest, JoinsLinesIntoOne) {
  EXPECT_EQ(describe_connect_error(
                "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n"
                "\tIs the server running on that host and accepting TCP/IP connections?\n"),
            "connection to server at \"127.0.0.1\", port 1 failed: Connection refused Is the "
            "server running on that host and accepting TCP/IP connections?");
  EXPECT_EQ(describe_connect_error("FATAL:  password authentication failed for user \"x\"\n"),
            "FATAL: password authentication failed for user \"x\"");
  EXPECT_EQ(describe_connect_error(""), "");
}

TEST(ConnectionTest, ClosedTcpPortFailsQuickly) {
  ConnectParams params;
  params.host = "127.0.0.1";
  params.port = closed_port();
  params.user = "pgmoneta";
  params.password = "secret";
  params.sslmode = "disable";
  params.connect_timeout = std::chrono::seconds(5);
  auto start = std::chrono::steady_clock::now();
  auto conn = Connection::connect(params);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error().code(), ErrorCode::kIo);
  const std::string& message = conn.error().message();
  EXPECT_NE(message.find("127.0.0.1"), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(params.port)), std::string::npos) << message;
  EXPECT_NE(message.find("refused"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST(ConnectionTest, MissingSocketDirectoryFailsQuickly) {
  ConnectParams params;
  params.host = "/nonexistent/pgm-socket-dir";
  params.port = 5432;
  params.user = "pgmoneta";
  params.replication = true;
  auto conn = Connection::connect(params);
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error().code(), ErrorCode::kIo);
  const std::string& message = conn.error().message();
  EXPECT_NE(message.find("/nonexistent/pgm-socket-dir/.s.PGSQL.5432"), std::string::npos)
      << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(ConnectionTest, ValuesAreNotParsedAsConninfo) {
  // A dbname that looks like a connection string must stay a name (expand_dbname = 0): the
  // attempt goes to the given socket directory, not to host=elsewhere.
  ConnectParams params;
  params.host = "/nonexistent/pgm-socket-dir";
  params.port = 5432;
  params.dbname = "host=/elsewhere port=1";
  params.user = "u' password='x";
  auto conn = Connection::connect(params);
  ASSERT_FALSE(conn);
  EXPECT_NE(conn.error().message().find("/nonexistent/pgm-socket-dir"), std::string::npos);
  EXPECT_EQ(conn.error().message().find("/elsewhere"), std::string::npos);
}

}  // namespace
}  // namespace pgm::pg
