# shellcheck shell=bash disable=SC2034 # the variables set here are used by the drivers
# Shared helpers of the benchmark drivers bench/{backup,restore,incremental,wal}/run.sh.
#
# Sourced by each run.sh after it has set
#   BENCH  its name (backup, restore, incremental, wal): messages say "bench-$BENCH", the
#          temporary directory is $BENCH_TMP/pgmoneta-bench-$BENCH.XXXXXX
#   HERE   its own directory
# Sourcing sets the knobs every driver shares (REPO_DIR, BIN_DIR, PG_BIN, BENCH_USER, BENCH_TMP,
# QUICK, KEEP) and START_TS, CLK_TCK; everything else is a function, documented where it is
# defined. A driver defines the hooks some of them call: failure_logs and stop_processes
# (on_exit), timed_before and timed_after (timed).

REPO_DIR="$(cd "$HERE/../.." && pwd)"
BIN_DIR="${BIN_DIR:-$REPO_DIR/build/bin}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
BENCH_USER="${BENCH_USER:-pgmoneta}"
BENCH_TMP="${BENCH_TMP:-/tmp}"
QUICK="${QUICK:-0}"
KEEP="${KEEP:-0}"
PSQL_DB=postgres # the database psql_q connects to
START_TS=$(date +%s)
CLK_TCK=$(getconf CLK_TCK)

# ---- messages and time limits ----
log() { printf '[%4ds] %s\n' "$(($(date +%s) - START_TS))" "$*"; } # "[elapsed s] message"
die() { # "bench-<name>: message" on stderr, exit 1
  printf 'bench-%s: %s\n' "$BENCH" "$*" >&2
  exit 1
}
remaining() { echo $((MAX_SECONDS - ($(date +%s) - START_TS))); } # seconds left of MAX_SECONDS
check_deadline() { # dies once MAX_SECONDS are used up
  [ "$(remaining)" -gt 0 ] || die "time limit of $MAX_SECONDS s exceeded (MAX_SECONDS)"
}
step_limit() { # the per-step timeout (STEP_TIMEOUT), never beyond the overall deadline
  local r
  r=$(remaining)
  [ "$r" -gt 5 ] || die "time limit of $MAX_SECONDS s exceeded (MAX_SECONDS)"
  if [ "$r" -lt "$STEP_TIMEOUT" ]; then echo "$r"; else echo "$STEP_TIMEOUT"; fi
}

# sizes <RUNS default> <MAX_SECONDS default>: the pgbench-cluster benches' size knobs. Sets SCALE
# (100), RUNS, STEP_TIMEOUT (1800 s), MAX_SECONDS from the environment or these defaults; QUICK=1:
# 10, 1, 300 s, 1500 s. Sets PROFILES from PROFILE or PROFILES (default "plain realistic") and
# dies on an unknown profile or a SCALE or RUNS that is not a positive integer.
sizes() {
  if [ "$QUICK" = 1 ]; then
    SCALE="${SCALE:-10}"
    RUNS="${RUNS:-1}"
    STEP_TIMEOUT="${STEP_TIMEOUT:-300}"
    MAX_SECONDS="${MAX_SECONDS:-1500}"
  else
    SCALE="${SCALE:-100}"
    RUNS="${RUNS:-$1}"
    STEP_TIMEOUT="${STEP_TIMEOUT:-1800}"
    MAX_SECONDS="${MAX_SECONDS:-$2}"
  fi
  PROFILES="${PROFILE:-${PROFILES:-plain realistic}}"
  local p
  for p in $PROFILES; do
    case "$p" in plain | realistic | manyfiles) ;; *) die "unknown PROFILE '$p' (plain, realistic, manyfiles)" ;; esac
  done
  if ! [[ $SCALE =~ ^[0-9]+$ ]] || [ "$SCALE" -le 0 ]; then die "SCALE must be a positive integer"; fi
  if ! [[ $RUNS =~ ^[0-9]+$ ]] || [ "$RUNS" -le 0 ]; then die "RUNS must be a positive integer"; fi
}

