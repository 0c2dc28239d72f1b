#!/usr/bin/env bash
# Backup benchmark: a full base backup by pgmoneta against pg_basebackup, pgBackRest and a
# tar | zstd ceiling, of the same PostgreSQL 15 cluster, in the same run.
#
#   make bench-backup                  (as root: PostgreSQL, pgmoneta and pgBackRest run as the user pgmoneta)
#   make bench-backup QUICK=1          (scale 10, one run per configuration: a few minutes)
#   SCALE=50 RUNS=5 PROFILE=realistic bash bench/backup/run.sh
#
# One throwaway cluster (loopback TCP port PORT plus a unix socket in the temp directory,
# wal_level = replica, archive_mode = on, data checksums), filled with pgbench -i -s SCALE.
# Profile "plain" is pgbench as initialised (the blank filler column compresses 9-23x);
# profile "realistic" then sets filler to 64 hex characters per row, VACUUM FULL, CHECKPOINT
# (compresses 2-3x). Every configuration is timed RUNS times per profile, in interleaved rounds
# (round 1 of every configuration, then round 2, ...), CHECKPOINT and sync before each run.
#
# Per run: wall time, CPU of the whole machine (/proc/stat user+nice+system+irq+softirq, so the
# PostgreSQL server side is included), CPU and peak RSS of the client (/usr/bin/time), stored
# bytes (du -sb). pgmoneta: the CLI only waits; the daemon's backup child logs peak_rss_kb=<n>.
# Prints a Markdown table (report.py) and writes JSON and CSV to RESULTS_DIR.
# See bench/backup/README.md for how to read it.
#
# Environment:
#   QUICK=1          SCALE 10, RUNS 1, shorter time limits
#   SCALE            pgbench scale (default 100; QUICK 10)
#   RUNS             runs per configuration and profile (default 3; QUICK 1)
#   PROFILE          plain | realistic | "plain realistic" (default both)
#   CONFIGS          default: every configuration below (space separated specs)
#                      pgm:<none|lz4|zstd>:<level>:<none|aes>:<workers>[:crc32c]   pgmoneta daemon
#                        (crc32c: manifest_checksums = crc32c; default sha512)
#                      pgb:<plain|client-zstd|client-lz4|server-zstd>     pg_basebackup
#                      pgbr:<none|lz4|zst>:<process-max>                  pgBackRest
#                      ceil                                               tar | zstd -3 -T2
#   SECOND=0         skip pgmoneta's extra "second backup without deleting the first" run
#   PORT             loopback TCP port of the cluster (default 5499, or the next free one)
#   BIN_DIR          pgmoneta binaries (default <repo>/build/bin)
#   PG_BIN           PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
#   BENCH_USER       unprivileged user when run as root (default pgmoneta)
#   BENCH_TMP        parent of the temporary directory (default /tmp)
#   RESULTS_DIR      where the JSON and CSV go (default /tmp/pgmoneta-bench-backup-results)
#   KEEP=1           keep the temporary directory (PostgreSQL and the daemon are still stopped)
#   KEEP_ON_FAILURE=1  keep it only when the run fails
#   STEP_TIMEOUT     limit of one backup or one data-loading step, seconds (default 1800; QUICK 300)
#   MAX_SECONDS      limit of the whole run (default 14400; QUICK 1500)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$HERE/../.." && pwd)"
BIN_DIR="${BIN_DIR:-$REPO_DIR/build/bin}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
BENCH_USER="${BENCH_USER:-pgmoneta}"
BENCH_TMP="${BENCH_TMP:-/tmp}"
RESULTS_DIR="${RESULTS_DIR:-/tmp/pgmoneta-bench-backup-results}"
QUICK="${QUICK:-0}"
KEEP="${KEEP:-0}"
if [ "$QUICK" = 1 ]; then
  SCALE="${SCALE:-10}"
  RUNS="${RUNS:-1}"
  STEP_TIMEOUT="${STEP_TIMEOUT:-300}"
  MAX_SECONDS="${MAX_SECONDS:-1500}"
else
  SCALE="${SCALE:-100}"
  RUNS="${RUNS:-3}"
  STEP_TIMEOUT="${STEP_TIMEOUT:-1800}"
  MAX_SECONDS="${MAX_SECONDS:-14400}"
