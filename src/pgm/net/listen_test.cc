#include "pgm/net/listen.h"

#include <string>

#include "support/loopback.h"
#include <gtest/gtest.h>

namespace pgm::net {
namespace {

TEST(ListenTcpTest, ReportsAddressInUse) {
  auto first = listen_tcp("127.0.0.1", 0, 16);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  int port = *local_port(first->get());
  // SO_REUSEADDR does not allow two listeners on one port.
  auto second = listen_tcp("127.0.0.1", port, 16);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << second.error().message();
  EXPECT_NE(second.error().message().find("Address already in use"), std::string::npos);
}

TEST(ListenTcpTest, WildcardAndNames) {
  auto any = listen_tcp("*", 0, 16);
  ASSERT_TRUE(any.has_value()) << any.error().message();
  int port = *local_port(any->get());
  EXPECT_GT(port, 0);
  UniqueFd v4 =
      test::connect_loopback(port);  // IPv4 reaches the wildcard listener (dual-stack or 0.0.0.0)
  EXPECT_TRUE(v4.valid());
  auto local = listen_tcp("localhost", 0, 16);
  EXPECT_TRUE(local.has_value());
  auto bad = listen_tcp("no-such-host.invalid", 9187, 16);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("no-such-host.invalid:9187"), std::string::npos);
  EXPECT_FALSE(listen_tcp("127.0.0.1", 70000, 16).has_value());
}

}  // namespace
}  // namespace pgm::net
