#include "pgm/daemon/sd_notify.h"

#include <poll.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "support/temp_dir.h"
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "pgm/core/unique_fd.h"

namespace pgm::daemon {
namespace {

// A datagram socket standing in for systemd's notification socket, bound to `address` (a path,
// or "@name" for an abstract name).
class Receiver {
 public:
  explicit Receiver(const std::string& address)
      : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, address.data(), address.size());
    const bool abstract = address[0] == '@';
    if (abstract) {
      addr.sun_path[0] = '\0';
    }
    auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() +
                                         (abstract ? 0 : 1));
    bound_ = fd_ && ::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), length) == 0;
  }

  bool bound() const { return bound_; }

  // The next datagram, or nullopt after `timeout_ms`.
  std::optional<std::string> receive(int timeout_ms = 2000) const {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) {
      return std::nullopt;
    }
    char buffer[4096];
    ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
    if (n < 0) {
      return std::nullopt;
    }
    return std::string(buffer, static_cast<size_t>(n));
  }

 private:
  UniqueFd fd_;
  bool bound_ = false;
};

TEST(SystemdNotifierTest, SendsOneDatagramToAPathSocket) {
  test_support::TempDir dir("pgm-notify");
  std::string path = dir.file("notify");
  Receiver receiver(path);
  ASSERT_TRUE(receiver.bound());
  SystemdNotifier notifier(path);
  EXPECT_TRUE(notifier.enabled());
  ASSERT_TRUE(notifier.send("READY=1\nSTATUS=ready: 1 server").has_value());
  EXPECT_EQ(receiver.receive(), std::optional<std::string>("READY=1\nSTATUS=ready: 1 server"));
  ASSERT_TRUE(notifier.send("STOPPING=1").has_value());
  EXPECT_EQ(receiver.receive(), std::optional<std::string>("STOPPING=1"));
}

TEST(SystemdNotifierTest, SendsToAnAbstractSocketNamedWithAnAt) {
  std::string address = "@pgm-notify-test-" + std::to_string(::getpid());
  Receiver receiver(address);
  ASSERT_TRUE(receiver.bound());
  SystemdNotifier notifier(address);
  ASSERT_TRUE(notifier.send("READY=1").has_value());
  EXPECT_EQ(receiver.receive(), std::optional<std::string>("READY=1"));
}

TEST(SystemdNotifierTest, DisabledNotifierSendsNothing) {
  SystemdNotifier notifier;
  EXPECT_FALSE(notifier.enabled());
  EXPECT_TRUE(notifier.send("READY=1").has_value());
  EXPECT_FALSE(SystemdNotifier("").enabled());
}

TEST(SystemdNotifierTest, FromEnvironmentReadsAndRemovesNotifySocket) {
  // NOLINTBEGIN(concurrency-mt-unsafe): single-threaded test
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(SystemdNotifier::from_environment().enabled());
  ::setenv("NOTIFY_SOCKET", "@pgm-notify-env", 1);
  SystemdNotifier notifier = SystemdNotifier::from_environment();
  EXPECT_EQ(notifier.address(), "@pgm-notify-env");
  EXPECT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr);
  // NOLINTEND(concurrency-mt-unsafe)
}

TEST(SystemdNotifierTest, AForkedChildStaysSilent) {
  test_support::TempDir dir("pgm-notify");
  std::string path = dir.file("notify");
  Receiver receiver(path);
  ASSERT_TRUE(receiver.bound());
  SystemdNotifier notifier(path);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::_exit(notifier.send("READY=1\nSTATUS=from the child").has_value() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(receiver.receive(200), std::nullopt);
  ASSERT_TRUE(notifier.send("STATUS=from the parent").has_value());
  EXPECT_EQ(receiver.receive(), std::optional<std::string>("STATUS=from the parent"));
}

TEST(SystemdNotifierTest, ErrorsNameTheAddress) {
  auto relative = SystemdNotifier("relative/path").send("READY=1");
  ASSERT_FALSE(relative.has_value());
  EXPECT_NE(relative.error().message().find("relative/path"), std::string::npos);
  test_support::TempDir dir("pgm-notify");
  std::string missing = dir.file("nobody-listens");
  auto refused = SystemdNotifier(missing).send("READY=1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find(missing), std::string::npos);
  auto too_long = SystemdNotifier("/" + std::string(200, 'x')).send("READY=1");
  EXPECT_FALSE(too_long.has_value());
}

TEST(SystemdNotifierTest, ReloadingCarriesTheMonotonicClock) {
  uint64_t before = monotonic_usec();
  std::string message = reloading_message();
  const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
  ASSERT_EQ(message.rfind(prefix, 0), 0U) << message;
  uint64_t value = std::stoull(message.substr(prefix.size()));
  EXPECT_GE(value, before);
  EXPECT_LE(value, monotonic_usec());
}

}  // namespace
}  // namespace pgm::daemon
