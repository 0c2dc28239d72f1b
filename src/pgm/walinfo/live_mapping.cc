#include "pgm/walinfo/live_mapping.h"

#include <charconv>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "pgm/pg/connection.h"

namespace pgm::walinfo {
namespace {

std::optional<uint32_t> oid_value(std::string_view text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// Adds every row's (oid, name) of `sql` to `mapping` under `kind`; rows that repeat an OID
// already known keep the first name.
Result<void> add_rows(pg::Connection& connection, std::string_view sql, ObjectKind kind,
                      OidMapping& mapping) {
  PGM_ASSIGN_OR_RETURN(pg::QueryResult rows, connection.query(sql));
  for (int row = 0; row < rows.rows(); ++row) {
    auto oid = oid_value(rows.value(row, 0));
    if (oid && !mapping.name_of(kind, *oid)) {
      mapping.add(kind, *oid, std::string(rows.value(row, 1)));
    }
  }
  return {};
}

constexpr std::string_view kTablespaces = "SELECT oid, spcname FROM pg_catalog.pg_tablespace";
constexpr std::string_view kDatabases =
    "SELECT oid, datname, datallowconn FROM pg_catalog.pg_database ORDER BY oid";
constexpr std::string_view kRelations =
    "SELECT pg_catalog.pg_relation_filenode(c.oid), n.nspname || '.' || c.relname "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE pg_catalog.pg_relation_filenode(c.oid) IS NOT NULL";

}  // namespace

Result<OidMapping> read_live_mapping(const ServerSection& server, const std::string& password) {
  pg::ConnectParams params;
  params.host = server.host;
  params.port = server.port;
  params.user = server.user;
  params.password = password;
  params.application_name = "pgmoneta-walinfo";
  auto context = [&](std::string_view step) {
    return [&server, step](const Error& e) {
      return e.with_context(fmt::format("server [{}]: {}", server.name, step));
    };
  };
  PGM_ASSIGN_OR_RETURN(pg::Connection first,
                       pg::Connection::connect(params).map_error(context("connect")));
  OidMapping mapping;
  PGM_TRY(add_rows(first, kTablespaces, ObjectKind::kTablespace, mapping)
              .map_error(context("tablespaces")));
  PGM_ASSIGN_OR_RETURN(pg::QueryResult databases,
                       first.query(kDatabases).map_error(context("databases")));
  first.close();
  for (int row = 0; row < databases.rows(); ++row) {
    auto oid = oid_value(databases.value(row, 0));
    const std::string name(databases.value(row, 1));
    if (!oid) {
      continue;
    }
    mapping.add(ObjectKind::kDatabase, *oid, name);
    if (databases.value(row, 2) != "t") {
      continue;  // template0 and others that refuse connections: no relation names
    }
    params.dbname = name;
    const std::string step = fmt::format("relations of database \"{}\"", name);
    PGM_ASSIGN_OR_RETURN(pg::Connection connection,
                         pg::Connection::connect(params).map_error(context(step)));
    PGM_TRY(
        add_rows(connection, kRelations, ObjectKind::kRelation, mapping).map_error(context(step)));
  }
  return mapping;
}

}  // namespace pgm::walinfo
