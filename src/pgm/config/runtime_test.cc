#include <gtest/gtest.h>

#include "pgm/config/config.h"
#include "pgm/config/test_env_internal.h"

namespace pgm::config {
namespace {

using testing::map_env;
using testing::test_env;

constexpr const char* kTwoServers = R"([pgmoneta]
host = *
unix_socket_dir = /tmp/sock
base_dir = /srv/pgmoneta
metrics = 5001
retention = 7,4,6,-

[primary]
host = db1
port = 5432
user = repl
wal_slot = s1
workers = 2

[replica]
host = db2
port = 5433
user = repl
wal_slot = s2
retention = 14
)";

std::shared_ptr<const Config> two_servers(const std::string& extra = "") {
  auto r = parse_config(std::string(kTwoServers) + extra, "t.conf", test_env());
  EXPECT_TRUE(r) << r.error().message();
  return r->config;
}

TEST(GetValueTest, AcceptsEveryKeyForm) {
  auto c = two_servers();
  const std::pair<const char*, const char*> cases[] = {
      {"metrics", "5001"},
      {"pgmoneta.metrics", "5001"},
      {"host", "*"},
      {"pgmoneta.host", "*"},
      {"server.primary.host", "db1"},
      {"primary.host", "db1"},
      {"server.replica.port", "5433"},
      {"replica.port", "5433"},
      {"primary.workers", "2"},
      {"replica.workers", "-1"},
      {"replica.retention", "14,-,-,-"},
      {"retention", "7,4,6,-"},
      {"pidfile", "/tmp/sock/pgmoneta.all.pid"},
      {"compression", "zstd"},
      {"log_level", "info"},
      {"blocking_timeout", "30s"},
  };
  for (const auto& [key, expected] : cases) {
    SCOPED_TRACE(key);
    auto v = get_value(*c, key);
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(*v, expected);
  }
}

TEST(GetValueTest, UnknownKeyOrServerIsNotFound) {
  auto c = two_servers();
  const std::pair<const char*, const char*> cases[] = {
      {"nope", "unknown configuration key \"nope\""},
      {"pgmoneta.nope", "unknown configuration key \"pgmoneta.nope\""},
      {"pgmoneta.port", "unknown configuration key \"pgmoneta.port\""},
      {"server.primary.hugepage", "unknown configuration key \"server.primary.hugepage\""},
      {"server.ghost.port", "unknown server \"ghost\" in key \"server.ghost.port\""},
      {"ghost.port", "unknown server \"ghost\" in key \"ghost.port\""},
  };
  for (const auto& [key, message] : cases) {
    SCOPED_TRACE(key);
    auto v = get_value(*c, key);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().code(), ErrorCode::kNotFound);
    EXPECT_EQ(v.error().message(), message);
  }
}

TEST(ToJsonTest, UsesPgmonetaLayout) {
  auto c = two_servers();
  nlohmann::json j = to_json(*c);
  EXPECT_EQ(j["host"], "*");
  EXPECT_EQ(j["metrics"], "5001");
  EXPECT_EQ(j["retention"], "7,4,6,-");
  EXPECT_EQ(j["main_configuration_path"], "t.conf");
  EXPECT_FALSE(j.contains("port"));
  ASSERT_TRUE(j["server"].is_object());
  EXPECT_EQ(j["server"].size(), 2u);
  EXPECT_EQ(j["server"]["primary"]["host"], "db1");
  EXPECT_EQ(j["server"]["replica"]["port"], "5433");
  EXPECT_EQ(j["server"]["replica"]["wal_slot"], "s2");
  EXPECT_FALSE(j["server"]["primary"].contains("hugepage"));
  for (const auto& [key, value] : j.items()) {
    if (key != "server") {
      EXPECT_TRUE(value.is_string()) << key;
    }
  }
  nlohmann::json with_paths = to_json(*c, ConfigPaths{"/m", "/u", "/a"});
  EXPECT_EQ(with_paths["main_configuration_path"], "/m");
  EXPECT_EQ(with_paths["users_configuration_path"], "/u");
  EXPECT_EQ(with_paths["admin_configuration_path"], "/a");
}

