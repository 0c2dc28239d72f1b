// systemd's readiness protocol end to end: the daemon started with NOTIFY_SOCKET pointing at the
// test's own datagram socket says READY=1 once `ping` works, RELOADING=1 then READY=1 around a
// SIGHUP, and STOPPING=1 on SIGTERM; every datagram comes from the daemon's own pid, none from
// a child it forked.
#include <poll.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "integration/harness.h"
#include <sys/socket.h>
#include <sys/un.h>

#include "pgm/core/unique_fd.h"

namespace pgm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

// True when `datagram` holds the line `assignment` ("READY=1").
bool has_line(const std::string& datagram, const std::string& assignment) {
  return ("\n" + datagram + "\n").find("\n" + assignment + "\n") != std::string::npos;
}

class NotifyTest : public DaemonTest {
 protected:
  bool auto_start() const override { return false; }

  void SetUp() override {
    DaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    path_ = daemon().dir() / "notify.sock";
    socket_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(socket_.valid());
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(path_.size(), sizeof(addr.sun_path));
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    ASSERT_EQ(::bind(socket_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0)
        << std::strerror(errno);
    int on = 1;
    ASSERT_EQ(::setsockopt(socket_.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
    chown_to_test_user(path_);  // the daemon, an unprivileged user, must be able to write to it
    daemon().env()["NOTIFY_SOCKET"] = path_;
  }

  // Datagrams until one holds `assignment`; every datagram received is kept in received_.
  bool wait_for(const std::string& assignment, milliseconds timeout = seconds(20)) {
    auto deadline = steady_clock::now() + timeout;
    while (steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
      pollfd p{socket_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count()) + 1) != 1) {
        continue;
      }
      // The sender's credentials come with each datagram (SO_PASSCRED), as systemd reads them
      // to enforce NotifyAccess=main.
      char buffer[4096];
      iovec iov{buffer, sizeof(buffer)};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      ssize_t n = ::recvmsg(socket_.get(), &msg, 0);
      if (n <= 0) {
        continue;
      }
      received_.emplace_back(buffer, static_cast<size_t>(n));
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
          ucred cred{};
          std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
          ++with_credentials_;
          EXPECT_EQ(cred.pid, daemon().pid())
              << "a datagram from another process than the daemon: " << received_.back();
        }
      }
      if (has_line(received_.back(), assignment)) {
        return true;
      }
    }
    return false;
  }

  std::string received() const {
    std::string all;
    for (const std::string& d : received_) {
      all += "[" + d + "]\n";
    }
    return all;
  }

  std::string path_;
  UniqueFd socket_;
  std::vector<std::string> received_;
  int with_credentials_ = 0;  // datagrams whose sender was checked
};

TEST_F(NotifyTest, ReadyAfterPingWorksReloadingOnSighupStoppingOnSigterm) {
  start_daemon(false);
  ASSERT_TRUE(wait_for("READY=1")) << "no READY=1; received:\n" << received();
  // READY=1 promises that commands are accepted: ping works at once, without retrying.
  CliResult ping = cli({"ping"});
  EXPECT_EQ(ping.exit_code(), 0) << ping.describe();
  EXPECT_NE(received_.back().find("STATUS=ready: 1 server"), std::string::npos) << received();

  // A forked child (status details) does not speak for the daemon: every datagram checked in
  // wait_for() comes from the daemon's pid.
  CliResult status = cli({"status", "details"});
  EXPECT_EQ(status.exit_code(), 0) << status.describe();

  received_.clear();
  ASSERT_TRUE(daemon().process().signal(SIGHUP));
  ASSERT_TRUE(wait_for("RELOADING=1")) << received();
  EXPECT_NE(received_.back().find("MONOTONIC_USEC="), std::string::npos) << received();
  ASSERT_TRUE(wait_for("READY=1")) << "no READY=1 after the reload; received:\n" << received();
  ping = cli({"ping"});
  EXPECT_EQ(ping.exit_code(), 0) << ping.describe();

  received_.clear();
  mark_stopped();
  ASSERT_TRUE(daemon().process().signal(SIGTERM));
  ASSERT_TRUE(wait_for("STOPPING=1")) << received();
  EXPECT_EQ(daemon().process().wait_for(seconds(15)), std::optional<int>(0));
  for (const std::string& d : received_) {
    EXPECT_FALSE(has_line(d, "READY=1")) << "READY=1 after STOPPING=1:\n" << received();
  }
  EXPECT_GE(with_credentials_, 4) << "the senders' pids were not checked";
}

}  // namespace
}  // namespace pgm::testing
