#!/usr/bin/env bash
# Demo: a throwaway PostgreSQL 15 and the pgmoneta daemon, driven through pgmoneta-cli.
#
#   BIN_DIR=build/bin bash scripts/demo.sh      (what `make demo` runs, as root)
#
# Everything lives in $DEMO_DIR (default /tmp/pgmoneta-demo), owned by the unprivileged user
# $DEMO_USER (default pgmoneta): PostgreSQL and pgmoneta refuse to run as root. When not run as
# root, everything runs as the current user. KEEP=1 leaves PostgreSQL and the daemon running.
# Idempotent: a previous demo in $DEMO_DIR is stopped and removed first.
# Exit status: 0 when every required step worked (WAL streaming included: a segment must arrive
# and match the server's pg_wal, a backup must be taken, listed and check out on disk, and its
# restore with `current` must start and hold the rows written after the backup).
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${BIN_DIR:-$REPO_DIR/build/bin}"
DEMO_DIR="${DEMO_DIR:-/tmp/pgmoneta-demo}"
DEMO_USER="${DEMO_USER:-pgmoneta}"
KEEP="${KEEP:-0}"
MASTER_PASSWORD="${MASTER_PASSWORD:-demo-master-password}"
REPL_PASSWORD="${REPL_PASSWORD:-demo-repl-password}"

step=0
heading() {
  step=$((step + 1))
  printf '\n\033[1m==> [%d] %s\033[0m\n' "$step" "$*"
}
info() { printf '    %s\n' "$*"; }
die() {
  printf '\033[31mdemo: %s\033[0m\n' "$*" >&2
  exit 1
}

