#include "pgm/cli/cli.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "pgm/management/client.h"
#include "pgm/management/document.h"
#include "pgm/management/frame.h"
#include "pgm/management/registry.h"

namespace pgm::cli {
namespace {

using management::Command;
using nlohmann::json;

struct Mapping {
  const char* name;
  std::vector<std::string> args;
  Command command;
  json request;
};

class ParseArgsTest : public ::testing::TestWithParam<Mapping> {};

TEST_P(ParseArgsTest, BuildsTheRequest) {
  const Mapping& m = GetParam();
  ParseOutcome p = parse_args(m.args);
  ASSERT_TRUE(p.invocation.has_value()) << p.err;
  EXPECT_EQ(p.invocation->command, m.command);
  EXPECT_EQ(p.invocation->request, m.request);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseArgsTest,
    ::testing::Values(
        Mapping{"Backup",
                {"backup", "primary"},
                Command::kBackup,
                {{"Server", "primary"}, {"Backup", nullptr}}},
        Mapping{"Incremental",
                {"backup", "primary", "newest"},
                Command::kBackup,
                {{"Server", "primary"}, {"Backup", "newest"}}},
        Mapping{"ListBackupDefaultSort",
                {"list-backup", "primary"},
                Command::kListBackup,
                {{"Server", "primary"}, {"Sort", "asc"}}},
        Mapping{"ListBackupSortAfter",
                {"list-backup", "primary", "-s", "desc"},
                Command::kListBackup,
                {{"Server", "primary"}, {"Sort", "desc"}}},
        Mapping{"Restore",
                {"restore", "p", "newest", "/tmp/r"},
                Command::kRestore,
                {{"Server", "p"},
                 {"Backup", "newest"},
                 {"Position", nullptr},
                 {"Directory", "/tmp/r"}}},
        Mapping{"RestorePosition",
                {"restore", "p", "oldest", "lsn=0/300,replica", "/tmp/r"},
                Command::kRestore,
                {{"Server", "p"},
                 {"Backup", "oldest"},
                 {"Position", "lsn=0/300,replica"},
                 {"Directory", "/tmp/r"}}},
        Mapping{"Verify",
                {"verify", "p", "latest", "/w"},
                Command::kVerify,
                {{"Server", "p"}, {"Backup", "latest"}, {"Directory", "/w"}, {"Files", "failed"}}},
        Mapping{"VerifyAll",
                {"verify", "p", "latest", "/w", "all"},
                Command::kVerify,
                {{"Server", "p"}, {"Backup", "latest"}, {"Directory", "/w"}, {"Files", "all"}}},
        Mapping{
            "Archive",
            {"archive", "p", "newest", "/a"},
            Command::kArchive,
            {{"Server", "p"}, {"Backup", "newest"}, {"Position", nullptr}, {"Directory", "/a"}}},
        Mapping{"DeleteForce",
                {"--force", "delete", "p", "20240101000000"},
                Command::kDelete,
                {{"Server", "p"}, {"Backup", "20240101000000"}, {"Force", true}}},
        Mapping{"Delete",
                {"delete", "p", "oldest"},
                Command::kDelete,
                {{"Server", "p"}, {"Backup", "oldest"}, {"Force", false}}},
        Mapping{"RetainCascade",
                {"retain", "--cascade", "p", "newest"},
                Command::kRetain,
                {{"Server", "p"}, {"Backup", "newest"}, {"Cascade", true}}},
        Mapping{"Expunge",
                {"expunge", "p", "newest"},
                Command::kExpunge,
                {{"Server", "p"}, {"Backup", "newest"}, {"Cascade", false}}},
        Mapping{"Info",
                {"info", "p", "newest"},
                Command::kInfo,
                {{"Server", "p"}, {"Backup", "newest"}}},
        Mapping{"Annotate",
                {"annotate", "p", "newest", "add", "k", "v"},
                Command::kAnnotate,
                {{"Server", "p"},
                 {"Backup", "newest"},
                 {"Action", "add"},
                 {"Key", "k"},
                 {"Comment", "v"}}},
        Mapping{"AnnotateRemove",
                {"annotate", "p", "newest", "remove", "k"},
                Command::kAnnotate,
                {{"Server", "p"},
                 {"Backup", "newest"},
                 {"Action", "remove"},
                 {"Key", "k"},
                 {"Comment", nullptr}}},
        Mapping{"Encrypt", {"encrypt", "/f"}, Command::kEncrypt, {{"SourceFile", "/f"}}},
        Mapping{"Decrypt", {"decrypt", "/f.aes"}, Command::kDecrypt, {{"SourceFile", "/f.aes"}}},
        Mapping{"Compress", {"compress", "/f"}, Command::kCompress, {{"SourceFile", "/f"}}},
        Mapping{"Decompress",
                {"decompress", "/f.zstd"},
                Command::kDecompress,
                {{"SourceFile", "/f.zstd"}}},
        Mapping{"Ping", {"ping"}, Command::kPing, json::object()},
        Mapping{"Shutdown", {"shutdown"}, Command::kShutdown, json::object()},
        Mapping{"Status", {"status"}, Command::kStatus, json::object()},
        Mapping{"StatusDetails", {"status", "details"}, Command::kStatusDetails, json::object()},
        Mapping{"Mode",
                {"mode", "p", "offline"},
                Command::kMode,
                {{"Server", "p"}, {"Action", "offline"}}},
        Mapping{"Progress",
                {"progress", "p", "backup"},
                Command::kProgress,
                {{"Server", "p"}, {"Command", "backup"}}},
        Mapping{"ClearPrometheus", {"clear", "prometheus"}, Command::kReset, json::object()},
        Mapping{"ConfReload", {"conf", "reload"}, Command::kReload, json::object()},
        Mapping{"ConfLs", {"conf", "ls"}, Command::kConfLs, json::object()},
        Mapping{
            "ConfGetSendsNoKey", {"conf", "get", "log_level"}, Command::kConfGet, json::object()},
        Mapping{"ConfSet",
                {"conf", "set", "log_level", "debug"},
                Command::kConfSet,
                {{"ConfigKey", "log_level"}, {"ConfigValue", "debug"}}},
        Mapping{
            "S3Ls", {"s3", "ls", "p"}, Command::kS3Ls, {{"Server", "p"}, {"S3Prefix", nullptr}}},
        Mapping{
            "S3Restore",
            {"s3", "restore", "p", "newest", "/r"},
            Command::kS3Restore,
            {{"Server", "p"}, {"Backup", "newest"}, {"Position", nullptr}, {"Directory", "/r"}}},
        Mapping{"S3LsPrefix",
                {"s3", "ls", "p", "backup/"},
                Command::kS3Ls,
                {{"Server", "p"}, {"S3Prefix", "backup/"}}},
        Mapping{"AzureLs",
                {"azure", "ls", "p", "wal/"},
                Command::kAzureLs,
                {{"Server", "p"}, {"Prefix", "wal/"}}},
        Mapping{"AzureRestore",
                {"azure", "restore", "p", "20240101000000", "time=2024-01-01 01:00:00", "/r"},
                Command::kAzureRestore,
                {{"Server", "p"},
                 {"Backup", "20240101000000"},
                 {"Position", "time=2024-01-01 01:00:00"},
                 {"Directory", "/r"}}},
        Mapping{
            "SshLs", {"ssh", "ls", "p"}, Command::kSshLs, {{"Server", "p"}, {"Prefix", nullptr}}},
        Mapping{
            "SshRestore",
            {"ssh", "restore", "p", "oldest", "/r/"},
            Command::kSshRestore,
            {{"Server", "p"}, {"Backup", "oldest"}, {"Position", nullptr}, {"Directory", "/r/"}}}),
    [](const testing::TestParamInfo<Mapping>& param_info) { return param_info.param.name; });

// The CLI's verbs come from the command registry: every registered command has a command
// line that builds it, and --help lists every verb with its usage.
TEST(ParseArgsRegistryTest, EveryRegisteredCommandHasACommandLine) {
  const std::vector<std::vector<std::string>> lines = {
      {"backup", "p"},
      {"list-backup", "p"},
      {"restore", "p", "newest", "/r"},
      {"verify", "p", "newest", "/r"},
      {"archive", "p", "newest", "/r"},
      {"delete", "p", "b"},
      {"retain", "p", "b"},
      {"expunge", "p", "b"},
      {"encrypt", "/f"},
      {"decrypt", "/f"},
      {"compress", "/f"},
      {"decompress", "/f"},
      {"info", "p", "b"},
      {"annotate", "p", "b", "add", "k", "c"},
      {"ping"},
      {"status"},
      {"status", "details"},
      {"mode", "p", "offline"},
      {"progress", "p", "backup"},
      {"shutdown"},
      {"clear", "prometheus"},
      {"conf", "reload"},
      {"conf", "ls"},
      {"conf", "get"},
      {"conf", "set", "k", "v"},
      {"s3", "ls", "p"},
      {"s3", "restore", "p", "b", "/r"},
      {"azure", "ls", "p"},
      {"azure", "restore", "p", "b", "/r"},
      {"ssh", "ls", "p"},
      {"ssh", "restore", "p", "b", "/r"},
  };
  std::set<Command> built;
  for (const auto& line : lines) {
    ParseOutcome p = parse_args(line);
    ASSERT_TRUE(p.invocation.has_value()) << line[0] << ": " << p.err;
    built.insert(p.invocation->command);
  }
  std::set<Command> registered;
  for (const management::CommandSpec& s : management::command_specs()) {
    registered.insert(s.command);
  }
  EXPECT_EQ(built, registered);

  ParseOutcome help = parse_args({"-?"});
  for (const management::CommandSpec& s : management::command_specs()) {
    if (!s.help.empty()) {
      std::string line = fmt::format("  {} {}", s.verb, s.usage);
      EXPECT_NE(help.out.find(line), std::string::npos) << line;
    }
  }
}

TEST(ParseArgsOptionsTest, GlobalOptions) {
  ParseOutcome p = parse_args({"-c", "/x.conf", "-F", "json", "-C", "zstd", "-E", "aes", "-v",
                               "conf", "get", "server.primary.port"});
  ASSERT_TRUE(p.invocation.has_value()) << p.err;
  const Options& o = p.invocation->options;
  EXPECT_EQ(o.config_path, "/x.conf");
  EXPECT_EQ(o.format, management::OutputFormat::kJson);
  EXPECT_EQ(o.compression, compress::Algorithm::kZstd);
  EXPECT_EQ(o.encryption, crypto::AesMode::kAes256Gcm);
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(p.invocation->conf_key, "server.primary.port");
  ParseOutcome remote = parse_args({"-h", "db1", "-p", "5002", "-U", "admin", "ping"});
  ASSERT_TRUE(remote.invocation.has_value()) << remote.err;
  EXPECT_EQ(remote.invocation->options.host, "db1");
}

struct BadArgs {
  const char* name;
  std::vector<std::string> args;
  const char* err_part;
};

class ParseArgsErrorTest : public ::testing::TestWithParam<BadArgs> {};

TEST_P(ParseArgsErrorTest, IsAUsageError) {
  ParseOutcome p = parse_args(GetParam().args);
  EXPECT_FALSE(p.invocation.has_value());
  EXPECT_EQ(p.exit_code, kExitUsage);
  EXPECT_NE(p.err.find(GetParam().err_part), std::string::npos) << p.err;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseArgsErrorTest,
    ::testing::Values(
        BadArgs{"NoCommand", {}, "pgmoneta-cli: "},
        BadArgs{"UnknownCommand", {"frobnicate"}, "pgmoneta-cli: "},
        BadArgs{"BackupNoServer", {"backup"}, "usage: pgmoneta-cli backup <server> [parent]"},
        BadArgs{"RestoreTooFew", {"restore", "p", "newest"}, "usage: pgmoneta-cli restore"},
        BadArgs{"VerifyBadFilter", {"verify", "p", "n", "/w", "some"}, "failed or all"},
        BadArgs{"ModeBad", {"mode", "p", "sideways"}, "online or offline"},
        BadArgs{"AnnotateBad", {"annotate", "p", "n", "frob", "k"}, "add, update or remove"},
        BadArgs{"StatusBad", {"status", "loud"}, "usage: pgmoneta-cli status [details]"},
        BadArgs{"ClearBad", {"clear", "all"}, "usage: pgmoneta-cli clear prometheus"},
        BadArgs{"ConfBad", {"conf", "get", "a", "b"}, "usage: pgmoneta-cli conf"},
        BadArgs{"BadFormat", {"-F", "yaml", "ping"}, "text, json or raw"},
        BadArgs{"BadCompression", {"-C", "xz", "ping"}, "none, gz, zstd, lz4 or bz2"},
        BadArgs{"BadEncryption", {"-E", "des", "ping"}, "aes256"},
        BadArgs{"BadSort", {"-s", "up", "list-backup", "p"}, "asc or desc"},
        BadArgs{"S3NoVerb", {"s3"}, "usage: pgmoneta-cli s3 ls <server>"},
        BadArgs{"AzureRestoreTooFew",
                {"azure", "restore", "p", "newest"},
                "usage: pgmoneta-cli azure ls <server> [prefix] | restore"},
        BadArgs{"SshLsTooMany", {"ssh", "ls", "p", "a", "b"}, "usage: pgmoneta-cli ssh"},
        BadArgs{"SshUnknownVerb", {"ssh", "rm", "p"}, "usage: pgmoneta-cli ssh"}),
    [](const testing::TestParamInfo<BadArgs>& param_info) { return param_info.param.name; });

TEST(ParseArgsHelpTest, HelpAndVersionExitZero) {
  ParseOutcome help = parse_args({"-?"});
  EXPECT_EQ(help.exit_code, kExitSuccess);
  EXPECT_FALSE(help.invocation.has_value());
  EXPECT_NE(help.out.find("Exit codes:"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("-h,--host"), std::string::npos) << help.out;
  ParseOutcome version = parse_args({"-V"});
  EXPECT_EQ(version.exit_code, kExitSuccess);
  EXPECT_NE(version.out.find("pgmoneta-cli 0."), std::string::npos) << version.out;
}

TEST(ParseArgsHelpTest, HelpListsTheOffsiteVerbs) {
  ParseOutcome help = parse_args({"-?"});
  for (const char* line : {"s3 ls <server> [prefix]", "azure ls <server> [prefix]",
                           "ssh ls <server> [prefix] | restore <server> <id> [position]"}) {
    EXPECT_NE(help.out.find(line), std::string::npos) << line << "\n" << help.out;
  }
}

TEST(ParseArgsOffsiteTest, RelativeRestoreDirectoryIsSentAbsolute) {
  ParseOutcome p = parse_args({"ssh", "restore", "p", "newest", "restored"});
  ASSERT_TRUE(p.invocation.has_value()) << p.err;
  std::string dir = p.invocation->request["Directory"].get<std::string>();
  EXPECT_EQ(dir.front(), '/');
  EXPECT_TRUE(dir.ends_with("/restored")) << dir;
}

TEST(JudgeResponseTest, NamesTheOffsiteCommands) {
  Verdict v =
      judge_response(Command::kAzureRestore, json{{"Outcome",
                                                   {{"Status", false},
                                                    {"Error", 9201},
                                                    {"Workflow", "azure restore"},
                                                    {"Message", "azure: no complete backup"}}}});
  EXPECT_EQ(v.exit_code, kExitFailed);
  EXPECT_EQ(v.error_line,
            "pgmoneta-cli: azure restore failed: error 9201 (azure restore): azure: no complete "
            "backup");
}

TEST(JudgeResponseTest, MapsOutcomeToExitCode) {
  EXPECT_EQ(judge_response(Command::kPing, json{{"Outcome", {{"Status", true}}}}).exit_code,
            kExitSuccess);
  Verdict failed = judge_response(
      Command::kBackup,
      json{{"Outcome", {{"Status", false}, {"Error", 102}, {"Workflow", "backup"}}}});
  EXPECT_EQ(failed.exit_code, kExitFailed);
  EXPECT_EQ(failed.error_line,
            "pgmoneta-cli: backup failed: error 102 (backup): Backup: another operation is "
            "active on the server");
  Verdict with_message = judge_response(
      Command::kStatusDetails,
      json{{"Outcome",
            {{"Status", false}, {"Error", 2}, {"Workflow", "main"}, {"Message", "not yet"}}}});
  EXPECT_EQ(with_message.error_line,
            "pgmoneta-cli: status details failed: error 2 (main): not yet");
  EXPECT_EQ(judge_response(Command::kPing, json{{"Header", json::object()}}).exit_code,
            kExitUnreachable);
}

Invocation ping(Options o = {}) {
  Invocation inv;
  inv.options = std::move(o);
  inv.command = Command::kPing;
  return inv;
}

Environment test_env(uid_t uid = 1000) {
  Environment env;
  env.uid = uid;
  env.default_config_path = "/nonexistent/pgmoneta_cli.conf";
  env.load_master_key = [] {
    return Result<crypto::MasterKey>(make_error(ErrorCode::kNotFound, "no master.key"));
  };
  return env;
}

TEST(RunTest, RefusesRoot) {
  std::ostringstream out, err;
  EXPECT_EQ(run(ping(), test_env(0), out, err), kExitUsage);
  EXPECT_EQ(err.str(), "pgmoneta-cli: using the root account is not allowed\n");
}

TEST(RunTest, RemoteNeedsPortUserAndPassword) {
  Options o;
  o.host = "127.0.0.1";
  {
    std::ostringstream out, err;
    EXPECT_EQ(run(ping(o), test_env(), out, err), kExitUsage);
    EXPECT_NE(err.str().find("-p <port>"), std::string::npos) << err.str();
  }
  o.port = "70000";
  {
    std::ostringstream out, err;
    EXPECT_EQ(run(ping(o), test_env(), out, err), kExitUsage);
    EXPECT_NE(err.str().find("-p 70000"), std::string::npos) << err.str();
  }
  o.port = "5002";
  {
    std::ostringstream out, err;
    EXPECT_EQ(run(ping(o), test_env(), out, err), kExitUsage);
    EXPECT_NE(err.str().find("-U <user>"), std::string::npos) << err.str();
  }
  o.user = "admin";
  {
    // No -P, no PGMONETA_PASSWORD, no terminal.
    Environment env = test_env();
    env.prompt_password = [](const std::string&) { return std::optional<std::string>(); };
    std::ostringstream out, err;
    EXPECT_EQ(run(ping(o), env, out, err), kExitUsage);
    EXPECT_NE(err.str().find("needs a password"), std::string::npos) << err.str();
  }
}

TEST(RunTest, RemoteWithNobodyListeningIsUnreachable) {
  // A port that was free a moment ago: bind port 0, read it back, close.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  Options o;
  o.host = "127.0.0.1";
  o.port = std::to_string(ntohs(a.sin_port));
  o.user = "admin";
  Environment env = test_env();
  env.password_from_env = "secret";
  std::ostringstream out, err;
  EXPECT_EQ(run(ping(o), env, out, err), kExitUnreachable);
  EXPECT_NE(err.str().find("127.0.0.1:" + o.port), std::string::npos) << err.str();
}

TEST(RunTest, NeedsAConfigurationFile) {
  std::ostringstream out, err;
  EXPECT_EQ(run(ping(), test_env(), out, err), kExitUsage);
  EXPECT_NE(err.str().find("no configuration file"), std::string::npos) << err.str();
}

// A temporary unix_socket_dir with a cli config pointing at it and a fake daemon.
class FakeDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgm-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    conf_ = dir_ + "/pgmoneta_cli.conf";
    std::ofstream(conf_) << "unix_socket_dir = " << dir_ << "\n";
    listener_.reset(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s",
                  management::socket_path(dir_).c_str());
    ASSERT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(listener_.get(), 1), 0);
  }
  void TearDown() override {
    ::unlink(management::socket_path(dir_).c_str());
    ::unlink(conf_.c_str());
    ::rmdir(dir_.c_str());
  }
  // Accepts one connection and answers with answer(request_doc).
  std::thread serve(std::function<json(const json&)> answer) {
    return std::thread([this, answer = std::move(answer)] {
      UniqueFd c(::accept(listener_.get(), nullptr, nullptr));
      management::FrameReader reader;
      uint8_t buf[4096];
      while (reader.state() == management::FrameReader::State::kNeedMore) {
        ssize_t n = ::recv(c.get(), buf, sizeof(buf), 0);
        if (n <= 0) {
          return;
        }
        reader.feed(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
      }
      auto doc = management::decode_payload(reader.header().compression, reader.header().encryption,
                                            reader.payload(), nullptr);
      received_ = doc ? *doc : json();
      auto frame = management::encode_frame(answer(received_), compress::Algorithm::kNone,
                                            crypto::AesMode::kNone, nullptr);
      ::send(c.get(), frame->data(), frame->size(), MSG_NOSIGNAL);
    });
  }
  // One whole request document from fd; null on a closed connection.
  static json read_doc(int fd) {
    management::FrameReader reader;
    uint8_t buf[4096];
    while (reader.state() == management::FrameReader::State::kNeedMore) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        return json();
      }
      reader.feed(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
    }
    auto doc = management::decode_payload(reader.header().compression, reader.header().encryption,
                                          reader.payload(), nullptr);
    return doc ? *doc : json();
  }
  static void send_doc(int fd, const json& doc) {
    auto frame =
        management::encode_frame(doc, compress::Algorithm::kNone, crypto::AesMode::kNone, nullptr);
    ::send(fd, frame->data(), frame->size(), MSG_NOSIGNAL);
  }
  // True when a connection is waiting to be accepted (accepts and closes it).
  bool pending_connection() {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) {
      return false;
    }
    UniqueFd c(::accept(listener_.get(), nullptr, nullptr));
    return true;
  }
  std::string dir_;
  std::string conf_;
  UniqueFd listener_;
  json received_;
};

