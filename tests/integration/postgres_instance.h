// PostgresInstance: a throwaway PostgreSQL 15 cluster for integration tests. Not thread-safe.
//
// initdb (trust auth, superuser "postgres"), listens on a unix socket only (listen_addresses='',
// socket in <root>/pgsock), wal_level=replica, fsync=off, then creates the role `repl` (LOGIN
// REPLICATION). The postmaster runs as the test user, as a direct child (own process group,
// killed if the test process dies); stop() asks for a fast shutdown.
#pragma once

#include <string>

#include "integration/process.h"

namespace pgm::testing {

// PostgreSQL's bin directory: env PGM_PG_BINDIR, else `pg_config --bindir`. Empty when no
// initdb is found there (tests then skip).
std::string pg_bin_dir();

class PostgresInstance {
 public:
  static constexpr const char* kReplUser = "repl";
  static constexpr const char* kReplPassword = "repl-secret-1";

  // `root` must exist and belong to the test user; data goes to <root>/data.
  explicit PostgresInstance(std::string root);
  PostgresInstance(const PostgresInstance&) = delete;
  PostgresInstance& operator=(const PostgresInstance&) = delete;
  ~PostgresInstance();  // stop()

  // initdb + configure + start + CREATE ROLE repl. Returns an error message, empty on success.
  std::string start();
  // Fast shutdown (SIGINT), SIGKILL after 30 s. Idempotent.
  void stop();

  int port() const { return port_; }
  const std::string& socket_dir() const { return socket_dir_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string log() const;

  // Runs one SQL statement as `user` through psql -XAtq; stdout holds the result rows.
  CommandOutput psql(const std::string& sql, const std::string& user = "postgres",
                     const std::string& database = "postgres") const;

 private:
  std::string root_;
  std::string data_dir_;
  std::string socket_dir_;
  std::string bin_;
  int port_ = 0;
  Process postmaster_;
};

}  // namespace pgm::testing
