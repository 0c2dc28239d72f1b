#include "pgm/config/config.h"

#include <unistd.h>

#include <cstdio>

#include "support/temp_dir.h"
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pgm/config/keys_internal.h"
#include "pgm/config/test_env_internal.h"

namespace pgm::config {
namespace {

using testing::map_env;
using testing::test_env;

// Line numbers: [pgmoneta] 1, host 2, unix_socket_dir 3, base_dir 4, main_extra from 5.
std::string conf(const std::string& main_extra = "", const std::string& server_extra = "") {
  return "[pgmoneta]\nhost = localhost\nunix_socket_dir = /tmp/sock\nbase_dir = /srv/pgmoneta\n" +
         main_extra + "\n[primary]\nhost = localhost\nport = 5432\nuser = repl\nwal_slot = repl\n" +
         server_extra;
}

// The line of the first server_extra line when main_extra has `main_lines` lines.
int server_line(int main_lines = 0) { return 11 + main_lines; }

Result<Loaded> load(const std::string& text, const EnvLookup& env = test_env()) {
  return parse_config(text, "test.conf", env);
}

std::shared_ptr<const Config> load_ok(const std::string& text) {
  auto r = load(text);
  EXPECT_TRUE(r) << r.error().message();
  return r ? r->config : nullptr;
}

TEST(ConfigLoadTest, MinimalConfigHasEveryDefault) {
  auto c = load_ok(conf());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "localhost");
  EXPECT_EQ(c->pidfile, "/tmp/sock/pgmoneta.localhost.pid");
  EXPECT_EQ(c->metrics, 0);
  EXPECT_EQ(c->management, 0);
  EXPECT_EQ(c->console, 0);
  EXPECT_EQ(c->metrics_cache_max_age, seconds(0));
  EXPECT_EQ(c->metrics_cache_max_size, 256u * 1024);
  EXPECT_EQ(c->compression.algorithm, compress::Algorithm::kZstd);
  EXPECT_FALSE(c->compression.server_side);
  EXPECT_EQ(c->compression.type_byte(), 0x12);
  EXPECT_EQ(c->compression_level, 3);
  EXPECT_EQ(c->encryption, crypto::AesMode::kNone);
  EXPECT_EQ(c->storage_engine, (StorageEngines{true, false, false, false}));
  EXPECT_EQ(c->workers, 0);
  EXPECT_EQ(c->workspace, fmt::format("/scratch/pgmoneta-workspace-{}/", ::getuid()));
  EXPECT_EQ(c->max_rate, 0u);
  EXPECT_FALSE(c->progress);
  EXPECT_EQ(c->verification, seconds(0));
  EXPECT_FALSE(c->create_slot);
  EXPECT_EQ(c->direct_io, DirectIo::kOff);
  EXPECT_EQ(c->hugepage, Hugepage::kTry);
  EXPECT_EQ(c->retention, (Retention{7, std::nullopt, std::nullopt, std::nullopt}));
  EXPECT_EQ(c->retention_interval, seconds(300));
  EXPECT_EQ(c->log_type, LogType::kConsole);
  EXPECT_EQ(c->log_level, log::Level::kInfo);
  EXPECT_EQ(c->log_path, "pgmoneta.log");
  EXPECT_EQ(c->log_mode, LogMode::kAppend);
  EXPECT_EQ(c->log_line_prefix, "%Y-%m-%d %H:%M:%S");
  EXPECT_FALSE(c->tls);
  EXPECT_EQ(c->blocking_timeout, seconds(30));
  EXPECT_EQ(c->authentication_timeout, seconds(5));
  EXPECT_TRUE(c->keep_alive);
  EXPECT_TRUE(c->nodelay);
  EXPECT_TRUE(c->non_blocking);
  EXPECT_EQ(c->backlog, 16);
  EXPECT_EQ(c->libev, Libev::kAuto);
  EXPECT_EQ(c->update_process_title, ProcessTitle::kVerbose);
  EXPECT_EQ(c->ssh_port, 22);
  EXPECT_EQ(c->ssh_public_key_file, "/home/pg/.ssh/id_rsa.pub");
  EXPECT_EQ(c->ssh_private_key_file, "/home/pg/.ssh/id_rsa");
  EXPECT_EQ(c->ssh_ciphers,
            (std::vector<std::string>{"aes-256-ctr", "aes-192-ctr", "aes-128-ctr"}));
  EXPECT_FALSE(c->s3_use_tls);
  EXPECT_EQ(c->s3_storage_class, "REDUCED_REDUNDANCY");
  EXPECT_EQ(c->azure_port, 443);
  EXPECT_TRUE(c->link);
  EXPECT_EQ(c->origin.file, "test.conf");

