// `follow`: a server section with follow = <other> streams WAL only while the followed
// server's receiver does not, taking over after 15 s and handing back once it streams again.
// Both sections point at the same PostgreSQL with different slots.
#include <chrono>
#include <thread>

#include "integration/harness.h"

namespace pgm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct WalState {
  bool streaming = false;
  int pid = 0;
};

class WalFollowTest : public DaemonTest {
 protected:
  void configure(IniConfig& c) override {
    c.set("standby", "host", pg()->socket_dir());
    c.set("standby", "port", std::to_string(pg()->port()));
    c.set("standby", "user", PostgresInstance::kReplUser);
    c.set("standby", "wal_slot", "follower");
    c.set("standby", "create_slot", "yes");
    c.set("standby", "follow", "primary");
  }

  void TearDown() override {
    DaemonTest::TearDown();
    if (pg() != nullptr) {
      pg()->psql(
          "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
          "WHERE slot_name = 'follower' AND NOT active");
    }
  }

  WalState state(const std::string& server) {
    WalState s;
    CliResult r = cli({"status", "details"}, "json");
    if (!r.json) {
      return s;
    }
    nlohmann::json obj = find_server(*r.json, server);
    if (const nlohmann::json* v = find_key(obj, "WalStreaming"); v && v->is_boolean()) {
      s.streaming = v->get<bool>();
    }
    if (const nlohmann::json* v = find_key(obj, "WalReceiverPid"); v && v->is_number()) {
      s.pid = v->get<int>();
    }
    return s;
  }

  // Polls until pred(state(server)) or timeout; returns the last state.
  template <typename Pred>
  WalState wait_for(const std::string& server, Pred pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    WalState s = state(server);
    while (!pred(s) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(250));
      s = state(server);
    }
    return s;
  }
};

TEST_F(WalFollowTest, FollowerTakesOverWhileTheFollowedServerDoesNotStream) {
  WalState primary = wait_for(
      "primary", [](const WalState& s) { return s.streaming; }, seconds(30));
  ASSERT_TRUE(primary.streaming) << tail(daemon().log());

  // Past the 15 s grace the follower still does not run: the followed server streams.
  std::this_thread::sleep_for(seconds(17));
  WalState standby = state("standby");
  EXPECT_FALSE(standby.streaming);
  EXPECT_EQ(standby.pid, 0);

  ASSERT_EQ(cli({"mode", "primary", "offline"}).exit_code(), 0);
  primary = wait_for(
      "primary", [](const WalState& s) { return s.pid == 0; }, seconds(10));
  EXPECT_EQ(primary.pid, 0);
  standby = wait_for(
      "standby", [](const WalState& s) { return s.streaming; }, seconds(40));
  EXPECT_TRUE(standby.streaming) << tail(daemon().log());
  EXPECT_TRUE(
      daemon().wait_for_log("server standby takes over WAL streaming from primary", seconds(1)));

  ASSERT_EQ(cli({"mode", "primary", "online"}).exit_code(), 0);
  primary = wait_for(
      "primary", [](const WalState& s) { return s.streaming; }, seconds(30));
  EXPECT_TRUE(primary.streaming) << tail(daemon().log());
  standby = wait_for(
      "standby", [](const WalState& s) { return s.pid == 0; }, seconds(10));
  EXPECT_EQ(standby.pid, 0) << tail(daemon().log());
}

}  // namespace
}  // namespace pgm::testing
