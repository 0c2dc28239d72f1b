// Daemon life cycle: SIGHUP reloads, SIGTERM and `shutdown` clean up, start-up failures (bad
// config, root, no daemon for the CLI).
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "integration/harness.h"
#include <sys/fsuid.h>

namespace pgm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// conf get <key> (text) until it prints `value`; returns the last output.
std::string wait_for_conf(DaemonInstance& d, const std::string& key, const std::string& value,
                          std::chrono::milliseconds timeout = seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (true) {
    CliResult r = d.cli({"conf", "get", key});
    last = r.exit_code() == 0 ? trim(r.out()) : r.describe();
    if (last == value || std::chrono::steady_clock::now() >= deadline) {
      return last;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
}

// Waits until the process group of `p` is empty.
bool wait_group_gone(const Process& p, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (p.group_alive()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

class SignalTest : public DaemonTest {};

TEST_F(SignalTest, SighupAppliesChangedLogLevel) {
  daemon().config().set("pgmoneta", "log_level", "debug1");
  daemon().write_config();
  ASSERT_TRUE(daemon().process().signal(SIGHUP));
  EXPECT_EQ(wait_for_conf(daemon(), "log_level", "debug1"), "debug1");
  CliResult ping = cli({"ping"});
  EXPECT_EQ(ping.exit_code(), 0) << ping.describe();
}

TEST_F(SignalTest, SighupKeepsUnixSocketDirUntilRestart) {
  std::string old_dir = daemon().socket_dir();
  std::string new_dir = daemon().dir().make_dir("sock2");
  daemon().config().set("pgmoneta", "unix_socket_dir", new_dir);
  daemon().write_config();
  ASSERT_TRUE(daemon().process().signal(SIGHUP));
  EXPECT_TRUE(daemon().wait_for_log("restart")) << "no log line mentions a restart:\n"
                                                << tail(daemon().log());
  // The old socket keeps answering, and the running value stays the old one.
  CliResult ping = cli({"ping"});
  EXPECT_EQ(ping.exit_code(), 0) << ping.describe();
  CliResult get = cli({"conf", "get", "unix_socket_dir"});
  EXPECT_EQ(get.exit_code(), 0) << get.describe();
  EXPECT_EQ(trim(get.out()), old_dir) << get.describe();
  EXPECT_FALSE(path_exists(new_dir + "/.s.pgmoneta"));
  EXPECT_TRUE(path_exists(old_dir + "/.s.pgmoneta"));
}

TEST_F(SignalTest, SigtermRemovesSocketPidFileAndChildren) {
  std::string socket = daemon().socket_path();
  std::string pid_file = daemon().pid_file();
  EXPECT_TRUE(path_exists(socket));
  EXPECT_TRUE(path_exists(pid_file)) << pid_file;
  if (path_exists(pid_file)) {
    EXPECT_EQ(trim(read_text(pid_file)), std::to_string(daemon().pid()));
  }
  // Give it something to reap first: a status details request forks a child.
  CliResult r = cli({"status", "details"});
  EXPECT_EQ(r.exit_code(), 0) << r.describe();

  mark_stopped();
  std::optional<int> status = daemon().stop();
  EXPECT_EQ(status, std::optional<int>(0));
  EXPECT_TRUE(wait_group_gone(daemon().process(), seconds(5)))
      << "processes of the daemon's group survive it";
  EXPECT_FALSE(path_exists(socket)) << socket;
  EXPECT_FALSE(path_exists(pid_file)) << pid_file;
}

TEST_F(SignalTest, ShutdownCommandStopsDaemon) {
  std::string socket = daemon().socket_path();
  std::string pid_file = daemon().pid_file();
  mark_stopped();
  CliResult r = cli({"shutdown"});
  EXPECT_EQ(r.exit_code(), 0) << r.describe();
  std::optional<int> status = daemon().process().wait_for(seconds(15));
  ASSERT_TRUE(status.has_value()) << "daemon still running 15 s after shutdown";
  EXPECT_EQ(*status, 0);
  EXPECT_TRUE(wait_group_gone(daemon().process(), seconds(5)));
  EXPECT_FALSE(path_exists(socket)) << socket;
  EXPECT_FALSE(path_exists(pid_file)) << pid_file;
}

// Two daemons on one base_dir (each with its own PID file and socket) would take the same
// labels and remove each other's backups in flight: the second is refused, naming the first.
TEST_F(SignalTest, ASecondDaemonOnTheSameBaseDirIsRefusedNamingTheFirst) {
  const std::optional<std::string> base_dir = daemon().config().get("pgmoneta", "base_dir");
  ASSERT_TRUE(base_dir.has_value());
  DaemonInstance second(nullptr);
  ASSERT_EQ(second.prepare(), "");
  second.config().set("pgmoneta", "base_dir", *base_dir);
  second.write_config();
  Process p = second.launch();
  ASSERT_GT(p.pid(), 0) << p.error();
  std::optional<int> status = p.wait_for(seconds(15));
  ASSERT_TRUE(status.has_value()) << "a second daemon kept running on " << *base_dir;
  EXPECT_NE(*status, 0);
  const std::string err = second.stderr_text();
  EXPECT_NE(err.find("base_dir " + *base_dir + " is in use by another pgmoneta (pid " +
                     std::to_string(daemon().pid()) + ")"),
            std::string::npos)
      << err;
  // The first one is untouched and still answers.
  EXPECT_EQ(cli({"ping"}).exit_code(), 0);
}

// A restore, archive or off-site restore into the repository (or a workspace) is refused before
// anything is read or written, naming the area; nothing appears there.
TEST_F(SignalTest, RestoreIntoTheRepositoryIsRefused) {
  const std::string base_dir = daemon().config().get("pgmoneta", "base_dir").value_or("");
  ASSERT_FALSE(base_dir.empty());
  {
    // Made as the daemon's user (the file system ids only): its WAL receiver may create
    // primary/wal beside them at any moment, and a root-owned primary/ made that fail once.
    const RunAs& user = run_as();
    if (user.drop) {
      ::setfsgid(user.gid);
      ::setfsuid(user.uid);
    }
    std::error_code ec;
    std::filesystem::create_directories(base_dir + "/primary/backup", ec);
    if (user.drop) {
      ::setfsuid(0);
      ::setfsgid(0);
    }
    ASSERT_TRUE(std::filesystem::is_directory(base_dir + "/primary/backup")) << ec.message();
  }
  auto entries = [&base_dir] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(base_dir + "/primary/backup")) {
      names.push_back(e.path().filename().string());
    }
    return names;
  };
  const std::vector<std::string> before = entries();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"restore", "primary", "newest", "current", base_dir},
        std::vector<std::string>{"restore", "primary", "newest", "current",
                                 base_dir + "/primary/backup/"},
        std::vector<std::string>{"archive", "primary", "newest", "current",
                                 base_dir + "/primary"}}) {
    CliResult r = cli(args);
    EXPECT_NE(r.exit_code(), 0) << r.describe();
    EXPECT_NE(r.describe().find("is inside the base_dir " + base_dir), std::string::npos)
        << r.describe();
  }
  EXPECT_EQ(entries(), before);
}

