#include "integration/process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pgm/core/unique_fd.h"

#ifndef PGM_DEFAULT_BIN_DIR
#define PGM_DEFAULT_BIN_DIR "bin"
#endif

extern char** environ;

namespace pgm::testing {

namespace {

namespace fs = std::filesystem;

const char* getenv_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before any thread
  return (v != nullptr && *v != '\0') ? v : fallback;
}

RunAs compute_run_as() {
  RunAs r;
  if (::geteuid() != 0) {
    r.uid = ::geteuid();
    r.gid = ::getegid();
    passwd* pw = ::getpwuid(r.uid);  // NOLINT(concurrency-mt-unsafe)
    r.name = pw != nullptr ? pw->pw_name : getenv_or("USER", "unknown");
    return r;
  }
  r.name = getenv_or("PGM_TEST_USER", "pgmoneta");
  passwd* pw = ::getpwnam(r.name.c_str());  // NOLINT(concurrency-mt-unsafe)
  if (pw == nullptr) {
    r.error = "running as root but the test user '" + r.name +
              "' does not exist (run scripts/install-deps.sh or set PGM_TEST_USER)";
    return r;
  }
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  r.drop = true;
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  while (::getgrouplist(r.name.c_str(), r.gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
  }
  groups.resize(static_cast<size_t>(n));
  r.groups = std::move(groups);
  return r;
}

// Converts strings to a null-terminated char* array; the strings must outlive it.
std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> build_env(const ProcessOptions& o, const RunAs& user) {
  std::map<std::string, std::string> env;
  env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  env["HOME"] = o.home.empty() ? "/tmp" : o.home;
  env["USER"] = user.name;
  env["LOGNAME"] = user.name;
  env["LC_ALL"] = "C";
  // Sanitizer settings pass through so ASan/TSan builds keep their options.
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    for (std::string_view prefix : {"ASAN_", "UBSAN_", "TSAN_", "LSAN_", "MSAN_"}) {
      if (kv.substr(0, prefix.size()) == prefix) {
        size_t eq = kv.find('=');
        if (eq != std::string_view::npos) {
          env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
        }
      }
    }
  }
  for (const auto& [k, v] : o.env) {
    env[k] = v;
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) {
    out.push_back(k);
    out.back().append("=").append(v);
  }
  return out;
}

// Everything the child needs, computed before fork(): the child only calls async-signal-safe
// functions.
struct Prepared {
  std::vector<std::string> argv_strings;
  std::vector<std::string> env_strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string cwd;
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

Prepared prepare(const ProcessOptions& o) {
  const RunAs& user = run_as();
  Prepared p;
  p.argv_strings = o.argv;
  bool drop = o.drop_privileges && user.drop;
  RunAs self;
  if (!drop && ::geteuid() == 0) {
    self.name = "root";
  }
  p.env_strings = build_env(o, drop || ::geteuid() != 0 ? user : self);
  p.argv = c_array(p.argv_strings);
  p.envp = c_array(p.env_strings);
  p.cwd = !o.cwd.empty() ? o.cwd : (!o.home.empty() ? o.home : "/");
  p.drop = drop;
  p.uid = user.uid;
  p.gid = user.gid;
  p.groups = user.groups;
  return p;
}

[[noreturn]] void child_fail(int status_fd, const char* what) {
  int err = errno;
  // Report "<what>: <errno>" through the close-on-exec status pipe.
  char buf[160];
  size_t n = 0;
  for (const char* c = what; *c != '\0' && n < 100; ++c) {
    buf[n++] = *c;
  }
  buf[n++] = ':';
  buf[n++] = ' ';
  const char* msg = ::strerror(err);  // NOLINT(concurrency-mt-unsafe): child of fork
  for (const char* c = msg; *c != '\0' && n < sizeof(buf); ++c) {
    buf[n++] = *c;
  }
  ssize_t ignored = ::write(status_fd, buf, n);
  (void)ignored;
  ::_exit(127);
}

// In the child: new process group, privilege drop, parent-death signal, redirections, exec.
[[noreturn]] void exec_child(const Prepared& p, pid_t parent, int in_fd, int out_fd, int err_fd,
                             int status_fd) {
  ::setpgid(0, 0);
  sigset_t all;
  ::sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);  // NOLINT(concurrency-mt-unsafe): child of fork
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT}) {
    ::signal(sig, SIG_DFL);  // NOLINT(concurrency-mt-unsafe): child of fork, one thread
  }
  if (p.drop) {
    if (::setgroups(p.groups.size(), p.groups.data()) != 0) {
      child_fail(status_fd, "setgroups");
    }
    if (::setgid(p.gid) != 0) {
      child_fail(status_fd, "setgid");
    }
    if (::setuid(p.uid) != 0) {
      child_fail(status_fd, "setuid");
    }
  }
  // After setuid: a credential change clears the parent-death signal.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) {
    ::_exit(126);
  }
  if (::chdir(p.cwd.c_str()) != 0) {
    child_fail(status_fd, "chdir");
  }
  if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) {
    child_fail(status_fd, "dup2");
  }
  ::execve(p.argv[0], p.argv.data(), p.envp.data());
  child_fail(status_fd, "execve");
}

