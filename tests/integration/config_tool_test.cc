// pgmoneta-config end to end: the real program creates and edits a pgmoneta.conf that the
// daemon's configuration loader then reads without warnings. No PostgreSQL needed.
#include "integration/process.h"
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "pgm/config/config.h"

namespace pgm::testing {
namespace {

class ConfigToolEndToEndTest : public ::testing::Test {
 protected:
  CommandOutput tool(std::vector<std::string> args) {
    args.insert(args.begin(), pgmoneta_bin_dir() + "/pgmoneta-config");
    ProcessOptions options;
    options.argv = std::move(args);
    options.cwd = dir_.path();
    return run_command(options, std::chrono::seconds(30));
  }
  // The program with `input` on its standard input, through sh.
  CommandOutput tool_with_input(const std::string& input, const std::string& args) {
    ProcessOptions options;
    options.argv = {
        "/bin/sh", "-c",
        "printf '" + input + "' | '" + pgmoneta_bin_dir() + "/pgmoneta-config' " + args};
    options.cwd = dir_.path();
    return run_command(options, std::chrono::seconds(30));
  }
  std::string file(std::string_view name) const { return dir_ / name; }

  TempDir dir_{"pgm-config"};
};

TEST_F(ConfigToolEndToEndTest, QuietInitThenEditAndLoad) {
  const std::string conf = file("pgmoneta.conf");
  CommandOutput init = tool({"-q", "init"});  // ./pgmoneta.conf in the working directory
  ASSERT_EQ(init.exit_code, 0) << init.describe();
  const std::string text = read_text(conf);
  EXPECT_EQ(
      text.rfind("[pgmoneta]\nhost = *\nmetrics = 5001\n\nbase_dir = /home/pgmoneta/backup\n", 0),
      0u)
      << text;
  struct stat st {};
  ASSERT_EQ(::stat(conf.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  CommandOutput again = tool({"-o", conf, "-q", "init"});
  EXPECT_EQ(again.exit_code, 1) << again.describe();
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.describe();
  EXPECT_EQ(tool({"-o", conf, "-q", "-F", "init"}).exit_code, 0);

  EXPECT_EQ(tool({"get", conf, "primary", "host"}).out, "localhost\n");
  ASSERT_EQ(tool({"set", conf, "primary", "host", "127.0.0.1"}).exit_code, 0);
  ASSERT_EQ(tool({"set", conf, "primary", "port", "5433"}).exit_code, 0);
  ASSERT_EQ(tool({"set", conf, "pgmoneta", "base_dir", dir_ / "backup"}).exit_code, 0);
  ASSERT_EQ(tool({"set", conf, "pgmoneta", "unix_socket_dir", dir_.path()}).exit_code, 0);
  ASSERT_EQ(tool({"set", conf, "pgmoneta", "log_path", dir_ / "pgmoneta.log"}).exit_code, 0);
  ASSERT_EQ(tool({"set", conf, "standby", "host", "127.0.0.2"}).exit_code, 0);
  EXPECT_EQ(tool({"get", conf, "primary", "host"}).out, "127.0.0.1\n");
  EXPECT_EQ(tool({"ls", conf}).out, "pgmoneta\nprimary\nstandby\n");
  ASSERT_EQ(tool({"del", conf, "standby", "host"}).exit_code, 0);
  EXPECT_EQ(tool({"ls", conf, "standby"}).out, "");
  ASSERT_EQ(tool({"del", conf, "standby"}).exit_code, 0);
  EXPECT_EQ(tool({"ls", conf}).out, "pgmoneta\nprimary\n");
  EXPECT_EQ(tool({"ls", conf, "primary"}).out, "host\nport\nuser\nwal_slot\n");
  ASSERT_EQ(::stat(conf.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  CommandOutput bad = tool({"set", conf, "primary", "port", "not-a-port"});
  EXPECT_EQ(bad.exit_code, 1) << bad.describe();
  EXPECT_NE(bad.err.find("[primary] port"), std::string::npos) << bad.describe();
  CommandOutput missing = tool({"get", conf, "primary", "password"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no key \"password\" in [primary]"), std::string::npos)
      << missing.describe();
  EXPECT_EQ(tool({"get", conf, "primary"}).exit_code, 2);
  EXPECT_EQ(tool({"frob", conf}).exit_code, 2);

  auto loaded = config::load_config(
      conf, [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_TRUE(loaded->warnings.empty()) << loaded->warnings.front().to_string();
  ASSERT_EQ(loaded->config->servers.size(), 1u);
  EXPECT_EQ(loaded->config->servers[0].host, "127.0.0.1");
  EXPECT_EQ(loaded->config->servers[0].port, 5433);
}

TEST_F(ConfigToolEndToEndTest, PipedInteractiveInit) {
  const std::string conf = file("answers.conf");
  // host, base_dir, compression (refused, then gzip), retention, log_type, log_level, log_path,
  // unix_socket_dir, server name, host, port, user; wal_slot keeps its default at end of input.
  const std::vector<std::string> lines = {
      "127.0.0.1",  dir_ / "backup", "rar",  "gzip",      "3",    "",      "",
      dir_ / "log", dir_.path(),     "main", "127.0.0.1", "6432", "backup"};
  std::string answers;  // for printf: each line ends with a backslash-n escape
  for (const std::string& line : lines) {
    answers += line;
    answers += R"(\n)";
  }
  CommandOutput init = tool_with_input(answers, "-o '" + conf + "' init");
  ASSERT_EQ(init.exit_code, 0) << init.describe();
  EXPECT_NE(init.out.find("Compression [zstd]"), std::string::npos) << init.describe();
  EXPECT_NE(init.err.find("compression"), std::string::npos) << init.describe();
  EXPECT_EQ(tool({"get", conf, "pgmoneta", "compression"}).out, "gzip\n");
  EXPECT_EQ(tool({"get", conf, "pgmoneta", "retention"}).out, "3\n");
  EXPECT_EQ(tool({"get", conf, "main", "port"}).out, "6432\n");
  EXPECT_EQ(tool({"get", conf, "main", "wal_slot"}).out, "repl\n");
  auto loaded = config::load_config(
      conf, [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_TRUE(loaded->warnings.empty()) << loaded->warnings.front().to_string();
  ASSERT_EQ(loaded->config->servers.size(), 1u);
  EXPECT_EQ(loaded->config->servers[0].name, "main");
}

}  // namespace
}  // namespace pgm::testing
