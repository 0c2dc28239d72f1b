#include "integration/postgres_instance.h"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <sys/stat.h>

namespace pgm::testing {

namespace {
using std::chrono::milliseconds;
using std::chrono::seconds;

bool is_executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }
}  // namespace

std::string pg_bin_dir() {
  const char* env = std::getenv("PGM_PG_BINDIR");  // NOLINT(concurrency-mt-unsafe)
  std::string dir;
  if (env != nullptr && *env != '\0') {
    dir = env;
  } else {
    for (const char* pg_config : {"/usr/bin/pg_config", "/usr/local/bin/pg_config",
                                  "/usr/lib/postgresql/15/bin/pg_config"}) {
      if (!is_executable(pg_config)) {
        continue;
      }
      ProcessOptions o;
      o.argv = {pg_config, "--bindir"};
      o.drop_privileges = false;
      CommandOutput r = run_command(o, seconds(10));
      if (r.exit_code == 0) {
        dir = trim(r.out);
        break;
      }
    }
    if (dir.empty()) {
      dir = "/usr/lib/postgresql/15/bin";
    }
  }
  if (!is_executable(dir + "/initdb") || !is_executable(dir + "/postgres")) {
    return "";
  }
  return dir;
}

std::string pg_bin_dir(int major) {
  if (major == kDefaultPgMajor) {
    return pg_bin_dir();
  }
  const char* env = std::getenv("PGM_PG_TOOLS_DIR");  // NOLINT(concurrency-mt-unsafe)
  std::string dir = (env != nullptr && *env != '\0' ? std::string(env)
                                                    : std::string("/opt/pgmoneta-test-tools")) +
                    "/pg" + std::to_string(major) + "/bin";
  if (!is_executable(dir + "/initdb") || !is_executable(dir + "/postgres")) {
    return "";
  }
  return dir;
}

PostgresInstance::PostgresInstance(std::string root, int major)
    : root_(std::move(root)),
      data_dir_(root_ + "/data"),
      socket_dir_(root_ + "/pgsock"),
      major_(major),
      bin_(pg_bin_dir(major)),
      client_bin_(major == kDefaultPgMajor ? bin_ : pg_bin_dir()) {}

std::string PostgresInstance::program_path(const std::string& program) const {
  if (!bin_.empty() && is_executable(bin_ + "/" + program)) {
    return bin_ + "/" + program;
  }
  return client_bin_ + "/" + program;
}

PostgresInstance::~PostgresInstance() { stop(); }

std::string PostgresInstance::log() const { return read_text(root_ + "/postgres.log"); }

std::string PostgresInstance::start() {
  if (bin_.empty()) {
    return "PostgreSQL binaries not found";
  }
  ::mkdir(socket_dir_.c_str(), 0700);
  chown_to_test_user(socket_dir_);
  port_ = free_port();

  ProcessOptions init;
  init.argv = {bin_ + "/initdb", "-D",        data_dir_,    "-U", "postgres",
               "--auth=trust",   "--no-sync", "--locale=C", "-E", "UTF8"};
  init.argv.insert(init.argv.end(), initdb_options_.begin(), initdb_options_.end());
  init.home = root_;
  CommandOutput r = run_command(init, seconds(120));
  if (r.exit_code != 0) {
    return "initdb failed: " + r.describe();
  }
  append_settings(/*standby=*/false);
  // initdb --auth=trust already trusts local connections, replication included.
  if (std::string err = launch(); !err.empty()) {
    return err;
  }
  CommandOutput role = psql(std::string("CREATE ROLE ") + kReplUser +
                            " WITH LOGIN REPLICATION PASSWORD '" + kReplPassword + "'");
  if (role.exit_code != 0) {
    return "CREATE ROLE repl failed: " + role.describe();
  }
  return "";
}

void PostgresInstance::append_settings(bool standby) {
  std::ofstream conf(data_dir_ + "/postgresql.conf", std::ios::app);
  if (standby) {
    // The primary's postgresql.conf came along with the base backup; later lines win.
    conf << "\n# standby of another test instance\n"
         << "port = " << port_ << "\n"
         << "unix_socket_directories = '" << socket_dir_ << "'\n";
  } else {
    conf << "\n# integration test settings\n"
         << "listen_addresses = ''\n"
         << "port = " << port_ << "\n"
         << "unix_socket_directories = '" << socket_dir_ << "'\n"
         << "wal_level = replica\n"
         << "max_wal_senders = 10\n"
         << "max_replication_slots = 10\n"
         << "max_connections = 40\n"
         << "shared_buffers = 32MB\n"
         << "fsync = off\n"
         << "synchronous_commit = off\n"
         << "full_page_writes = off\n"
         << "logging_collector = off\n";
  }
  for (const std::string& line : settings_) {
    conf << line << "\n";
  }
}