int decode_status(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

// Forks and execs; the caller owns the fds passed in. Returns pid or -1 with `error` set.
pid_t spawn(const ProcessOptions& o, int in_fd, int out_fd, int err_fd, std::string* error) {
  const RunAs& user = run_as();
  if (o.drop_privileges && ::geteuid() == 0 && !user.drop) {
    *error = user.error;
    return -1;
  }
  if (o.argv.empty()) {
    *error = "empty argv";
    return -1;
  }
  Prepared p = prepare(o);
  int status_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
    *error = std::string("pipe2: ") + std::generic_category().message(errno);
    return -1;
  }
  UniqueFd status_read(status_pipe[0]);
  UniqueFd status_write(status_pipe[1]);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::generic_category().message(errno);
    return -1;
  }
  if (pid == 0) {
    exec_child(p, parent, in_fd, out_fd, err_fd, status_write.get());
  }
  ::setpgid(pid, pid);  // also in the parent, so kill(-pid) works at once
  status_write.reset();
  std::string msg;
  char buf[256];
  ssize_t n = 0;
  while ((n = ::read(status_read.get(), buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) {
      msg.append(buf, static_cast<size_t>(n));
    }
  }
  if (!msg.empty()) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    *error = "cannot start " + o.argv[0] + ": " + msg;
    return -1;
  }
  return pid;
}

}  // namespace

const RunAs& run_as() {
  static const RunAs user = compute_run_as();
  return user;
}

std::string pgmoneta_bin_dir() { return getenv_or("PGM_BIN_DIR", PGM_DEFAULT_BIN_DIR); }

void chown_to_test_user(const std::string& path) {
  const RunAs& user = run_as();
  if (user.drop) {
    if (::lchown(path.c_str(), user.uid, user.gid) != 0) {
      // Best effort: the test then fails where the child cannot write, with a clear error.
    }
  }
}

TempDir::TempDir(std::string_view prefix) {
  std::string templ =
      std::string(getenv_or("PGM_TEST_TMPDIR", "/tmp")) + "/" + std::string(prefix) + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    templ = "/tmp/" + std::string(prefix) + "-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      std::abort();  // cannot run any test without a temp dir
    }
  }
  path_ = templ;
  ::chmod(path_.c_str(), 0755);
  chown_to_test_user(path_);
}

