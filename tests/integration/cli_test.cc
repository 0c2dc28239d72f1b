// pgmoneta-cli against a running daemon: ping, status, status details in every output format,
// conf get/set/ls/reload, and a raw frame with an unknown command code.
#include <chrono>
#include <fstream>
#include <thread>

#include "integration/harness.h"

namespace pgm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class CliTest : public DaemonTest {};

void expect_success_document(const CliResult& r) {
  ASSERT_TRUE(r.json.has_value()) << "stdout is not JSON: " << r.describe();
  const nlohmann::json& doc = *r.json;
  EXPECT_TRUE(doc.contains("Header")) << doc.dump(2);
  EXPECT_TRUE(doc.contains("Request")) << doc.dump(2);
  ASSERT_TRUE(doc.contains("Outcome")) << doc.dump(2);
  EXPECT_EQ(doc["Outcome"].value("Status", false), true) << doc.dump(2);
  EXPECT_TRUE(doc.contains("Response")) << doc.dump(2);
}

// status details until `server` reports Online == online (the daemon probes asynchronously).
nlohmann::json wait_for_online(DaemonTest* /*unused*/, DaemonInstance& d, const std::string& server,
                               bool online, std::chrono::milliseconds timeout = seconds(15)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  nlohmann::json last;
  while (true) {
    CliResult r = d.cli({"status", "details"}, "json");
    if (r.exit_code() == 0 && r.json) {
      last = find_server(*r.json, server);
      if (last.is_object() && last.value("Online", !online) == online) {
        return last;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return last;
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
}

TEST_F(CliTest, PingSucceedsInEveryFormat) {
  CliResult text = cli({"ping"});
  EXPECT_EQ(text.exit_code(), 0) << text.describe();
  for (const char* format : {"json", "raw"}) {
    CliResult r = cli({"ping"}, format);
    EXPECT_EQ(r.exit_code(), 0) << format << ": " << r.describe();
    expect_success_document(r);
    if (r.json) {
      const nlohmann::json* version = find_key((*r.json)["Response"], "ServerVersion");
      ASSERT_NE(version, nullptr) << r.json->dump(2);
      EXPECT_TRUE(version->is_string() && !version->get<std::string>().empty()) << *version;
    }
  }
}

TEST_F(CliTest, StatusSucceedsInEveryFormat) {
  CliResult text = cli({"status"});
  EXPECT_EQ(text.exit_code(), 0) << text.describe();
  EXPECT_FALSE(text.out().empty());
  for (const char* format : {"json", "raw"}) {
    CliResult r = cli({"status"}, format);
    EXPECT_EQ(r.exit_code(), 0) << format << ": " << r.describe();
    expect_success_document(r);
    if (r.json) {
      const nlohmann::json* n = find_key((*r.json)["Response"], "NumberOfServers");
      ASSERT_NE(n, nullptr) << r.json->dump(2);
      EXPECT_EQ(*n, 1) << r.json->dump(2);
    }
  }
}

TEST_F(CliTest, StatusDetailsShowsPrimaryOnlineWithMajorVersion15) {
  nlohmann::json primary = wait_for_online(this, daemon(), "primary", true);
  ASSERT_TRUE(primary.is_object()) << "no server 'primary' in status details";
  EXPECT_EQ(primary.value("Online", false), true) << primary.dump(2);
  EXPECT_EQ(primary.value("MajorVersion", 0), 15) << primary.dump(2);

  CliResult text = cli({"status", "details"});
  EXPECT_EQ(text.exit_code(), 0) << text.describe();
  EXPECT_NE(text.out().find("primary"), std::string::npos) << text.out();

  CliResult raw = cli({"status", "details"}, "raw");
  EXPECT_EQ(raw.exit_code(), 0) << raw.describe();
  expect_success_document(raw);
  if (raw.json) {
    nlohmann::json s = find_server(*raw.json, "primary");
    ASSERT_TRUE(s.is_object()) << raw.json->dump(2);
    EXPECT_EQ(s.value("Online", false), true) << s.dump(2);
    EXPECT_EQ(s.value("MajorVersion", 0), 15) << s.dump(2);
  }
}

TEST_F(CliTest, ConfGetPrintsBareValue) {
  CliResult r = cli({"conf", "get", "log_level"});
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  EXPECT_EQ(trim(r.out()), "info") << r.describe();
}

TEST_F(CliTest, ConfSetLogLevelAppliesLive) {
  CliResult set = cli({"conf", "set", "log_level", "debug1"}, "json");
  ASSERT_EQ(set.exit_code(), 0) << set.describe();
  expect_success_document(set);
  if (set.json) {
    const nlohmann::json* restart = find_key((*set.json)["Response"], "restart_required");
    ASSERT_NE(restart, nullptr) << "no restart_required in " << set.json->dump(2);
    EXPECT_EQ(*restart, false) << set.json->dump(2);
  }
  CliResult get = cli({"conf", "get", "log_level"});
  ASSERT_EQ(get.exit_code(), 0) << get.describe();
  EXPECT_EQ(trim(get.out()), "debug1") << get.describe();
  // -F json: pgmoneta's shape, the level's text and code.
  CliResult json_get = cli({"conf", "get", "log_level"}, "json");
  ASSERT_TRUE(json_get.json.has_value()) << json_get.describe();
  EXPECT_EQ((*json_get.json)["Response"]["log_level"],
            nlohmann::json({{"string_value", "debug1"}, {"value", 2}}))
      << json_get.describe();
}

TEST_F(CliTest, ConfSetUnknownKeyFails) {
  CliResult set = cli({"conf", "set", "no_such_key", "1"}, "json");
  EXPECT_EQ(set.exit_code(), 1) << set.describe();
  EXPECT_FALSE(set.err().empty()) << set.describe();
  expect_log_errors({"no_such_key"});
}

TEST_F(CliTest, ConfLsShowsTheThreeFiles) {
  CliResult r = cli({"conf", "ls"});
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  EXPECT_NE(r.out().find(daemon().config_path()), std::string::npos) << r.out();
  EXPECT_NE(r.out().find(daemon().users_path()), std::string::npos) << r.out();
  EXPECT_NE(r.out().find(daemon().admins_path()), std::string::npos) << r.out();
}

TEST_F(CliTest, LogfileOptionRecordsEachCommand) {
  std::string log_path = daemon().dir() / "cli.log";
  CliResult ok = cli({"-L", log_path, "ping"});
  ASSERT_EQ(ok.exit_code(), 0) << ok.describe();
  CliResult failed = cli({"-L", log_path, "mode", "nosuchserver", "offline"});
  ASSERT_EQ(failed.exit_code(), 1) << failed.describe();
  expect_log_errors({"nosuchserver"});
  std::ifstream in(log_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("INFO ping: exit 0"), std::string::npos) << text;
  EXPECT_NE(text.find("INFO mode: exit 1"), std::string::npos) << text;
}

TEST_F(CliTest, ConfReloadSucceedsAndDaemonKeepsAnswering) {
  CliResult r = cli({"conf", "reload"}, "json");
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  expect_success_document(r);
  CliResult ping = cli({"ping"});
  EXPECT_EQ(ping.exit_code(), 0) << ping.describe();
}

TEST_F(CliTest, UnknownCommandCodeAnswersError2) {
  std::string error;
  std::optional<std::string> payload =
      exchange_frame(daemon().socket_path(), encode_frame(request_json(9999)), seconds(10), &error);
  ASSERT_TRUE(payload.has_value()) << error;
  nlohmann::json doc = nlohmann::json::parse(*payload, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << "response is not JSON: " << *payload;
  ASSERT_TRUE(doc.contains("Outcome")) << doc.dump(2);
  EXPECT_EQ(doc["Outcome"].value("Status", true), false) << doc.dump(2);
  EXPECT_EQ(doc["Outcome"].value("Error", 0), 2) << doc.dump(2);
  expect_log_errors({"9999", "unknown command"});
}

// Well-formed JSON with fields of the wrong type: each gets a failure document (no crash, no
// silently dropped connection), and the daemon keeps running.
TEST_F(CliTest, MistypedRequestFieldsAnswerFailure) {
  const nlohmann::json requests[] = {
      {{"Header", {{"Command", 24}}}, {"Request", {{"Server", 12}, {"Action", "offline"}}}},
      {{"Header", {{"Command", 24}}}, {"Request", {{"Server", "primary"}, {"Action", 5}}}},
      {{"Header", {{"Command", 23}}},
       {"Request", {{"ConfigKey", nlohmann::json::object()}, {"ConfigValue", nullptr}}}},
      {{"Header", {{"Command", 23}}},
       {"Request", {{"ConfigKey", "log_level"}, {"ConfigValue", 1}}}},
      {{"Header", {{"Command", "ping"}}}, {"Request", nlohmann::json::object()}},
  };
  for (const nlohmann::json& request : requests) {
    std::string error;
    std::optional<std::string> payload =
        exchange_frame(daemon().socket_path(), encode_frame(request.dump()), seconds(10), &error);
    EXPECT_TRUE(payload.has_value()) << request.dump() << ": " << error;
    if (payload) {
      nlohmann::json doc = nlohmann::json::parse(*payload, nullptr, false);
      EXPECT_FALSE(doc.is_discarded()) << *payload;
      if (!doc.is_discarded()) {
        EXPECT_EQ(doc["Outcome"].value("Status", true), false)
            << request.dump() << " -> " << *payload;
      }
    }
    ASSERT_TRUE(daemon().process().running())
        << request.dump() << " killed the daemon; stderr: " << daemon().stderr_text();
  }
  CliResult ping = cli({"ping"});
  EXPECT_EQ(ping.exit_code(), 0) << ping.describe();
  expect_log_errors({"request", "Request", "mode", "conf set"});
}

TEST_F(CliTest, ObjectStorageVerbWithoutItsKeysAnswersAClearError) {
  // No s3_* keys in this daemon's configuration: s3 ls must answer at once, naming the
  // missing key, not hang or try a default endpoint.
  CliResult r = cli({"s3", "ls", "primary"}, "json");
  EXPECT_FALSE(r.output.timed_out) << r.describe();
  EXPECT_EQ(r.exit_code(), 1) << r.describe();
  EXPECT_NE(r.output.out.find("s3_bucket is empty"), std::string::npos) << r.describe();
  expect_log_errors({"s3_bucket is empty"});
}

// ---- server mode and reachability ----

class ServerModeTest : public DaemonTest {};

TEST_F(ServerModeTest, ModeOfflineThenOnline) {
  ASSERT_TRUE(wait_for_online(this, daemon(), "primary", true).value("Online", false))
      << "primary never came online";
  CliResult off = cli({"mode", "primary", "offline"});
  ASSERT_EQ(off.exit_code(), 0) << off.describe();
  nlohmann::json s = wait_for_online(this, daemon(), "primary", false, seconds(5));
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s.value("Online", true), false) << s.dump(2);

  CliResult on = cli({"mode", "primary", "online"});
  ASSERT_EQ(on.exit_code(), 0) << on.describe();
  s = wait_for_online(this, daemon(), "primary", true);
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s.value("Online", false), true) << s.dump(2);
}

TEST_F(ServerModeTest, ModeOfUnknownServerFails) {
  CliResult r = cli({"mode", "nosuchserver", "offline"});
  EXPECT_EQ(r.exit_code(), 1) << r.describe();
  expect_log_errors({"nosuchserver"});
}

class UnreachableServerTest : public DaemonTest {
 protected:
  void configure(IniConfig& config) override {
    dead_port_ = free_port();
    config.set("dead", "host", pg()->socket_dir());
    config.set("dead", "port", std::to_string(dead_port_));
    config.set("dead", "user", PostgresInstance::kReplUser);
    config.set("dead", "wal_slot", "repl_dead");
    config.set("dead", "create_slot", "yes");
    // Failing to reach a configured server is worth an ERROR line naming it.
    expect_log_errors({"dead"});
  }
  int dead_port_ = 0;
};

TEST_F(UnreachableServerTest, IsOfflineWithReasonAndDaemonKeepsRunning) {
  ASSERT_TRUE(wait_for_online(this, daemon(), "primary", true).value("Online", false))
      << "primary never came online";
  CliResult r = cli({"status", "details"}, "json");
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  ASSERT_TRUE(r.json.has_value()) << r.describe();
  nlohmann::json dead = find_server(*r.json, "dead");
  ASSERT_TRUE(dead.is_object()) << r.json->dump(2);
  EXPECT_EQ(dead.value("Online", true), false) << dead.dump(2);
  const nlohmann::json* reason = find_key(dead, "OfflineReason");
  ASSERT_NE(reason, nullptr) << dead.dump(2);
  EXPECT_TRUE(reason->is_string() && !reason->get<std::string>().empty()) << dead.dump(2);
  const nlohmann::json* n = find_key((*r.json)["Response"], "NumberOfServers");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(*n, 2);

  CliResult ping = cli({"ping"});
  EXPECT_EQ(ping.exit_code(), 0) << ping.describe();
  EXPECT_TRUE(daemon().process().running());
}

}  // namespace
}  // namespace pgm::testing