fi
PROFILES="${PROFILE:-${PROFILES:-plain realistic}}"
CONFIGS="${CONFIGS:-ceil pgb:plain pgb:client-zstd pgb:client-lz4 pgb:server-zstd
  pgbr:none:1 pgbr:lz4:1 pgbr:zst:1 pgbr:none:2 pgbr:lz4:2 pgbr:zst:2
  pgm:none:0:none:1 pgm:lz4:1:none:1 pgm:zstd:3:none:1 pgm:zstd:3:aes:1
  pgm:none:0:none:2 pgm:lz4:1:none:2 pgm:zstd:3:none:2 pgm:zstd:3:aes:2}"
SECOND="${SECOND:-1}"
PORT="${PORT:-5499}"
START_TS=$(date +%s)
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[%4ds] %s\n' "$(($(date +%s) - START_TS))" "$*"; }
die() {
  printf 'bench-backup: %s\n' "$*" >&2
  exit 1
}
remaining() { echo $((MAX_SECONDS - ($(date +%s) - START_TS))); }
check_deadline() {
  [ "$(remaining)" -gt 0 ] || die "time limit of $MAX_SECONDS s exceeded (MAX_SECONDS)"
}
step_limit() { # the per-step timeout, never beyond the overall deadline
  local r
  r=$(remaining)
  [ "$r" -gt 5 ] || die "time limit of $MAX_SECONDS s exceeded (MAX_SECONDS)"
  if [ "$r" -lt "$STEP_TIMEOUT" ]; then echo "$r"; else echo "$STEP_TIMEOUT"; fi
}

for p in $PROFILES; do
  case "$p" in plain | realistic) ;; *) die "unknown PROFILE '$p' (plain, realistic)" ;; esac
done
[[ $SCALE =~ ^[0-9]+$ ]] && [ "$SCALE" -gt 0 ] || die "SCALE must be a positive integer"
[[ $RUNS =~ ^[0-9]+$ ]] && [ "$RUNS" -gt 0 ] || die "RUNS must be a positive integer"

# ---- prerequisites ----
NEED_PGM=0 NEED_PGBR=0
for spec in $CONFIGS; do
  case "$spec" in
    pgm:*) NEED_PGM=1 ;;
    pgbr:*) NEED_PGBR=1 ;;
    pgb:* | ceil) ;;
    *) die "unknown configuration '$spec' (see the top of $0)" ;;
  esac
done
for b in initdb pg_ctl postgres psql pgbench pg_basebackup; do
  [ -x "$PG_BIN/$b" ] || die "$PG_BIN/$b not found (scripts/install-deps.sh installs postgresql-15)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
for b in python3 zstd tar timeout; do
  command -v "$b" >/dev/null || die "$b not found (scripts/install-deps.sh installs it)"
done
PGBR_BIN=pgbackrest
if [ "$NEED_PGBR" = 1 ]; then
  command -v pgbackrest >/dev/null || die "pgbackrest not found (scripts/install-deps.sh installs it)"
  PGBR_BIN="$(command -v pgbackrest)"
