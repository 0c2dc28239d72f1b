#include "pgm/config/cli_config.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "pgm/config/config.h"
#include "pgm/config/test_env_internal.h"

namespace pgm::config {
namespace {

using testing::map_env;

Result<LoadedCli> parse(const std::string& text) {
  return parse_cli_config(text, "cli.conf", map_env({{"HOME", "/home/pg"}}));
}

TEST(CliConfigTest, DefaultsWhenEmpty) {
  auto r = parse("");
  ASSERT_TRUE(r);
  const CliConfig& c = r->config;
  EXPECT_EQ(c.host, "");
  EXPECT_EQ(c.port, 0);
  EXPECT_EQ(c.unix_socket_dir, "");
  EXPECT_EQ(c.compression, compress::Algorithm::kNone);
  EXPECT_EQ(c.encryption, crypto::AesMode::kNone);
  EXPECT_EQ(c.log_type, LogType::kConsole);
  EXPECT_EQ(c.log_level, log::Level::kInfo);
  EXPECT_EQ(c.log_mode, LogMode::kAppend);
  EXPECT_EQ(c.output, OutputFormat::kText);
  EXPECT_TRUE(r->warnings.empty());
}

TEST(CliConfigTest, ParsesEveryKeyAndIgnoresSections) {
  auto r = parse(
      "[pgmoneta-cli]\nhost = backup.example\nport = 5002\nunix_socket_dir = $HOME/s\n"
      "compression = zstd\nencryption = aes256\nlog_type = file\nlog_level = debug1\n"
      "log_path = ${HOME}/cli.log # comment\nlog_mode = create\n[another]\noutput = json\n");
  ASSERT_TRUE(r) << r.error().message();
  const CliConfig& c = r->config;
  EXPECT_EQ(c.host, "backup.example");
  EXPECT_EQ(c.port, 5002);
  EXPECT_EQ(c.unix_socket_dir, "/home/pg/s");
  EXPECT_EQ(c.compression, compress::Algorithm::kZstd);
  EXPECT_EQ(c.encryption, crypto::AesMode::kAes256Gcm);
  EXPECT_EQ(c.log_type, LogType::kFile);
  EXPECT_EQ(c.log_level, log::Level::kDebug1);
  EXPECT_EQ(c.log_path, "/home/pg/cli.log");
  EXPECT_EQ(c.log_mode, LogMode::kCreate);
  EXPECT_EQ(c.output, OutputFormat::kJson);
  EXPECT_TRUE(r->warnings.empty());
}

TEST(CliConfigTest, CompressionSpellings) {
  const std::pair<const char*, compress::Algorithm> cases[] = {
      {"none", compress::Algorithm::kNone},   {"gz", compress::Algorithm::kGzip},
      {"gzip", compress::Algorithm::kGzip},   {"zstd", compress::Algorithm::kZstd},
      {"lz4", compress::Algorithm::kLz4},     {"bz2", compress::Algorithm::kBzip2},
      {"bzip2", compress::Algorithm::kBzip2}, {"LZ4", compress::Algorithm::kLz4}};
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    auto r = parse_cli_compression(text);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, expected);
  }
  EXPECT_FALSE(parse_cli_compression("snappy"));
  EXPECT_FALSE(parse_cli_compression("server-zstd"));
}

TEST(CliConfigTest, EncryptionSpellings) {
  const std::pair<const char*, crypto::AesMode> cases[] = {
      {"none", crypto::AesMode::kNone},
      {"aes", crypto::AesMode::kAes256Gcm},
      {"aes256", crypto::AesMode::kAes256Gcm},
      {"aes-256", crypto::AesMode::kAes256Gcm},
      {"aes-256-gcm", crypto::AesMode::kAes256Gcm},
      {"aes256-gcm", crypto::AesMode::kAes256Gcm},
      {"aes192", crypto::AesMode::kAes192Gcm},
      {"aes-192-gcm", crypto::AesMode::kAes192Gcm},
      {"aes128", crypto::AesMode::kAes128Gcm},
      {"AES-128", crypto::AesMode::kAes128Gcm},
      {"aes-gcm", crypto::AesMode::kAes256Gcm}};
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    auto r = parse_cli_encryption(text);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, expected);
  }
  for (const char* bad : {"aes512", "des", "aes-256-cbc", ""}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_cli_encryption(bad));
  }
}

