#include "pgm/restore/proven.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/pg/connection.h"
#include "pgm/restore/leftovers.h"
#include "pgm/restore/restore.h"

namespace pgm::restore {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

backup::Seconds since(Clock::time_point start) { return Clock::now() - start; }

// Removes a directory tree; failures are logged (the caller's outcome does not depend on it).
void remove_tree(const std::string& path) {
  if (path.empty()) {
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) {
    log::warn("proven restore: remove {}: {}", path, ec.message());
  }
}

// A TCP port nobody listens on right now (the server listens on no TCP address; the port only
// names its socket and shared memory).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int port = 0;
  if (fd >= 0) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    ::close(fd);
  }
  return port != 0 ? port : 50000 + static_cast<int>(::getpid() % 10000);
}

std::string os_user() {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(::geteuid(), &pw, buf, sizeof buf, &found) == 0 && found != nullptr) {
    return pw.pw_name;
  }
  return {};
}

std::string one_line(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    bool ws = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (space) {
      out += ' ';
      space = false;
    }
    out += c;
  }
  return out;
}

// The first PANIC/FATAL line of the server log (else the first ERROR, else the last line),
// from its severity on, as one line.
std::string log_reason(const std::string& log_path) {
  auto text = io::read_file(log_path);
  if (!text || text->empty()) {
    return "no server log";
  }
  std::vector<std::string_view> lines;
  std::string_view rest = *text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    if (!line.empty()) {
      lines.push_back(line);
    }
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  for (const char* severity : {"PANIC:", "FATAL:", "ERROR:"}) {
    for (std::string_view line : lines) {
      size_t at = line.find(severity);
      if (at != std::string_view::npos) {
        return one_line(line.substr(at));
      }
    }
  }
  return lines.empty() ? "no server log" : one_line(lines.back());
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Makes the restored copy a private throwaway: trust on the private socket only, no signal
// file, a postgresql.conf to read (Debian keeps it in /etc: the copy may have none).
Result<void> prepare_copy(const std::string& dir) {
  PGM_TRY(io::write_file_atomic(dir + "/pg_hba.conf",
                                "# pgmoneta proven restore: a throwaway on a private socket\n"
                                "local all all trust\n",
                                0600));
  PGM_TRY(io::write_file_atomic(dir + "/pg_ident.conf", "", 0600));
  for (const char* name : {"recovery.signal", "standby.signal"}) {
    std::string path = dir + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return make_errno_error(fmt::format("remove {}", path), errno);
    }
  }
  if (!exists(dir + "/postgresql.conf")) {
    PGM_TRY(io::write_file_atomic(dir + "/postgresql.conf", "", 0600));
  }
  if (!exists(dir + "/postgresql.auto.conf")) {
    PGM_TRY(io::write_file_atomic(dir + "/postgresql.auto.conf", "", 0600));
  }
  return {};
}

// The running throwaway postmaster; stopped (fast, then SIGKILL) when destroyed.
class Postmaster {
 public:
  Postmaster() = default;
  Postmaster(const Postmaster&) = delete;
  Postmaster& operator=(const Postmaster&) = delete;
  ~Postmaster() { stop(); }

  Result<void> start(const std::string& program, const std::vector<std::string>& args,
                     const std::string& log_path) {
    int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) {
      return make_errno_error(fmt::format("open {}", log_path), errno);
    }
    std::vector<std::string> argv_storage;
    argv_storage.push_back(program);
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    argv.reserve(argv_storage.size() + 1);
    for (std::string& a : argv_storage) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
      int e = errno;
      ::close(log_fd);
      return make_errno_error("fork for the proven restore's postgres", e);
    }
    if (pid == 0) {
      // Child: async-signal-safe calls only.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) {
        ::_exit(127);
      }
      sigset_t none;
      sigemptyset(&none);
      ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      for (int sig : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2}) {
        ::sigaction(sig, &dfl, nullptr);
      }
      int null_fd = ::open("/dev/null", O_RDONLY);
      if (null_fd >= 0) {
        ::dup2(null_fd, 0);
      }
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      // Nothing of the caller's (client sockets, listeners) stays open in the server.
      ::close_range(3, ~0U, 0);
      ::execv(program.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(log_fd);
    pid_ = pid;
    return {};
  }

  // True while running; reaps it when it has exited.
  bool running() {
    if (pid_ <= 0) {
      return false;
    }
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = 0;
      exit_status_ = status;
      return false;
    }
    return true;
  }
  int exit_status() const { return exit_status_; }

  void stop() {
    if (!running()) {
      return;
    }
    ::kill(pid_, SIGINT);
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (running() && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(50));
    }
    if (running()) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = 0;
    }
  }

 private:
  pid_t pid_ = 0;
  int exit_status_ = 0;
};

