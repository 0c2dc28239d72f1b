// WAL continuity and RPO end to end (docs/monitoring.md, "WAL continuity and RPO"): a segment
// deleted from the middle of the stored WAL makes pgmoneta_wal_gap 1 within one probe interval
// and names the segment (logged once at ERROR); pgmoneta_rpo_seconds rises while the WAL
// receiver is stopped (SIGSTOP) under committing load, falls back to 0 once a new receiver
// streams again, and stays 0 while the server is idle.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/cluster_fixture.h"
#include "support/loopback.h"
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace pgm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr int kProbeSeconds = 2;

// GET /metrics from the metrics port: the body ("" when the port does not answer).
std::string scrape(int port) {
  const int fd = test::try_connect_loopback(port).release();
  if (fd < 0) {
    return "";
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string raw;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    raw.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return raw;
}

// The line of `text` that starts with `series` + ' ' ("" when absent).
std::string series_line(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) {
      return line;
    }
  }
  return "";
}

class ContinuityTest : public ClusterTest<ContinuityTest> {
 public:
  static ClusterSetup cluster_setup() {
    ClusterSetup s;
    s.pgbench_scale = 1;
    return s;
  }

 protected:
  void configure(IniConfig& c) override {
    ClusterTest::configure(c);
    port_ = free_port();
    c.set("pgmoneta", "host", "127.0.0.1");
    c.set("pgmoneta", "metrics", std::to_string(port_));
    c.set("pgmoneta", "metrics_cache_max_age", "0");
    c.set("pgmoneta", "probe_interval", std::to_string(kProbeSeconds) + "s");
    // Flushed as received: the RPO then follows the receiver, not its status interval.
    c.set("primary", "wal_sync", "on");
  }
  bool wait_for_wal_streaming() const override { return true; }

  int64_t rpo() { return json_int(server_details(daemon(), "primary"), "RpoSeconds", -1); }

  int port_ = 0;
};