// The pids of the processes in process group `pgid` other than `except`.
std::vector<pid_t> group_members(pid_t pgid, pid_t except) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so parse after the last ')'.
    std::istringstream rest(line.substr(line.rfind(')') + 1));
    std::string state;
    pid_t ppid = 0;
    pid_t pgrp = 0;
    rest >> state >> ppid >> pgrp;
    const pid_t pid = std::stoi(name);
    if (pgrp == pgid && pid != except && state != "Z") {
      out.push_back(pid);
    }
  }
  return out;
}

// kill -9 of the main process takes its children along (the WAL receiver and the services do
// not live on as orphans holding the repository, the slot or a port), and a restart works.
TEST_F(SignalTest, KillNineOfTheMainProcessLeavesNoOrphansAndARestartWorks) {
  const pid_t main_pid = daemon().pid();
  ASSERT_GT(main_pid, 0);
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (group_members(main_pid, main_pid).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  const std::vector<pid_t> children = group_members(main_pid, main_pid);
  ASSERT_FALSE(children.empty()) << "the daemon has no child to orphan";
  ASSERT_EQ(::kill(main_pid, SIGKILL), 0);
  deadline = std::chrono::steady_clock::now() + seconds(10);
  while (!group_members(main_pid, -1).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(group_members(main_pid, -1).empty())
      << group_members(main_pid, -1).size() << " of " << children.size()
      << " children still alive 10 s after kill -9 of the main process";
  (void)daemon().process().wait_for(seconds(5));
  expect_log_errors({"Address already in use", "in use by another pgmoneta", "is active"});
  ASSERT_EQ(daemon().start(), "");
  EXPECT_EQ(cli({"ping"}).exit_code(), 0);
}

// ---- start-up failures ----

class StartupTest : public DaemonTest {
 protected:
  bool auto_start() const override { return false; }
};

TEST_F(StartupTest, CliWithoutDaemonExitsThreeWithOneLine) {
  CliResult r = cli({"ping"});
  EXPECT_EQ(r.exit_code(), 3) << r.describe();
  std::string err = r.err();
  ASSERT_FALSE(trim(err).empty()) << r.describe();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "stderr: " << err;
}

TEST_F(StartupTest, BadLogLevelNamesFileLineAndKey) {
  daemon().config().set("pgmoneta", "log_level", "loud");
  daemon().write_config();
  int line = daemon().config().line_of("pgmoneta", "log_level");
  ASSERT_GT(line, 0);
  Process p = daemon().launch();
  ASSERT_GT(p.pid(), 0) << p.error();
  std::optional<int> status = p.wait_for(seconds(15));
  ASSERT_TRUE(status.has_value()) << "daemon kept running with log_level = loud";
  EXPECT_NE(*status, 0);
  std::string err = daemon().stderr_text();
  EXPECT_NE(err.find(daemon().config_path()), std::string::npos) << err;
  EXPECT_NE(err.find(":" + std::to_string(line)), std::string::npos)
      << "line " << line << " not named: " << err;
  EXPECT_NE(err.find("log_level"), std::string::npos) << err;
  EXPECT_FALSE(path_exists(daemon().socket_path()));
  expect_log_errors({"log_level"});
}

// A configuration file must be a regular file of at most 1 MiB: `-c /dev/zero` is refused at
// once, naming it, by the daemon and by the CLI (it used to read forever).
TEST_F(StartupTest, ADeviceAsConfigurationFileIsRefusedAtOnce) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{daemon().bin("pgmoneta"), "-c", "/dev/zero"},
        std::vector<std::string>{daemon().bin("pgmoneta-cli"), "-c", "/dev/zero", "ping"}}) {
    ProcessOptions o;
    o.argv = argv;
    o.home = daemon().home();
    CommandOutput out = run_command(o, seconds(15));
    EXPECT_FALSE(out.timed_out) << argv[0] << " still reading /dev/zero after 15 s";
    EXPECT_NE(out.exit_code, 0) << out.describe();
    EXPECT_NE(out.err.find("/dev/zero is a device"), std::string::npos) << out.describe();
  }
}