fi
if [ "$NEED_PGM" = 1 ]; then
  for b in pgmoneta pgmoneta-cli pgmoneta-admin; do
    [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b not found: run make build first (or set BIN_DIR)"
  done
fi

# ---- cleanup ----
DAEMON_PID=""
pg_stop() {
  if [ -f "${PGDATA:-/nonexistent}/postmaster.pid" ]; then
    as_user "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
      as_user "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
}
stop_pid() { # stop_pid <pid>: SIGTERM, wait up to 15 s, then SIGKILL
  local pid=$1 _
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 75); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
}
on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [ $rc -ne 0 ]; then
    echo "bench-backup: failed (exit $rc); KEEP_ON_FAILURE=1 keeps $B and its logs" >&2
    for f in "$B"/pgm/pgmoneta.log "$B/postgresql.log" "$B"/pgbr/log/*.log; do
      [ -f "$f" ] || continue
      if grep -q -E 'ERROR|FATAL|PANIC' "$f"; then
        echo "---- $f (last error lines) ----" >&2
        grep -E 'ERROR|FATAL|PANIC' "$f" | tail -n 5 >&2 || true
      fi
    done
  fi
  [ -n "$DAEMON_PID" ] && stop_pid "$DAEMON_PID"
  pg_stop
  if [ "$KEEP" = 1 ] || { [ $rc -ne 0 ] && [ "${KEEP_ON_FAILURE:-0}" = 1 ]; }; then
    echo "bench-backup: kept $B" >&2
  else
    rm -rf "$B"
  fi
  exit $rc
}

B="$(mktemp -d "$BENCH_TMP/pgmoneta-bench-backup.XXXXXX")"
PGDATA="$B/pgdata"
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
chmod 0755 "$B"
if [ "$(id -u)" -eq 0 ]; then
  id -u "$BENCH_USER" >/dev/null 2>&1 || die "user $BENCH_USER does not exist (scripts/install-deps.sh creates pgmoneta)"
  as_user() { runuser -u "$BENCH_USER" -- env HOME="$B/home" USER="$BENCH_USER" \
    LOGNAME="$BENCH_USER" PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
else
  BENCH_USER="$(id -un)"
  as_user() { env HOME="$B/home" "$@"; }
fi
mkdir -p "$B"/{bin,home,pgsock,run,out}
if [ "$NEED_PGM" = 1 ]; then
  cp "$BIN_DIR/pgmoneta" "$BIN_DIR/pgmoneta-cli" "$BIN_DIR/pgmoneta-admin" "$B/bin/"
fi
chmod 0700 "$B/home" "$B/pgsock"
chown -R "$BENCH_USER:" "$B"
cd "$B"
PGSOCK="$B/pgsock"
RAW="$B/raw.tsv" # one line per measurement, turned into the table, JSON and CSV by report.py
: >"$RAW"

# ---- PostgreSQL ----
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
  port_busy "$PORT" || break
  PORT=$((PORT + 1))
done
port_busy "$PORT" && die "no free loopback port from ${PORT%??}.. found"

psql_q() { as_user "$PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PORT" -U postgres -d postgres "$@"; }

log "temporary directory $B (user $BENCH_USER); profiles: $PROFILES; scale $SCALE; $RUNS run(s)"
as_user "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=trust \
  --data-checksums --locale=C -E UTF8 >"$B/initdb.log" 2>&1 || {
  cat "$B/initdb.log" >&2
  die "initdb failed"
}
cat >>"$PGDATA/postgresql.conf" <<EOF

# bench/backup/run.sh
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$PGSOCK'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
archive_mode = on
archive_command = '/bin/true'
shared_buffers = 256MB
max_wal_size = 4GB
min_wal_size = 80MB
checkpoint_timeout = 30min
autovacuum = off
EOF
# initdb --auth-host=trust already allows "host replication all 127.0.0.1/32".
as_user "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$B/postgresql.log" -w -t 60 start >/dev/null ||
  die "PostgreSQL did not start; see $B/postgresql.log"
psql_q -c "CREATE ROLE repl WITH LOGIN REPLICATION SUPERUSER"
PG_VERSION_STR=$(psql_q -c "SELECT version()")
[ "$(psql_q -c 'SHOW data_checksums')" = on ] || die "data checksums are not on"
log "$PG_VERSION_STR; 127.0.0.1:$PORT and $PGSOCK; data checksums on"

# archive_command: '/bin/true' except around pgBackRest runs, which need their own archive-push
# (each tool is measured with its own WAL machinery only).
PGBR_ARCHIVE_CMD="$PGBR_BIN --config=$B/pgbr/pgbackrest.conf --stanza=bench archive-push %p"
set_archive_command() {
  [ "$(psql_q -c 'SHOW archive_command')" = "$1" ] && return 0
  psql_q -c "ALTER SYSTEM SET archive_command = '$1'"
  psql_q -c "SELECT pg_reload_conf()" >/dev/null
  local _
  for _ in $(seq 1 50); do
    [ "$(psql_q -c 'SHOW archive_command')" = "$1" ] && return 0
    sleep 0.2
  done
  die "archive_command did not change to '$1'"
}
wait_archived() { # no segment waits for archive_command (at most 60 s)
  local _
  for _ in $(seq 1 300); do
    [ -z "$(find "$PGDATA/pg_wal/archive_status" -name '*.ready' -print -quit)" ] && return 0
    sleep 0.2
  done
  log "warning: segments still waiting for archive_command after 60 s"
}

# ---- measurement ----
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }
# CPU ticks (utime + stime + cutime + cstime) of the given processes and all their descendants:
# the PostgreSQL server (postmaster) and the pgmoneta daemon. A child reaped in between moves its
# ticks into its parent's cutime/cstime, so the sum over a tree only grows by real work.
tree_ticks() {
  python3 - "$@" <<'PY'
import os, sys
roots = [int(a) for a in sys.argv[1:] if a.isdigit()]
kids, ticks = {}, {}
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        with open(f"/proc/{d}/stat") as f:
            s = f.read()
    except OSError:
        continue
    fields = s[s.rindex(")") + 2:].split()  # fields from "state" on: ppid = [1], utime..cstime = [11:15]
    kids.setdefault(int(fields[1]), []).append(int(d))
    ticks[int(d)] = sum(int(x) for x in fields[11:15])
total, todo, seen = 0, [r for r in roots if r in ticks], set()
while todo:
    p = todo.pop()
    if p in seen:
        continue
    seen.add(p)
    total += ticks.get(p, 0)
    todo.extend(kids.get(p, []))
print(total)
PY
}
server_roots() { # the postmaster and, when running, the pgmoneta daemon
  head -n1 "$PGDATA/postmaster.pid" 2>/dev/null || true
  echo "${DAEMON_PID:-}"
}
du_bytes() { du -sb "$1" 2>/dev/null | cut -f1; }
settle() { # before every run: CHECKPOINT, then write back dirty pages (untimed)
  psql_q -c "CHECKPOINT"
  sync
  sleep 1
}

# timed <name> cmd...: runs cmd as the bench user under timeout and /usr/bin/time; sets WALL (s),
# MCPU (ticks of the machine), SCPU (ticks of the PostgreSQL and daemon process trees), CUSER,
# CSYS (s), CRSS (kB), RC; output in $B/run/<name>.out.
timed() {
  local name=$1 lim t0 t1 c0 c1 s0 s1 roots tf="$B/run/$1.time"
  shift
  lim=$(step_limit)
  rm -f "$tf"
  roots=$(server_roots)
  # shellcheck disable=SC2086
  s0=$(tree_ticks $roots)
  c0=$(machine_ticks)
  t0=$(date +%s.%N)
  RC=0
  as_user timeout -k 10 "$lim" /usr/bin/time -o "$tf" -f '%U %S %M' "$@" \
    >"$B/run/$name.out" 2>&1 </dev/null || RC=$?
  t1=$(date +%s.%N)
  c1=$(machine_ticks)
  WALL=$(echo "$t1 - $t0" | bc)
  MCPU=$((c1 - c0))
  # shellcheck disable=SC2086
  s1=$(tree_ticks $roots)
  SCPU=$((s1 - s0))
  CUSER=0 CSYS=0 CRSS=0
  if [ -s "$tf" ]; then
    read -r CUSER CSYS CRSS < <(grep -E '^[0-9.]+ [0-9.]+ [0-9]+$' "$tf" | tail -n1) || true
  fi
  if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
    log "  $name: timed out after $lim s"
  fi
}
# record <profile> <tool> <label> <spec> <run> <kind> <status> <stored> <server peak rss kB|n/a>
record() {
  printf 'run\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" \
    "$6" "$7" "$WALL" "$MCPU" "$CLK_TCK" "${CUSER:-0}" "${CSYS:-0}" "${CRSS:-0}" "${9:-n/a}" "$8" "$SCPU" >>"$RAW"
  log "  $1 $3 run $5${6:+ ($6)}: $7, $(printf '%.2f' "$WALL") s, machine CPU $(printf '%.1f' "$(echo "$MCPU / $CLK_TCK" | bc -l)") s, stored $(($8 / 1000000)) MB"
}

label_of() { # human-readable label of a spec (what report.py prints)
  local t a b c d e
  IFS=: read -r t a b c d e <<<"$1"
  case "$t" in
    ceil) echo "tar | zstd -3 -T2" ;;
    pgb) case "$a" in
      plain) echo "pg_basebackup -Fp" ;;
      client-zstd) echo "pg_basebackup client-zstd:3" ;;
      client-lz4) echo "pg_basebackup client-lz4" ;;
      server-zstd) echo "pg_basebackup server-zstd:3" ;;
    esac ;;
    pgbr) if [ "$a" = zst ]; then echo "pgBackRest zst:3 p$b"; else echo "pgBackRest $a p$b"; fi ;;
    pgm)
      local l="pgmoneta $a"
      [ "$a" != none ] && l="$l:$b"
      [ "$c" = aes ] && l="$l+aes"
      [ "$e" = crc32c ] && l="$l crc32c-manifest"
      echo "$l w$d"
      ;;
  esac
}
tool_of() {
  case "$1" in ceil) echo ceiling ;; pgb:*) echo pg_basebackup ;; pgbr:*) echo pgbackrest ;; pgm:*) echo pgmoneta ;; esac
}

# ---- the ceiling: tar | zstd of the same files ----
# pg_wal/* is left out (every tool copies only the WAL of its own backup window), and the output
# is fsynced like every other tool's.
run_ceil() {
  local profile=$1 run=$2 spec=$3 out="$B/out/ceil.tar.zst"
  rm -f "$out"
  settle
  timed ceil bash -c 'set -o pipefail
    tar -cf - -C "$1" --exclude="./pg_wal/*" --exclude=./postmaster.pid . | zstd -q -3 -T2 >"$2"
    rc=$?; [ $rc -le 1 ] || exit $rc  # tar: 1 = "file changed as we read it" (live cluster)
    sync "$2"' ceil "$PGDATA" "$out"
  local status=ok
  [ "$RC" = 0 ] || status=failed
  record "$profile" ceiling "$(label_of "$spec")" "$spec" "$run" full "$status" "$(du_bytes "$out")"
  rm -f "$out"
}

# ---- pg_basebackup ----
run_pgb() {
  local profile=$1 run=$2 spec=$3 mode out="$B/out/pgb"
  mode=${spec#pgb:}
  rm -rf "$out"
  local args=(-h 127.0.0.1 -p "$PORT" -U postgres -D "$out" --checkpoint=fast)
  case "$mode" in
    plain) args+=(-Fp) ;;
    client-zstd) args+=(-Ft --compress=client-zstd:3) ;;
    client-lz4) args+=(-Ft --compress=client-lz4) ;;
    server-zstd) args+=(-Ft --compress=server-zstd:3) ;;
    *) die "unknown pg_basebackup mode $mode" ;;
  esac
  settle
  timed "pgb-$mode" "$PG_BIN/pg_basebackup" "${args[@]}"
  local status=ok
  if [ "$RC" != 0 ]; then
    status=failed
    tail -n 3 "$B/run/pgb-$mode.out" >&2 || true
  fi
  record "$profile" pg_basebackup "$(label_of "$spec")" "$spec" "$run" full "$status" "$(du_bytes "$out")"
  rm -rf "$out"
}

# ---- pgBackRest ----
# One repository, re-created before every run (so every backup is a full backup with nothing to
# reuse); stored = the whole repository after the backup: the backup set plus the WAL it needs,
# archived by archive-push during the run.
PGBR_READY=0
pgbr_setup() {
  as_user mkdir -p "$B/pgbr/log" "$B/pgbr/lock" "$B/pgbr/spool"
  cat >"$B/pgbr/pgbackrest.conf" <<EOF
[global]
repo1-path=$B/pgbr/repo
repo1-retention-full=99
log-path=$B/pgbr/log
lock-path=$B/pgbr/lock
spool-path=$B/pgbr/spool
log-level-console=warn
log-level-file=info
start-fast=y

[global:archive-push]
compress-type=lz4

[bench]
pg1-path=$PGDATA
pg1-port=$PORT
pg1-socket-path=$PGSOCK
pg1-user=postgres
EOF
  chown "$BENCH_USER:" "$B/pgbr/pgbackrest.conf"
  PGBR_READY=1
}
pgbr() { as_user "$PGBR_BIN" --config="$B/pgbr/pgbackrest.conf" --stanza=bench "$@"; }
run_pgbr() {
  local profile=$1 run=$2 spec=$3 ctype pmax t
  IFS=: read -r t ctype pmax <<<"$spec"
  [ "$PGBR_READY" = 1 ] || pgbr_setup
  set_archive_command "$PGBR_ARCHIVE_CMD"
  wait_archived
  rm -rf "$B/pgbr/repo"
  as_user mkdir -p "$B/pgbr/repo"
  pgbr stanza-create >"$B/run/pgbr-stanza.out" 2>&1 || {
    cat "$B/run/pgbr-stanza.out" >&2
    die "pgbackrest stanza-create failed"
  }
  local args=(--type=full --process-max="$pmax" --compress-type="$ctype")
  [ "$ctype" = zst ] && args+=(--compress-level=3)
  [ "$ctype" = lz4 ] && args+=(--compress-level=1)
  settle
  timed "pgbr-$ctype-$pmax" "$PGBR_BIN" --config="$B/pgbr/pgbackrest.conf" --stanza=bench "${args[@]}" backup
  local status=ok
  if [ "$RC" != 0 ]; then
    status=failed
    tail -n 5 "$B/run/pgbr-$ctype-$pmax.out" >&2 || true
  fi
  record "$profile" pgbackrest "$(label_of "$spec")" "$spec" "$run" full "$status" "$(du_bytes "$B/pgbr/repo")"
}

# ---- pgmoneta ----
# A daemon per configuration and run (compression, encryption and workers are [pgmoneta] keys),
# in $B/pgm with a fresh base_dir and its own replication slot, stopped afterwards, so at most
# one daemon (and its WAL receiver) runs at a time.
OURS_MISSING="" # set to the reason when the daemon cannot back up: the rest of ours is skipped
PGM_KEYS_DONE=0
pgm_keys() {
  as_user env PGMONETA_PASSWORD=bench-master-password "$B/bin/pgmoneta-admin" master-key >/dev/null
  as_user env PGMONETA_PASSWORD=unused "$B/bin/pgmoneta-admin" -f "$B/users.conf" -U repl user add >/dev/null
  PGM_KEYS_DONE=1
}
PGM="$B/pgm"
pgm_cli() { as_user "$B/bin/pgmoneta-cli" -c "$PGM/cli.conf" "$@"; }
pgm_start() { # pgm_start <spec>: 0 when the daemon answers and streams WAL
  local t comp level enc workers sums
  IFS=: read -r t comp level enc workers sums <<<"$1"
  [ "$PGM_KEYS_DONE" = 1 ] || pgm_keys
  rm -rf "$PGM"
  as_user mkdir -p "$PGM/sock" "$PGM/base" "$PGM/workspace"
  cat >"$PGM/pgmoneta.conf" <<EOF
[pgmoneta]
host = localhost
unix_socket_dir = $PGM/sock
base_dir = $PGM/base
workspace = $PGM/workspace
log_type = file
log_path = $PGM/pgmoneta.log
log_level = info
compression = $comp
compression_level = $level
encryption = $([ "$enc" = aes ] && echo aes-256-gcm || echo none)
workers = $workers
manifest_checksums = ${sums:-sha512}
retention = 30

[primary]
host = 127.0.0.1
port = $PORT
user = repl
wal_slot = pgm_bench
create_slot = yes
EOF
  printf '[pgmoneta]\nunix_socket_dir = %s/sock\n' "$PGM" >"$PGM/cli.conf"
  chown "$BENCH_USER:" "$PGM/pgmoneta.conf" "$PGM/cli.conf"
  as_user bash -c 'echo $$ >"$0"; exec "$@"' "$PGM/daemon.pid" \
    "$B/bin/pgmoneta" -c "$PGM/pgmoneta.conf" -u "$B/users.conf" >"$PGM/daemon.out" 2>&1 </dev/null &
  local _
  for _ in $(seq 1 50); do
    [ -s "$PGM/daemon.pid" ] && break
    sleep 0.1
  done
  DAEMON_PID=$(cat "$PGM/daemon.pid" 2>/dev/null || true)
  [ -n "$DAEMON_PID" ] || return 1
  # Up when status details says the server is online and its WAL is streaming (at most 60 s).
  for _ in $(seq 1 120); do
    kill -0 "$DAEMON_PID" 2>/dev/null || return 1
    if pgm_cli -F json status details 2>/dev/null | grep -q '"WalStreaming": *true'; then
      [ "$(pgm_cli conf get workers 2>/dev/null | tr -d '[:space:]')" = "$workers" ] ||
        log "  warning: pgmoneta-cli conf get workers does not say $workers"
      return 0
    fi
    sleep 0.5
  done
  return 1
}
pgm_stop() {
  if [ -n "$DAEMON_PID" ]; then
    pgm_cli shutdown >/dev/null 2>&1 || true
    stop_pid "$DAEMON_PID"
    DAEMON_PID=""
  fi
  [ -f "$PGM/pgmoneta.log" ] && grep -E ' (ERROR|FATAL) ' "$PGM/pgmoneta.log" >>"$B/pgmoneta-errors.log" || true
  psql_q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
             WHERE slot_name = 'pgm_bench' AND NOT active" >/dev/null || true
  [ "$KEEP" = 1 ] || rm -rf "$PGM"
}
pgm_backups() { find "$PGM/base/primary/backup" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort; }
pgm_peak_rss() { # the newest peak_rss_kb=<n> in the daemon log after line $1 (waits up to 5 s)
  local _ v
  for _ in $(seq 1 25); do
    v=$(tail -n +"$(($1 + 1))" "$PGM/pgmoneta.log" 2>/dev/null | grep -o 'peak_rss_kb=[0-9]*' | tail -n1 | cut -d= -f2)
    [ -n "$v" ] && {
      echo "$v"
      return 0
    }
    sleep 0.2
  done
  echo n/a
}
pgm_one() { # pgm_one <profile> <spec> <run> <kind>: one timed backup; leaves the backup in place
  local profile=$1 spec=$2 run=$3 kind=$4 before after label lines
  before=$(pgm_backups)
  lines=$(wc -l <"$PGM/pgmoneta.log" 2>/dev/null || echo 0)
  settle
  timed pgm-backup "$B/bin/pgmoneta-cli" -c "$PGM/cli.conf" backup primary
  if [ "$RC" != 0 ]; then
    if grep -q -i 'not available' "$B/run/pgm-backup.out"; then
      OURS_MISSING="pgmoneta-cli backup: $(grep -i -m1 "not available" "$B/run/pgm-backup.out" | sed "s/^[[:space:]]*//")"
      log "  pgmoneta: backup is not available in this build; ours is reported as missing"
      return 1
    fi
    tail -n 5 "$B/run/pgm-backup.out" >&2 || true
    record "$profile" pgmoneta "$(label_of "$spec")" "$spec" "$run" "$kind" failed 0 n/a
    printf 'failure\t%s\t%s\t%s\n' "$profile" "$(label_of "$spec")" \
      "$(grep -v '^[[:space:]]*$' "$B/run/pgm-backup.out" | tail -n1 | tr '\t' ' ')" >>"$RAW"
    return 1
  fi
  after=$(pgm_backups)
  label=$(comm -13 <(echo "$before") <(echo "$after") | tail -n1)
  local stored=0 bdir="$PGM/base/primary/backup"
  if [ -n "$label" ]; then
    stored=$(du_bytes "$bdir/$label")
    local prev
    prev=$(echo "$before" | tail -n1)
    if [ "$kind" = second ] && [ -n "$prev" ]; then
      # only the bytes this backup added: du counts a hardlinked inode once across its arguments
      stored=$(($(du -sbc "$bdir/$prev" "$bdir/$label" | tail -n1 | cut -f1) - $(du_bytes "$bdir/$prev")))
    fi
  fi
  record "$profile" pgmoneta "$(label_of "$spec")" "$spec" "$run" "$kind" ok "$stored" "$(pgm_peak_rss "$lines")"
}
pgm_delete_all() {
  local _
  for _ in 1 2 3; do
    [ -z "$(pgm_backups)" ] && return 0
    pgm_cli delete primary newest --force >/dev/null 2>&1 || break
  done
  [ -z "$(pgm_backups)" ] && return 0
  log "  pgmoneta-cli delete failed; removing $PGM/base/primary/backup/* by hand"
  rm -rf "${PGM:?}/base/primary/backup/"*
}
run_pgm() {
  local profile=$1 run=$2 spec=$3
  [ -z "$OURS_MISSING" ] || return 0
  if ! pgm_start "$spec"; then
    OURS_MISSING="the daemon did not start or did not stream WAL within 60 s ($(tail -n1 "$PGM/daemon.out" 2>/dev/null))"
    log "  pgmoneta: $OURS_MISSING"
    pgm_stop
    return 0
  fi
  if pgm_one "$profile" "$spec" "$run" full; then
    # Optionally once: a second backup while the first is still there (unchanged files are
    # hardlinked to the previous backup): reported separately as "second".
    if [ "$SECOND" = 1 ] && [ "$run" = "$RUNS" ]; then
      pgm_one "$profile" "$spec" "$run" second || true
    fi
  fi
  pgm_delete_all
  pgm_stop
}