// Secrets never leave the daemon: conf get and conf set's answer show ********, while the
// configuration itself holds the value (get_value, used to apply it, is not a display).
TEST(SecretKeysTest, ConfGetAndConfSetShowThemRedacted) {
  auto c = two_servers("s3_secret_access_key = server-secret\n");  // in [replica], the last section
  auto with_main = set_value(*c, "s3_secret_access_key", "main-secret");
  ASSERT_TRUE(with_main) << with_main.error().error.message();
  EXPECT_EQ(with_main->new_value, kRedacted);
  EXPECT_EQ(with_main->old_value, "");  // unset shows as unset
  EXPECT_EQ(with_main->config->s3_secret_access_key, "main-secret");
  auto azure = set_value(*with_main->config, "azure_shared_key", "azure-secret");
  ASSERT_TRUE(azure) << azure.error().error.message();
  EXPECT_EQ(azure->new_value, kRedacted);
  auto server = set_value(*azure->config, "replica.s3_secret_access_key", "other");
  ASSERT_TRUE(server) << server.error().error.message();
  EXPECT_EQ(server->old_value, kRedacted);
  EXPECT_EQ(server->new_value, kRedacted);

  const std::string doc = to_json(*server->config).dump();
  for (const char* secret : {"main-secret", "azure-secret", "server-secret", "other"}) {
    EXPECT_EQ(doc.find(secret), std::string::npos) << secret << " in " << doc;
  }
  nlohmann::json j = to_json(*server->config);
  EXPECT_EQ(j["s3_secret_access_key"], kRedacted);
  EXPECT_EQ(j["azure_shared_key"], kRedacted);
  EXPECT_EQ(j["server"]["replica"]["s3_secret_access_key"], kRedacted);
  EXPECT_EQ(*get_value(*server->config, "azure_shared_key"), "azure-secret");
  for (const char* key : {"s3_secret_access_key", "azure_shared_key", "primary.azure_shared_key",
                          "server.replica.s3_secret_access_key"}) {
    EXPECT_TRUE(is_secret_key(key)) << key;
  }
  EXPECT_FALSE(is_secret_key("s3_access_key_id"));
  EXPECT_FALSE(is_secret_key("tls_key_file"));
}

TEST(SetValueTest, LiveKeyAppliesToACopy) {
  auto c = two_servers();
  auto r = set_value(*c, "log_level", "debug2");
  ASSERT_TRUE(r) << r.error().error.message();
  EXPECT_EQ(r->key, "log_level");
  EXPECT_EQ(r->old_value, "info");
  EXPECT_EQ(r->new_value, "debug2");
  EXPECT_FALSE(r->restart_required);
  EXPECT_EQ(r->config->log_level, log::Level::kDebug2);
  EXPECT_EQ(c->log_level, log::Level::kInfo);  // the original is untouched
}

TEST(SetValueTest, ServerKeyForms) {
  auto c = two_servers();
  for (const char* key : {"server.replica.workers", "replica.workers"}) {
    SCOPED_TRACE(key);
    auto r = set_value(*c, key, "3");
    ASSERT_TRUE(r) << r.error().error.message();
    EXPECT_EQ(r->old_value, "-1");
    EXPECT_EQ(r->new_value, "3");
    EXPECT_FALSE(r->restart_required);
    EXPECT_EQ(find_server(*r->config, "replica")->workers, 3);
    EXPECT_EQ(find_server(*c, "replica")->workers, -1);
  }
}

