#!/usr/bin/env bash
# Restore benchmark: restoring a full backup with pgmoneta (pgmoneta-cli restore) against
# pgBackRest restore and a plain cp -a of a data directory, of the same PostgreSQL 15 cluster, in
# the same run.
#
#   make bench-restore                 (as root: PostgreSQL, pgmoneta and pgBackRest run as the user pgmoneta)
#   make bench-restore QUICK=1         (scale 10, one run per configuration: a few minutes)
#   SCALE=50 RUNS=1 PROFILE=plain bash bench/restore/run.sh
#
# One throwaway cluster (loopback TCP port PORT plus a unix socket in the temp directory,
# wal_level = replica, archive_mode = on, data checksums), filled with pgbench -i -s SCALE, the
# same cluster and profiles as bench/backup/run.sh. Per profile, every configuration first takes
# ONE backup (untimed); then every restore is timed RUNS times in interleaved rounds (round 1 of
# every configuration, then round 2, ...). The timed command always ends with a plain `sync`.
# As root the page cache is dropped before every timed run (sync; echo 3 > drop_caches), so
# every restore reads its backup from the disk; not as root it is not (the output says so).
# Every configuration's restored directory is checked once (untimed): pg_control and PG_VERSION
# present, size without pg_wal within CHECK_TOLERANCE of the source.
# Prints Markdown tables (report.py) and writes JSON and CSV to RESULTS_DIR.
# See bench/restore/README.md for how to read it.
#
# Environment:
#   QUICK=1          SCALE 10, RUNS 1, shorter time limits
#   SCALE            pgbench scale (default 100; QUICK 10)
#   RUNS             timed restores per configuration and profile (default 3; QUICK 1)
#   PROFILE          plain | realistic | "plain realistic" (default both)
#   CONFIGS          default: every configuration below (space separated specs)
#                      pgm:<none|lz4|zstd>:<level>:<none|aes>:<workers>   pgmoneta daemon (the
#                        workers key is used by the backup and by the restore)
#                      pgbr:<none|lz4|zst>:<process-max>                  pgBackRest (backup and restore)
#                      cp        cp -a of a stopped copy of the data directory (pg_basebackup -Fp -X stream)
#                      cp:live   cp -a of the running, idle cluster's data directory (pg_wal included)
#   DROP_CACHES      1 (default when root): drop the page cache before every timed run; 0: never
#   CHECK_TOLERANCE  allowed relative size difference of a restored directory (default 0.05)
#   PORT             loopback TCP port of the cluster (default 5499, or the next free one)
#   BIN_DIR          pgmoneta binaries (default <repo>/build/bin)
#   PG_BIN           PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
#   BENCH_USER       unprivileged user when run as root (default pgmoneta)
#   BENCH_TMP        parent of the temporary directory (default /tmp)
#   RESULTS_DIR      where the JSON and CSV go (default /tmp/pgmoneta-bench-restore-results)
#   KEEP=1           keep the temporary directory (PostgreSQL and the daemon are still stopped)
#   KEEP_ON_FAILURE=1  keep it only when the run fails
#   STEP_TIMEOUT     limit of one backup, restore or data-loading step, seconds (default 1800; QUICK 300)
#   MAX_SECONDS      limit of the whole run (default 14400; QUICK 1500)
#
# The cluster, PostgreSQL, measurement and pgmoneta daemon helpers are copies of the ones in
# bench/backup/run.sh (kept apart so that the backup benchmark does not change).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$HERE/../.." && pwd)"
BIN_DIR="${BIN_DIR:-$REPO_DIR/build/bin}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
BENCH_USER="${BENCH_USER:-pgmoneta}"
BENCH_TMP="${BENCH_TMP:-/tmp}"
RESULTS_DIR="${RESULTS_DIR:-/tmp/pgmoneta-bench-restore-results}"
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
CONFIGS="${CONFIGS:-cp pgbr:zst:2 pgbr:lz4:2 pgbr:none:2 pgbr:zst:1
  pgm:zstd:3:none:2 pgm:zstd:3:none:1 pgm:lz4:1:none:2 pgm:none:0:none:2 pgm:zstd:3:aes:2}"