# ---- data ----
pgbench_init() {
  log "pgbench -i -s $SCALE"
  as_user timeout "$(step_limit)" "$PG_BIN/pgbench" -h "$PGSOCK" -p "$PORT" -U postgres -i -s "$SCALE" -q postgres \
    >"$B/pgbench-init.log" 2>&1 || die "pgbench -i failed; see $B/pgbench-init.log"
  psql_q -c "CHECKPOINT"
  INITIALISED=1
}
make_realistic() {
  log "realistic: UPDATE pgbench_accounts SET filler = md5(aid) || md5(aid+1); VACUUM FULL; CHECKPOINT"
  as_user timeout "$(step_limit)" "$PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PORT" -U postgres -d postgres \
    -c "UPDATE pgbench_accounts SET filler = md5(aid::text) || md5((aid + 1)::text)" \
    -c "VACUUM FULL pgbench_accounts" -c "CHECKPOINT" -c "CHECKPOINT" >/dev/null ||
    die "making the realistic profile failed"
}
INITIALISED=0
PROFILE_DONE=""
run_profile() {
  local profile=$1 run spec
  [ "$INITIALISED" = 1 ] || pgbench_init
  if [ "$profile" = realistic ]; then make_realistic; fi
  local pgdata_bytes db_bytes
  pgdata_bytes=$(du_bytes "$PGDATA")
  db_bytes=$(psql_q -c "SELECT sum(pg_database_size(oid)) FROM pg_database")
  printf 'profile\t%s\t%s\t%s\t%s\n' "$profile" "$pgdata_bytes" "$db_bytes" "$(du_bytes "$PGDATA/pg_wal")" >>"$RAW"
  log "$profile: databases $((db_bytes / 1000000)) MB, data directory $((pgdata_bytes / 1000000)) MB"
  for run in $(seq 1 "$RUNS"); do
    for spec in $CONFIGS; do
      check_deadline
      case "$spec" in
        ceil) run_ceil "$profile" "$run" "$spec" ;;
        pgb:*) run_pgb "$profile" "$run" "$spec" ;;
        pgbr:*) run_pgbr "$profile" "$run" "$spec" ;;
        pgm:*)
          set_archive_command /bin/true
          run_pgm "$profile" "$run" "$spec"
          ;;
      esac
    done
    set_archive_command /bin/true
  done
  PROFILE_DONE="$PROFILE_DONE $profile"
}