# ---- who runs what ----
if [ "$(id -u)" -eq 0 ]; then
  if ! id -u "$DEMO_USER" >/dev/null 2>&1; then
    if [ "$DEMO_USER" = pgmoneta ]; then
      useradd --system --create-home --home-dir /var/lib/pgmoneta --shell /bin/bash pgmoneta
    else
      die "user $DEMO_USER does not exist"
    fi
  fi
  as_user() { runuser -u "$DEMO_USER" -- env HOME="$DEMO_DIR/home" USER="$DEMO_USER" \
    LOGNAME="$DEMO_USER" PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
else
  DEMO_USER="$(id -un)"
  as_user() { env HOME="$DEMO_DIR/home" "$@"; }
fi

# ---- PostgreSQL binaries ----
PG_BIN="${PGM_PG_BINDIR:-}"
if [ -z "$PG_BIN" ]; then
  if command -v pg_config >/dev/null 2>&1; then
    PG_BIN="$(pg_config --bindir)"
  fi
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    PG_BIN=/usr/lib/postgresql/15/bin
  fi
fi
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL binaries not found in $PG_BIN (run scripts/install-deps.sh)"
for b in pgmoneta pgmoneta-cli pgmoneta-admin; do
  [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b not found: build first (make build) or set BIN_DIR"
done

PGDATA="$DEMO_DIR/pgdata"
PGSOCK="$DEMO_DIR/pgsock"
SOCK_DIR="$DEMO_DIR/sock"
CONF="$DEMO_DIR/pgmoneta.conf"
USERS="$DEMO_DIR/pgmoneta_users.conf"
ADMINS="$DEMO_DIR/pgmoneta_admins.conf"
ADMIN_PASSWORD="demo-admin-password"
CLI_CONF="$DEMO_DIR/pgmoneta_cli.conf"
CLI=("$DEMO_DIR/bin/pgmoneta-cli" -c "$CLI_CONF")

cli() { as_user "${CLI[@]}" "$@"; }

# Stops whatever a previous demo left in $DEMO_DIR.
stop_previous() {
  local pidfile pid
  for pidfile in "$DEMO_DIR"/sock/pgmoneta.*.pid; do
    [ -f "$pidfile" ] || continue
    pid="$(head -n1 "$pidfile" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      info "stopping pgmoneta (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if [ -f "$DEMO_DIR/pgdata/postmaster.pid" ]; then
    pid="$(head -n1 "$DEMO_DIR/pgdata/postmaster.pid")"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      info "stopping PostgreSQL (pid $pid)"
      kill -INT "$pid" 2>/dev/null || true
      for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
}

DAEMON_PID=""
stop_demo() {
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    cli shutdown >/dev/null 2>&1 || kill -TERM "$DAEMON_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
  fi
  if [ -f "$PGDATA/postmaster.pid" ]; then
    (cd "$DEMO_DIR" && as_user "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1) || true
  fi
}

on_exit() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    printf '\033[31mdemo failed (exit %d)\033[0m\n' "$rc" >&2
    if [ -f "$DEMO_DIR/pgmoneta.log" ]; then
      echo "---- last lines of $DEMO_DIR/pgmoneta.log ----" >&2
      tail -n 20 "$DEMO_DIR/pgmoneta.log" >&2 || true
    fi
    if [ "$KEEP" != 1 ]; then stop_demo; fi
  fi
}
trap on_exit EXIT

# A free loopback TCP port (nothing answers a connect on it), from $1 (default 54320) on.
free_port() {
  local p
  for p in $(seq "${1:-54320}" 54999); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

heading "Preparing $DEMO_DIR (owner $DEMO_USER)"
if [ -e "$DEMO_DIR" ]; then
  info "removing the previous demo"
  stop_previous
  rm -rf "$DEMO_DIR"
fi
mkdir -p "$DEMO_DIR"/{bin,home,sock,backup,pgsock,restore}
cp "$BIN_DIR/pgmoneta" "$BIN_DIR/pgmoneta-cli" "$BIN_DIR/pgmoneta-admin" "$DEMO_DIR/bin/"
chmod 0755 "$DEMO_DIR" "$DEMO_DIR"/bin/*
chmod 0700 "$DEMO_DIR/home" "$DEMO_DIR/sock" "$DEMO_DIR/backup" "$DEMO_DIR/pgsock"
chown -R "$DEMO_USER:" "$DEMO_DIR"
cd "$DEMO_DIR"
info "binaries copied from $BIN_DIR"

heading "Creating a PostgreSQL 15 cluster ($PG_BIN)"
PORT="$(free_port)" || die "no free TCP port in 54320-54999"
as_user "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
  --locale=C -E UTF8 --no-sync >"$DEMO_DIR/initdb.log" 2>&1 || {
  cat "$DEMO_DIR/initdb.log" >&2
  die "initdb failed"
}
cat >>"$PGDATA/postgresql.conf" <<EOF

# pgmoneta demo
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$PGSOCK'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
EOF
info "data directory $PGDATA, socket $PGSOCK, port $PORT (loopback only)"

heading "Starting PostgreSQL"
as_user "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$DEMO_DIR/postgresql.log" -w -t 60 start >/dev/null ||
  die "PostgreSQL did not start; see $DEMO_DIR/postgresql.log"
psql_run() { as_user "$PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PORT" -U postgres \
  -d postgres "$@"; }
psql_run -c "CREATE ROLE repl WITH LOGIN REPLICATION PASSWORD '$REPL_PASSWORD'"
info "$(psql_run -c 'SELECT version()')"
info "role repl created (LOGIN REPLICATION)"

heading "Writing pgmoneta.conf and pgmoneta_cli.conf"
METRICS_PORT="$(free_port 54400)" || die "no free TCP port for metrics"
MGMT_PORT="$(free_port $((METRICS_PORT + 1)))" || die "no free TCP port for remote management"
cat >"$CONF" <<EOF
[pgmoneta]
host = 127.0.0.1
metrics = $METRICS_PORT
management = $MGMT_PORT
unix_socket_dir = $SOCK_DIR
base_dir = $DEMO_DIR/backup
log_type = file
log_path = $DEMO_DIR/pgmoneta.log
log_level = info
compression = zstd
retention = 7

[primary]
host = $PGSOCK
port = $PORT
user = repl
wal_slot = repl
create_slot = yes
EOF
cat >"$CLI_CONF" <<EOF
[pgmoneta]
unix_socket_dir = $SOCK_DIR
EOF
chown "$DEMO_USER:" "$CONF" "$CLI_CONF"
chmod 0600 "$CONF" "$CLI_CONF"
sed 's/^/    /' "$CONF"

heading "Creating the master key and the users vault (pgmoneta-admin)"
as_user env PGMONETA_PASSWORD="$MASTER_PASSWORD" "$DEMO_DIR/bin/pgmoneta-admin" master-key
as_user env PGMONETA_PASSWORD="$REPL_PASSWORD" "$DEMO_DIR/bin/pgmoneta-admin" -f "$USERS" -U repl \
  user add
as_user env PGMONETA_PASSWORD="$ADMIN_PASSWORD" "$DEMO_DIR/bin/pgmoneta-admin" -f "$ADMINS" \
  -U admin user add
info "master key in $DEMO_DIR/home/.pgmoneta/master.key, vaults $USERS and $ADMINS"

heading "Starting pgmoneta"
as_user "$DEMO_DIR/bin/pgmoneta" -c "$CONF" -u "$USERS" -A "$ADMINS" \
  >"$DEMO_DIR/pgmoneta.out" 2>&1 </dev/null &
DAEMON_PID=$!
ok=0
for _ in $(seq 1 200); do
  if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
    cat "$DEMO_DIR/pgmoneta.out" >&2
    die "pgmoneta exited during start-up"
  fi
  if cli ping >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
[ "$ok" = 1 ] || die "pgmoneta did not answer ping within 20 s"
# runuser may stand between us and the daemon: report the daemon's own pid.
for f in "$SOCK_DIR"/pgmoneta.*.pid; do
  [ -f "$f" ] && info "pgmoneta is running (pid $(cat "$f")), socket $SOCK_DIR/.s.pgmoneta"
done

heading "pgmoneta-cli ping"
cli ping

heading "pgmoneta-cli status details"
# The first probe of the server may still be running: give it a moment to come online.
for _ in $(seq 1 50); do
  details="$(cli -F json status details 2>/dev/null || true)"
  grep -q '"Online": *true' <<<"$details" && break
  sleep 0.2
done
cli status details

heading "WAL streaming: write data, switch segments, compare with pg_wal"
psql_run -c "CREATE TABLE demo AS SELECT i, md5(i::text) AS filler FROM generate_series(1, 100000) i"
SEG="$(psql_run -c "SELECT pg_walfile_name(pg_current_wal_lsn())")"
psql_run -c "SELECT pg_switch_wal()" >/dev/null
WAL_DIR="$DEMO_DIR/backup/primary/wal"
stored=""
for _ in $(seq 1 150); do
  [ -f "$WAL_DIR/$SEG.zstd" ] && { stored="$WAL_DIR/$SEG.zstd"; break; }
  sleep 0.2
done
[ -n "$stored" ] || die "segment $SEG did not arrive in $WAL_DIR within 30 s"
ls -l "$WAL_DIR" | sed 's/^/    /'
if command -v zstd >/dev/null 2>&1; then
  zstd -q -dc "$stored" | cmp - "$PGDATA/pg_wal/$SEG" ||
    die "$stored differs from the server's pg_wal/$SEG"
  info "$SEG.zstd decompresses to exactly the server's pg_wal/$SEG"
fi
cli -F json status details | grep -E '"Wal(Streaming|CurrentFile|FlushedLsn|LagBytes)"' |
  sed 's/^ */    /'

heading "pgmoneta-cli conf get log_level"
cli conf get log_level

heading "pgmoneta-cli backup primary"
cli backup primary || die "the backup failed"
LABEL="$(ls "$DEMO_DIR/backup/primary/backup" | grep -E '^[0-9]{14}$' | tail -n1)"
BACKUP_DIR="$DEMO_DIR/backup/primary/backup/$LABEL"

heading "pgmoneta-cli list-backup primary"
cli list-backup primary

heading "Checking backup $LABEL on disk"
(cd "$BACKUP_DIR" && sha512sum --quiet -c backup.sha512) ||
  die "sha512sum -c backup.sha512 failed in $BACKUP_DIR"
info "sha512sum -c backup.sha512: every stored file matches"
grep -E '^(STATUS|WAL|BACKUP|RESTORE|COMPRESSION)=' "$BACKUP_DIR/backup.info" | sed 's/^/    /'
# A stored relation file decompresses to the bytes whose SHA-512 backup.manifest records.
REL="$(grep -m1 -E '^base/[0-9]+/[0-9]+,' "$BACKUP_DIR/backup.manifest")"
REL_PATH="${REL%,*}"
REL_SUM="${REL##*,}"
GOT="$(zstd -dc "$BACKUP_DIR/data/$REL_PATH.zstd" | sha512sum | cut -d' ' -f1)"
[ "$GOT" = "$REL_SUM" ] || die "data/$REL_PATH.zstd does not decompress to its manifest checksum"
info "data/$REL_PATH.zstd decompresses to the SHA-512 in backup.manifest"

heading "Writing after the backup, so the restore has WAL to replay"
psql_run -c "CREATE TABLE after_backup AS SELECT i FROM generate_series(1, 5000) i"
EXPECTED="$(psql_run -c "SELECT (SELECT count(*) FROM demo) || '/' || (SELECT count(*) FROM after_backup)")"
psql_run -c "SELECT pg_switch_wal()" >/dev/null
TARGET_LSN="$(psql_run -c "SELECT pg_current_wal_lsn()")"
# Wait until the daemon holds that WAL (status details: WalFlushedLsn).
lsn_num() { local hi="${1%/*}" lo="${1#*/}"; echo $(( (16#$hi << 32) + 16#$lo )); }
for _ in $(seq 1 150); do
  flushed="$(cli -F json status details | grep -m1 '"WalFlushedLsn"' | sed 's/.*: *"\(.*\)".*/\1/')"
  [ -n "$flushed" ] && [ "$(lsn_num "$flushed")" -ge "$(lsn_num "$TARGET_LSN")" ] && break
  sleep 0.2
done
info "rows now: demo/after_backup = $EXPECTED; WAL received up to ${flushed:-?}"

heading "Remote management and metrics"
info "pgmoneta-cli -h 127.0.0.1 -p $MGMT_PORT -U admin list-backup primary (SCRAM-SHA-256 over TCP)"
as_user env PGMONETA_PASSWORD="$ADMIN_PASSWORD" "$DEMO_DIR/bin/pgmoneta-cli" -h 127.0.0.1 \
  -p "$MGMT_PORT" -U admin list-backup primary || die "remote list-backup failed"
METRICS="$(curl -sS --max-time 10 "http://127.0.0.1:$METRICS_PORT/metrics")" ||
  die "GET /metrics failed"
info "curl http://127.0.0.1:$METRICS_PORT/metrics ($(grep -c '^pgmoneta_' <<<"$METRICS") samples), e.g.:"
grep -E '^pgmoneta_(server_online|wal_streaming|wal_lag_bytes|backup_valid|backup_newest_size|backup_compression_ratio)' \
  <<<"$METRICS" | sed 's/^/    /'
info "status page: http://127.0.0.1:$METRICS_PORT/ (Grafana dashboard: contrib/grafana/pgmoneta.json)"

heading "pgmoneta-cli restore primary newest current $DEMO_DIR/restore"
cli restore primary newest current "$DEMO_DIR/restore" || die "the restore failed"
RESTORED="$DEMO_DIR/restore/primary-$LABEL"
[ -f "$RESTORED/global/pg_control" ] || die "$RESTORED has no global/pg_control"
info "restored into $RESTORED (recovery.signal + settings in postgresql.auto.conf)"
grep -A8 'Generated by pgmoneta' "$RESTORED/postgresql.auto.conf" | sed 's/^/    /' || true

heading "Starting PostgreSQL on the restored copy"
COPY_PORT="$(free_port)" || die "no free TCP port for the restored copy"
COPY_SOCK="$DEMO_DIR/copysock"
mkdir -p "$COPY_SOCK"
chown "$DEMO_USER" "$COPY_SOCK" 2>/dev/null || true
chmod 0700 "$COPY_SOCK"
printf "port = %s\nunix_socket_directories = '%s'\nlisten_addresses = ''\n" "$COPY_PORT" "$COPY_SOCK" \
  >>"$RESTORED/postgresql.conf"
as_user "$PG_BIN/pg_ctl" -D "$RESTORED" -l "$DEMO_DIR/restored.log" -w -t 120 start >/dev/null ||
  die "PostgreSQL did not start on the restored copy (see $DEMO_DIR/restored.log)"
copy_sql() { as_user "$PG_BIN/psql" -XAtq -h "$COPY_SOCK" -p "$COPY_PORT" -U postgres -d postgres "$@"; }
GOT=""
for _ in $(seq 1 150); do
  if [ "$(copy_sql -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = "f" ]; then
    GOT="$(copy_sql -c "SELECT (SELECT count(*) FROM demo) || '/' || (SELECT count(*) FROM after_backup)")"
    break
  fi
  sleep 0.2
done
as_user "$PG_BIN/pg_ctl" -D "$RESTORED" -m fast -w stop >/dev/null || true
[ "$GOT" = "$EXPECTED" ] || die "the restored copy has demo/after_backup = '$GOT', expected $EXPECTED"
info "the restored copy recovered and promoted: demo/after_backup = $GOT, as on the source"

if [ "$KEEP" = 1 ]; then
  heading "Leaving PostgreSQL and pgmoneta running (KEEP=1)"
  info "pgmoneta-cli:  ${CLI[*]} status details   (as $DEMO_USER, HOME=$DEMO_DIR/home)"
  info "stop pgmoneta: runuser -u $DEMO_USER -- ${CLI[*]} shutdown"
  info "stop postgres: runuser -u $DEMO_USER -- $PG_BIN/pg_ctl -D $PGDATA -m fast stop"
  info "or run this script again / rm -rf $DEMO_DIR after stopping both"
else
  heading "Stopping pgmoneta and PostgreSQL"
  cli shutdown
  for _ in $(seq 1 150); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$DAEMON_PID" 2>/dev/null; then die "pgmoneta still running 15 s after shutdown"; fi
  wait "$DAEMON_PID" || die "pgmoneta exited with an error status"
  as_user "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  info "stopped; files kept in $DEMO_DIR (log: $DEMO_DIR/pgmoneta.log)"
fi

heading "Demo finished"
