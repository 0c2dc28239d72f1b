#include "pgm/backup/base_backup.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "pgm/backup/info.h"
#include "pgm/pg/connection.h"

namespace pgm::backup {

namespace {

using ResultPtr = std::unique_ptr<PGresult, void (*)(PGresult*)>;

std::string quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += '\'';
    }
    out += c;
  }
  out += '\'';
  return out;
}

ResultPtr next_result(PGconn* conn) { return {PQgetResult(conn), PQclear}; }

Error result_error(PGconn* conn, const PGresult* res, std::string_view what) {
  std::string message =
      pg::describe_connect_error(res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn));
  if (message.empty()) {
    message = pg::describe_connect_error(PQerrorMessage(conn));
  }
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  if (state != nullptr) {
    return Error(ErrorCode::kServer, fmt::format("{}: {}", what, message), state);
  }
  return Error(ErrorCode::kIo,
               fmt::format("{}: {}", what, message.empty() ? "connection lost" : message));
}

Result<ResultPtr> expect(PGconn* conn, ExecStatusType status, std::string_view what) {
  ResultPtr res = next_result(conn);
  if (!res) {
    return tl::unexpected(result_error(conn, nullptr, what));
  }
  if (PQresultStatus(res.get()) != status) {
    if (PQresultStatus(res.get()) == PGRES_FATAL_ERROR) {
      return tl::unexpected(result_error(conn, res.get(), what));
    }
    return make_error(ErrorCode::kProtocol, fmt::format("{}: unexpected result {}", what,
                                                        PQresStatus(PQresultStatus(res.get()))));
  }
  return res;
}

Result<std::pair<uint64_t, uint32_t>> position_row(const PGresult* res, std::string_view what) {
  if (PQntuples(res) != 1 || PQnfields(res) < 2) {
    return make_error(ErrorCode::kProtocol, fmt::format("{}: unexpected result shape", what));
  }
  std::optional<uint64_t> lsn = parse_lsn(PQgetvalue(res, 0, 0));
  if (!lsn) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("{}: bad position '{}'", what, PQgetvalue(res, 0, 0)));
  }
  char* end = nullptr;
  unsigned long tli = std::strtoul(PQgetvalue(res, 0, 1), &end, 10);
  if (end == nullptr || *end != '\0' || tli == 0) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("{}: bad timeline '{}'", what, PQgetvalue(res, 0, 1)));
  }
  return std::make_pair(*lsn, static_cast<uint32_t>(tli));
}

Result<std::vector<TablespaceRow>> tablespace_rows(const PGresult* res) {
  std::vector<TablespaceRow> rows;
  for (int i = 0; i < PQntuples(res); ++i) {
    TablespaceRow row;
    if (!PQgetisnull(res, i, 0)) {
      char* end = nullptr;
      unsigned long oid = std::strtoul(PQgetvalue(res, i, 0), &end, 10);
      if (end == nullptr || *end != '\0' || oid == 0) {
        return make_error(ErrorCode::kProtocol,
                          fmt::format("tablespace header: bad oid '{}'", PQgetvalue(res, i, 0)));
      }
      row.oid = static_cast<uint32_t>(oid);
    }
    if (PQnfields(res) > 1 && !PQgetisnull(res, i, 1)) {
      row.location = PQgetvalue(res, i, 1);
    }
    if (PQnfields(res) > 2 && !PQgetisnull(res, i, 2)) {
      row.size_kb = std::strtoull(PQgetvalue(res, i, 2), nullptr, 10);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// One COPY stream: calls `on_message` for each CopyData until the server's CopyDone.
template <typename F>
Result<void> drain_copy(PGconn* conn, F&& on_message) {
  for (;;) {
    char* buffer = nullptr;
    int n = PQgetCopyData(conn, &buffer, 0);
    if (n > 0) {
      std::unique_ptr<char, void (*)(void*)> owned(buffer, PQfreemem);
      PGM_TRY(on_message(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buffer), size_t(n))));
      continue;
    }
    if (n == -1) {
      return {};
    }
    return make_error(
        ErrorCode::kIo,
        fmt::format("BASE_BACKUP stream: {}", pg::describe_connect_error(PQerrorMessage(conn))));
  }
}

// "archive name\0location\0" of an 'n' message.
Result<std::pair<std::string, std::string>> new_archive(std::span<const uint8_t> body) {
  const char* p = reinterpret_cast<const char*>(body.data());
  const void* z1 = std::memchr(p, '\0', body.size());
  if (z1 == nullptr) {
    return make_error(ErrorCode::kProtocol, "BASE_BACKUP: malformed new-archive message");
  }
  size_t n1 = static_cast<const char*>(z1) - p;
  const void* z2 = std::memchr(p + n1 + 1, '\0', body.size() - n1 - 1);
  if (z2 == nullptr) {
    return make_error(ErrorCode::kProtocol, "BASE_BACKUP: malformed new-archive message");
  }
  return std::make_pair(std::string(p, n1), std::string(p + n1 + 1));
}

}  // namespace

