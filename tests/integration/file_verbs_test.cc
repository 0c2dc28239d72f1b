// encrypt, decrypt, compress and decompress through the real pgmoneta-cli: against a running
// daemon (its configured compression and encryption), and locally when no daemon is running.
#include <string>

#include "integration/harness.h"
#include "support/bytes.h"
#include <sys/stat.h>

namespace pgm::testing {
namespace {

// 3 MiB of half random, half repetitive bytes.
std::string test_data() { return test_support::half_random_string(size_t{3} << 20, 7); }

class FileVerbsIntegrationTest : public DaemonTest {
 protected:
  void configure(IniConfig& config) override {
    // Not the CLI's local default (zstd): shows that the daemon did the work.
    config.set("pgmoneta", "compression", "client-lz4");
    config.set("pgmoneta", "compression_level", "5");
  }
  // A data file in a directory the daemon's user owns; returns its absolute path.
  std::string make_file(const std::string& name) {
    daemon().dir().make_dir("files");
    return daemon().dir().write_file("files/" + name, data_, 0640);
  }
  // pgmoneta-cli -c <cli conf> -F json args... run from `cwd`.
  CliResult cli_in(const std::string& cwd, const std::vector<std::string>& args) {
    ProcessOptions o;
    o.argv = {daemon().bin("pgmoneta-cli"), "-c", daemon().cli_config_path(), "-F", "json"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.home = daemon().home();
    o.cwd = cwd;
    CliResult r;
    r.output = run_command(o);
    nlohmann::json j = nlohmann::json::parse(r.output.out, nullptr, false);
    if (!j.is_discarded()) {
      r.json = std::move(j);
    }
    return r;
  }
  // Runs one verb and checks the answer: SourceFile, DestinationFile, the source gone.
  void verb(const std::string& name, const std::string& source, const std::string& destination,
            bool local) {
    CliResult r = cli({name, source}, "json");
    ASSERT_EQ(r.exit_code(), 0) << r.describe();
    ASSERT_TRUE(r.json.has_value()) << r.describe();
    EXPECT_EQ((*r.json)["Outcome"]["Status"], true) << r.describe();
    EXPECT_EQ((*r.json)["Response"]["SourceFile"], source) << r.describe();
    EXPECT_EQ((*r.json)["Response"]["DestinationFile"], destination) << r.describe();
    std::string note = "pgmoneta-cli: no daemon reachable; " + name + " done locally";
    if (local) {
      EXPECT_NE(r.err().find(note), std::string::npos) << r.describe();
    } else {
      EXPECT_EQ(r.err().find(note), std::string::npos) << r.describe();
    }
    EXPECT_FALSE(path_exists(source)) << source;
    EXPECT_TRUE(path_exists(destination)) << destination;
  }
  const std::string data_ = test_data();
};

TEST_F(FileVerbsIntegrationTest, CompressAndDecompressThroughTheDaemon) {
  std::string file = make_file("000000010000000000000042");
  ASSERT_NO_FATAL_FAILURE(verb("compress", file, file + ".lz4", false));
  EXPECT_LT(read_text(file + ".lz4").size(), data_.size());
  struct stat st {};
  ASSERT_EQ(::stat((file + ".lz4").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_NO_FATAL_FAILURE(verb("decompress", file + ".lz4", file, false));
  EXPECT_EQ(read_text(file), data_);
  EXPECT_TRUE(daemon().wait_for_log("compress: " + file + " -> " + file + ".lz4"))
      << tail(daemon().log());
}

TEST_F(FileVerbsIntegrationTest, EncryptAndDecryptThroughTheDaemon) {
  std::string file = make_file("base.tar.zstd");
  ASSERT_NO_FATAL_FAILURE(verb("encrypt", file, file + ".aes", false));
  EXPECT_EQ(read_text(file + ".aes").size(), data_.size() + 16 + 12 + 16);
  ASSERT_NO_FATAL_FAILURE(verb("decrypt", file + ".aes", file, false));
  EXPECT_EQ(read_text(file), data_);
}

TEST_F(FileVerbsIntegrationTest, ARelativePathIsResolvedByTheCli) {
  std::string file = make_file("relative.bin");
  CliResult r = cli_in(daemon().dir() / "files", {"compress", "relative.bin"});
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  ASSERT_TRUE(r.json.has_value()) << r.describe();
  EXPECT_EQ((*r.json)["Response"]["DestinationFile"], file + ".lz4") << r.describe();
  EXPECT_TRUE(path_exists(file + ".lz4"));
}

TEST_F(FileVerbsIntegrationTest, FailuresNameTheFileAndKeepIt) {
  std::string file = make_file("plain.bin");
  CliResult r = cli({"decrypt", file}, "json");
  EXPECT_EQ(r.exit_code(), 1) << r.describe();
  EXPECT_NE(r.err().find("error 1403"), std::string::npos) << r.describe();
  EXPECT_NE(r.err().find(file), std::string::npos) << r.describe();
  r = cli({"decompress", file}, "json");
  EXPECT_EQ(r.exit_code(), 1) << r.describe();
  EXPECT_NE(r.err().find("error 2001"), std::string::npos) << r.describe();
  r = cli({"compress", file + ".missing"}, "json");
  EXPECT_EQ(r.exit_code(), 1) << r.describe();
  EXPECT_NE(r.err().find("error 1800"), std::string::npos) << r.describe();
  EXPECT_EQ(read_text(file), data_);
  // A damaged .aes file stays as it was, and nothing else appears.
  std::string damaged = daemon().dir().write_file("files/damaged.aes", data_.substr(0, 4096));
  r = cli({"decrypt", damaged}, "json");
  EXPECT_EQ(r.exit_code(), 1) << r.describe();
  EXPECT_NE(r.err().find("wrong key or damaged file"), std::string::npos) << r.describe();
  EXPECT_EQ(read_text(damaged), data_.substr(0, 4096));
  EXPECT_FALSE(path_exists(daemon().dir() / "files/damaged"));
}

class LocalFileVerbsIntegrationTest : public FileVerbsIntegrationTest {
 protected:
  bool auto_start() const override { return false; }
};

TEST_F(LocalFileVerbsIntegrationTest, WithoutADaemonTheCliWorksLocally) {
  ASSERT_FALSE(path_exists(daemon().socket_path()));
  std::string file = make_file("local.bin");
  ASSERT_NO_FATAL_FAILURE(verb("compress", file, file + ".zstd", true));
  ASSERT_NO_FATAL_FAILURE(verb("decompress", file + ".zstd", file, true));
  EXPECT_EQ(read_text(file), data_);
  // The CLI user's master key (the same one the daemon would use).
  ASSERT_NO_FATAL_FAILURE(verb("encrypt", file, file + ".aes", true));
  ASSERT_NO_FATAL_FAILURE(verb("decrypt", file + ".aes", file, true));
  EXPECT_EQ(read_text(file), data_);
}

TEST_F(LocalFileVerbsIntegrationTest, DaemonAndLocalModeShareTheFormat) {
  std::string file = make_file("shared.bin");
  ASSERT_NO_FATAL_FAILURE(verb("encrypt", file, file + ".aes", true));
  ASSERT_NO_FATAL_FAILURE(start_daemon());
  ASSERT_NO_FATAL_FAILURE(verb("decrypt", file + ".aes", file, false));
  EXPECT_EQ(read_text(file), data_);
  ASSERT_NO_FATAL_FAILURE(verb("compress", file, file + ".lz4", false));
  daemon().stop();
  mark_stopped();
  ASSERT_NO_FATAL_FAILURE(verb("decompress", file + ".lz4", file, true));
  EXPECT_EQ(read_text(file), data_);
}

}  // namespace
}  // namespace pgm::testing