  ASSERT_EQ(c->servers.size(), 1u);
  const ServerConfig& s = c->servers[0];
  EXPECT_EQ(s.name, "primary");
  EXPECT_EQ(s.port, 5432);
  EXPECT_FALSE(s.create_slot.has_value());
  EXPECT_EQ(s.workers, -1);
  EXPECT_EQ(s.max_rate, -1);
  EXPECT_FALSE(s.progress.has_value());
  EXPECT_FALSE(s.wal_sync);
  EXPECT_TRUE(s.hot_standby.empty());
  EXPECT_EQ(effective_retention(*c, s), c->retention);
}

// The key table's documented defaults are what a default config reports.
TEST(ConfigLoadTest, KeyTableDefaultsMatchLoadedDefaults) {
  auto c = load_ok(conf());
  ASSERT_TRUE(c);
  int checked = 0;
  for (const KeyDef& def : all_keys()) {
    SCOPED_TRACE(std::string(def.name));
    const bool computed = def.main_default.find_first_of("<$") != std::string_view::npos;
    if (def.get_main != nullptr && !def.main_default.empty() && !computed) {
      EXPECT_EQ(*get_value(*c, def.name), def.main_default);
      ++checked;
    }
    if (def.get_server != nullptr && !def.server_default.empty()) {
      EXPECT_EQ(*get_value(*c, "primary." + std::string(def.name)), def.server_default);
      ++checked;
    }
  }
  EXPECT_GT(checked, 40);
}

TEST(ConfigLoadTest, EveryKeyRoundTripsThroughGetValue) {
  struct Case {
    const char* key;    // as in the file
    const char* value;  // as written
    const char* get;    // conf get key
    const char* shown;  // what conf get shows
  };
  const Case main_cases[] = {
      {"metrics", "9100", "metrics", "9100"},
      {"management", "9101", "management", "9101"},
      {"nagios", "9102", "nagios", "9102"},
      {"metrics_cache_max_age", "1h", "metrics_cache_max_age", "1h"},
      {"metrics_cache_max_size", "1MB", "metrics_cache_max_size", "1M"},
      {"metrics_cert_file", "/m.crt", "metrics_cert_file", "/m.crt"},
      {"compression", "server-lz4", "compression", "server-lz4"},
      {"compression_level", "9", "compression_level", "9"},
      {"encryption", "aes-192", "encryption", "aes-192-gcm"},
      {"workers", "4", "workers", "4"},
      {"workspace", "/w/", "workspace", "/w/"},
      {"max_rate", "10M", "max_rate", "10M"},
      {"progress", "yes", "progress", "on"},
      {"verification", "1d", "verification", "1d"},
      {"create_slot", "true", "create_slot", "on"},
      {"direct_io", "auto", "direct_io", "auto"},
      {"hugepage", "off", "hugepage", "off"},
      {"retention", "30,4,12,5", "retention", "30,4,12,5"},
      {"retention_interval", "3600", "retention_interval", "1h"},
      {"log_type", "file", "log_type", "file"},
      {"log_level", "debug3", "log_level", "debug3"},
      {"log_path", "/var/log/p-%Y.log", "log_path", "/var/log/p-%Y.log"},
      {"log_mode", "create", "log_mode", "create"},
      {"log_rotation_age", "1d", "log_rotation_age", "1d"},
      {"log_rotation_size", "10M", "log_rotation_size", "10M"},
      {"log_line_prefix", "'%H:%M '", "log_line_prefix", "%H:%M "},
      {"tls_ca_file", "/ca.crt", "tls_ca_file", "/ca.crt"},
      {"blocking_timeout", "10", "blocking_timeout", "10s"},
      {"authentication_timeout", "1m", "authentication_timeout", "1m"},
      {"keep_alive", "off", "keep_alive", "off"},
      {"nodelay", "no", "nodelay", "off"},
      {"non_blocking", "0", "non_blocking", "off"},
      {"backlog", "64", "backlog", "64"},
      {"libev", "epoll", "libev", "epoll"},
      {"update_process_title", "full", "update_process_title", "verbose"},
      {"pidfile", "/run/p.pid", "pidfile", "/run/p.pid"},
      {"ssh_hostname", "backup.example", "ssh_hostname", "backup.example"},
      {"ssh_port", "2222", "ssh_port", "2222"},
      {"ssh_ciphers", "aes256-ctr, aes-128-cbc", "ssh_ciphers", "aes-256-ctr,aes-128-cbc"},
      {"s3_endpoint", "minio", "s3_endpoint", "minio"},
      {"s3_port", "9000", "s3_port", "9000"},
      {"s3_use_tls", "on", "s3_use_tls", "on"},
      {"s3_region", "eu-west-1", "s3_region", "eu-west-1"},
      {"s3_aws_region", "eu-west-2", "s3_region", "eu-west-2"},
      {"s3_storage_class", "STANDARD", "s3_storage_class", "STANDARD"},
      {"azure_endpoint", "azurite", "azure_endpoint", "azurite"},
      {"azure_port", "10000", "azure_port", "10000"},
      {"azure_use_tls", "off", "azure_use_tls", "off"},
      {"link", "off", "link", "off"},
  };
  for (const Case& k : main_cases) {
    SCOPED_TRACE(k.key);
    auto r = load(conf(fmt::format("{} = {}\n", k.key, k.value)));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->warnings.empty()) << r->warnings[0].to_string();
    EXPECT_EQ(*get_value(*r->config, k.get), k.shown);
  }
  const Case server_cases[] = {
      {"create_slot", "yes", "primary.create_slot", "on"},
      {"wal_shipping", "/ship", "primary.wal_shipping", "/ship"},
      {"workspace", "/ws", "primary.workspace", "/ws"},
      {"hot_standby", "/a, /b", "primary.hot_standby", "/a,/b"},
      {"workers", "2", "primary.workers", "2"},
      {"max_rate", "1M", "primary.max_rate", "1M"},
      {"max_rate", "-1", "primary.max_rate", "-1"},
      {"progress", "on", "primary.progress", "on"},
      {"progress", "-1", "primary.progress", "-1"},
      {"retention", "-,2", "primary.retention", "-,2,-,-"},
      {"tls_cert_file", "/c.crt", "primary.tls_cert_file", "/c.crt"},
      {"tls_key_file", "/c.key", "primary.tls_key_file", "/c.key"},
      {"s3_bucket", "b1", "primary.s3_bucket", "b1"},
      {"s3_port", "9000", "primary.s3_port", "9000"},
      {"s3_use_tls", "off", "primary.s3_use_tls", "off"},
      {"extra", "/etc/a, /etc/b", "primary.extra", "/etc/a,/etc/b"},
      {"wal_sync", "on", "primary.wal_sync", "on"},
  };
  for (const Case& k : server_cases) {
    SCOPED_TRACE(k.key);
    auto r = load(conf("", fmt::format("{} = {}\n", k.key, k.value)));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->warnings.empty()) << r->warnings[0].to_string();
    EXPECT_EQ(*get_value(*r->config, k.get), k.shown);
  }
}