# ---- prerequisites ----
need_pg_bins() { # need_pg_bins <program>...: dies unless each is in PG_BIN
  local b
  for b in "$@"; do
    [ -x "$PG_BIN/$b" ] || die "$PG_BIN/$b not found (scripts/install-deps.sh installs postgresql-15)"
  done
}
need_cmds() { # need_cmds <command>...: dies unless each is on PATH
  local b
  for b in "$@"; do
    command -v "$b" >/dev/null || die "$b not found (scripts/install-deps.sh installs it)"
  done
}
need_time() { [ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"; }
need_pgbackrest() { # dies without pgbackrest on PATH; sets PGBR_BIN to its path
  command -v pgbackrest >/dev/null || die "pgbackrest not found (scripts/install-deps.sh installs it)"
  PGBR_BIN="$(command -v pgbackrest)"
}
need_pgmoneta() { # dies unless BIN_DIR has pgmoneta, pgmoneta-cli and pgmoneta-admin
  local b
  for b in pgmoneta pgmoneta-cli pgmoneta-admin; do
    [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b not found: run make build first (or set BIN_DIR)"
  done
}

# ---- processes and cleanup ----
# stop_pid <pid> [polls] [poll interval s]: SIGTERM, wait up to polls x interval (75 x 0.2 = 15 s),
# then SIGKILL
stop_pid() {
  local pid=$1 _
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 "${2:-75}"); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep "${3:-0.2}"
  done
  kill -KILL "$pid" 2>/dev/null || true
}
# pg_ctl_stop <data directory> [timeout of the immediate stop, s (default 30)]: stops the
# PostgreSQL running there, if any (fast, else immediate); never fails
pg_ctl_stop() {
  if [ -f "$1/postmaster.pid" ]; then
    as_user "$PG_BIN/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null 2>&1 ||
      as_user "$PG_BIN/pg_ctl" -D "$1" -m immediate -w -t "${2:-30}" stop >/dev/null 2>&1 || true
  fi
}
pg_stop() { pg_ctl_stop "${PGDATA:-/nonexistent}" "${PG_IMMEDIATE_TIMEOUT:-30}"; } # the bench cluster
# error_lines [-i] <extended regexp> <file>...: for each existing file with matching lines, its
# last 5 of them on stderr (-i: ignore case)
error_lines() {
  local opts=(-E) f
  if [ "$1" = -i ]; then
    opts=(-i -E)
    shift
  fi
  local re=$1
  shift
  for f in "$@"; do
    [ -f "$f" ] || continue
    if grep -q "${opts[@]}" "$re" "$f"; then
      echo "---- $f (last error lines) ----" >&2
      grep "${opts[@]}" "$re" "$f" | tail -n 5 >&2 || true
    fi
  done
}
# The EXIT trap: on failure says so and calls the driver's failure_logs (error_lines of its logs);
# then its stop_processes (the daemon, receivers, ...), stops the cluster and removes $B unless
# KEEP=1 (or KEEP_ON_FAILURE=1 and the run failed).
on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [ $rc -ne 0 ]; then
    echo "bench-$BENCH: failed (exit $rc); KEEP_ON_FAILURE=1 keeps $B and its logs" >&2
    failure_logs || true
  fi
  stop_processes || true
  pg_stop
  if [ "$KEEP" = 1 ] || { [ $rc -ne 0 ] && [ "${KEEP_ON_FAILURE:-0}" = 1 ]; }; then
    echo "bench-$BENCH: kept $B" >&2
  else
    rm -rf "$B"
  fi
  exit $rc
}

# workdir <copy pgmoneta binaries: 0|1> [subdirectory]...: creates the temporary directory B
# (PGDATA = $B/pgdata, installs on_exit), defines as_user (as root: runs a command as BENCH_USER,
# which must exist; otherwise: as this user, BENCH_USER becomes its name), creates $B/bin, home,
# pgsock, run and the given subdirectories, copies the pgmoneta binaries into $B/bin, hands $B
# to BENCH_USER and cd's into it. Sets PGSOCK ($B/pgsock) and RAW ($B/raw.tsv, empty).
workdir() {
  local copy=$1
  shift
  B="$(mktemp -d "$BENCH_TMP/pgmoneta-bench-$BENCH.XXXXXX")"
  PGDATA="$B/pgdata"
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  chmod 0755 "$B"
  # shellcheck disable=SC2317 # as_user is called by the functions here and by the driver
  if [ "$(id -u)" -eq 0 ]; then
    id -u "$BENCH_USER" >/dev/null 2>&1 || die "user $BENCH_USER does not exist (scripts/install-deps.sh creates pgmoneta)"
    as_user() { runuser -u "$BENCH_USER" -- env HOME="$B/home" USER="$BENCH_USER" \
      LOGNAME="$BENCH_USER" PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
  else
    BENCH_USER="$(id -un)"
    as_user() { env HOME="$B/home" "$@"; }
  fi
  local d
  for d in bin home pgsock run "$@"; do mkdir -p "$B/$d"; done
  if [ "$copy" = 1 ]; then
    cp "$BIN_DIR/pgmoneta" "$BIN_DIR/pgmoneta-cli" "$BIN_DIR/pgmoneta-admin" "$B/bin/"
  fi
  chmod 0700 "$B/home" "$B/pgsock"
  chown -R "$BENCH_USER:" "$B"
  cd "$B" || die "cannot cd to $B"
  PGSOCK="$B/pgsock"
  RAW="$B/raw.tsv" # one line per measurement, turned into the tables, JSON (and CSV) by report.py
  : >"$RAW"
}

# drop_caches_default: DROP_CACHES from the environment (default 1) as root, else 0
drop_caches_default() {
  if [ "$(id -u)" -eq 0 ]; then DROP_CACHES="${DROP_CACHES:-1}"; else DROP_CACHES=0; fi
}
# cache_note <text when the cache is dropped>: sets CACHE_NOTE, what the report says about the
# page cache
cache_note() {
  if [ "$DROP_CACHES" = 1 ]; then
    CACHE_NOTE="$1"
  elif [ "$(id -u)" -eq 0 ]; then
    CACHE_NOTE="page cache NOT dropped (DROP_CACHES=0): warm-cache numbers"
  else
    CACHE_NOTE="page cache NOT dropped (not root): warm-cache numbers"
  fi
}

# ---- PostgreSQL ----
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; } # something listens on 127.0.0.1:<port>
free_port() { # free_port <first> [tries (50)]: prints that port or the next free one; 1 when none
  local p=$1 _
  for _ in $(seq 1 "${2:-50}"); do
    port_busy "$p" || {
      echo "$p"
      return 0
    }
    p=$((p + 1))
  done
  return 1
}
# psql_q <psql option>...: psql as the bench user on the cluster's socket, user postgres, database
# PSQL_DB (postgres), unaligned and quiet, stops on the first error
psql_q() { as_user "$PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PORT" -U postgres -d "$PSQL_DB" "$@"; }
# pg_initdb <initdb option>...: initdb of PGDATA as the bench user (superuser postgres, local
# trust, C locale, UTF8) with these options too; dies with its output
pg_initdb() {
  as_user "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust "$@" \
    --locale=C -E UTF8 >"$B/initdb.log" 2>&1 || {
    cat "$B/initdb.log" >&2
    die "initdb failed"
  }
}
# pg_start: appends stdin (settings) to postgresql.conf after a "# bench/$BENCH/run.sh" line and
# starts PostgreSQL (log $B/postgresql.log); dies when it does not start within 60 s
pg_start() {
  {
    echo
    echo "# bench/$BENCH/run.sh"
    cat
  } >>"$PGDATA/postgresql.conf"
  as_user "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$B/postgresql.log" -w -t 60 start >/dev/null ||
    die "PostgreSQL did not start; see $B/postgresql.log"
}
# cluster: the cluster of the backup, restore and incremental benches: data checksums, 127.0.0.1:PORT
# plus the socket, wal_level = replica, archive_mode = on (archive_command /bin/true), role repl
# (replication, superuser). Sets PG_VERSION_STR.
cluster() {
  pg_initdb --auth-host=trust --data-checksums
  pg_start <<EOF
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
  psql_q -c "CREATE ROLE repl WITH LOGIN REPLICATION SUPERUSER"
  PG_VERSION_STR=$(psql_q -c "SELECT version()")
  [ "$(psql_q -c 'SHOW data_checksums')" = on ] || die "data checksums are not on"
  log "$PG_VERSION_STR; 127.0.0.1:$PORT and $PGSOCK; data checksums on"
}
set_archive_command() { # set_archive_command <command>: ALTER SYSTEM, reload, wait until it shows
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

# ---- data profiles ----
pgbench_init() { # pgbench -i -s SCALE, CHECKPOINT; sets INITIALISED=1
  log "pgbench -i -s $SCALE"
  as_user timeout "$(step_limit)" "$PG_BIN/pgbench" -h "$PGSOCK" -p "$PORT" -U postgres -i -s "$SCALE" -q postgres \
    >"$B/pgbench-init.log" 2>&1 || die "pgbench -i failed; see $B/pgbench-init.log"
  psql_q -c "CHECKPOINT"
  INITIALISED=1
}
make_realistic() { # profile "realistic" from "plain", in place: 64 hex characters of filler per account
  log "realistic: UPDATE pgbench_accounts SET filler = md5(aid) || md5(aid+1); VACUUM FULL; CHECKPOINT"
  as_user timeout "$(step_limit)" "$PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PORT" -U postgres -d postgres \
    -c "UPDATE pgbench_accounts SET filler = md5(aid::text) || md5((aid + 1)::text)" \
    -c "VACUUM FULL pgbench_accounts" -c "CHECKPOINT" -c "CHECKPOINT" >/dev/null ||
    die "making the realistic profile failed"
}
make_manyfiles() { # profile "manyfiles" (issue 22): TABLES (default 100000) one-row tables added in place, one file each
  local tables=${TABLES:-100000} first
  log "manyfiles: $tables one-row tables (CREATE TABLE AS, 5000 a transaction); CHECKPOINT"
  for ((first = 0; first < tables; first += 5000)); do
    psql_q -c "DO \$\$ BEGIN FOR i IN $first..$((first + 5000 < tables ? first + 4999 : tables - 1)) LOOP
      EXECUTE format('CREATE TABLE many_%s AS SELECT %s AS id', i, i); END LOOP; END \$\$" ||
      die "making the manyfiles profile failed"
  done
  psql_q -c "CHECKPOINT"
}
prepare_profile() { # prepare_profile <plain|realistic|manyfiles>: pgbench -i the first time, then the profile's changes
  [ "$INITIALISED" = 1 ] || pgbench_init
  if [ "$1" = realistic ]; then make_realistic; fi
  if [ "$1" = manyfiles ]; then make_manyfiles; fi
}
for_each_profile() { # for_each_profile <function>: calls it with every profile in PROFILES, plain first (the others are derived from it in place)
  local profile
  for profile in plain realistic manyfiles; do
    if [[ " $PROFILES " == *" $profile "* ]]; then "$1" "$profile"; fi
  done
}

# ---- measurement ----
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; } # user+nice+system+irq+softirq
# tree_ticks <pid>...: CPU ticks (utime + stime + cutime + cstime) of the given processes and all
# their descendants. A child reaped in between moves its ticks into its parent's cutime/cstime,
# so the sum over a tree only grows by real work. Arguments that are not numbers are skipped.
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
du_bytes() { # du_bytes <path>: its bytes, 0 when the path is missing
  local v
  v=$(du -sb "$1" 2>/dev/null | cut -f1)
  echo "${v:-0}"
}
settle_restore() { # before a timed restore (untimed): write back dirty pages, drop the page cache if DROP_CACHES=1
  sync
  if [ "$DROP_CACHES" = 1 ]; then
    echo 3 >/proc/sys/vm/drop_caches || die "cannot write /proc/sys/vm/drop_caches (DROP_CACHES=0 to skip)"
  fi
  sleep 1
}
# timed <name> cmd...: runs cmd as the bench user under timeout (step_limit) and /usr/bin/time,
# output in $B/run/<name>.out. Sets RC, WALL (s), MCPU (ticks of the whole machine), CUSER, CSYS
# (s) and CRSS (kB) of cmd and its children. Calls the driver's timed_before just before the clock
# starts and timed_after once it has stopped and the above are set (for the process trees it
# measures).
timed() {
  local name=$1 lim t0 t1 c0 c1 tf="$B/run/$1.time"
  shift
  lim=$(step_limit)
  rm -f "$tf"
  timed_before
  c0=$(machine_ticks)
  t0=$(date +%s.%N)
  RC=0
  as_user timeout -k 10 "$lim" /usr/bin/time -o "$tf" -f '%U %S %M' "$@" \
    >"$B/run/$name.out" 2>&1 </dev/null || RC=$?
  t1=$(date +%s.%N)
  c1=$(machine_ticks)
  WALL=$(echo "$t1 - $t0" | bc)
  MCPU=$((c1 - c0))
  CUSER=0 CSYS=0 CRSS=0
  if [ -s "$tf" ]; then
    read -r CUSER CSYS CRSS < <(grep -E '^[0-9.]+ [0-9.]+ [0-9]+$' "$tf" | tail -n1) || true
  fi
  timed_after
  if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
    log "  $name: timed out after $lim s"
  fi
}