CHECK_TOLERANCE="${CHECK_TOLERANCE:-0.05}"
PORT="${PORT:-5499}"
if [ "$(id -u)" -eq 0 ]; then DROP_CACHES="${DROP_CACHES:-1}"; else DROP_CACHES=0; fi
START_TS=$(date +%s)
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[%4ds] %s\n' "$(($(date +%s) - START_TS))" "$*"; }
die() {
  printf 'bench-restore: %s\n' "$*" >&2
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
    pgm:*:*:*:*) NEED_PGM=1 ;;
    pgbr:*:*) NEED_PGBR=1 ;;
    cp | cp:live) ;;
    *) die "unknown configuration '$spec' (see the top of $0)" ;;
  esac
done
for b in initdb pg_ctl postgres psql pgbench pg_basebackup; do
  [ -x "$PG_BIN/$b" ] || die "$PG_BIN/$b not found (scripts/install-deps.sh installs postgresql-15)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
for b in python3 timeout bc; do
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
    echo "bench-restore: failed (exit $rc); KEEP_ON_FAILURE=1 keeps $B and its logs" >&2
    for f in "$B"/pgm/*/pgmoneta.log "$B/postgresql.log" "$B"/pgbr/*/log/*.log; do
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
    echo "bench-restore: kept $B" >&2
  else
    rm -rf "$B"
  fi
  exit $rc
}

B="$(mktemp -d "$BENCH_TMP/pgmoneta-bench-restore.XXXXXX")"
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
mkdir -p "$B"/{bin,home,pgsock,run,out,pgm,pgbr}
if [ "$NEED_PGM" = 1 ]; then
  cp "$BIN_DIR/pgmoneta" "$BIN_DIR/pgmoneta-cli" "$BIN_DIR/pgmoneta-admin" "$B/bin/"
fi
chmod 0700 "$B/home" "$B/pgsock"
chown -R "$BENCH_USER:" "$B"
cd "$B"
PGSOCK="$B/pgsock"
RAW="$B/raw.tsv" # one line per measurement, turned into the tables, JSON and CSV by report.py
: >"$RAW"
if [ "$DROP_CACHES" = 1 ]; then
  CACHE_NOTE="page cache dropped before every timed run (root)"
elif [ "$(id -u)" -eq 0 ]; then
  CACHE_NOTE="page cache NOT dropped (DROP_CACHES=0): warm-cache numbers"
else
  CACHE_NOTE="page cache NOT dropped (not root): warm-cache numbers"
fi

# ---- PostgreSQL ----
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
  port_busy "$PORT" || break
  PORT=$((PORT + 1))
done
port_busy "$PORT" && die "no free loopback port from ${PORT%??}.. found"

psql_q() { as_user "$PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PORT" -U postgres -d postgres "$@"; }

log "temporary directory $B (user $BENCH_USER); profiles: $PROFILES; scale $SCALE; $RUNS run(s); $CACHE_NOTE"
as_user "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=trust \
  --data-checksums --locale=C -E UTF8 >"$B/initdb.log" 2>&1 || {
  cat "$B/initdb.log" >&2
  die "initdb failed"
}
cat >>"$PGDATA/postgresql.conf" <<EOF

# bench/restore/run.sh
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
as_user "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$B/postgresql.log" -w -t 60 start >/dev/null ||
  die "PostgreSQL did not start; see $B/postgresql.log"
psql_q -c "CREATE ROLE repl WITH LOGIN REPLICATION SUPERUSER"
PG_VERSION_STR=$(psql_q -c "SELECT version()")
[ "$(psql_q -c 'SHOW data_checksums')" = on ] || die "data checksums are not on"
log "$PG_VERSION_STR; 127.0.0.1:$PORT and $PGSOCK; data checksums on"

# archive_command: '/bin/true' except while a pgBackRest backup is taken, which needs the
# archive-push of its own repository.
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
# CPU ticks (utime + stime + cutime + cstime) of the given processes and all their descendants.
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
    fields = s[s.rindex(")") + 2:].split()
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
du_bytes() { # 0 when the path is missing
  local v
  v=$(du -sb "$1" 2>/dev/null | cut -f1)
  echo "${v:-0}"
}
du_nowal() { # bytes of a data directory without pg_wal (whatever pg_wal is: directory or symlink)
  local all wal
  all=$(du_bytes "$1")
  wal=$(du_bytes "$1/pg_wal/")
  echo $((${all:-0} - ${wal:-0}))
}
settle() { # before every timed run (untimed): write back dirty pages, drop the page cache as root
  sync
  if [ "$DROP_CACHES" = 1 ]; then
    echo 3 >/proc/sys/vm/drop_caches || die "cannot write /proc/sys/vm/drop_caches (DROP_CACHES=0 to skip)"
  fi
  sleep 1
}

# timed <name> cmd...: runs cmd as the bench user under timeout and /usr/bin/time; sets WALL (s),
# MCPU (ticks of the machine), SCPU (ticks of the pgmoneta daemon's process tree), CUSER, CSYS
# (s), CRSS (kB), RC; output in $B/run/<name>.out.
timed() {
  local name=$1 lim t0 t1 c0 c1 s0 s1 tf="$B/run/$1.time"
  shift
  lim=$(step_limit)
  rm -f "$tf"
  s0=$(tree_ticks "${DAEMON_PID:-}")
  c0=$(machine_ticks)
  t0=$(date +%s.%N)
  RC=0
  as_user timeout -k 10 "$lim" /usr/bin/time -o "$tf" -f '%U %S %M' "$@" \
    >"$B/run/$name.out" 2>&1 </dev/null || RC=$?
  t1=$(date +%s.%N)
  c1=$(machine_ticks)
  WALL=$(echo "$t1 - $t0" | bc)
  MCPU=$((c1 - c0))
  s1=$(tree_ticks "${DAEMON_PID:-}")
  SCPU=$((s1 - s0))
  CUSER=0 CSYS=0 CRSS=0
  if [ -s "$tf" ]; then
    read -r CUSER CSYS CRSS < <(grep -E '^[0-9.]+ [0-9.]+ [0-9]+$' "$tf" | tail -n1) || true
  fi
  if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
    log "  $name: timed out after $lim s"
  fi
}
# record <profile> <tool> <label> <spec> <run> <status> <stored bytes> <restored bytes>
record() {
  printf 'run\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" \
    "$6" "$WALL" "$MCPU" "$CLK_TCK" "${CUSER:-0}" "${CSYS:-0}" "${CRSS:-0}" "$7" "$8" "$SCPU" >>"$RAW"
  log "  $1 $3 run $5: $6, $(printf '%.2f' "$WALL") s, machine CPU $(printf '%.1f' "$(echo "$MCPU / $CLK_TCK" | bc -l)") s, restored $(($8 / 1000000)) MB"
}
failure() { # failure <profile> <label> <file with the tool's output>
  printf 'failure\t%s\t%s\t%s\n' "$1" "$2" \
    "$(grep -v '^[[:space:]]*$' "$3" 2>/dev/null | tail -n1 | tr '\t' ' ' | cut -c1-400)" >>"$RAW"
}

label_of() { # human-readable label of a spec (what report.py prints)
  local t a b c d
  IFS=: read -r t a b c d <<<"$1"
  case "$t" in
    cp) if [ "$a" = live ]; then echo "cp -a live PGDATA + sync"; else echo "cp -a + sync"; fi ;;
    pgbr) if [ "$a" = zst ]; then echo "pgBackRest zst:3 p$b"; else echo "pgBackRest $a p$b"; fi ;;
    pgm)
      local l="pgmoneta $a"
      [ "$a" != none ] && l="$l:$b"
      [ "$c" = aes ] && l="$l+aes"
      echo "$l w$d"
      ;;
  esac
}
tool_of() {
  case "$1" in cp*) echo cp ;; pgbr:*) echo pgbackrest ;; pgm:*) echo pgmoneta ;; esac
}
tag_of() { echo "$1" | tr ':' '-'; }

# check_restore <profile> <spec> <dir> <extra problem or empty>: once per configuration and
# profile, untimed: pg_control and PG_VERSION are there and the size without pg_wal is within
# CHECK_TOLERANCE of the source's.
CHECKED=" "
check_restore() {
  local profile=$1 spec=$2 dir=$3 problem=${4:-} bytes
  [[ $CHECKED == *" $profile/$spec "* ]] && return 0
  CHECKED="$CHECKED$profile/$spec "
  [ -f "$dir/global/pg_control" ] || problem="${problem:+$problem; }no global/pg_control"
  [ "$(cat "$dir/PG_VERSION" 2>/dev/null)" = 15 ] || problem="${problem:+$problem; }PG_VERSION is not 15"
  bytes=$(du_nowal "$dir")
  local within
  within=$(python3 -c "import sys; s, r, t = map(float, sys.argv[1:]); print(int(abs(r - s) <= t * s))" \
    "$SOURCE_BYTES" "$bytes" "$CHECK_TOLERANCE")
  [ "$within" = 1 ] ||
    problem="${problem:+$problem; }$bytes bytes without pg_wal, source $SOURCE_BYTES (tolerance $CHECK_TOLERANCE)"
  local status=ok
  [ -z "$problem" ] || status=failed
  printf 'check\t%s\t%s\t%s\t%s\t%s\n' "$profile" "$(label_of "$spec")" "$status" "$bytes" "${problem:--}" >>"$RAW"
  log "  check $(label_of "$spec"): $status${problem:+ ($problem)}"
}

# ---- cp -a ----
# cp: the source is a stopped, consistent copy of the data directory made once per profile with
# pg_basebackup -Fp -X stream (so its pg_wal holds only the backup's own WAL, like a restore);
# cp:live: the running, idle cluster's PGDATA, pg_wal (all retained segments) included.
cp_source() {
  case "$1" in cp:live) echo "$PGDATA" ;; *) echo "$B/out/cpsrc" ;; esac
}
prepare_cp() {
  local profile=$1 spec=$2
  [ "$spec" = cp ] || return 0
  rm -rf "$B/out/cpsrc"
  as_user timeout "$(step_limit)" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres \
    -D "$B/out/cpsrc" --checkpoint=fast -Fp -X stream >"$B/run/cpsrc.out" 2>&1 || {
    cat "$B/run/cpsrc.out" >&2
    die "pg_basebackup (the source of cp) failed"
  }
  printf 'backup\t%s\t%s\t%s\n' "$profile" "$(label_of "$spec")" "$(du_bytes "$B/out/cpsrc")" >>"$RAW"
}
run_cp() {
  local profile=$1 run=$2 spec=$3 src dest="$B/out/cpdest"
  src=$(cp_source "$spec")
  rm -rf "$dest"
  settle
  timed cp bash -c 'cp -a "$0" "$1" && sync' "$src" "$dest"
  local status=ok
  if [ "$RC" != 0 ]; then
    status=failed
    failure "$profile" "$(label_of "$spec")" "$B/run/cp.out"
  fi
  record "$profile" cp "$(label_of "$spec")" "$spec" "$run" "$status" "$(du_bytes "$src")" "$(du_bytes "$dest")"
  if [ "$status" = ok ]; then
    check_restore "$profile" "$spec" "$dest"
  fi
  rm -rf "$dest"
}

# ---- pgBackRest ----
# One repository (and configuration file) per configuration; its backup is taken once per
# profile, with archive_command pointing at that repository's archive-push. stored = the whole
# repository: the backup set plus the WAL archived for it.
pgbr_conf() { echo "$B/pgbr/$(tag_of "$1")/pgbackrest.conf"; }
pgbr_setup() {
  local d
  d="$B/pgbr/$(tag_of "$1")"
  as_user mkdir -p "$d/log" "$d/lock" "$d/spool"
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

[global:archive-push]
compress-type=lz4

[bench]
pg1-path=$PGDATA
pg1-port=$PORT
pg1-socket-path=$PGSOCK
pg1-user=postgres
EOF
  chown "$BENCH_USER:" "$d/pgbackrest.conf"
}
prepare_pgbr() {
  local profile=$1 spec=$2 t ctype pmax conf
  IFS=: read -r t ctype pmax <<<"$spec"
  conf=$(pgbr_conf "$spec")
  [ -f "$conf" ] || pgbr_setup "$spec"
  wait_archived
  rm -rf "$(dirname "$conf")/repo"
  as_user mkdir -p "$(dirname "$conf")/repo"
  as_user "$PGBR_BIN" --config="$conf" --stanza=bench stanza-create >"$B/run/pgbr-stanza.out" 2>&1 || {
    cat "$B/run/pgbr-stanza.out" >&2
    die "pgbackrest stanza-create failed"
  }
  set_archive_command "$PGBR_BIN --config=$conf --stanza=bench archive-push %p"
  local args=(--type=full --process-max="$pmax" --compress-type="$ctype")
  [ "$ctype" = zst ] && args+=(--compress-level=3)
  [ "$ctype" = lz4 ] && args+=(--compress-level=1)
  psql_q -c "CHECKPOINT"
  local t0 t1
  t0=$(date +%s.%N)
  as_user timeout "$(step_limit)" "$PGBR_BIN" --config="$conf" --stanza=bench "${args[@]}" backup \
    >"$B/run/pgbr-backup.out" 2>&1 || {
    cat "$B/run/pgbr-backup.out" >&2
    die "pgbackrest backup ($spec) failed"
  }
  t1=$(date +%s.%N)
  wait_archived
  set_archive_command /bin/true
  printf 'backup\t%s\t%s\t%s\n' "$profile" "$(label_of "$spec")" "$(du_bytes "$(dirname "$conf")/repo")" >>"$RAW"
  log "  backup $(label_of "$spec"): $(echo "$t1 - $t0" | bc | xargs printf '%.2f') s, repository $(($(du_bytes "$(dirname "$conf")/repo") / 1000000)) MB"
}
run_pgbr() {
  local profile=$1 run=$2 spec=$3 t ctype pmax conf dest="$B/out/pgbrdest"
  IFS=: read -r t ctype pmax <<<"$spec"
  conf=$(pgbr_conf "$spec")
  rm -rf "$dest"
  as_user mkdir -m 0700 "$dest"
  settle
  timed "pgbr-$ctype-$pmax" bash -c '"$0" --config="$1" --stanza=bench --pg1-path="$2" --process-max="$3" restore && sync' \
    "$PGBR_BIN" "$conf" "$dest" "$pmax"
  local status=ok
  if [ "$RC" != 0 ]; then
    status=failed
    tail -n 5 "$B/run/pgbr-$ctype-$pmax.out" >&2 || true
    failure "$profile" "$(label_of "$spec")" "$B/run/pgbr-$ctype-$pmax.out"
  fi
  record "$profile" pgbackrest "$(label_of "$spec")" "$spec" "$run" "$status" \
    "$(du_bytes "$(dirname "$conf")/repo")" "$(du_bytes "$dest")"
  if [ "$status" = ok ]; then
    check_restore "$profile" "$spec" "$dest"
  fi
  rm -rf "$dest"
}

# ---- pgmoneta ----
# A directory per configuration ($B/pgm/<tag>: configuration, base_dir with the one backup of
# the current profile). The daemon runs only around that configuration's backup and each of its
# restores (at most one daemon, and one WAL receiver, at a time).
OURS_MISSING="" # set to the reason when the daemon cannot back up or restore: the rest of ours is skipped
PGM_KEYS_DONE=0
pgm_keys() {
  as_user env PGMONETA_PASSWORD=bench-master-password "$B/bin/pgmoneta-admin" master-key >/dev/null
  as_user env PGMONETA_PASSWORD=unused "$B/bin/pgmoneta-admin" -f "$B/users.conf" -U repl user add >/dev/null
  PGM_KEYS_DONE=1
}
pgm_dir() { echo "$B/pgm/$(tag_of "$1")"; }
pgm_cli() { as_user "$B/bin/pgmoneta-cli" -c "$PGM/cli.conf" "$@"; }
# pgm_start <spec> [answers]: 0 when the daemon answers and streams WAL; with "answers", as soon
# as it answers. A restore needs no WAL stream, and a restarted daemon resumes streaming from its
# newest local segment, which PostgreSQL may have removed meanwhile (the harness dropped the slot
# and other configurations' backups made PostgreSQL recycle WAL): it then retries every 30 s.
pgm_start() {
  local t comp level enc workers want=${2:-wal}
  IFS=: read -r t comp level enc workers <<<"$1"
  [ "$PGM_KEYS_DONE" = 1 ] || pgm_keys
  PGM=$(pgm_dir "$1")
  if [ ! -f "$PGM/pgmoneta.conf" ]; then
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
  fi
  rm -f "$PGM/daemon.pid"
  as_user bash -c 'echo $$ >"$0"; exec "$@"' "$PGM/daemon.pid" \
    "$B/bin/pgmoneta" -c "$PGM/pgmoneta.conf" -u "$B/users.conf" >>"$PGM/daemon.out" 2>&1 </dev/null &
  local _
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
pgm_stop() {
  if [ -n "$DAEMON_PID" ]; then
    pgm_cli shutdown >/dev/null 2>&1 || true
    stop_pid "$DAEMON_PID"
    DAEMON_PID=""
  fi
  psql_q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
             WHERE slot_name = 'pgm_bench' AND NOT active" >/dev/null || true
}
pgm_backups() { find "$PGM/base/primary/backup" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort; }
declare -A PGM_LABEL # per configuration tag: the label of the current profile's backup
prepare_pgm() {
  local profile=$1 spec=$2 tag
  tag=$(tag_of "$spec")
  PGM_LABEL[$tag]=""
  [ -z "$OURS_MISSING" ] || return 0
  # A fresh base_dir per profile: the previous profile's backup and WAL go (a daemon resuming
  # from its old newest segment would ask for WAL that PostgreSQL has removed meanwhile).
  PGM=$(pgm_dir "$spec")
  rm -rf "$PGM/base"
  as_user mkdir -p "$PGM/base"
  if ! pgm_start "$spec"; then
    OURS_MISSING="the daemon did not start or did not stream WAL within 60 s (daemon log: $(grep -v '^[[:space:]]*$' "$PGM/pgmoneta.log" "$PGM/daemon.out" 2>/dev/null | tail -n1 | cut -c1-300))"
    log "  pgmoneta: $OURS_MISSING"
    pgm_stop
    return 0
  fi
  psql_q -c "CHECKPOINT"
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  as_user timeout "$(step_limit)" "$B/bin/pgmoneta-cli" -c "$PGM/cli.conf" backup primary \
    >"$B/run/pgm-backup.out" 2>&1 </dev/null || rc=$?
  t1=$(date +%s.%N)
  if [ $rc != 0 ]; then
    if grep -q -i 'not available' "$B/run/pgm-backup.out"; then
      OURS_MISSING="pgmoneta-cli backup: $(grep -i -m1 'not available' "$B/run/pgm-backup.out" | sed 's/^[[:space:]]*//')"
    else
      log "  pgmoneta backup ($spec) failed:"
      tail -n 5 "$B/run/pgm-backup.out" >&2 || true
      failure "$profile" "$(label_of "$spec")" "$B/run/pgm-backup.out"
    fi
    pgm_stop
    return 0
  fi
  PGM_LABEL[$tag]=$(pgm_backups | tail -n1)
  local stored
  stored=$(du_bytes "$PGM/base/primary/backup/${PGM_LABEL[$tag]}")
  printf 'backup\t%s\t%s\t%s\n' "$profile" "$(label_of "$spec")" "$stored" >>"$RAW"
  log "  backup $(label_of "$spec"): $(echo "$t1 - $t0" | bc | xargs printf '%.2f') s, ${PGM_LABEL[$tag]}, $((stored / 1000000)) MB"
  pgm_stop
}
run_pgm() {
  local profile=$1 run=$2 spec=$3 tag label dest="$B/out/pgmdest"
  tag=$(tag_of "$spec")
  label=${PGM_LABEL[$tag]:-}
  [ -z "$OURS_MISSING" ] || return 0
  [ -n "$label" ] || return 0 # its backup failed: reported as a failure already
  if ! pgm_start "$spec" answers; then
    OURS_MISSING="the daemon did not start or did not answer within 60 s (daemon log: $(grep -v '^[[:space:]]*$' "$PGM/pgmoneta.log" "$PGM/daemon.out" 2>/dev/null | tail -n1 | cut -c1-300))"
    log "  pgmoneta: $OURS_MISSING"
    pgm_stop
    return 0
  fi
  rm -rf "$dest"
  as_user mkdir -m 0700 "$dest"
  settle
  timed pgm-restore bash -c '"$0" -c "$1" restore primary "$2" "$3" && sync' \
    "$B/bin/pgmoneta-cli" "$PGM/cli.conf" "$label" "$dest"
  local status=ok problem=""
  if [ "$RC" != 0 ]; then
    status=failed
    if grep -q -i 'not available' "$B/run/pgm-restore.out"; then
      OURS_MISSING="pgmoneta-cli restore: $(grep -i -m1 'not available' "$B/run/pgm-restore.out" | sed 's/^[[:space:]]*//')"
    fi
    log "  pgmoneta restore failed (exit $RC):"
    tail -n 5 "$B/run/pgm-restore.out" >&2 || true
    failure "$profile" "$(label_of "$spec")" "$B/run/pgm-restore.out"
  fi
  local restored="$dest/primary-$label"
  [ -d "$restored" ] || restored="$dest"
  record "$profile" pgmoneta "$(label_of "$spec")" "$spec" "$run" "$status" \
    "$(du_bytes "$PGM/base/primary/backup/$label")" "$(du_bytes "$restored")"
  if [ "$status" = ok ]; then
    [ -d "$dest/primary-$label" ] || problem="no directory primary-$label in $dest"
    check_restore "$profile" "$spec" "$restored" "$problem"
  fi
  pgm_stop
  rm -rf "$dest"
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
SOURCE_BYTES=0
run_profile() {
  local profile=$1 run spec
  [ "$INITIALISED" = 1 ] || pgbench_init
  if [ "$profile" = realistic ]; then make_realistic; fi
  local pgdata_bytes db_bytes
  pgdata_bytes=$(du_bytes "$PGDATA")
  SOURCE_BYTES=$(du_nowal "$PGDATA")
  db_bytes=$(psql_q -c "SELECT sum(pg_database_size(oid)) FROM pg_database")
  printf 'profile\t%s\t%s\t%s\t%s\t%s\n' "$profile" "$pgdata_bytes" "$db_bytes" "$(du_bytes "$PGDATA/pg_wal/")" "$SOURCE_BYTES" >>"$RAW"
  log "$profile: databases $((db_bytes / 1000000)) MB, data directory $((pgdata_bytes / 1000000)) MB ($((SOURCE_BYTES / 1000000)) MB without pg_wal)"
  log "$profile: one backup per configuration (untimed)"
  for spec in $CONFIGS; do
    check_deadline
    case "$spec" in
      cp*) prepare_cp "$profile" "$spec" ;;
      pgbr:*) prepare_pgbr "$profile" "$spec" ;;
      pgm:*) prepare_pgm "$profile" "$spec" ;;
    esac
  done
  log "$profile: timed restores, $RUNS round(s)"
  for run in $(seq 1 "$RUNS"); do
    for spec in $CONFIGS; do
      check_deadline
      case "$spec" in
        cp*) run_cp "$profile" "$run" "$spec" ;;
        pgbr:*) run_pgbr "$profile" "$run" "$spec" ;;
        pgm:*) run_pgm "$profile" "$run" "$spec" ;;
      esac
    done
  done
}