TempDir::~TempDir() {
  if (std::getenv("PGM_KEEP_TEMP") != nullptr) {  // NOLINT(concurrency-mt-unsafe)
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::make_dir(std::string_view name, mode_t mode) const {
  std::string full = *this / name;
  std::error_code ec;
  fs::create_directories(full, ec);
  ::chmod(full.c_str(), mode);
  // chown every component below the temp dir
  for (fs::path p = full; p.string().size() > path_.size(); p = p.parent_path()) {
    chown_to_test_user(p.string());
  }
  return full;
}

std::string TempDir::write_file(std::string_view name, std::string_view content,
                                mode_t mode) const {
  std::string full = *this / name;
  {
    std::ofstream f(full, std::ios::binary | std::ios::trunc);
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
  }
  ::chmod(full.c_str(), mode);
  chown_to_test_user(full);
  return full;
}

std::string install_binaries(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0755);
  chown_to_test_user(dir);
  std::string src_dir = pgmoneta_bin_dir();
  for (const char* name : {"pgmoneta", "pgmoneta-cli", "pgmoneta-admin"}) {
    std::string src = src_dir + "/" + name;
    std::string dst = dir + "/" + name;
    if (!fs::copy_file(src, dst, fs::copy_options::overwrite_existing, ec)) {
      return "cannot copy " + src + " to " + dst + ": " + ec.message() +  // NOLINT
             " (build the targets or set PGM_BIN_DIR)";
    }
    ::chmod(dst.c_str(), 0755);
    chown_to_test_user(dst);
  }
  return "";
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Process Process::start(const ProcessOptions& options) {
  Process proc;
  UniqueFd in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  auto open_out = [](const std::string& path) {
    const std::string& target = path.empty() ? std::string("/dev/null") : path;
    UniqueFd fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    return fd;
  };
  UniqueFd out = open_out(options.stdout_path);
  UniqueFd err = open_out(options.stderr_path);
  if (!in || !out || !err) {
    proc.error_ =
        std::string("cannot open redirections: ") + std::generic_category().message(errno);
    return proc;
  }
  proc.pid_ = spawn(options, in.get(), out.get(), err.get(), &proc.error_);
  return proc;
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      status_(std::exchange(other.status_, std::nullopt)),
      error_(std::move(other.error_)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    this->~Process();
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
    error_ = std::move(other.error_);
  }
  return *this;
}

Process::~Process() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(-pid_, SIGKILL);
  if (!status_) {
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
}

bool Process::running() {
  if (pid_ <= 0 || status_) {
    return false;
  }
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = decode_status(st);
    return false;
  }
  return r == 0;
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

bool Process::signal(int sig) const { return pid_ > 0 && !status_ && ::kill(pid_, sig) == 0; }

void Process::kill_group(int sig) const {
  if (pid_ > 0) {
    ::kill(-pid_, sig);
  }
}

bool Process::group_alive() const { return pid_ > 0 && ::kill(-pid_, 0) == 0; }

std::string CommandOutput::describe() const {
  std::string s = timed_out ? "timed out" : "exit " + std::to_string(exit_code);
  s += "\nstdout: " + out + "\nstderr: " + err;
  return s;
}

CommandOutput run_command(const ProcessOptions& options, std::chrono::milliseconds timeout) {
  CommandOutput result;
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.err = "pipe2 failed";
    return result;
  }
  UniqueFd out_read(out_pipe[0]);
  UniqueFd out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = "pipe2 failed";
    return result;
  }
  UniqueFd err_read(err_pipe[0]);
  UniqueFd err_write(err_pipe[1]);
  UniqueFd in(::open("/dev/null", O_RDONLY | O_CLOEXEC));

  std::string error;
  pid_t pid = spawn(options, in.get(), out_write.get(), err_write.get(), &error);
  out_write.reset();
  err_write.reset();
  if (pid < 0) {
    result.err = error;
    return result;
  }
  // Read both pipes until EOF or timeout; a grandchild keeping a pipe open must not hang us, so
  // once the child has exited we only drain for a short while.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<std::chrono::steady_clock::time_point> exited_at;
  int status = -1;
  bool reaped = false;
  bool out_open = true;
  bool err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    auto now = std::chrono::steady_clock::now();
    if (!reaped) {
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        reaped = true;
        status = decode_status(st);
        exited_at = now;
      }
    }
    if (exited_at && now - *exited_at > std::chrono::milliseconds(500)) {
      break;
    }
    if (now >= deadline) {
      result.timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_open ? out_read.get() : -1, POLLIN, 0},
                     {err_open ? err_read.get() : -1, POLLIN, 0}};
    int r = ::poll(fds, 2, 20);
    if (r < 0 && errno != EINTR) {
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
  }
  if (!reaped) {
    auto wait_deadline = result.timed_out ? std::chrono::steady_clock::now() : deadline;
    while (true) {
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        status = decode_status(st);
        break;
      }
      if (std::chrono::steady_clock::now() >= wait_deadline) {
        result.timed_out = true;
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &st, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  } else {
    ::kill(-pid, SIGKILL);  // stray members of the group (none expected)
  }
  if (result.timed_out) {
    ::kill(-pid, SIGKILL);
  }
  result.exit_code = result.timed_out ? -1 : status;
  return result;
}

int free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return -1;
  }
  socklen_t len = sizeof(addr);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return -1;
  }
  return ntohs(addr.sin_port);
}

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) {
    ++b;
  }
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) {
    --e;
  }
  return std::string(s.substr(b, e - b));
}

}  // namespace pgm::testing
