// PostgresInstance: a throwaway PostgreSQL cluster for integration tests, Debian's 15 unless a
// major is given (13, 14, 16, 17, 18 come from scripts/install-deps.sh). Not thread-safe.
//
// initdb (trust auth, superuser "postgres"), listens on a unix socket only (listen_addresses='',
// socket in <root>/pgsock), wal_level=replica, fsync=off, then creates the role `repl` (LOGIN
// REPLICATION). The postmaster runs as the test user, as a direct child (own process group,
// killed if the test process dies); stop() asks for a fast shutdown.
//
// For WAL tests: extra postgresql.conf lines (add_setting), restart(), a streaming standby of
// another instance (start_standby), promote(), and PostgreSQL client programs run in the
// foreground (run_tool) or background (spawn_tool) with PGHOST/PGPORT/PGUSER/PGDATABASE set.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "integration/process.h"

namespace pgm::testing {

// The major of the default server: Debian's postgresql-15.
inline constexpr int kDefaultPgMajor = 15;

// PostgreSQL's bin directory: env PGM_PG_BINDIR, else `pg_config --bindir`. Empty when no
// initdb is found there (tests then skip).
std::string pg_bin_dir();
// The bin directory of PostgreSQL `major`: pg_bin_dir() for kDefaultPgMajor, else
// <env PGM_PG_TOOLS_DIR, default /opt/pgmoneta-test-tools>/pg<major>/bin, where
// scripts/install-deps.sh unpacks the other majors. Empty when no initdb and postgres are there.
std::string pg_bin_dir(int major);

class PostgresInstance {
 public:
  static constexpr const char* kReplUser = "repl";
  static constexpr const char* kReplPassword = "repl-secret-1";

  // `root` must exist and belong to the test user; data goes to <root>/data. The server is
  // PostgreSQL `major` (pg_bin_dir(major)); client programs it lacks (psql, pgbench,
  // pg_isready, pg_basebackup ...) come from pg_bin_dir().
  explicit PostgresInstance(std::string root, int major = kDefaultPgMajor);
  PostgresInstance(const PostgresInstance&) = delete;
  PostgresInstance& operator=(const PostgresInstance&) = delete;
  ~PostgresInstance();  // stop()

  // initdb + configure + start + CREATE ROLE repl. Returns an error message, empty on success.
  std::string start();
  // Fast shutdown (SIGINT), SIGKILL after 30 s. Idempotent.
  void stop();
  // stop() then start the postmaster again on the same data dir, port and socket (what
  // `pg_ctl restart -m fast` does, but the postmaster stays our child). Error, empty on success.
  std::string restart();
  // True while the postmaster runs.
  bool running();

  // A line appended to postgresql.conf by start()/start_standby() after the defaults (later
  // settings win). Call before starting.
  void add_setting(const std::string& line) { settings_.push_back(line); }
  // An extra initdb argument (e.g. "--wal-segsize=1"). Call before start().
  void add_initdb_option(const std::string& option) { initdb_options_.push_back(option); }
  // Instead of start(): pg_basebackup -R -X stream -c fast from the running `primary` into
  // <root>/data, then this instance's port and socket, then start as a hot standby streaming
  // from `primary`. pg_basebackup refuses servers newer than itself: Debian's 15 serves
  // primaries up to 15. Error, empty on success.
  std::string start_standby(const PostgresInstance& primary);
  // Instead of start(): runs the postmaster on an existing (restored) data directory, with
  // this instance's port and socket appended to its postgresql.conf, and waits until it
  // accepts connections (a recovering hot standby does once consistent). Error, empty on
  // success.
  std::string start_restored(const std::string& data_dir);
  // pg_ctl promote -w (waits until the standby accepts writes). Error, empty on success.
  std::string promote();

  int major() const { return major_; }
  const std::string& bin_dir() const { return bin_; }
  // <bin_dir>/<program> when the server's directory has it, else Debian's client program.
  std::string program_path(const std::string& program) const;
  // Runs program_path(program) args as the test user with PGHOST, PGPORT, PGUSER=postgres and
  // PGDATABASE=postgres pointing at this instance.
  CommandOutput run_tool(const std::string& program, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = std::chrono::seconds(120)) const;
  // Same, in the background; stdout and stderr are appended to `output_path` ("" = discard).
  // The caller owns the process (destroying it kills its group).
  Process spawn_tool(const std::string& program, const std::vector<std::string>& args,
                     const std::string& output_path = "") const;

  int port() const { return port_; }
  const std::string& socket_dir() const { return socket_dir_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string log() const;

  // Runs one SQL statement as `user` through psql -XAtq; stdout holds the result rows.
  CommandOutput psql(const std::string& sql, const std::string& user = "postgres",
                     const std::string& database = "postgres") const;

 private:
  void append_settings(bool standby);
  // Starts the postmaster and waits until it accepts connections (60 s).
  std::string launch();
  ProcessOptions tool_options(const std::string& program,
                              const std::vector<std::string>& args) const;

  std::string root_;
  std::string data_dir_;
  std::string socket_dir_;
  int major_;
  std::string bin_;
  std::string client_bin_;
  int port_ = 0;
  std::vector<std::string> settings_;
  std::vector<std::string> initdb_options_;
  Process postmaster_;
};

}  // namespace pgm::testing