TEST(CliConfigTest, OutputKeyIsCaseInsensitive) {
  const std::pair<const char*, OutputFormat> cases[] = {{"output = json", OutputFormat::kJson},
                                                        {"Output = raw", OutputFormat::kRaw},
                                                        {"OUTPUT = Text", OutputFormat::kText},
                                                        {"output = JSON", OutputFormat::kJson}};
  for (const auto& [line, expected] : cases) {
    SCOPED_TRACE(line);
    auto r = parse(line);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->config.output, expected);
    EXPECT_TRUE(r->warnings.empty());
  }
}

TEST(CliConfigTest, UnknownKeyWarnsAndOtherKeysAreCaseSensitive) {
  auto r = parse("[x]\nverbose = 1\nHost = h\n");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_EQ(r->warnings[0].to_string(), "cli.conf:2: verbose: unknown key; ignored");
  EXPECT_EQ(r->warnings[1].key, "Host");
  EXPECT_EQ(r->config.host, "");
}

TEST(CliConfigTest, InvalidValuesAreErrorsNamingFileLineKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"\nport = 70000", "cli.conf:2: port: 70000 is out of range [0, 65535]"},
      {"compression = snappy", "cli.conf:1: compression: invalid compression \"snappy\""},
      {"encryption = des", "cli.conf:1: encryption: invalid encryption \"des\""},
      {"output = xml", "cli.conf:1: output: invalid output \"xml\" (expected text, json, raw)"},
      {"log_level = chatty", "cli.conf:1: log_level: invalid log_level \"chatty\""},
      {"log_type = journald", "cli.conf:1: log_type: invalid log_type"},
      {"unix_socket_dir = $NOPE",
       "cli.conf:1: unix_socket_dir: environment variable NOPE is "
       "not defined"},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    auto r = parse(text);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kConfig);
    EXPECT_EQ(r.error().message().rfind(expected, 0), 0u) << r.error().message();
  }
}

TEST(CliConfigTest, AcceptsAFullPgmonetaConf) {
  auto r = parse(
      "[pgmoneta]\nhost = *\nunix_socket_dir = $HOME/run\nbase_dir = /srv\nmanagement = 5002\n"
      "compression = server-zstd\nlog_type = file\nretention = 7\n\n"
      "[primary]\nhost = db\nport = 5432\nuser = u\nwal_slot = s\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->config.unix_socket_dir, "/home/pg/run");
  EXPECT_EQ(r->config.port, 5002);
  EXPECT_EQ(r->config.host, "");
  EXPECT_EQ(r->config.compression, compress::Algorithm::kNone);
  EXPECT_EQ(r->config.log_type, LogType::kConsole);
  EXPECT_TRUE(r->warnings.empty());
}

// The examples the package installs (contrib/etc) load as they are, without a warning.
TEST(ShippedExamplesTest, LoadWithoutWarnings) {
  const char* source = std::getenv("PGM_SOURCE_DIR");  // NOLINT(concurrency-mt-unsafe)
  ASSERT_NE(source, nullptr) << "PGM_SOURCE_DIR is set by ctest";
  const std::string dir = std::string(source) + "/contrib/etc/";
  auto daemon = load_config(dir + "pgmoneta.conf", map_env({}));
  ASSERT_TRUE(daemon) << daemon.error().message();
  EXPECT_TRUE(daemon->warnings.empty()) << daemon->warnings.front().to_string();
  EXPECT_EQ(daemon->config->base_dir, "/var/lib/pgmoneta");
  ASSERT_EQ(daemon->config->servers.size(), 1u);
  auto cli = load_cli_config(dir + "pgmoneta_cli.conf", map_env({}));
  ASSERT_TRUE(cli) << cli.error().message();
  EXPECT_TRUE(cli->warnings.empty()) << cli->warnings.front().to_string();
  EXPECT_EQ(cli->config.unix_socket_dir, "/run/pgmoneta");
}

TEST(CliConfigTest, LoadMissingFileIsNotFound) {
  auto r = load_cli_config("/nonexistent/pgmoneta_cli.conf", map_env({}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace pgm::config