// What `verify --start` and `archive` runs killed with -9 left in the workspace (their names end
// in a pid that is gone) is removed at start-up; anything else there stays.
TEST_F(StartupTest, LeftoversOfKilledRunsInTheWorkspaceGoAtStartUp) {
  const std::string ws = daemon().dir().make_dir("ws");
  daemon().config().set("pgmoneta", "workspace", ws);
  const std::vector<std::string> dead = {"proven-primary-20261207000000-99999999",
                                         "archive-primary-20261207000000-99999999",
                                         "archive-primary-20261207000000-99999999-tblspc_ts1"};
  for (const std::string& name : dead) {
    daemon().dir().make_dir("ws/" + name);
    daemon().dir().make_dir("ws/" + name + "/data");
    daemon().dir().write_file("ws/" + name + "/data/PG_VERSION", "15\n");
  }
  daemon().dir().make_dir("ws/mine");
  start_daemon();
  for (const std::string& name : dead) {
    EXPECT_FALSE(std::filesystem::exists(ws + "/" + name)) << name;
  }
  EXPECT_TRUE(std::filesystem::exists(ws + "/mine"));
  EXPECT_TRUE(daemon().wait_for_log("removed leftover " + ws + "/" + dead[0]));
}

TEST_F(StartupTest, RootIsRefused) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "only meaningful when the test runs as root";
  }
  Process p = daemon().launch(/*drop_privileges=*/false);
  ASSERT_GT(p.pid(), 0) << p.error();
  std::optional<int> status = p.wait_for(seconds(15));
  ASSERT_TRUE(status.has_value()) << "pgmoneta kept running as root";
  EXPECT_NE(*status, 0);
  EXPECT_NE(daemon().stderr_text().find("root"), std::string::npos) << daemon().stderr_text();
  EXPECT_FALSE(path_exists(daemon().socket_path()));

  ProcessOptions o;
  o.argv = {daemon().bin("pgmoneta-cli"), "-c", daemon().cli_config_path(), "ping"};
  o.drop_privileges = false;
  o.home = daemon().home();
  CommandOutput cli_root = run_command(o, seconds(15));
  EXPECT_NE(cli_root.exit_code, 0) << cli_root.describe();
  EXPECT_NE(cli_root.err.find("root"), std::string::npos) << cli_root.describe();
  expect_log_errors({"root"});
}

}  // namespace
}  // namespace pgm::testing
