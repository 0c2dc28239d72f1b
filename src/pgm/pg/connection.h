// Connection and QueryResult: a thin adapter over libpq. Every connection goes through libpq, so
// authentication methods, .pgpass, sslmode and client certificates behave as in psql.
// Not thread-safe: one Connection is used by one thread at a time; distinct ones are independent.
// All calls block (connect up to connect_timeout; queries until the server answers).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "pgm/core/result.h"

// libpq's handle types (PGconn, PGresult), declared without including libpq-fe.h.
struct pg_conn;
struct pg_result;

namespace pgm::pg {

struct ConnectParams {
  std::string host;  // host name, address, or a unix socket directory when it starts with '/'
  int port = 5432;   // 0 = libpq default
  std::string user;
  std::string password;  // empty: libpq looks in .pgpass / PGPASSWORD
  std::string dbname = "postgres";
  bool replication = false;  // physical replication connection (walsender)
  std::string sslmode;       // empty = libpq default
  std::string sslcert;
  std::string sslkey;
  std::string sslrootcert;
  std::string application_name = "pgmoneta";
  std::chrono::seconds connect_timeout{10};  // libpq rounds values below 2 s up to 2 s
};

// Turns a libpq error message (possibly several lines, tab-indented hints) into one line:
// 'connection to server at "127.0.0.1", port 1 failed: Connection refused Is the server ...'.
std::string describe_connect_error(std::string_view libpq_message);

// The rows of one statement's result, as text. Owns its PGresult; move-only.
class QueryResult {
 public:
  enum class Kind { kTuples, kCommand, kCopyOut, kCopyIn, kCopyBoth };

  // Takes ownership of `result` (non-null).
  QueryResult(pg_result* result, Kind kind);

  Kind kind() const { return kind_; }
  int rows() const;
  int columns() const;
  std::string_view column_name(int column) const;
  // Column index by name, -1 when absent.
  int column_index(std::string_view name) const;
  bool is_null(int row, int column) const;
  // The text value; "" for NULL or out of range. Valid as long as this QueryResult.
  std::string_view value(int row, int column) const;
  // The command tag ("SELECT 1", "SHOW", ...).
  std::string_view command_status() const;
  pg_result* native() const { return result_.get(); }

 private:
  struct Deleter {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Deleter> result_;
  Kind kind_;
};

class Connection {
 public:
  // Connects with PQconnectdbParams (keywords, never a concatenated conninfo). Errors:
  // kTimeout (connect_timeout expired), kPermission (authentication refused), kIo otherwise;
  // the message is one line from describe_connect_error().
  static Result<Connection> connect(const ConnectParams& params);

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  ~Connection() = default;

  // Runs one statement with the simple query protocol (replication commands included).
  // A server error is kServer with its SQLSTATE and primary message ("<sql>: <message>");
  // a lost connection is kIo. A COPY result is returned as such for the caller to drive.
  Result<QueryResult> query(std::string_view sql);

  // PQserverVersion: 150004 for 15.4; 0 when closed.
  int server_version() const;
  bool is_open() const { return conn_ != nullptr; }
  // Closes the connection (idempotent).
  void close() { conn_.reset(); }
  // The socket, for polling; -1 when closed.
  int socket() const;
  // The raw handle for the pg module's replication code; owned by this object.
  pg_conn* native() const { return conn_.get(); }

 private:
  struct Deleter {
    void operator()(pg_conn* c) const;
  };
  explicit Connection(std::unique_ptr<pg_conn, Deleter> conn) : conn_(std::move(conn)) {}
  std::unique_ptr<pg_conn, Deleter> conn_;
};

}  // namespace pgm::pg