TEST_F(ContinuityTest, DeletedSegmentIsAGapAndRpoFollowsTheReceiver) {
  // The gap, and the receiver killed below (the main process logs a child killed by a signal).
  expect_log_errors({"WAL is not contiguous", "(wal/primary) was killed by signal 9"});
  start_online();
  if (HasFatalFailure()) {
    return;
  }
  const std::string dir = daemon_wal_dir(daemon());
  ASSERT_EQ(sql_value(*pg(), "CREATE TABLE IF NOT EXISTS rpo_t (id serial, at timestamptz)"), "");

  // Four completed segments, stored compressed.
  std::vector<std::string> segments;
  for (int i = 0; i < 4; ++i) {
    std::string error;
    std::string seg = switch_wal(*pg(), &error);
    ASSERT_FALSE(seg.empty()) << error;
    segments.push_back(seg);
  }
  for (const std::string& seg : segments) {
    std::string state = wait_for_settled_segment(dir, seg, ".zstd", seconds(60));
    ASSERT_EQ(state, "") << seg;
  }
  std::string last;
  auto clean = wait_for_details(
      daemon(), "primary",
      [](const nlohmann::json& j) {
        return j.contains("WalGap") && j["WalGap"].is_boolean() && !j["WalGap"].get<bool>();
      },
      seconds(30), &last);
  ASSERT_TRUE(clean.has_value()) << "no continuity check within 30 s: " << last;
  EXPECT_NE(series_line(scrape(port_), R"(pgmoneta_wal_gap{name="primary"})"), "")
      << "pgmoneta_wal_gap missing from /metrics";

  // Delete a segment in the middle.
  const std::string victim = segments[1];
  ASSERT_EQ(::unlink((dir + "/" + victim + ".zstd").c_str()), 0) << victim;
  const auto deleted = Clock::now();
  auto gap = wait_for_details(
      daemon(), "primary", [](const nlohmann::json& j) { return json_bool(j, "WalGap"); },
      seconds(30), &last);
  const double detect_s = std::chrono::duration<double>(Clock::now() - deleted).count();
  ASSERT_TRUE(gap.has_value()) << "no gap reported 30 s after deleting " << victim << ": " << last;
  std::printf("gap detected %.2f s after the deletion (probe_interval %d s)\n", detect_s,
              kProbeSeconds);
  EXPECT_LE(detect_s, kProbeSeconds + 1.0) << "longer than one probe interval";
  EXPECT_EQ(json_string(*gap, "WalFirstMissingSegment"), victim);
  EXPECT_EQ(json_string(*gap, "WalGapProblem"), "missing");
  const std::string metrics = scrape(port_);
  EXPECT_EQ(series_line(metrics, R"(pgmoneta_wal_gap{name="primary"})"),
            R"(pgmoneta_wal_gap{name="primary"} 1)");
  const std::string named =
      R"(pgmoneta_wal_first_missing_segment{name="primary",segment=")" + victim + R"("})";
  EXPECT_EQ(series_line(metrics, named), named + " 1") << metrics;

  // RPO: 0 while streaming; rises while the receiver is stopped and the server commits.
  std::this_thread::sleep_for(seconds(kProbeSeconds + 1));
  EXPECT_EQ(rpo(), 0);
  const int64_t pid = json_int(server_details(daemon(), "primary"), "WalReceiverPid");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGSTOP), 0);
  std::vector<int64_t> seen;
  for (int i = 0; i < 16; ++i) {
    sql_value(*pg(), "INSERT INTO rpo_t (at) VALUES (now())");
    std::this_thread::sleep_for(milliseconds(500));
    seen.push_back(rpo());
  }
  std::string seen_text;
  for (int64_t v : seen) {
    seen_text += std::to_string(v) + " ";
  }
  std::printf("rpo_seconds while the receiver is stopped: %s\n", seen_text.c_str());
  EXPECT_GE(seen.back(), 4) << seen_text;
  EXPECT_GT(seen.back(), seen[seen.size() / 2]) << "not rising: " << seen_text;
  const std::string stopped_metrics = scrape(port_);
  EXPECT_NE(series_line(stopped_metrics, R"(pgmoneta_rpo_seconds{name="primary"})"),
            R"(pgmoneta_rpo_seconds{name="primary"} 0)");

  // A stopped process ends with SIGKILL; the watchdog starts a new receiver.
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
  const auto restarted = Clock::now();
  auto back = wait_for_details(
      daemon(), "primary",
      [pid](const nlohmann::json& j) {
        return json_bool(j, "WalStreaming") && json_int(j, "WalReceiverPid") != pid &&
               json_int(j, "RpoSeconds") == 0;
      },
      seconds(30), &last);
  ASSERT_TRUE(back.has_value()) << "rpo did not fall back to 0: " << last;
  std::printf("rpo_seconds back to 0 %.2f s after the receiver was killed\n",
              std::chrono::duration<double>(Clock::now() - restarted).count());
  EXPECT_EQ(series_line(scrape(port_), R"(pgmoneta_rpo_seconds{name="primary"})"),
            R"(pgmoneta_rpo_seconds{name="primary"} 0)");

  // An idle server: no growing RPO over several probes (at most the two probe intervals the
  // definition allows while the newest WAL is in flight).
  std::string idle_text;
  for (int i = 0; i < 5 * kProbeSeconds; ++i) {
    std::this_thread::sleep_for(seconds(1));
    const int64_t v = rpo();
    idle_text += std::to_string(v) + " ";
    EXPECT_GE(v, 0) << "idle server, second " << i;
    EXPECT_LE(v, 2 * kProbeSeconds) << "idle server, second " << i;
  }
  std::printf("rpo_seconds of the idle server: %s\n", idle_text.c_str());

  // The gap was logged once.
  std::ifstream log(daemon().log_path());
  std::stringstream text;
  text << log.rdbuf();
  size_t logged = 0;
  for (size_t at = text.str().find("WAL is not contiguous"); at != std::string::npos;
       at = text.str().find("WAL is not contiguous", at + 1)) {
    ++logged;
  }
  EXPECT_EQ(logged, 1U);
}

}  // namespace
}  // namespace pgm::testing