Result<std::string> base_backup_command(int server_version, const BaseBackupOptions& o) {
  uint64_t rate = o.max_rate_kb;
  if (rate != 0) {
    rate = std::clamp<uint64_t>(rate, 32, 1048576);
  }
  if (o.incremental && server_version < 170000) {
    return make_error(ErrorCode::kInvalidArgument,
                      "PostgreSQL's own incremental backups need PostgreSQL 17 or later");
  }
  if (server_version < 150000) {
    if (o.server_compression != compress::Algorithm::kNone) {
      return make_error(ErrorCode::kInvalidArgument,
                        "server-side compression needs PostgreSQL 15 or later");
    }
    // The legacy grammar: bare keywords in a fixed order.
    std::string cmd = "BASE_BACKUP LABEL " + quote(o.label);
    if (o.progress) cmd += " PROGRESS";
    if (o.fast_checkpoint) cmd += " FAST";
    cmd += " WAL NOWAIT";
    if (rate != 0) cmd += fmt::format(" MAX_RATE {}", rate);
    cmd += o.crc32c_manifest ? " MANIFEST 'yes' MANIFEST_CHECKSUMS 'CRC32C'"
                             : " MANIFEST 'yes' MANIFEST_CHECKSUMS 'SHA512'";
    return cmd;
  }
  std::string cmd = "BASE_BACKUP (LABEL " + quote(o.label);
  if (o.progress) cmd += ", PROGRESS true";
  cmd += o.fast_checkpoint ? ", CHECKPOINT 'fast'" : ", CHECKPOINT 'spread'";
  cmd += ", WAL true, WAIT false";
  if (rate != 0) cmd += fmt::format(", MAX_RATE {}", rate);
  if (o.server_compression != compress::Algorithm::kNone) {
    if (!compress::info(o.server_compression).server_side) {
      return make_error(ErrorCode::kInvalidArgument,
                        "PostgreSQL compresses backups with gzip, lz4 or zstd only");
    }
    cmd += fmt::format(", COMPRESSION '{}'", compress::algorithm_name(o.server_compression));
    std::string detail;
    if (o.server_level > 0) detail = fmt::format("level={}", o.server_level);
    if (o.server_workers > 0 && o.server_compression == compress::Algorithm::kZstd) {
      detail += fmt::format("{}workers={}", detail.empty() ? "" : ",", o.server_workers);
    }
    if (!detail.empty()) cmd += ", COMPRESSION_DETAIL " + quote(detail);
  }
  if (o.incremental) cmd += ", INCREMENTAL";
  cmd += o.crc32c_manifest ? ", MANIFEST 'yes', MANIFEST_CHECKSUMS 'CRC32C')"
                           : ", MANIFEST 'yes', MANIFEST_CHECKSUMS 'SHA512')";
  return cmd;
}

Result<void> upload_manifest(pg::Connection& connection, std::string_view manifest) {
  PGM_ASSIGN_OR_RETURN(pg::QueryResult started, connection.query("UPLOAD_MANIFEST"));
  if (started.kind() != pg::QueryResult::Kind::kCopyIn) {
    return make_error(ErrorCode::kProtocol, "UPLOAD_MANIFEST: the server did not start a COPY IN");
  }
  PGconn* conn = connection.native();
  constexpr size_t kChunk = 64 * 1024;
  for (size_t at = 0; at < manifest.size(); at += kChunk) {
    const size_t n = std::min(kChunk, manifest.size() - at);
    if (PQputCopyData(conn, manifest.data() + at, static_cast<int>(n)) != 1) {
      return make_error(
          ErrorCode::kIo,
          fmt::format("UPLOAD_MANIFEST: {}", pg::describe_connect_error(PQerrorMessage(conn))));
    }
  }
  if (PQputCopyEnd(conn, nullptr) != 1) {
    return make_error(
        ErrorCode::kIo,
        fmt::format("UPLOAD_MANIFEST: {}", pg::describe_connect_error(PQerrorMessage(conn))));
  }
  // CommandComplete, then the end of the results.
  PGM_ASSIGN_OR_RETURN(ResultPtr done, expect(conn, PGRES_COMMAND_OK, "UPLOAD_MANIFEST"));
  while (ResultPtr extra = next_result(conn)) {
    if (PQresultStatus(extra.get()) == PGRES_FATAL_ERROR) {
      return tl::unexpected(result_error(conn, extra.get(), "UPLOAD_MANIFEST"));
    }
  }
  return {};
}

