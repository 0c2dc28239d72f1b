// Child processes, temp dirs and privilege drop for integration tests. Not thread-safe: start and
// reap processes from the test's main thread (other threads may use sockets, nothing here).
//
// When the test runs as root, every child runs as the unprivileged test user (env PGM_TEST_USER,
// default "pgmoneta"): initdb, postgres, pgmoneta and pgmoneta-cli all refuse root. Every child is
// the leader of its own process group and gets SIGKILL when the test process dies
// (PR_SET_PDEATHSIG); destroying a Process kills its whole group, so a failing or aborting test
// leaks nothing.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace pgm::testing {

// The account children run as. `drop` is false when the test is not root (children then keep the
// test's own identity).
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  bool drop = false;
  std::string error;  // set when root and the user does not exist
};
const RunAs& run_as();

// Directory holding pgmoneta, pgmoneta-cli and pgmoneta-admin: env PGM_BIN_DIR, else the build's.
std::string pgmoneta_bin_dir();

// A fresh directory under env PGM_TEST_TMPDIR (default /tmp; /tmp when that directory is
// unusable) owned by the test user, removed (recursively) on destruction. PGM_KEEP_TEMP keeps it.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "pgm-it");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }
  // Creates <path>/<name> (and parents) owned by the test user; returns its path.
  std::string make_dir(std::string_view name, mode_t mode = 0700) const;
  // Writes <path>/<name> owned by the test user; returns its path.
  std::string write_file(std::string_view name, std::string_view content, mode_t mode = 0600) const;

 private:
  std::string path_;
};

// Gives `path` to the test user (no-op when not root).
void chown_to_test_user(const std::string& path);
// Copies pgmoneta, pgmoneta-cli, pgmoneta-admin from pgmoneta_bin_dir() into `dir` (created),
// executable by the test user. Returns an error message, empty on success.
std::string install_binaries(const std::string& dir);

std::string read_text(const std::string& path);  // "" when unreadable
bool path_exists(const std::string& path);

struct ProcessOptions {
  std::vector<std::string> argv;           // argv[0] is an absolute path
  std::map<std::string, std::string> env;  // added to PATH/HOME/USER/LOGNAME/LC_ALL
  std::string cwd;                         // default: HOME, else /
  std::string home;                        // HOME of the child; default /tmp
  bool drop_privileges = true;             // ignored unless root
  std::string stdout_path;                 // for start(): file to append to, default /dev/null
  std::string stderr_path;
};

class Process {
 public:
  Process() = default;
  // Starts the child. On failure pid() is -1 and error() says why.
  static Process start(const ProcessOptions& options);

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // Kills the process group with SIGKILL and reaps the leader.
  ~Process();

  pid_t pid() const { return pid_; }
  const std::string& error() const { return error_; }
  // True while the leader has not exited (reaps it when it has).
  bool running();
  // Waits up to `timeout` for the leader to exit. Returns its exit status (128+signal when
  // killed by a signal) or nullopt on timeout.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  std::optional<int> exit_status() const { return status_; }
  bool signal(int sig) const;  // to the leader only
  void kill_group(int sig) const;
  // True when some process of the group is still alive (zombies included).
  bool group_alive() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string error_;
};

struct CommandOutput {
  int exit_code = -1;  // 128+signal when killed; -1 when it could not start or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
  std::string describe() const;  // "exit N\nstdout: ...\nstderr: ..." for failure messages
};

// Runs a command to completion, capturing stdout and stderr (stdout_path/stderr_path ignored).
// On timeout the process group is killed and timed_out set.
CommandOutput run_command(const ProcessOptions& options,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it back).
int free_port();

std::string trim(std::string_view s);

}  // namespace pgm::testing