struct Session {
  pg::Connection conn;
  std::string user;  // the bootstrap superuser when it could log in
};

// Connects once to `database` as `user` through the private socket.
Result<pg::Connection> connect_as(const std::string& socket_dir, int port, const std::string& user,
                                  const std::string& database) {
  pg::ConnectParams p;
  p.host = socket_dir;
  p.port = port;
  p.user = user;
  p.dbname = database;
  p.sslmode = "disable";
  p.application_name = "pgmoneta_proven_restore";
  p.connect_timeout = std::chrono::seconds(5);
  return pg::Connection::connect(p);
}

// Runs the checks of one database; an error names the failed statement.
Result<void> check_database(pg::Connection& c, const ProvenOptions& o, ProvenResult& r) {
  PGM_TRY(c.query(fmt::format("SET statement_timeout = '{}s'", o.check_timeout.count())));
  PGM_TRY(c.query("SELECT count(*) FROM pg_class"));
  PGM_TRY(c.query("SELECT count(*), sum(length(attname)) FROM pg_attribute"));
  PGM_ASSIGN_OR_RETURN(
      pg::QueryResult tables,
      c.query("SELECT c.oid::regclass::text, pg_relation_size(c.oid) FROM pg_class c "
              "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') "
              "AND c.relpersistence = 'p' AND n.nspname NOT IN ('pg_catalog', "
              "'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
              "ORDER BY pg_relation_size(c.oid), c.oid"));
  uint64_t budget = o.max_read_bytes;
  for (int i = 0; i < tables.rows(); ++i) {
    uint64_t size = std::strtoull(std::string(tables.value(i, 1)).c_str(), nullptr, 10);
    if (size > budget) {
      break;
    }
    budget -= size;
    PGM_TRY(c.query(fmt::format("SELECT count(*) FROM ONLY {}", tables.value(i, 0))));
    ++r.tables;
  }
  PGM_ASSIGN_OR_RETURN(pg::QueryResult available,
                       c.query("SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'"));
  if (available.rows() == 0) {
    return {};
  }
  r.amcheck = true;
  PGM_TRY(c.query("CREATE EXTENSION IF NOT EXISTS amcheck"));
  PGM_ASSIGN_OR_RETURN(
      pg::QueryResult indexes,
      c.query(
          fmt::format("SELECT c.oid, c.oid::regclass::text FROM pg_index i "
                      "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.amname = 'btree' "
                      "AND c.relpersistence = 'p' AND i.indisvalid AND i.indisready "
                      "AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg_toast%' "
                      "ORDER BY c.relpages, c.oid LIMIT {}",
                      o.max_indexes)));
  for (int i = 0; i < indexes.rows(); ++i) {
    auto checked = c.query(fmt::format("SELECT bt_index_check({})", indexes.value(i, 0)));
    if (!checked) {
      return make_error(
          checked.error().code(),
          fmt::format("bt_index_check({}): {}", indexes.value(i, 1), checked.error().message()));
    }
    ++r.indexes;
  }
  return {};
}