TEST(ConfigLoadTest, HotStandbySettingsAreTyped) {
  auto c = load_ok(conf("",
                        "hot_standby = /a,/b\nhot_standby_overrides = /o1|/o2\n"
                        "hot_standby_tablespaces = ts1->/x, 16385->/y | ts1->/z\n"));
  ASSERT_TRUE(c);
  const ServerConfig& s = c->servers[0];
  EXPECT_EQ(s.hot_standby, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(s.hot_standby_overrides, (std::vector<std::string>{"/o1", "/o2"}));
  ASSERT_EQ(s.hot_standby_tablespaces.size(), 2u);
  EXPECT_EQ(s.hot_standby_tablespaces[0],
            (std::vector<TablespaceMapping>{{"ts1", "/x"}, {"16385", "/y"}}));
  EXPECT_EQ(s.hot_standby_tablespaces[1], (std::vector<TablespaceMapping>{{"ts1", "/z"}}));
  EXPECT_EQ(*get_value(*c, "primary.hot_standby_tablespaces"), "ts1->/x,16385->/y|ts1->/z");
}

TEST(ConfigLoadTest, CompressionSpellingsAndTypeBytes) {
  const std::pair<const char*, uint8_t> cases[] = {
      {"none", 0x00},       {"gzip", 0x11},         {"client-gzip", 0x11}, {"server-gzip", 0x21},
      {"zstd", 0x12},       {"client-zstd", 0x12},  {"server-zstd", 0x22}, {"lz4", 0x13},
      {"client-lz4", 0x13}, {"server-lz4", 0x23},   {"bz2", 0x14},         {"client-bz2", 0x14},
      {"bzip2", 0x14},      {"client-bzip2", 0x14}, {"ZSTD", 0x12}};
  for (const auto& [text, byte] : cases) {
    SCOPED_TRACE(text);
    auto c = load_ok(conf(fmt::format("compression = {}\n", text)));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->compression.type_byte(), byte);
  }
}

