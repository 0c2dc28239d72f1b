#include "pgm/configtool/configtool.h"

#include <sstream>

#include "support/temp_dir.h"
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "pgm/config/config.h"

namespace pgm::configtool {
namespace {

using test_support::read_text;
using test_support::TempDir;
using test_support::write_text;

constexpr std::string_view kQuietInit =
    "[pgmoneta]\n"
    "host = *\n"
    "metrics = 5001\n"
    "\n"
    "base_dir = /home/pgmoneta/backup\n"
    "\n"
    "compression = zstd\n"
    "\n"
    "retention = 7\n"
    "\n"
    "log_type = file\n"
    "log_level = info\n"
    "log_path = /tmp/pgmoneta.log\n"
    "\n"
    "unix_socket_dir = /tmp/\n"
    "\n"
    "[primary]\n"
    "host = localhost\n"
    "port = 5432\n"
    "user = repl\n"
    "wal_slot = repl\n";

struct Outcome {
  int code = 0;
  std::string out;
  std::string err;
};

Outcome run_words(std::vector<std::string> words, std::string_view input = "") {
  words.insert(words.begin(), "pgmoneta-config");
  std::vector<const char*> argv;
  argv.reserve(words.size());
  for (const std::string& w : words) {
    argv.push_back(w.c_str());
  }
  std::ostringstream out;
  std::ostringstream err;
  std::istringstream in{std::string(input)};
  ParsedCommandLine parsed =
      parse_command_line(static_cast<int>(argv.size()), argv.data(), out, err);
  Outcome o;
  o.code = parsed.options ? run(*parsed.options, in, out, err) : parsed.exit_code;
  o.out = out.str();
  o.err = err.str();
  return o;
}

TEST(ConfigToolTest, RenderInitDefaults) { EXPECT_EQ(render_init(InitAnswers{}), kQuietInit); }

TEST(ConfigToolTest, UsageErrorsExitTwo) {
  EXPECT_EQ(run_words({}).code, kExitUsage);
  EXPECT_EQ(run_words({"frobnicate"}).code, kExitUsage);
  EXPECT_EQ(run_words({"get", "f", "s"}).code, kExitUsage);
  EXPECT_EQ(run_words({"set", "f", "s", "k"}).code, kExitUsage);
  EXPECT_EQ(run_words({"ls"}).code, kExitUsage);
  EXPECT_EQ(run_words({"--bogus", "ls", "f"}).code, kExitUsage);
  EXPECT_EQ(run_words({"-?"}).code, 0);
  Outcome v = run_words({"-V"});
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out.rfind("pgmoneta-config ", 0), 0u);
}

TEST(ConfigToolTest, QuietInitThenEdit) {
  TempDir dir;
  const std::string file = dir.file("pgmoneta.conf");
  ASSERT_EQ(run_words({"-o", file, "-q", "init"}).code, 0);
  EXPECT_EQ(read_text(file), kQuietInit);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Outcome again = run_words({"-o", file, "-q", "init"});
  EXPECT_EQ(again.code, kExitFailure);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(run_words({"-o", file, "-q", "-F", "init"}).code, 0);

  EXPECT_EQ(run_words({"get", file, "primary", "port"}).out, "5432\n");
  ASSERT_EQ(run_words({"set", file, "primary", "port", "5433"}).code, 0);
  EXPECT_EQ(run_words({"get", file, "primary", "port"}).out, "5433\n");
  ASSERT_EQ(run_words({"set", file, "standby", "host", "db2"}).code, 0);
  EXPECT_EQ(run_words({"ls", file}).out, "pgmoneta\nprimary\nstandby\n");
  EXPECT_EQ(run_words({"ls", file, "standby"}).out, "host\n");
  ASSERT_EQ(run_words({"del", file, "primary", "wal_slot"}).code, 0);
  EXPECT_EQ(run_words({"ls", file, "primary"}).out, "host\nport\nuser\n");
  ASSERT_EQ(run_words({"del", file, "standby"}).code, 0);
  EXPECT_EQ(run_words({"ls", file}).out, "pgmoneta\nprimary\n");
}

TEST(ConfigToolTest, MissingThingsExitOneAndNameThem) {
  TempDir dir;
  const std::string file = dir.file("p.conf");
  write_text(file, "[pgmoneta]\nhost = *\n");
  Outcome no_file = run_words({"get", dir.file("none.conf"), "pgmoneta", "host"});
  EXPECT_EQ(no_file.code, kExitFailure);
  EXPECT_NE(no_file.err.find("none.conf: no such file"), std::string::npos) << no_file.err;
  Outcome no_section = run_words({"get", file, "primary", "host"});
  EXPECT_EQ(no_section.code, kExitFailure);
  EXPECT_NE(no_section.err.find("no section [primary]"), std::string::npos) << no_section.err;
  Outcome no_key = run_words({"get", file, "pgmoneta", "port"});
  EXPECT_EQ(no_key.code, kExitFailure);
  EXPECT_NE(no_key.err.find("no key \"port\" in [pgmoneta]"), std::string::npos) << no_key.err;
  EXPECT_EQ(run_words({"del", file, "pgmoneta", "port"}).code, kExitFailure);
  EXPECT_EQ(run_words({"del", file, "primary"}).code, kExitFailure);
  EXPECT_EQ(run_words({"ls", file, "primary"}).code, kExitFailure);
  EXPECT_EQ(run_words({"set", dir.file("none.conf"), "a", "b", "c"}).code, kExitFailure);
}

TEST(ConfigToolTest, SetValidatesKnownKeysAndWarnsOnUnknown) {
  TempDir dir;
  const std::string file = dir.file("p.conf");
  write_text(file, "# mine\n[pgmoneta]\nhost = *  # all\n");
  Outcome bad = run_words({"set", file, "pgmoneta", "compression", "rar"});
  EXPECT_EQ(bad.code, kExitFailure);
  EXPECT_NE(bad.err.find("compression"), std::string::npos) << bad.err;
  EXPECT_EQ(read_text(file), "# mine\n[pgmoneta]\nhost = *  # all\n");
  Outcome bad_port = run_words({"set", file, "primary", "port", "lots"});
  EXPECT_EQ(bad_port.code, kExitFailure);
  EXPECT_NE(bad_port.err.find("[primary] port"), std::string::npos) << bad_port.err;
  Outcome unknown = run_words({"set", file, "pgmoneta", "shiny", "yes"});
  EXPECT_EQ(unknown.code, 0);
  EXPECT_NE(unknown.err.find("warning"), std::string::npos);
  ASSERT_EQ(run_words({"set", file, "pgmoneta", "host", "localhost"}).code, 0);
  EXPECT_EQ(read_text(file), "# mine\n[pgmoneta]\nhost = localhost  # all\nshiny = yes\n");
}

TEST(ConfigToolTest, InteractiveInitReadsAnswers) {
  TempDir dir;
  const std::string file = dir.file("p.conf");
  // host, base_dir, compression (a wrong one, then lz4), retention, log_type, log_level,
  // log_path, unix_socket_dir, server name, its host, port, user; wal_slot left to EOF.
  Outcome o = run_words({"-o", file, "init"},
                        "localhost\n/srv/backup\nrar\nlz4\n14\n\n\n\n\nmain\n10.0.0.1\n5433\n");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("Compression [zstd]"), std::string::npos) << o.out;
  EXPECT_NE(o.err.find("compression"), std::string::npos) << o.err;
  const std::string text = read_text(file);
  EXPECT_NE(text.find("host = localhost\n"), std::string::npos) << text;
  EXPECT_NE(text.find("base_dir = /srv/backup\n"), std::string::npos) << text;
  EXPECT_NE(text.find("compression = lz4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("retention = 14\n"), std::string::npos) << text;
  EXPECT_NE(text.find("log_type = file\n"), std::string::npos) << text;
  EXPECT_NE(text.find("[main]\nhost = 10.0.0.1\nport = 5433\nuser = repl\nwal_slot = repl\n"),
            std::string::npos)
      << text;
}

TEST(ConfigToolTest, InitOutputLoadsInTheDaemonWithoutWarnings) {
  TempDir dir;
  const std::string file = dir.file("p.conf");
  ASSERT_EQ(run_words({"-o", file, "-q", "init"}).code, 0);
  auto loaded = config::load_config(
      file, [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_TRUE(loaded->warnings.empty()) << loaded->warnings.front().to_string();
  ASSERT_EQ(loaded->config->servers.size(), 1u);
  EXPECT_EQ(loaded->config->servers[0].name, "primary");
}

}  // namespace
}  // namespace pgm::configtool