Result<BaseBackupEnd> run_base_backup(pg::Connection& connection, const std::string& command,
                                      BaseBackupConsumer& consumer) {
  PGconn* conn = connection.native();
  if (conn == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "BASE_BACKUP: connection is closed");
  }
  bool legacy = connection.server_version() < 150000;
  if (PQsendQuery(conn, command.c_str()) == 0) {
    return tl::unexpected(result_error(conn, nullptr, "BASE_BACKUP"));
  }
  BaseBackupStart start;
  {
    PGM_ASSIGN_OR_RETURN(ResultPtr res, expect(conn, PGRES_TUPLES_OK, "BASE_BACKUP"));
    PGM_ASSIGN_OR_RETURN(auto pos, position_row(res.get(), "BASE_BACKUP start position"));
    start.start_lsn = pos.first;
    start.timeline = pos.second;
  }
  {
    PGM_ASSIGN_OR_RETURN(ResultPtr res,
                         expect(conn, PGRES_TUPLES_OK, "BASE_BACKUP tablespace header"));
    PGM_ASSIGN_OR_RETURN(start.tablespaces, tablespace_rows(res.get()));
  }
  PGM_TRY(consumer.start(start));

  size_t streams = 0;  // legacy: COPY streams seen so far
  bool archive_open = false;
  bool in_manifest = false;
  std::optional<BaseBackupEnd> end;
  for (;;) {
    ResultPtr res = next_result(conn);
    if (!res) {
      break;
    }
    ExecStatusType status = PQresultStatus(res.get());
    if (status == PGRES_COMMAND_OK) {
      continue;
    }
    if (status == PGRES_TUPLES_OK) {
      PGM_ASSIGN_OR_RETURN(auto pos, position_row(res.get(), "BASE_BACKUP end position"));
      end = BaseBackupEnd{pos.first, pos.second};
      continue;
    }
    if (status != PGRES_COPY_OUT) {
      Error e = result_error(conn, res.get(), "BASE_BACKUP");
      while (ResultPtr rest = next_result(conn)) {
      }
      return tl::unexpected(e);
    }
    res.reset();
    if (!legacy) {
      auto on_message = [&](std::span<const uint8_t> msg) -> Result<void> {
        std::span<const uint8_t> body = msg.subspan(1);
        switch (msg[0]) {
          case 'n': {
            PGM_ASSIGN_OR_RETURN(auto archive, new_archive(body));
            if (archive_open) {
              PGM_TRY(consumer.end_archive());
            }
            archive_open = true;
            return consumer.begin_archive(archive.first, archive.second);
          }
          case 'd':
            if (in_manifest) {
              return consumer.manifest_data(body);
            }
            if (!archive_open) {
              return make_error(ErrorCode::kProtocol, "BASE_BACKUP: data before any archive");
            }
            return consumer.archive_data(body);
          case 'm':
            if (archive_open) {
              PGM_TRY(consumer.end_archive());
              archive_open = false;
            }
            in_manifest = true;
            return {};
          case 'p':
            if (body.size() >= 8) {
              uint64_t v = 0;
              for (size_t i = 0; i < 8; ++i) v = (v << 8) | body[i];
              consumer.progress(v);
            }
            return {};
          default:
            return make_error(ErrorCode::kProtocol,
                              fmt::format("BASE_BACKUP: unknown message type 0x{:02x}", msg[0]));
        }
      };
      PGM_TRY(drain_copy(conn, on_message));
      if (archive_open) {
        PGM_TRY(consumer.end_archive());
        archive_open = false;
      }
      continue;
    }
    // Legacy: one stream per tablespace, in header order, then the manifest.
    if (streams < start.tablespaces.size()) {
      const TablespaceRow& row = start.tablespaces[streams];
      std::string name = row.oid == 0 ? "base.tar" : fmt::format("{}.tar", row.oid);
      PGM_TRY(consumer.begin_archive(name, row.location));
      PGM_TRY(drain_copy(conn,
                         [&](std::span<const uint8_t> msg) { return consumer.archive_data(msg); }));
      PGM_TRY(consumer.end_archive());
    } else {
      PGM_TRY(drain_copy(
          conn, [&](std::span<const uint8_t> msg) { return consumer.manifest_data(msg); }));
    }
    ++streams;
  }
  if (!end) {
    return make_error(ErrorCode::kProtocol, "BASE_BACKUP: the server sent no end position");
  }
  return *end;
}

}  // namespace pgm::backup