TEST_F(FakeDaemonTest, SuccessPrintsTextAndExitsZero) {
  auto t = serve([](const json& req) { return management::make_success(req, {}, 0.001); });
  Options o;
  o.config_path = conf_;
  o.verbose = true;
  std::ostringstream out, err;
  int code = run(ping(o), test_env(), out, err);
  t.join();
  EXPECT_EQ(code, kExitSuccess) << err.str();
  EXPECT_EQ(received_["Header"]["Command"], 9);
  EXPECT_NE(out.str().find("  Command: ping\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("Success (0)\n"), std::string::npos);
  EXPECT_EQ(err.str(), "");
}

TEST_F(FakeDaemonTest, FailureExitsOneWithOneLine) {
  auto t = serve([](const json& req) {
    return management::make_failure(req, 102, "backup", {}, "a backup of primary is running");
  });
  ParseOutcome p = parse_args({"-c", conf_, "-F", "json", "backup", "primary"});
  ASSERT_TRUE(p.invocation.has_value());
  std::ostringstream out, err;
  int code = run(*p.invocation, test_env(), out, err);
  t.join();
  EXPECT_EQ(code, kExitFailed);
  EXPECT_EQ(err.str(),
            "pgmoneta-cli: backup failed: error 102 (backup): a backup of primary is running\n");
  EXPECT_EQ(received_["Request"], (json{{"Server", "primary"}, {"Backup", nullptr}}));
  EXPECT_EQ(received_["Header"]["Output"], 1);
  EXPECT_NE(out.str().find("\"Status\": false"), std::string::npos) << out.str();
}

TEST_F(FakeDaemonTest, ConfGetPrintsBareValueOrFailsOnUnknownKey) {
  auto answer = [](const json& req) {
    return management::make_success(
        req, json{{"log_level", "info"}, {"server", {{"primary", {{"port", "5432"}}}}}}, 0);
  };
  {
    auto t = serve(answer);
    ParseOutcome p = parse_args({"-c", conf_, "conf", "get", "server.primary.port"});
    std::ostringstream out, err;
    int code = run(*p.invocation, test_env(), out, err);
    t.join();
    EXPECT_EQ(code, kExitSuccess) << err.str();
    EXPECT_EQ(out.str(), "5432\n");
    EXPECT_EQ(received_["Request"], json::object());
  }
  {
    auto t = serve(answer);
    ParseOutcome p = parse_args({"-c", conf_, "conf", "get", "nope"});
    std::ostringstream out, err;
    int code = run(*p.invocation, test_env(), out, err);
    t.join();
    EXPECT_EQ(code, kExitFailed);
    EXPECT_EQ(err.str(), "pgmoneta-cli: conf get: unknown configuration key 'nope'\n");
  }
}

TEST_F(FakeDaemonTest, EncryptionWithoutMasterKeyIsASetupError) {
  ParseOutcome p = parse_args({"-c", conf_, "-E", "aes", "ping"});
  std::ostringstream out, err;
  EXPECT_EQ(run(*p.invocation, test_env(), out, err), kExitUsage);
  EXPECT_NE(err.str().find("needs the master key: no master.key"), std::string::npos) << err.str();
}

json progress_answer(const json& req, uint64_t done) {
  return management::make_success(req,
                                  json{{"Server", "primary"},
                                       {"ProgressState", "streaming"},
                                       {"Done", done},
                                       {"Total", 100u << 20},
                                       {"Percentage", done * 100 / (100u << 20)},
                                       {"Elapsed", 1.5},
                                       {"Remaining", 3.0},
                                       {"Operation", "backup"}},
                                  0);
}

TEST_F(FakeDaemonTest, BackupOnATerminalDrawsABarAndErasesIt) {
  std::vector<json> progress_requests;
  std::thread daemon([&] {
    UniqueFd backup(::accept(listener_.get(), nullptr, nullptr));
    json backup_request = read_doc(backup.get());
    for (uint64_t i = 1; i <= 3; ++i) {
      UniqueFd c(::accept(listener_.get(), nullptr, nullptr));
      json req = read_doc(c.get());
      progress_requests.push_back(req);
      send_doc(c.get(), progress_answer(req, i * (20u << 20)));
    }
    send_doc(backup.get(), management::make_success(backup_request, {{"Server", "primary"}}, 9));
  });
  ParseOutcome p = parse_args({"-c", conf_, "backup", "primary"});
  Environment env = test_env();
  env.stderr_is_tty = true;
  env.progress_interval = std::chrono::milliseconds(10);
  env.terminal_columns = [] { return 100; };
  std::ostringstream out, err;
  int code = run(*p.invocation, env, out, err);
  daemon.join();
  EXPECT_EQ(code, kExitSuccess) << err.str();
  ASSERT_EQ(progress_requests.size(), 3u);
  EXPECT_EQ(progress_requests[0]["Header"]["Command"], 25);
  EXPECT_EQ(progress_requests[0]["Request"], (json{{"Server", "primary"}, {"Command", "backup"}}));
  std::string e = err.str();
  EXPECT_NE(e.find("\r["), std::string::npos) << e;
  EXPECT_NE(e.find("20.0 MiB / 100.0 MiB"), std::string::npos) << e;
  EXPECT_NE(e.find("ETA 0:03"), std::string::npos) << e;
  ASSERT_GE(e.size(), 4u);
  EXPECT_EQ(e.substr(e.size() - 4), "\r\x1b[K");  // erased before the answer
  EXPECT_NE(out.str().find("Server: primary"), std::string::npos) << out.str();
}

TEST_F(FakeDaemonTest, NoPollingWithoutATerminalOrWithNoProgress) {
  for (bool tty : {false, true}) {
    std::thread daemon([&] {
      UniqueFd backup(::accept(listener_.get(), nullptr, nullptr));
      json req = read_doc(backup.get());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      send_doc(backup.get(), management::make_success(req, {}, 0));
    });
    std::vector<std::string> args = {"-c", conf_, "backup", "primary"};
    if (tty) {
      args.insert(args.begin(), "--no-progress");
    }
    ParseOutcome p = parse_args(args);
    ASSERT_TRUE(p.invocation.has_value()) << p.err;
    Environment env = test_env();
    env.stderr_is_tty = tty;
    env.progress_interval = std::chrono::milliseconds(5);
    std::ostringstream out, err;
    EXPECT_EQ(run(*p.invocation, env, out, err), kExitSuccess) << err.str();
    daemon.join();
    EXPECT_FALSE(pending_connection()) << "tty=" << tty;
    EXPECT_EQ(err.str(), "");
  }
}

TEST_F(FakeDaemonTest, ProgressPrintsText) {
  auto t = serve([](const json& req) { return progress_answer(req, 45u << 20); });
  ParseOutcome p = parse_args({"-c", conf_, "progress", "primary", "backup"});
  std::ostringstream out, err;
  EXPECT_EQ(run(*p.invocation, test_env(), out, err), kExitSuccess) << err.str();
  t.join();
  EXPECT_EQ(out.str(),
            "Server: primary\n"
            "Operation: backup\n"
            "State: streaming\n"
            "Progress: [#############.................] 45%\n"
            "Done: 45.0 MiB\n"
            "Total: 100.0 MiB\n"
            "Elapsed: 0:02\n"
            "Remaining: 0:03\n");
}

TEST(ParseArgsFileVerbTest, RelativeSourceFileBecomesAbsolute) {
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof(cwd)), nullptr);
  for (const char* verb : {"encrypt", "decrypt", "compress", "decompress"}) {
    ParseOutcome p = parse_args({verb, "sub/../f.txt"});
    ASSERT_TRUE(p.invocation.has_value()) << p.err;
    EXPECT_EQ(p.invocation->request["SourceFile"], std::string(cwd) + "/f.txt") << verb;
  }
  ParseOutcome abs = parse_args({"compress", "/data/f"});
  EXPECT_EQ(abs.invocation->request["SourceFile"], "/data/f");
}