// Waits until the server accepts connections and has left recovery; then the session of the
// bootstrap superuser. nullopt with `reason` set when the server died or time ran out.
std::optional<Session> wait_consistent(Postmaster& pm, const std::string& socket_dir, int port,
                                       const std::vector<std::string>& users,
                                       std::chrono::seconds timeout, const std::string& log_path,
                                       std::string& reason) {
  auto deadline = Clock::now() + timeout;
  std::string last_error;
  while (Clock::now() < deadline) {
    if (!pm.running()) {
      reason = fmt::format("PostgreSQL stopped during startup ({}): {}",
                           WIFEXITED(pm.exit_status())
                               ? fmt::format("exit code {}", WEXITSTATUS(pm.exit_status()))
                               : fmt::format("signal {}", WTERMSIG(pm.exit_status())),
                           log_reason(log_path));
      return std::nullopt;
    }
    if (exists(fmt::format("{}/.s.PGSQL.{}", socket_dir, port))) {
      for (const std::string& user : users) {
        auto conn = connect_as(socket_dir, port, user, "postgres");
        if (!conn) {
          last_error = conn.error().message();
          continue;
        }
        auto recovering = conn->query("SELECT pg_is_in_recovery()");
        if (!recovering) {
          last_error = recovering.error().message();
          break;
        }
        if (recovering->value(0, 0) == "t") {
          last_error = "still in recovery";
          break;
        }
        auto super = conn->query("SELECT rolname FROM pg_roles WHERE oid = 10");
        if (super && super->rows() == 1 && super->value(0, 0) != user) {
          std::string name(super->value(0, 0));
          auto as_super = connect_as(socket_dir, port, name, "postgres");
          if (as_super) {
            return Session{std::move(*as_super), name};
          }
        }
        return Session{std::move(*conn), user};
      }
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
  reason =
      fmt::format("PostgreSQL did not become consistent within {} s ({}); log: {}", timeout.count(),
                  last_error.empty() ? "no socket" : last_error, log_reason(log_path));
  return std::nullopt;
}

std::string local_label(std::chrono::system_clock::time_point when) {
  return backup::make_label(when);
}

}  // namespace

Result<ProvenResult> prove_restore(const ProvenOptions& o) {
  auto started = Clock::now();
  if (::geteuid() == 0) {
    return make_error(ErrorCode::kPermission,
                      "proven restore: PostgreSQL cannot run as root; run the daemon as the "
                      "PostgreSQL user");
  }
  std::string bin = o.pg_bin_dir.empty()
                        ? fmt::format("/usr/lib/postgresql/{}/bin", o.info.major_version)
                        : o.pg_bin_dir;
  std::string postgres = bin + "/postgres";
  if (::access(postgres.c_str(), X_OK) != 0) {
    Error e = make_errno_error(postgres, errno).value();
    return make_error(ErrorCode::kNotFound, fmt::format("no PostgreSQL {} server binary: {}",
                                                        o.info.major_version, e.message()));
  }
  std::string workspace = o.workspace;
  while (workspace.size() > 1 && workspace.back() == '/') {
    workspace.pop_back();
  }
  PGM_TRY(io::make_directories(workspace, 0700));
  remove_dead_workspace_leftovers(workspace);
  std::string root = fmt::format("{}/proven-{}-{}-{}", workspace, o.server, o.info.label,
                                 static_cast<long>(::getpid()));
  remove_tree(root);  // a leftover of a killed run with the same pid
  if (::mkdir(root.c_str(), 0700) != 0) {
    return make_errno_error(fmt::format("create {}", root), errno);
  }
  std::string private_tmp;
  struct Cleanup {
    std::string& root;
    std::string& tmp;
    ~Cleanup() {
      remove_tree(root);
      remove_tree(tmp);
    }
  } cleanup{root, private_tmp};

  ProvenResult r;
  std::string data = root + "/data";
  RestoreOptions ro;
  ro.backup_dir = o.backup_dir;
  ro.info = o.info;
  ro.target_dir = data;
  ro.key = o.key;
  ro.workers = o.workers;
  ro.verify = true;
  ro.configure = [](const std::string& dir) { return prepare_copy(dir); };
  auto restore_start = Clock::now();
  auto restored = run_restore(ro);
  r.restore_elapsed = since(restore_start);
  if (!restored) {
    if (restored.error().code() != ErrorCode::kCorruption) {
      return tl::unexpected(restored.error());
    }
    r.reason = one_line("restore: " + restored.error().message());
    r.total_elapsed = since(started);
    return r;
  }

  std::string socket_dir = root + "/sock";
  int port = free_port();
  // sun_path holds 107 bytes: "<dir>/.s.PGSQL.<port>" and its ".lock" must fit.
  if (socket_dir.size() + 24 > 100) {
    char tmpl[] = "/tmp/pgm-proven-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      return make_errno_error("create a private socket directory in /tmp", errno);
    }
    private_tmp = tmpl;
    socket_dir = private_tmp;
  } else if (::mkdir(socket_dir.c_str(), 0700) != 0) {
    return make_errno_error(fmt::format("create {}", socket_dir), errno);
  }
  std::string log_path = root + "/postgres.log";
  std::vector<std::string> args = {"-D", data};
  auto set = [&args](const std::string& name, const std::string& value) {
    args.emplace_back("-c");
    args.push_back(name + "=" + value);
  };
  set("port", std::to_string(port));
  set("listen_addresses", "");
  set("unix_socket_directories", socket_dir);
  set("unix_socket_permissions", "0700");
  set("hba_file", data + "/pg_hba.conf");
  set("ident_file", data + "/pg_ident.conf");
  set("external_pid_file", "");
  set("max_connections", "10");
  set("superuser_reserved_connections", "2");
  set("shared_buffers", "32MB");
  set("max_wal_senders", "0");
  set("max_replication_slots", "0");
  set("fsync", "off");
  set("synchronous_commit", "off");
  set("synchronous_standby_names", "");
  set("archive_mode", "off");
  set("archive_command", "");
  set("restore_command", "");
  set("primary_conninfo", "");
  set("primary_slot_name", "");
  set("hot_standby", "on");
  set("shared_preload_libraries", "");
  set("ssl", "off");
  set("autovacuum", "off");
  set("jit", "off");
  set("logging_collector", "off");
  set("log_destination", "stderr");
  set("log_line_prefix", "%m [%p] ");
  set("cluster_name", "pgmoneta-proven");

  Postmaster pm;
  auto start = Clock::now();
  PGM_TRY(pm.start(postgres, args, log_path));
  log::debug("proven restore: server={} backup={} postgres started on {} port {}", o.server,
             o.info.label, socket_dir, port);
  std::vector<std::string> users = o.users;
  users.push_back(os_user());
  users.emplace_back("postgres");
  users.erase(std::remove(users.begin(), users.end(), std::string()), users.end());
  std::string reason;
  std::optional<Session> session =
      wait_consistent(pm, socket_dir, port, users, o.start_timeout, log_path, reason);
  r.start_elapsed = since(start);
  if (!session) {
    r.reason = reason;
    pm.stop();
    r.total_elapsed = since(started);
    return r;
  }
  auto check_start = Clock::now();
  if (auto v = session->conn.query("SHOW server_version"); v && v->rows() == 1) {
    r.pg_version = std::string(v->value(0, 0));
  }
  std::vector<std::string> databases;
  if (auto dbs =
          session->conn.query("SELECT datname FROM pg_database WHERE datallowconn ORDER BY oid");
      dbs) {
    for (int i = 0; i < dbs->rows(); ++i) {
      databases.emplace_back(dbs->value(i, 0));
    }
  } else {
    r.reason = one_line("list databases: " + dbs.error().message());
  }
  for (const std::string& db : databases) {
    if (!r.reason.empty()) {
      break;
    }
    auto conn = db == "postgres" ? Result<pg::Connection>(std::move(session->conn))
                                 : connect_as(socket_dir, port, session->user, db);
    if (!conn) {
      r.reason = one_line(fmt::format("database {}: {}", db, conn.error().message()));
      break;
    }
    if (auto checked = check_database(*conn, o, r); !checked) {
      r.reason = one_line(fmt::format("database {}: {}", db, checked.error().message()));
      break;
    }
    ++r.databases;
  }
  r.check_elapsed = since(check_start);
  session.reset();
  pm.stop();
  r.ok = r.reason.empty();
  r.total_elapsed = since(started);
  return r;
}

void set_proven_keys(backup::BackupInfo& info, const ProvenResult& result,
                     std::chrono::system_clock::time_point when) {
  backup::set_extra_key(info, kProvenRestoreKey, result.ok ? "1" : "0");
  backup::set_extra_key(info, kProvenRestoreTimeKey, local_label(when));
  backup::set_extra_key(info, kProvenRestoreElapsedKey,
                        fmt::format("{:.4f}", result.total_elapsed.count()));
  backup::set_extra_key(info, kProvenRestoreReasonKey, one_line(result.reason));
}

}  // namespace pgm::restore
