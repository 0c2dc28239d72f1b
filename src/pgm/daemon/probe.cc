#include "pgm/daemon/probe.h"

#include <cstdlib>
#include <ctime>
#include <string>

#include <fmt/format.h>

#include "pgm/daemon/continuity.h"
#include "pgm/daemon/wal_summaries.h"
#include "pgm/log/log.h"
#include "pgm/pg/connection.h"
#include "pgm/pg/server_info.h"

namespace pgm::daemon {

pg::ConnectParams connect_params(const DaemonContext& ctx, const config::ServerConfig& server) {
  pg::ConnectParams p;
  p.host = server.host;
  p.port = server.port;
  p.user = server.user;
  p.password = ctx.password_for(server.user);
  p.dbname = "postgres";
  p.sslcert = server.tls_cert_file;
  p.sslkey = server.tls_key_file;
  p.sslrootcert = server.tls_ca_file;
  p.application_name = "pgmoneta";
  return p;
}

bool probe_server(const DaemonContext& ctx, size_t index) {
  const config::ServerConfig& server = ctx.config->servers[index];
  ServerState& state = ctx.shared->servers[index];
  ServerSnapshot before = state.snapshot();

  ServerSnapshot s = before;
  s.last_probe_epoch = static_cast<int64_t>(::time(nullptr));
  auto fail = [&](const std::string& reason) {
    s.online = false;
    s.reason = reason;
    state.publish(s);
    if (before.online || !before.probed || before.reason != reason) {
      log::warn("server {} is offline: {}", server.name, reason);
    }
    return false;
  };

  auto conn = pg::Connection::connect(connect_params(ctx, server));
  if (!conn) {
    return fail(conn.error().message());
  }
  auto info = pg::probe(*conn);
  if (!info) {
    return fail(info.error().message());
  }
  s.version_num = info->version_num;
  s.wal_level = info->wal_level;
  s.checksums = info->data_checksums;
  s.primary = !info->in_recovery;
  s.summarize_wal = info->summarize_wal.value_or(false);
  s.block_size = info->block_size;
  s.wal_segment_size = info->wal_segment_size;
  if (auto usable = pg::check_usable(*info); !usable) {
    return fail(usable.error().message());
  }
  if (state.admin_offline()) {
    // The administrator took it offline while we were connecting.
    return fail("set offline by the administrator");
  }
  // For the RPO (continuity.h): how far the server's durable WAL reaches, and its last commit.
  const char* lsn_sql = info->in_recovery ? "SELECT (pg_last_wal_replay_lsn() - '0/0')::text"
                                          : "SELECT (pg_current_wal_flush_lsn() - '0/0')::text";
  if (auto r = conn->query(lsn_sql); r && r->rows() == 1 && !r->is_null(0, 0)) {
    state.prev_server_lsn.store(state.server_lsn.load());
    state.prev_server_lsn_us.store(state.server_lsn_us.load());
    state.server_lsn.store(std::strtoull(std::string(r->value(0, 0)).c_str(), nullptr, 10));
    state.server_lsn_us.store(unix_micros_now());
  }
  int64_t last_commit = 0;
  if (info->track_commit_timestamp) {
    auto r = conn->query(
        "SELECT (extract(epoch FROM timestamp) * 1000000)::bigint::text FROM "
        "pg_last_committed_xact()");
    if (r && r->rows() == 1 && !r->is_null(0, 0)) {
      last_commit = std::strtoll(std::string(r->value(0, 0)).c_str(), nullptr, 10);
    }
  }
  state.server_commit_us.store(last_commit);
  s.online = true;
  s.reason.clear();
  state.publish(s);
  if (!before.online) {
    log::info("server {} is online: PostgreSQL {}.{} wal_level={} checksums={} primary={}",
              server.name, info->major, info->minor, info->wal_level,
              info->data_checksums ? "on" : "off", info->in_recovery ? "no" : "yes");
    for (const std::string& w : pg::warnings(*info)) {
      log::warn("server {}: {}", server.name, w);
    }
  }
  return true;
}

void probe_all_servers(const DaemonContext& ctx) {
  for (size_t i = 0; i < ctx.config->servers.size(); ++i) {
    if (ctx.shared->servers[i].admin_offline()) {
      continue;
    }
    probe_server(ctx, i);
    check_continuity(ctx, i);
    write_wal_summaries(ctx, i);
  }
}

}  // namespace pgm::daemon