// A directory with a cli config whose unix_socket_dir has no daemon, and a data file.
class LocalFileVerbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgm-cli-local-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    conf_ = dir_ + "/cli.conf";
    std::ofstream(conf_) << "unix_socket_dir = " << dir_ << "\n";
    file_ = dir_ + "/data.bin";
    for (uint64_t i = 0; i < 300000; ++i) {  // 64-bit: i * 7919 overflows an int
      data_ += static_cast<char>((i * 7919) % 251);
    }
    std::ofstream(file_, std::ios::binary) << data_;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static bool exists(const std::string& path) { return std::filesystem::exists(path); }
  int cli(std::vector<std::string> args, const Environment& env) {
    out_.str("");
    err_.str("");
    ParseOutcome p = parse_args(args);
    EXPECT_TRUE(p.invocation.has_value()) << p.err;
    return run(*p.invocation, env, out_, err_);
  }
  static Environment key_env() {
    Environment env = test_env();
    env.load_master_key = [] {
      const uint8_t salt[16] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
      return crypto::derive_master_key("local test", salt);
    };
    return env;
  }
  std::string dir_;
  std::string conf_;
  std::string file_;
  std::string data_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(LocalFileVerbTest, CompressAndDecompressWithoutADaemon) {
  ASSERT_EQ(cli({"-c", conf_, "-F", "json", "compress", file_}, test_env()), kExitSuccess)
      << err_.str();
  EXPECT_EQ(err_.str(), "pgmoneta-cli: no daemon reachable; compress done locally\n");
  json doc = json::parse(out_.str());
  EXPECT_EQ(doc["Response"]["SourceFile"], file_);
  EXPECT_EQ(doc["Response"]["DestinationFile"], file_ + ".zstd");
  EXPECT_EQ(doc["Outcome"]["Status"], true);
  EXPECT_FALSE(exists(file_));
  ASSERT_TRUE(exists(file_ + ".zstd"));

  ASSERT_EQ(cli({"-c", conf_, "decompress", file_ + ".zstd"}, test_env()), kExitSuccess)
      << err_.str();
  EXPECT_EQ(err_.str(), "pgmoneta-cli: no daemon reachable; decompress done locally\n");
  EXPECT_NE(out_.str().find("DestinationFile: " + file_ + "\n"), std::string::npos) << out_.str();
  EXPECT_FALSE(exists(file_ + ".zstd"));
  EXPECT_EQ(read(file_), data_);
}