TEST(ConfigLoadTest, EncryptionSpellings) {
  const std::pair<const char*, crypto::AesMode> cases[] = {
      {"none", crypto::AesMode::kNone},         {"aes", crypto::AesMode::kAes256Gcm},
      {"aes-256", crypto::AesMode::kAes256Gcm}, {"aes-256-gcm", crypto::AesMode::kAes256Gcm},
      {"aes-192", crypto::AesMode::kAes192Gcm}, {"aes-192-gcm", crypto::AesMode::kAes192Gcm},
      {"aes-128", crypto::AesMode::kAes128Gcm}, {"AES-128-GCM", crypto::AesMode::kAes128Gcm}};
  for (const auto& [text, mode] : cases) {
    SCOPED_TRACE(text);
    auto c = load_ok(conf(fmt::format("encryption = {}\n", text)));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->encryption, mode);
  }
}

TEST(ConfigLoadTest, InvalidValuesAreErrorsNamingFileLineKey) {
  const std::pair<const char*, const char*> main_cases[] = {
      {"log_type = journald", "test.conf:5: log_type: invalid log_type \"journald\""},
      {"compression = snappy", "test.conf:5: compression: invalid compression \"snappy\""},
      {"compression = server-bz2", "test.conf:5: compression: invalid compression"},
      {"encryption = aes-256-cbc", "test.conf:5: encryption: invalid encryption"},
      {"metrics = 70000", "test.conf:5: metrics: 70000 is out of range [0, 65535]"},
      {"metrics = -1", "test.conf:5: metrics: -1 is out of range"},
      {"blocking_timeout = 5x", "test.conf:5: blocking_timeout: invalid duration \"5x\""},
      {"metrics_cache_max_size = 1T", "test.conf:5: metrics_cache_max_size: invalid size"},
      {"keep_alive = maybe", "test.conf:5: keep_alive: invalid boolean \"maybe\""},
      {"hugepage = always", "test.conf:5: hugepage: invalid hugepage"},
      {"direct_io = yes", "test.conf:5: direct_io: invalid direct_io"},
      {"libev = kqueue", "test.conf:5: libev: invalid libev"},
      {"update_process_title = loud", "test.conf:5: update_process_title: invalid"},
      {"retention = a,b", "test.conf:5: retention: invalid retention field \"a\""},
      {"retention = 1,2,3,4,5", "test.conf:5: retention: invalid retention"},
      {"storage_engine = ftp", "test.conf:5: storage_engine: invalid storage engine \"ftp\""},
      {"ssh_ciphers = des", "test.conf:5: ssh_ciphers: invalid ssh cipher \"des\""},
      {"log_level = loud", "test.conf:5: log_level: invalid log_level \"loud\""},
      {"workers = -1", "test.conf:5: workers: -1 is out of range"},
      {"backlog = many", "test.conf:5: backlog: invalid integer \"many\""},
      {"compression_level = high", "test.conf:5: compression_level: invalid integer"},
  };
  for (const auto& [line, expected] : main_cases) {
    SCOPED_TRACE(line);
    auto r = load(conf(std::string(line) + "\n"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kConfig);
    EXPECT_EQ(r.error().message().rfind(expected, 0), 0u) << r.error().message();
  }
  const std::pair<const char*, const char*> server_cases[] = {
      {"port = 0", "test.conf:11: port: 0 is out of range [1, 65535]"},
      {"wal_sync = sometimes", "test.conf:11: wal_sync: invalid boolean"},
      {"progress = 2", "test.conf:11: progress: invalid boolean"},
      {"max_rate = fast", "test.conf:11: max_rate: invalid size"},
      {"hot_standby = 1,2,3,4,5,6,7,8,9", "test.conf:11: hot_standby: 9 directories given"},
      {"hot_standby_tablespaces = nomap", "test.conf:11: hot_standby_tablespaces: invalid"},
      {"create_slot = perhaps", "test.conf:11: create_slot: invalid boolean"},
  };
  for (const auto& [line, expected] : server_cases) {
    SCOPED_TRACE(line);
    auto r = load(conf("", std::string(line) + "\n"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message().rfind(expected, 0), 0u) << r.error().message();
  }
}

TEST(ConfigLoadTest, ValidationRules) {
  const std::string sl = std::to_string(server_line());
  const std::pair<std::string, std::string> cases[] = {
      {conf("retention = 0\n"), "test.conf:5: retention: days must be at least 1, got 0"},
      {conf("retention = 7,0\n"), "test.conf:5: retention: weeks must be at least 1, got 0"},
      {conf("retention = 7,5,1\n"),
       "test.conf:5: retention: weeks must be at most 4 when months is set, got 5"},
      {conf("retention = 7,4,13,1\n"),
       "test.conf:5: retention: months must be at most 12 when years is set, got 13"},
      {conf("retention = -,-,0\n"), "test.conf:5: retention: months must be at least 1, got 0"},
      {conf("retention = 7,-,-,0\n"), "test.conf:5: retention: years must be at least 1, got 0"},
      {conf("", "retention = -,-,0\n"),
       "test.conf:" + sl + ": retention: months must be at least 1, got 0"},
      {conf("retention = 7,-,2\n", "retention = -,5\n"),
       "test.conf:12: retention: weeks must be at most 4 when months is set, got 5"},
      {conf("", "follow = nobody\n"), "test.conf:" + sl + ": follow: no server named \"nobody\""},
      {conf("", "follow = primary\n"),
       "test.conf:" + sl + ": follow: a server cannot follow itself"},
      {conf() + "[all]\nhost = h\n",
       "test.conf:11: [all]: reserved name, cannot be a server section"},
      {conf() + "[primary]\nhost = h\n", "test.conf:11: [primary]: duplicate section"},
      {conf() + "[pgmoneta]\nhost = h\n", "test.conf:11: [pgmoneta]: duplicate section"},
      {"[primary]\nhost = h\n", "test.conf:1: [pgmoneta]: section missing"},
      {"[pgmoneta]\nunix_socket_dir = /s\nbase_dir = /b\n",
       "test.conf:1: host: required key missing in [pgmoneta]"},
      {"[pgmoneta]\nhost = *\nunix_socket_dir = /s\n",
       "test.conf:1: base_dir: required key missing in [pgmoneta]"},
      {"[pgmoneta]\nhost = *\nbase_dir = /b\n",
       "test.conf:1: unix_socket_dir: required key missing in [pgmoneta]"},
      {conf() + "\n[replica]\nhost = h\nuser = u\nwal_slot = w\n",
       "test.conf:12: port: required key missing in [replica]"},
      {conf() + "\n[replica]\nhost = h\nport = 1\nuser = u\n",
       "test.conf:12: wal_slot: required key missing in [replica]"},
      {conf() + "\n[replica]\nport = 1\nuser = u\nwal_slot = w\n",
       "test.conf:12: host: required key missing in [replica]"},
      {conf() + "\n[replica]\nhost = h\nport = 1\nwal_slot = w\n",
       "test.conf:12: user: required key missing in [replica]"},
      {conf("metrics = 5000\nmanagement = 5000\n"),
       "test.conf:6: management: port 5000 is already used by metrics"},
      {conf("tls = on\ntls_key_file = /k\n"),
       "test.conf:1: tls_cert_file: required key missing in [pgmoneta] (tls = on)"},
      {conf("storage_engine = local,ssh\nssh_username = u\nssh_base_dir = /r\n"),
       "test.conf:1: ssh_hostname: required key missing in [pgmoneta] (storage_engine includes "
       "ssh)"},
      {conf("storage_engine = s3\ns3_region = r\ns3_access_key_id = a\ns3_secret_access_key = s\n"),
       "test.conf:10: s3_bucket: required key missing in [primary] or [pgmoneta] "
       "(storage_engine includes s3)"},
      {conf("storage_engine = azure\nazure_container = c\nazure_shared_key = k\n"),
       "test.conf:1: azure_storage_account: required key missing in [pgmoneta] "
       "(storage_engine includes azure)"},
      {conf("", "hot_standby_overrides = /a\n"),
       "test.conf:" + sl +
           ": hot_standby_overrides: 1 override sets for 0 hot_standby directories"},
      {conf("", "hot_standby = /srv/pgmoneta/hs\n"),
       "test.conf:" + sl +
           ": hot_standby: /srv/pgmoneta/hs is inside the base_dir /srv/pgmoneta: the copy would "
           "be written there"},
      {conf("", "hot_standby = /srv/pgmoneta/\n"),
       "test.conf:" + sl + ": hot_standby: /srv/pgmoneta/ is inside the base_dir /srv/pgmoneta"},
      {conf("workspace = /hs/primary/ws\n", "hot_standby = /hs\n"),
       "test.conf:" + std::to_string(server_line(1)) +
           ": hot_standby: the workspace /hs/primary/ws is inside the copy /hs/primary"},
      {conf("workspace = /w\n", "hot_standby = /w/hs\n"),
       "test.conf:" + std::to_string(server_line(1)) +
           ": hot_standby: /w/hs is inside the workspace /w"},
      {conf("", "hot_standby = relative/hs\n"),
       "test.conf:" + sl + ": hot_standby: relative/hs is not an absolute path"},
      {conf("", "hot_standby = /a,/b,/a/\n"),
       "test.conf:" + sl + ": hot_standby: /a/ is given twice"},
      {conf("", "hot_standby = /a\nhot_standby_overrides = /a/primary/o\n"),
       "test.conf:" + std::to_string(server_line() + 1) +
           ": hot_standby_overrides: /a/primary/o is inside the copy it overrides"},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    auto r = load(text);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kConfig);
    EXPECT_EQ(r.error().message().rfind(expected, 0), 0u) << r.error().message();
  }
}

TEST(ConfigLoadTest, ValidCombinationsPass) {
  const std::string cases[] = {
      conf("retention = 7,5\n"),     // weeks > 4 is fine without months
      conf("retention = 7,4,24\n"),  // months > 12 is fine without years
      conf("retention = -,-,-,-\n"),
      conf("", "retention = 14\n"),
      conf("storage_engine = s3\ns3_region = r\ns3_access_key_id = a\ns3_secret_access_key = s\n",
           "s3_bucket = per-server\n"),
      conf("", "follow = replica\n") + "\n[replica]\nhost = h\nport = 1\nuser = u\nwal_slot = w\n",
      conf("", "hot_standby = /a,/b\nhot_standby_overrides = /o\n"),
      conf("", "hot_standby = /srv/pgmoneta-hs,/srv/hs\n"),  // beside base_dir, not inside
  };
  for (const std::string& text : cases) {
    SCOPED_TRACE(text);
    auto r = load(text);
    EXPECT_TRUE(r) << r.error().message();
  }
}

TEST(ConfigLoadTest, AtMost64Servers) {
  std::string text = conf();
  for (int i = 1; i < 64; ++i) {
    text += fmt::format("[s{}]\nhost = h\nport = 5432\nuser = u\nwal_slot = w{}\n", i, i);
  }
  auto ok = load(text);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->config->servers.size(), 64u);
  text += "[one_too_many]\nhost = h\n";
  auto r = load(text);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(": [one_too_many]: too many servers (at most 64)"),
            std::string::npos)
      << r.error().message();
}