TEST(SetValueTest, RestartKeysSayRestartRequired) {
  auto c = two_servers();
  const std::tuple<const char*, const char*, const char*> cases[] = {
      {"hugepage", "on", "try"},       {"pgmoneta.libev", "epoll", "auto"},
      {"log_type", "file", "console"}, {"server.primary.port", "6432", "5432"},
      {"replica.host", "db3", "db2"},
  };
  for (const auto& [key, value, old_value] : cases) {
    SCOPED_TRACE(key);
    auto r = set_value(*c, key, value);
    ASSERT_TRUE(r) << r.error().error.message();
    EXPECT_TRUE(r->restart_required);
    EXPECT_EQ(r->old_value, old_value);
    EXPECT_EQ(r->new_value, value);
  }
}

TEST(SetValueTest, PidfileFollowsHostWhenDefaulted) {
  auto c = two_servers();
  auto r = set_value(*c, "host", "localhost");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->config->pidfile, "/tmp/sock/pgmoneta.localhost.pid");
  auto explicit_pid = set_value(*two_servers(), "pidfile", "/run/p.pid");
  ASSERT_TRUE(explicit_pid);
  auto r2 = set_value(*explicit_pid->config, "unix_socket_dir", "/other");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->config->pidfile, "/run/p.pid");
}