# plain first: realistic is derived from it in place.
for profile in plain realistic; do
  if [[ " $PROFILES " == *" $profile "* ]]; then run_profile "$profile"; fi
done
if [ -n "$OURS_MISSING" ]; then
  printf 'missing\tpgmoneta\t%s\n' "$OURS_MISSING" >>"$RAW"
fi

# ---- report ----
pg_stop
mkdir -p "$RESULTS_DIR"
OUT="$RESULTS_DIR/$(date -u +%Y-%m-%dT%H%M%SZ)"
python3 "$HERE/report.py" "$RAW" "$OUT" \
  "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" "quick=$QUICK" "cpus=$(nproc)" \
  "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" \
  "kernel=$(uname -r)" "postgresql=$PG_VERSION_STR" "scale=$SCALE" "runs=$RUNS" \
  "pgbackrest=$([ "$NEED_PGBR" = 1 ] && "$PGBR_BIN" version || echo -)" \
  "pgmoneta_commit=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_DIR" diff --quiet HEAD -- src 2>/dev/null || echo '+dirty')" \
  "pgmoneta_build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BIN_DIR/../CMakeCache.txt" 2>/dev/null || true)" \
  "elapsed_s=$(($(date +%s) - START_TS))"
log "results written to $OUT.json and $OUT.csv"