TEST_F(LocalFileVerbTest, EncryptAndDecryptWithTheCallersMasterKey) {
  Environment env = key_env();
  ASSERT_EQ(cli({"-c", conf_, "encrypt", file_}, env), kExitSuccess) << err_.str();
  EXPECT_EQ(err_.str(), "pgmoneta-cli: no daemon reachable; encrypt done locally\n");
  EXPECT_FALSE(exists(file_));
  ASSERT_TRUE(exists(file_ + ".aes"));
  ASSERT_EQ(cli({"-c", conf_, "decrypt", file_ + ".aes"}, env), kExitSuccess) << err_.str();
  EXPECT_EQ(read(file_), data_);
  EXPECT_FALSE(exists(file_ + ".aes"));
}

TEST_F(LocalFileVerbTest, EncryptWithoutAMasterKeyIsASetupError) {
  EXPECT_EQ(cli({"-c", conf_, "encrypt", file_}, test_env()), kExitUsage);
  EXPECT_NE(err_.str().find("needs the master key: no master.key"), std::string::npos)
      << err_.str();
  EXPECT_EQ(read(file_), data_);
  EXPECT_FALSE(exists(file_ + ".aes"));
}

TEST_F(LocalFileVerbTest, AFailureExitsOneWithOneLine) {
  std::ofstream(file_ + ".gz") << "not gzip";
  EXPECT_EQ(cli({"-c", conf_, "decompress", file_ + ".gz"}, test_env()), kExitFailed);
  EXPECT_EQ(err_.str().rfind("pgmoneta-cli: decompress failed (no daemon reachable; done "
                             "locally): decompress " +
                                 file_ + ".gz: ",
                             0),
            0u)
      << err_.str();
  std::string e = err_.str();
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1);
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(read(file_ + ".gz"), "not gzip");
  EXPECT_FALSE(exists(file_ + ".tmp"));
}