std::string PostgresInstance::launch() {
  ProcessOptions pg;
  pg.argv = {bin_ + "/postgres", "-D", data_dir_};
  pg.home = root_;
  pg.stdout_path = root_ + "/postgres.log";
  pg.stderr_path = root_ + "/postgres.log";
  postmaster_ = Process::start(pg);
  if (postmaster_.pid() < 0) {
    return "cannot start postgres: " + postmaster_.error();
  }
  chown_to_test_user(root_ + "/postgres.log");
  auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (true) {
    if (!postmaster_.running()) {
      return "postgres exited during start-up; log:\n" + log();
    }
    ProcessOptions ready;
    ready.argv = {program_path("pg_isready"), "-q", "-h",       socket_dir_, "-p",
                  std::to_string(port_),      "-U", "postgres", "-d",        "postgres"};
    ready.home = root_;
    if (run_command(ready, seconds(10)).exit_code == 0) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return "postgres not ready after 60 s; log:\n" + log();
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  return "";
}

std::string PostgresInstance::restart() {
  if (bin_.empty() || port_ == 0) {
    return "restart: the instance was never started";
  }
  stop();
  if (running()) {
    return "restart: postgres did not stop";
  }
  return launch();
}

bool PostgresInstance::running() { return postmaster_.pid() > 0 && postmaster_.running(); }

std::string PostgresInstance::start_standby(const PostgresInstance& primary) {
  if (bin_.empty()) {
    return "PostgreSQL binaries not found";
  }
  ::mkdir(socket_dir_.c_str(), 0700);
  chown_to_test_user(socket_dir_);
  port_ = free_port();
  CommandOutput r = primary.run_tool(
      "pg_basebackup", {"-D", data_dir_, "-R", "-X", "stream", "-c", "fast", "--no-sync"},
      seconds(300));
  if (r.exit_code != 0) {
    return "pg_basebackup failed: " + r.describe();
  }
  append_settings(/*standby=*/true);
  return launch();
}

std::string PostgresInstance::start_restored(const std::string& data_dir) {
  if (bin_.empty()) {
    return "PostgreSQL binaries not found";
  }
  ::mkdir(socket_dir_.c_str(), 0700);
  chown_to_test_user(socket_dir_);
  port_ = free_port();
  data_dir_ = data_dir;
  append_settings(/*standby=*/true);
  return launch();
}

std::string PostgresInstance::promote() {
  CommandOutput r = run_tool("pg_ctl", {"promote", "-w", "-t", "60", "-D", data_dir_}, seconds(90));
  if (r.exit_code != 0) {
    return "pg_ctl promote failed: " + r.describe() + "\nlog:\n" + log();
  }
  return "";
}

ProcessOptions PostgresInstance::tool_options(const std::string& program,
                                              const std::vector<std::string>& args) const {
  ProcessOptions o;
  o.argv = {program_path(program)};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.home = root_;
  o.env["PGHOST"] = socket_dir_;
  o.env["PGPORT"] = std::to_string(port_);
  o.env["PGUSER"] = "postgres";
  o.env["PGDATABASE"] = "postgres";
  return o;
}

CommandOutput PostgresInstance::run_tool(const std::string& program,
                                         const std::vector<std::string>& args,
                                         std::chrono::milliseconds timeout) const {
  return run_command(tool_options(program, args), timeout);
}

Process PostgresInstance::spawn_tool(const std::string& program,
                                     const std::vector<std::string>& args,
                                     const std::string& output_path) const {
  ProcessOptions o = tool_options(program, args);
  o.stdout_path = output_path;
  o.stderr_path = output_path;
  return Process::start(o);
}

void PostgresInstance::stop() {
  if (postmaster_.pid() <= 0 || !postmaster_.running()) {
    return;
  }
  postmaster_.signal(SIGINT);  // fast shutdown
  if (!postmaster_.wait_for(seconds(30))) {
    postmaster_.kill_group(SIGKILL);
    postmaster_.wait_for(seconds(10));
  }
}

CommandOutput PostgresInstance::psql(const std::string& sql, const std::string& user,
                                     const std::string& database) const {
  ProcessOptions o;
  o.argv = {program_path("psql"),
            "-XAtq",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            socket_dir_,
            "-p",
            std::to_string(port_),
            "-U",
            user,
            "-d",
            database,
            "-c",
            sql};
  o.home = root_;
  return run_command(o, seconds(60));
}

}  // namespace pgm::testing