# ---- pgmoneta daemon ----
# PGM is the daemon's directory (configuration, sockets, base_dir, logs); DAEMON_PID its pid.
DAEMON_PID=""
OURS_MISSING="" # set to the reason when the daemon cannot do its job: the rest of ours is skipped
PGM_KEYS_DONE=0
pgm_keys() { # master key (for aes-256-gcm) and the users vault with repl ($B/users.conf), once
  as_user env PGMONETA_PASSWORD=bench-master-password "$B/bin/pgmoneta-admin" master-key >/dev/null
  as_user env PGMONETA_PASSWORD=unused "$B/bin/pgmoneta-admin" -f "$B/users.conf" -U repl user add >/dev/null
  PGM_KEYS_DONE=1
}
pgm_cli() { as_user "$B/bin/pgmoneta-cli" -c "$PGM/cli.conf" "$@"; } # pgmoneta-cli on the daemon in PGM
# pgm_conf <compression> <level> <none|aes> <workers> [manifest_checksums]: writes
# $PGM/pgmoneta.conf (server primary = the bench cluster over TCP as repl, slot pgm_bench created
# by the daemon; no manifest_checksums line without the argument) and $PGM/cli.conf
pgm_conf() {
  local sums=""
  [ -z "${5:-}" ] || sums="manifest_checksums = $5
"
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
compression = $1
compression_level = $2
encryption = $([ "$3" = aes ] && echo aes-256-gcm || echo none)
workers = $4
${sums}retention = 30

[primary]
host = 127.0.0.1
port = $PORT
user = repl
wal_slot = pgm_bench
create_slot = yes
EOF
  printf '[pgmoneta]\nunix_socket_dir = %s/sock\n' "$PGM" >"$PGM/cli.conf"
  chown "$BENCH_USER:" "$PGM/pgmoneta.conf" "$PGM/cli.conf"
}
# pgm_start [answers] [append]: starts the daemon of $PGM/pgmoneta.conf as the bench user
# (stdout and stderr to $PGM/daemon.out, appended with "append"), sets DAEMON_PID. 0 when it
# streams WAL (status details: WalStreaming true), or with "answers" as soon as it answers;
# 1 when it has no pid, exits, or neither happens within 60 s.
# shellcheck disable=SC2120 # the arguments are optional
pgm_start() {
  local want=${1:-wal} _
  [ "$PGM_KEYS_DONE" = 1 ] || pgm_keys
  rm -f "$PGM/daemon.pid"
  # shellcheck disable=SC2016 # $$, $0 and $@ are the inner shell's
  if [ "${2:-}" = append ]; then
    as_user bash -c 'echo $$ >"$0"; exec "$@"' "$PGM/daemon.pid" \
      "$B/bin/pgmoneta" -c "$PGM/pgmoneta.conf" -u "$B/users.conf" >>"$PGM/daemon.out" 2>&1 </dev/null &
  else
    as_user bash -c 'echo $$ >"$0"; exec "$@"' "$PGM/daemon.pid" \
      "$B/bin/pgmoneta" -c "$PGM/pgmoneta.conf" -u "$B/users.conf" >"$PGM/daemon.out" 2>&1 </dev/null &
  fi
  for _ in $(seq 1 50); do
    [ -s "$PGM/daemon.pid" ] && break
    sleep 0.1
  done
  DAEMON_PID=$(cat "$PGM/daemon.pid" 2>/dev/null || true)
  [ -n "$DAEMON_PID" ] || return 1
  for _ in $(seq 1 120); do
    kill -0 "$DAEMON_PID" 2>/dev/null || return 1
    if [ "$want" = answers ]; then
      pgm_cli -F json status >/dev/null 2>&1 && return 0
    elif pgm_cli -F json status details 2>/dev/null | grep -q '"WalStreaming": *true'; then
      return 0
    fi
    sleep 0.5
  done
  return 1
}
# pgm_stop [errors]: shuts the daemon down (SIGTERM, then SIGKILL, after 15 s), with "errors"
# appends the ERROR and FATAL lines of its log to $B/pgmoneta-errors.log, drops its slot if idle
# shellcheck disable=SC2120 # the arguments are optional
pgm_stop() {
  if [ -n "$DAEMON_PID" ]; then
    pgm_cli shutdown >/dev/null 2>&1 || true
    stop_pid "$DAEMON_PID"
    DAEMON_PID=""
  fi
  if [ "${1:-}" = errors ]; then
    if [ -f "$PGM/pgmoneta.log" ]; then
      grep -E ' (ERROR|FATAL) ' "$PGM/pgmoneta.log" >>"$B/pgmoneta-errors.log" || true
    fi
  fi
  psql_q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
             WHERE slot_name = 'pgm_bench' AND NOT active" >/dev/null || true
}
daemon_log_tail() { # the last non-empty line of the daemon's log and output (300 characters at most)
  grep -v '^[[:space:]]*$' "$PGM/pgmoneta.log" "$PGM/daemon.out" 2>/dev/null | tail -n1 | cut -c1-300
}
not_available() { # not_available <output file>: its first "not available" line, trimmed; 1 when none
  grep -q -i 'not available' "$1" || return 1
  grep -i -m1 'not available' "$1" | sed 's/^[[:space:]]*//'
}