TEST(ConfigLoadTest, UnknownAndMisplacedKeysWarn) {
  auto r = load("orphan = 1\n" +
                conf("frobnicate = 3\nport = 5\nwal_shipping = /x\n", "hugepage = on\nwat = 1\n"));
  ASSERT_TRUE(r) << r.error().message();
  std::vector<std::string> got;
  for (const Warning& w : r->warnings) {
    got.push_back(w.to_string());
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "test.conf:1: orphan: outside of any section; ignored",
                     "test.conf:6: frobnicate: unknown key in [pgmoneta]; ignored",
                     "test.conf:7: port: only valid in a server section; ignored in [pgmoneta]",
                     "test.conf:8: wal_shipping: only valid in a server section; ignored in "
                     "[pgmoneta]",
                     "test.conf:15: hugepage: only valid in [pgmoneta]; ignored in [primary]",
                     "test.conf:16: wat: unknown key in [primary]; ignored",
                 }));
  EXPECT_EQ(r->config->hugepage, Hugepage::kTry);
  EXPECT_EQ(r->warnings[0].file, "test.conf");
  EXPECT_EQ(r->warnings[0].line, 1);
  EXPECT_EQ(r->warnings[0].key, "orphan");
}

TEST(ConfigLoadTest, KeysAreCaseSensitive) {
  auto r = load(conf("Metrics = 9100\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->config->metrics, 0);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0].key, "Metrics");
}

TEST(ConfigLoadTest, ClampsWithWarning) {
  auto r = load(conf("backlog = 8\nconsole = 9000\n", "workers = -5\nmax_rate = -3\n"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->config->backlog, 16);
  EXPECT_EQ(r->config->servers[0].workers, -1);
  EXPECT_EQ(r->config->servers[0].max_rate, -1);
  std::vector<std::string> got;
  for (const Warning& w : r->warnings) {
    got.push_back(w.to_string());
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "test.conf:5: backlog: 8 is below the minimum; using 16",
                     "test.conf:13: workers: -5 is below -1; using -1 (the global workers)",
                     "test.conf:14: max_rate: -3 is below -1; using -1 (the global max_rate)",
                     "test.conf:6: console: the console needs the metrics port; it stays off",
                 }));
}

TEST(ConfigLoadTest, RepeatedKeyWarnsAndLastWins) {
  auto r = load(conf("metrics = 1\nmetrics = 2\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->config->metrics, 2);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0].to_string(),
            "test.conf:6: metrics: set again in [pgmoneta] (first on line 5); the last value wins");
}

TEST(ConfigLoadTest, PidfileDefault) {
  const std::pair<std::string, std::string> cases[] = {
      {"localhost", "/tmp/sock/pgmoneta.localhost.pid"},
      {"*", "/tmp/sock/pgmoneta.all.pid"},
      {"10.0.0.1", "/tmp/sock/pgmoneta.10.0.0.1.pid"},
  };
  for (const auto& [host, pidfile] : cases) {
    SCOPED_TRACE(host);
    auto c =
        load_ok("[pgmoneta]\nhost = " + host + "\nunix_socket_dir = /tmp/sock/\nbase_dir = /b\n");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->pidfile, pidfile);
  }
  auto c = load_ok(conf("pidfile = /run/pgmoneta.pid\n"));
  EXPECT_EQ(c->pidfile, "/run/pgmoneta.pid");
}

TEST(ConfigLoadTest, InterpolatesPathKeysOnly) {
  const EnvLookup env = map_env({{"HOME", "/home/pg"}, {"RUN", "/run/pg"}, {"X", "x"}});
  auto r = parse_config(
      "[pgmoneta]\nhost = $X\nunix_socket_dir = ${RUN}\nbase_dir = $HOME/backup\n"
      "log_path = $HOME/log/pgmoneta.log\nworkspace = $HOME/ws\nssh_base_dir = $HOME/r\n"
      "ssh_private_key_file = $HOME/k\ntls_cert_file = $HOME/c\nmetrics_key_file = $HOME/mk\n"
      "log_line_prefix = $HOME\n"
      "[primary]\nhost = h\nport = 1\nuser = $X\nwal_slot = w\nwal_shipping = $HOME/ship\n"
      "hot_standby = $HOME/hs1,${HOME}/hs2\ntls_ca_file = $HOME/ca\n",
      "test.conf", env);
  ASSERT_TRUE(r) << r.error().message();
  const Config& c = *r->config;
  EXPECT_EQ(c.host, "$X");  // not a path key
  EXPECT_EQ(c.unix_socket_dir, "/run/pg");
  EXPECT_EQ(c.pidfile, "/run/pg/pgmoneta.$X.pid");
  EXPECT_EQ(c.base_dir, "/home/pg/backup");
  EXPECT_EQ(c.log_path, "/home/pg/log/pgmoneta.log");
  EXPECT_EQ(c.workspace, "/home/pg/ws");
  EXPECT_EQ(c.ssh_base_dir, "/home/pg/r");
  EXPECT_EQ(c.ssh_private_key_file, "/home/pg/k");
  EXPECT_EQ(c.tls_cert_file, "/home/pg/c");
  EXPECT_EQ(c.metrics_key_file, "/home/pg/mk");
  EXPECT_EQ(c.log_line_prefix, "$HOME");
  EXPECT_EQ(c.servers[0].user, "$X");
  EXPECT_EQ(c.servers[0].wal_shipping, "/home/pg/ship");
  EXPECT_EQ(c.servers[0].hot_standby, (std::vector<std::string>{"/home/pg/hs1", "/home/pg/hs2"}));
  EXPECT_EQ(c.servers[0].tls_ca_file, "/home/pg/ca");
}

TEST(ConfigLoadTest, UndefinedVariableIsErrorNamingIt) {
  auto r = load(conf("", "wal_shipping = ${BACKUP_ROOT}/ship\n"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "test.conf:11: wal_shipping: environment variable BACKUP_ROOT is not defined");
}

TEST(ConfigLoadTest, DefaultsUseTmpWhenTmpdirIsUnset) {
  auto r = parse_config(conf(), "test.conf", map_env({}));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->config->workspace, fmt::format("/tmp/pgmoneta-workspace-{}/", ::getuid()));
  EXPECT_EQ(r->config->ssh_private_key_file, "");
}

TEST(ConfigLoadTest, LoadConfigReadsFile) {
  test_support::TempDir dir("pgm_config_test");
  const std::string path = dir.file("pgmoneta.conf");
  test_support::write_text(path, conf("metrics = 9187\n"));
  auto r = load_config(path, test_env());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->config->metrics, 9187);
  EXPECT_EQ(r->config->origin.file, path);
  test_support::write_text(path, conf("metrics = x\n"));
  auto bad = load_config(path, test_env());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message().rfind(path + ":5: metrics:", 0), 0u);
  std::remove(path.c_str());
  ::rmdir(dir.path().c_str());
  auto missing = load_config(path, test_env());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST(ResolvePathsTest, PerFileFlagsWinOverDirectoryOverEnvironment) {
  const EnvLookup env = map_env({{"PGMONETA_CONFIG_DIR", "/env"}});
  const EnvLookup no_env = map_env({});
  using O = std::optional<std::string>;
  struct Case {
    O c, u, a, d;
    const EnvLookup* env;
    ConfigPaths expected;
  };
  const Case cases[] = {
      {{},
       {},
       {},
       {},
       &no_env,
       {"/etc/pgmoneta/pgmoneta.conf", "/etc/pgmoneta/pgmoneta_users.conf",
        "/etc/pgmoneta/pgmoneta_admins.conf"}},
      {{},
       {},
       {},
       {},
       &env,
       {"/env/pgmoneta.conf", "/env/pgmoneta_users.conf", "/env/pgmoneta_admins.conf"}},
      {{},
       {},
       {},
       O("/d/"),
       &env,
       {"/d/pgmoneta.conf", "/d/pgmoneta_users.conf", "/d/pgmoneta_admins.conf"}},
      {O("/x/main.conf"),
       {},
       O("/y/adm.conf"),
       O("/d"),
       &env,
       {"/x/main.conf", "/d/pgmoneta_users.conf", "/y/adm.conf"}},
      {O("m"), O("u"), O("a"), {}, &env, {"m", "u", "a"}},
  };
  for (const Case& k : cases) {
    ConfigPaths p = resolve_paths(k.c, k.u, k.a, k.d, *k.env);
    EXPECT_EQ(p.main, k.expected.main);
    EXPECT_EQ(p.users, k.expected.users);
    EXPECT_EQ(p.admins, k.expected.admins);
  }
}

}  // namespace
}  // namespace pgm::config