TEST_F(LocalFileVerbTest, NoSocketDirectoryOrNoConfigurationMeansLocal) {
  std::ofstream(conf_, std::ios::trunc) << "compression = none\n";
  ASSERT_EQ(cli({"-c", conf_, "compress", file_}, test_env()), kExitSuccess) << err_.str();
  EXPECT_TRUE(exists(file_ + ".zstd"));
  // No -c and no default configuration file.
  ASSERT_EQ(cli({"decompress", file_ + ".zstd"}, test_env()), kExitSuccess) << err_.str();
  EXPECT_EQ(read(file_), data_);
  // Other commands still need the daemon.
  EXPECT_EQ(cli({"-c", conf_, "ping"}, test_env()), kExitUsage);
}

TEST_F(FakeDaemonTest, FileVerbsGoToAReachableDaemon) {
  auto t = serve([](const json& req) {
    return management::make_success(
        req, json{{"SourceFile", "/x/f"}, {"DestinationFile", "/x/f.zstd"}}, 0.001);
  });
  ParseOutcome p = parse_args({"-c", conf_, "compress", "/x/f"});
  std::ostringstream out, err;
  int code = run(*p.invocation, test_env(), out, err);
  t.join();
  EXPECT_EQ(code, kExitSuccess) << err.str();
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(received_["Request"], (json{{"SourceFile", "/x/f"}}));
  EXPECT_NE(out.str().find("DestinationFile: /x/f.zstd\n"), std::string::npos) << out.str();
}

TEST(RunUnreachableTest, NoDaemonExitsThree) {
  char tmpl[] = "/tmp/pgm-cli-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string conf = dir + "/cli.conf";
  std::ofstream(conf) << "unix_socket_dir = " << dir << "\n";
  Options o;
  o.config_path = conf;
  std::ostringstream out, err;
  EXPECT_EQ(run(ping(o), test_env(), out, err), kExitUnreachable);
  EXPECT_NE(
      err.str().find("pgmoneta-cli: no pgmoneta daemon is listening on " + dir + "/.s.pgmoneta"),
      std::string::npos)
      << err.str();
  ::unlink(conf.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace pgm::cli