# ---- pgBackRest ----
# pgbr_write_conf <directory> [more [global] lines] [more [global:archive-push] lines]: writes
# <directory>/pgbackrest.conf, owned by the bench user: repository <directory>/repo, logs, locks
# and spool in <directory>, start-fast, archive-push compressed with lz4, stanza bench = the
# bench cluster
pgbr_write_conf() {
  local d=$1 g=${2:-} a=${3:-}
  cat >"$d/pgbackrest.conf" <<EOF
[global]
repo1-path=$d/repo
repo1-retention-full=99
log-path=$d/log
lock-path=$d/lock
spool-path=$d/spool
log-level-console=warn
log-level-file=info
start-fast=y
${g:+$g
}
[global:archive-push]
compress-type=lz4
${a:+$a
}
[bench]
pg1-path=$PGDATA
pg1-port=$PORT
pg1-socket-path=$PGSOCK
pg1-user=postgres
EOF
  chown "$BENCH_USER:" "$d/pgbackrest.conf"
}

# ---- report ----
note_missing() { # the "missing pgmoneta <reason>" line of RAW, when OURS_MISSING is set
  if [ -n "$OURS_MISSING" ]; then
    printf 'missing\tpgmoneta\t%s\n' "$OURS_MISSING" >>"$RAW"
  fi
}
show_daemon_errors() { # show_daemon_errors <log|logs>: the first 5 lines of $B/pgmoneta-errors.log, if any
  if [ -s "$B/pgmoneta-errors.log" ]; then
    log "errors in the daemon's $1 (first 5):"
    head -n 5 "$B/pgmoneta-errors.log"
  fi
}
# report_meta: sets META, the key=value arguments every report.py gets first (date, quick, cpus,
# cpu_model, kernel, postgresql) and OUT, the results prefix in RESULTS_DIR (created)
report_meta() {
  META=("date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" "quick=$QUICK" "cpus=$(nproc)"
    "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
    "kernel=$(uname -r)" "postgresql=$PG_VERSION_STR")
  mkdir -p "$RESULTS_DIR"
  OUT="$RESULTS_DIR/$(date -u +%Y-%m-%dT%H%M%SZ)"
}
pgmoneta_commit() { # short HEAD of the repository, "+dirty" with uncommitted changes below src
  echo "$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_DIR" diff --quiet HEAD -- src 2>/dev/null || echo '+dirty')"
}
build_type() { sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BIN_DIR/../CMakeCache.txt" 2>/dev/null || true; } # of BIN_DIR's build
elapsed() { echo $(($(date +%s) - START_TS)); } # seconds since the start