TEST(SetValueTest, InterpolatesPathValues) {
  auto c = two_servers();
  auto r = set_value(*c, "primary.wal_shipping", "$HOME/ship", map_env({{"HOME", "/h"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->new_value, "/h/ship");
  auto bad = set_value(*c, "primary.wal_shipping", "$NOPE/ship", map_env({}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, SetError::Kind::kInvalidValue);
  EXPECT_EQ(bad.error().error.message(),
            "primary.wal_shipping: environment variable NOPE is not defined");
}

TEST(SetValueTest, ReportsEachKindOfError) {
  auto c = two_servers();
  using Kind = SetError::Kind;
  const std::tuple<const char*, const char*, Kind, ErrorCode, const char*> cases[] = {
      {"frobnicate", "1", Kind::kUnknownKey, ErrorCode::kNotFound,
       "unknown configuration key \"frobnicate\""},
      {"server.primary.hugepage", "on", Kind::kUnknownKey, ErrorCode::kNotFound,
       "unknown configuration key \"server.primary.hugepage\""},
      {"wal_slot", "x", Kind::kUnknownKey, ErrorCode::kNotFound,
       "unknown configuration key \"wal_slot\""},
      {"server.ghost.port", "1", Kind::kUnknownServer, ErrorCode::kNotFound,
       "unknown server \"ghost\" in key \"server.ghost.port\""},
      {"log_level", "chatty", Kind::kInvalidValue, ErrorCode::kConfig,
       "log_level: invalid log_level \"chatty\" (expected fatal, error, warn, info, "
       "debug1..debug5)"},
      {"compression", "bzip3", Kind::kInvalidValue, ErrorCode::kConfig, nullptr},
      {"primary.port", "99999", Kind::kInvalidValue, ErrorCode::kConfig,
       "primary.port: 99999 is out of range [1, 65535]"},
      {"retention", "7,5,6", Kind::kInvalidValue, ErrorCode::kConfig,
       "retention: weeks must be at most 4 when months is set, got 5"},
      {"replica.retention", "-,-,13,1", Kind::kInvalidValue, ErrorCode::kConfig,
       "server.replica.retention: months must be at most 12 when years is set, got 13"},
      {"primary.follow", "ghost", Kind::kInvalidValue, ErrorCode::kConfig,
       "server.primary.follow: no server named \"ghost\""},
      {"management", "5001", Kind::kInvalidValue, ErrorCode::kConfig,
       "management: port 5001 is already used by metrics"},
      {"host", "", Kind::kInvalidValue, ErrorCode::kConfig,
       "host: required key missing in [pgmoneta]"},
  };
  for (const auto& [key, value, kind, code, message] : cases) {
    SCOPED_TRACE(key);
    auto r = set_value(*c, key, value);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, kind);
    EXPECT_EQ(r.error().error.code(), code);
    if (message != nullptr) {
      EXPECT_EQ(r.error().error.message(), message);
    }
  }
}

TEST(RestartTest, IsRestartOnlyKey) {
  const std::pair<const char*, bool> cases[] = {
      {"hugepage", true},
      {"direct_io", true},
      {"libev", true},
      {"log_path", true},
      {"log_type", true},
      {"unix_socket_dir", true},
      {"pidfile", true},
      {"host", true},
      {"pgmoneta.host", true},
      {"server.a.host", true},
      {"a.port", true},
      {"server.a.user", true},
      {"server.a.wal_slot", true},
      {"log_level", false},
      {"metrics", false},
      {"management", false},
      {"retention", false},
      {"server.a.workers", false},
      {"nope", false},
      {"server.a.hugepage", false},
      {"metrics_cache_max_size", true},
  };
  for (const auto& [key, expected] : cases) {
    SCOPED_TRACE(key);
    EXPECT_EQ(is_restart_only_key(key), expected);
  }
}

TEST(RestartTest, RestartRequiredChanges) {
  auto running = two_servers();
  auto same = two_servers();
  EXPECT_TRUE(restart_required_changes(*running, *same).empty());

  auto live = set_value(*running, "log_level", "debug1")->config;
  live = set_value(*live, "primary.workers", "8")->config;
  live = set_value(*live, "metrics", "6000")->config;
  EXPECT_TRUE(restart_required_changes(*running, *live).empty());

  auto changed = set_value(*running, "hugepage", "off")->config;
  changed = set_value(*changed, "primary.port", "6543")->config;
  EXPECT_EQ(restart_required_changes(*running, *changed),
            (std::vector<std::string>{"hugepage", "server.primary.port"}));

  auto added = two_servers("\n[third]\nhost = h\nport = 1\nuser = u\nwal_slot = w\n");
  EXPECT_EQ(restart_required_changes(*running, *added),
            (std::vector<std::string>{"server.third (added)"}));
  EXPECT_EQ(restart_required_changes(*added, *running),
            (std::vector<std::string>{"server.third (removed)"}));

  Config reordered = *running;
  std::swap(reordered.servers[0], reordered.servers[1]);
  EXPECT_EQ(restart_required_changes(*running, reordered),
            (std::vector<std::string>{"servers (order changed)"}));
}

TEST(RestartTest, ListenersChanged) {
  auto running = two_servers();
  EXPECT_FALSE(listeners_changed(*running, *running));
  for (const auto& [key, value] :
       std::vector<std::pair<const char*, const char*>>{{"metrics", "6000"},
                                                        {"management", "6001"},
                                                        {"console", "6002"},
                                                        {"metrics_cert_file", "/c"},
                                                        {"tls_ca_file", "/ca"}}) {
    SCOPED_TRACE(key);
    auto next = set_value(*running, key, value);
    ASSERT_TRUE(next) << next.error().error.message();
    EXPECT_TRUE(listeners_changed(*running, *next->config));
  }
  auto other = set_value(*running, "log_level", "warn");
  EXPECT_FALSE(listeners_changed(*running, *other->config));
}

TEST(FindServerTest, FindsByName) {
  auto c = two_servers();
  ASSERT_NE(find_server(*c, "replica"), nullptr);
  EXPECT_EQ(find_server(*c, "replica")->host, "db2");
  EXPECT_EQ(find_server(*c, "ghost"), nullptr);
}

TEST(CheckValueTest, KnownUnknownAndInvalid) {
  EXPECT_EQ(check_value(false, "compression", "zstd"), true);
  EXPECT_EQ(check_value(true, "port", "5432"), true);
  EXPECT_EQ(check_value(false, "no_such_key", "1"), false);
  EXPECT_EQ(check_value(false, "wal_slot", "repl"), false);  // a server key only
  auto bad = check_value(false, "compression", "rar");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kConfig);
  EXPECT_EQ(bad.error().message().rfind("compression: ", 0), 0u) << bad.error().message();
  EXPECT_FALSE(check_value(true, "port", "many"));
}

}  // namespace
}  // namespace pgm::config