# plain first: realistic is derived from it in place.
for profile in plain realistic; do
  if [[ " $PROFILES " == *" $profile "* ]]; then run_profile "$profile"; fi
done
if [ -n "$OURS_MISSING" ]; then
  printf 'missing\tpgmoneta\t%s\n' "$OURS_MISSING" >>"$RAW"
fi
cat "$B"/pgm/*/pgmoneta.log 2>/dev/null | grep -E ' (ERROR|FATAL) ' >"$B/pgmoneta-errors.log" || true
if [ -s "$B/pgmoneta-errors.log" ]; then
  log "errors in the daemon's logs (first 5):"
  head -n 5 "$B/pgmoneta-errors.log"
fi

# ---- report ----
pg_stop
mkdir -p "$RESULTS_DIR"
OUT="$RESULTS_DIR/$(date -u +%Y-%m-%dT%H%M%SZ)"
python3 "$HERE/report.py" "$RAW" "$OUT" \
  "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" "quick=$QUICK" "cpus=$(nproc)" \
  "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" \
  "kernel=$(uname -r)" "postgresql=$PG_VERSION_STR" "scale=$SCALE" "runs=$RUNS" \
  "drop_caches=$DROP_CACHES" "cache_note=$CACHE_NOTE" \
  "pgbackrest=$([ "$NEED_PGBR" = 1 ] && "$PGBR_BIN" version || echo -)" \
  "pgmoneta_commit=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_DIR" diff --quiet HEAD -- src 2>/dev/null || echo '+dirty')" \
  "pgmoneta_build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BIN_DIR/../CMakeCache.txt" 2>/dev/null || true)" \
  "elapsed_s=$(($(date +%s) - START_TS))"
log "results written to $OUT.json and $OUT.csv"
