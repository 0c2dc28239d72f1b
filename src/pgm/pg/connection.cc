#include "pgm/pg/connection.h"

#include <cctype>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <libpq-fe.h>

#include "pgm/log/log.h"

namespace pgm::pg {
namespace {

// Longest statement text quoted in an error message.
constexpr size_t kMaxQuotedSql = 80;

std::string quote_sql(std::string_view sql) {
  if (sql.size() <= kMaxQuotedSql) {
    return std::string(sql);
  }
  return std::string(sql.substr(0, kMaxQuotedSql)) + "...";
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::optional<QueryResult::Kind> kind_of(ExecStatusType status) {
  switch (status) {
    case PGRES_TUPLES_OK:
    case PGRES_SINGLE_TUPLE:
      return QueryResult::Kind::kTuples;
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY:
      return QueryResult::Kind::kCommand;
    case PGRES_COPY_OUT:
      return QueryResult::Kind::kCopyOut;
    case PGRES_COPY_IN:
      return QueryResult::Kind::kCopyIn;
    case PGRES_COPY_BOTH:
      return QueryResult::Kind::kCopyBoth;
    default:
      return std::nullopt;
  }
}

void log_notice(void* /*arg*/, const char* message) {
  PGM_LOG_DEBUG("postgresql notice: {}", describe_connect_error(message));
}

}  // namespace

std::string describe_connect_error(std::string_view libpq_message) {
  std::string out;
  out.reserve(libpq_message.size());
  bool pending_space = false;
  for (char c : libpq_message) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) {
      out += ' ';
      pending_space = false;
    }
    out += c;
  }
  return out;
}

QueryResult::QueryResult(pg_result* result, Kind kind) : result_(result), kind_(kind) {}

void QueryResult::Deleter::operator()(pg_result* r) const { PQclear(r); }

int QueryResult::rows() const { return PQntuples(result_.get()); }

int QueryResult::columns() const { return PQnfields(result_.get()); }

std::string_view QueryResult::column_name(int column) const {
  if (column < 0 || column >= columns()) {
    return {};
  }
  const char* name = PQfname(result_.get(), column);
  return name == nullptr ? std::string_view() : std::string_view(name);
}

int QueryResult::column_index(std::string_view name) const {
  for (int i = 0; i < columns(); ++i) {
    if (column_name(i) == name) {
      return i;
    }
  }
  return -1;
}

bool QueryResult::is_null(int row, int column) const {
  if (row < 0 || row >= rows() || column < 0 || column >= columns()) {
    return true;
  }
  return PQgetisnull(result_.get(), row, column) != 0;
}

std::string_view QueryResult::value(int row, int column) const {
  if (is_null(row, column)) {
    return {};
  }
  return {PQgetvalue(result_.get(), row, column),
          static_cast<size_t>(PQgetlength(result_.get(), row, column))};
}

std::string_view QueryResult::command_status() const {
  const char* status = PQcmdStatus(result_.get());
  return status == nullptr ? std::string_view() : std::string_view(status);
}

void Connection::Deleter::operator()(pg_conn* c) const { PQfinish(c); }

Result<Connection> Connection::connect(const ConnectParams& params) {
  std::vector<std::pair<const char*, std::string>> options;
  auto add = [&options](const char* keyword, std::string value) {
    if (!value.empty()) {
      options.emplace_back(keyword, std::move(value));
    }
  };
  add("host", params.host);
  add("port", params.port > 0 ? std::to_string(params.port) : std::string());
  add("user", params.user);
  add("password", params.password);
  add("dbname", params.dbname);
  add("replication", params.replication ? "true" : "");
  add("sslmode", params.sslmode);
  add("sslcert", params.sslcert);
  add("sslkey", params.sslkey);
  add("sslrootcert", params.sslrootcert);
  add("application_name", params.application_name);
  add("connect_timeout", params.connect_timeout.count() > 0
                             ? std::to_string(params.connect_timeout.count())
                             : std::string());
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (const auto& [keyword, value] : options) {
    keywords.push_back(keyword);
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);

  // expand_dbname = 0: dbname is a name, never parsed as a connection string.
  std::unique_ptr<pg_conn, Deleter> conn(PQconnectdbParams(keywords.data(), values.data(), 0));
  if (!conn) {
    return make_error(ErrorCode::kIo, "connect: out of memory");
  }
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string message = describe_connect_error(PQerrorMessage(conn.get()));
    if (message.empty()) {
      message = "connection to server failed";
    }
    ErrorCode code = ErrorCode::kIo;
    if (contains(message, "timeout expired")) {
      code = ErrorCode::kTimeout;
    } else if (PQconnectionNeedsPassword(conn.get()) != 0 ||
               contains(message, "authentication failed") ||
               contains(message, "no pg_hba.conf entry") ||
               contains(message, "no password supplied")) {
      code = ErrorCode::kPermission;
    }
    return tl::unexpected<Error>(Error(code, std::move(message)));
  }
  PQsetNoticeProcessor(conn.get(), &log_notice, nullptr);
  return Connection(std::move(conn));
}

Result<QueryResult> Connection::query(std::string_view sql) {
  if (!conn_) {
    return make_error(ErrorCode::kIo, quote_sql(sql) + ": connection is closed");
  }
  std::string text(sql);
  PGresult* raw = PQexec(conn_.get(), text.c_str());
  if (raw == nullptr) {
    return make_error(ErrorCode::kIo,
                      quote_sql(sql) + ": " + describe_connect_error(PQerrorMessage(conn_.get())));
  }
  if (std::optional<QueryResult::Kind> kind = kind_of(PQresultStatus(raw))) {
    return QueryResult(raw, *kind);
  }
  QueryResult failed(raw, QueryResult::Kind::kCommand);  // frees raw on every path below
  switch (PQresultStatus(raw)) {
    case PGRES_FATAL_ERROR: {
      const char* sqlstate = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
      const char* primary = PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY);
      if (PQstatus(conn_.get()) == CONNECTION_BAD || sqlstate == nullptr || primary == nullptr) {
        // Detected by libpq itself (connection lost, ...): no SQLSTATE from the server.
        std::string message = describe_connect_error(PQresultErrorMessage(raw));
        return make_error(ErrorCode::kIo,
                          quote_sql(sql) + ": " + (message.empty() ? "connection lost" : message));
      }
      return tl::unexpected<Error>(Error(
          ErrorCode::kServer, quote_sql(sql) + ": " + describe_connect_error(primary), sqlstate));
    }
    default:
      break;
  }
  return make_error(ErrorCode::kProtocol, quote_sql(sql) + ": unexpected result " +
                                              PQresStatus(PQresultStatus(raw)) + ": " +
                                              describe_connect_error(PQresultErrorMessage(raw)));
}

int Connection::server_version() const { return conn_ ? PQserverVersion(conn_.get()) : 0; }

int Connection::socket() const { return conn_ ? PQsocket(conn_.get()) : -1; }

}  // namespace pgm::pg
