#!/usr/bin/env bash
# WAL receiver benchmark: pgmoneta's WAL receiver against pg_receivewal, in the same run.
#
#   make bench-wal                 (as root: runs everything as the user pgmoneta)
#   QUICK=1 bash bench/wal/run.sh  (about 3 minutes instead of about 10)
#
# Part 1 - receiver cost. Every receiver streams the SAME WAL at the same time, each from its
# own physical slot, while a fixed amount of WAL is generated (profile "realistic": INSERTs of
# md5 text rows, the headline; profile "pgbench": pgbench -i + TPC-B transactions, whose WAL
# compresses far better). Per receiver: CPU (utime+stime of the receiver process, all its
# threads) per GB of WAL, bytes stored per GB of WAL, peak RSS, and the CPU of the walsender
# serving it.
# Part 2 - synchronous mode. pgbench TPS (fsync = on, synchronous_commit = on) with no
# synchronous standby, with pgmoneta (wal_sync = on) as the synchronous standby, and with
# pg_receivewal --synchronous as the synchronous standby.
#
# Prints a table and writes it as JSON to bench/wal/results/<UTC date-time>.json (RESULTS_DIR).
# See bench/wal/README.md for how to read it.
#
# Environment:
#   QUICK=1            smaller WAL volumes and shorter pgbench runs
#   BIN_DIR            pgmoneta binaries (default <repo>/build/bin)
#   PG_BIN             PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
#   BENCH_USER         unprivileged user when run as root (default pgmoneta)
#   BENCH_TMP          parent of the temporary directory (default /tmp)
#   KEEP=1             keep the temporary directory (PostgreSQL and receivers are still stopped)
#   REAL_MB            WAL of the realistic profile in MB (default 1024, QUICK 256)
#   PGBENCH_SCALE, PGBENCH_TX   pgbench profile: -i -s SCALE, then -c 4 -t TX per client
#   PROFILES           default "realistic pgbench"
#   RECEIVERS          default "pgm:none:0:none pgm:zstd:3:none pgm:zstd:3:aes pgm:lz4:1:none pgm:lz4:3:none
#                               pgr:none pgr:lz4 pgr:gzip"
#                      pgm:<compression>:<compression_level>:<none|aes>, pgr:<none|lz4|gzip>
#   SYNC_CLIENTS, SYNC_SECONDS, SYNC_RUNS   part 2 pgbench (default 4 clients, 10 s, 5 rounds;
#                                           QUICK: 6 s, 3 rounds)
#   SKIP_STREAM=1, SKIP_SYNC=1              skip a part
#   MAX_SECONDS        hard limit for the whole run (default 900, QUICK 360)
#
# Temporary directory, cleanup, PostgreSQL start/stop and the report's machine arguments come from
# bench/lib.sh (shared with the other benchmarks).
set -euo pipefail

BENCH=wal
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"
RESULTS_DIR="${RESULTS_DIR:-$HERE/results}"
if [ "$QUICK" = 1 ]; then
  REAL_MB="${REAL_MB:-256}"
  PGBENCH_SCALE="${PGBENCH_SCALE:-8}"
  PGBENCH_TX="${PGBENCH_TX:-2500}"
  SYNC_SECONDS="${SYNC_SECONDS:-6}"
  SYNC_RUNS="${SYNC_RUNS:-3}"
  MAX_SECONDS="${MAX_SECONDS:-360}"
else
  REAL_MB="${REAL_MB:-1024}"
  PGBENCH_SCALE="${PGBENCH_SCALE:-25}"
  PGBENCH_TX="${PGBENCH_TX:-10000}"
  SYNC_SECONDS="${SYNC_SECONDS:-10}"
  SYNC_RUNS="${SYNC_RUNS:-5}"
  MAX_SECONDS="${MAX_SECONDS:-900}"
fi
SYNC_CLIENTS="${SYNC_CLIENTS:-4}"
PROFILES="${PROFILES:-realistic pgbench}"
RECEIVERS="${RECEIVERS:-pgm:none:0:none pgm:zstd:3:none pgm:zstd:3:aes pgm:lz4:1:none pgm:lz4:3:none pgr:none pgr:lz4 pgr:gzip}"
SKIP_STREAM="${SKIP_STREAM:-0}"
SKIP_SYNC="${SKIP_SYNC:-0}"
PORT=5432 # unix socket only (listen_addresses = ''), in a directory of our own
PSQL_DB="${DB:-postgres}"
PG_IMMEDIATE_TIMEOUT=60

check_deadline() { # dies only once past MAX_SECONDS (replaces lib.sh's, which dies at it)
  if [ $(($(date +%s) - START_TS)) -gt "$MAX_SECONDS" ]; then
    die "time limit of $MAX_SECONDS s exceeded (MAX_SECONDS)"
  fi
}

# ---- prerequisites ----
need_pgmoneta
need_pg_bins initdb pg_ctl postgres psql pgbench pg_receivewal
need_cmds python3

# ---- process bookkeeping and cleanup ----
# Every long-running process we start is recorded as "<pid> <kind> <name>" in $B/run/procs.
spawn() { # spawn <name> <kind> <log> cmd...: starts cmd as the bench user, prints its pid
  local name=$1 kind=$2 out=$3
  shift 3
  local pidfile="$B/run/$name.pid"
  rm -f "$pidfile"
  as_user bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >"$out" 2>&1 </dev/null &
  local _
  for _ in $(seq 1 100); do
    [ -s "$pidfile" ] && break
    sleep 0.05
  done
  [ -s "$pidfile" ] || die "$name did not start"
  local pid
  pid=$(cat "$pidfile")
  echo "$pid $kind $name" >>"$B/run/procs"
  echo "$pid"
}
stop_all_receivers() {
  [ -f "$B/run/procs" ] || return 0
  local pid kind name
  while read -r pid kind name; do
    stop_pid "$pid" 150 0.1
  done <"$B/run/procs"
  : >"$B/run/procs"
}
# lib.sh on_exit
failure_logs() { error_lines -i 'error|fatal|panic' "$B"/*/pgmoneta.log "$B"/*/receiver.out "$B/postgresql.log"; }
stop_processes() { stop_all_receivers; }

workdir 1

# ---- PostgreSQL ----
log "temporary directory $B (user $BENCH_USER)"
pg_initdb --auth-host=reject
pg_start <<EOF
listen_addresses = ''
port = $PORT
unix_socket_directories = '$PGSOCK'
wal_level = replica
max_wal_senders = 20
max_replication_slots = 20
shared_buffers = 256MB
max_wal_size = 4GB
min_wal_size = 256MB
checkpoint_timeout = 30min
fsync = on
synchronous_commit = on
full_page_writes = on
wal_compression = off
autovacuum = off
EOF
psql_q -c "CREATE ROLE repl WITH LOGIN REPLICATION"
psql_q -c "CREATE TABLE bench_tick (t timestamptz)"
PG_VERSION_STR=$(psql_q -c "SELECT version()")
SEG_SIZE=$(psql_q -c "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'")
[ "$(psql_q -c 'SHOW fsync')" = on ] || die "fsync is not on"
log "$PG_VERSION_STR; wal_segment_size $SEG_SIZE; fsync on; socket $PGSOCK"

# Master key (for aes-256-gcm) and a users vault for the daemons.
pgm_keys

# Closes the current WAL segment (after writing something, so the switch is never a no-op).
# Prints "<segment boundary as bytes> <name of the segment just completed>".
switch_wal() {
  psql_q -c "INSERT INTO bench_tick VALUES (now())"
  psql_q -F ' ' -c "SELECT (ceil(pg_wal_lsn_diff(l, '0/0') / $SEG_SIZE) * $SEG_SIZE)::numeric(30,0),
                            pg_walfile_name(l) FROM pg_switch_wal() l"
}

# ---- receivers ----
# A receiver is described by its spec; rx_* helpers derive its slot, directory and the file
# name a completed segment ends up with.
rx_slot() { # pgm:zstd:3:aes -> pgm_zstd3_aes, pgm:none:0:none -> pgm_none, pgr:none -> pgr_plain
  local tool a b c s
  IFS=: read -r tool a b c <<<"$1"
  if [ "$tool" = pgm ]; then
    s="pgm_$a"
    [ "$a" != none ] && s="$s$b"
    [ "$c" = aes ] && s="${s}_aes"
  else
    s="pgr_$a"
    [ "$a" = none ] && s=pgr_plain
  fi
  echo "${s}${2:-}"
}
rx_label() {
  local tool a b c
  IFS=: read -r tool a b c <<<"$1"
  if [ "$tool" = pgm ]; then
    local l="pgmoneta $a"
    [ "$a" != none ] && l="$l:$b"
    [ "$c" = aes ] && l="$l+aes-256-gcm"
    echo "$l"
  else
    if [ "$a" = none ]; then echo "pg_receivewal"; else echo "pg_receivewal $a"; fi
  fi
}
rx_suffix() {
  local tool a b c
  IFS=: read -r tool a b c <<<"$1"
  local s=""
  case "$tool:$a" in
    pgm:zstd) s=.zstd ;; pgm:lz4) s=.lz4 ;; pgm:gzip) s=.gz ;; pgm:bzip2) s=.bz2 ;;
    pgr:lz4) s=.lz4 ;; pgr:gzip) s=.gz ;;
  esac
  [ "$tool" = pgm ] && [ "$c" = aes ] && s="$s.aes"
  echo "$s"
}
declare -A RX_DIR RX_PID RX_SLOT RX_CLI

# start_receiver <spec> <slot> <sync 0|1>: starts a pgmoneta daemon or pg_receivewal on <slot>.
start_receiver() {
  local spec=$1 slot=$2 sync=$3 d="$B/$2" tool a b c
  IFS=: read -r tool a b c <<<"$spec"
  mkdir -p "$d"
  chown "$BENCH_USER:" "$d"
  psql_q -c "SELECT 1 FROM pg_create_physical_replication_slot('$slot', true)" >/dev/null
  if [ "$tool" = pgm ]; then
    local enc=none
    [ "$c" = aes ] && enc=aes-256-gcm
    as_user mkdir -p "$d/sock" "$d/base"
    cat >"$d/pgmoneta.conf" <<EOF
[pgmoneta]
host = localhost
unix_socket_dir = $d/sock
base_dir = $d/base
log_type = file
log_path = $d/pgmoneta.log
log_level = info
compression = $a
compression_level = ${b:-3}
encryption = $enc

[primary]
host = $PGSOCK
port = $PORT
user = repl
wal_slot = $slot
create_slot = yes
wal_sync = $([ "$sync" = 1 ] && echo on || echo off)
EOF
    printf '[pgmoneta]\nunix_socket_dir = %s/sock\n' "$d" >"$d/cli.conf"
    chown "$BENCH_USER:" "$d/pgmoneta.conf" "$d/cli.conf"
    spawn "$slot" daemon "$d/receiver.out" "$B/bin/pgmoneta" -c "$d/pgmoneta.conf" -u "$B/users.conf" >/dev/null
    RX_DIR[$slot]="$d/base/primary/wal"
    RX_CLI[$slot]="$d/cli.conf"
  else
    local args=(-D "$d/wal" -S "$slot" -h "$PGSOCK" -p "$PORT" -U repl -w -n)
    [ "$a" != none ] && args+=(--compress="$a")
    [ "$sync" = 1 ] && args+=(--synchronous -d "application_name=$slot")
    as_user mkdir -p "$d/wal"
    RX_PID[$slot]=$(spawn "$slot" pg_receivewal "$d/receiver.out" "$PG_BIN/pg_receivewal" "${args[@]}")
    RX_DIR[$slot]="$d/wal"
  fi
  RX_SLOT[$slot]=$spec
}

# pgmoneta's receiver is the daemon's wal/<server> child: its pid comes from status details.
pgm_receiver_pid() {
  as_user "$B/bin/pgmoneta-cli" -c "$1" -F json status details 2>/dev/null | python3 -c '
import json, sys
def walk(o):
    if isinstance(o, dict):
        if "WalReceiverPid" in o:
            print(o["WalReceiverPid"] if o.get("WalStreaming") else 0); sys.exit(0)
        for v in o.values(): walk(v)
    elif isinstance(o, list):
        for v in o: walk(v)
try:
    walk(json.load(sys.stdin))
except ValueError:
    pass
print(0)' 2>/dev/null || echo 0
}

# Waits until every slot in "$@" is streaming; fills RX_PID for pgmoneta receivers.
wait_streaming() {
  local slot _ ok pid
  for _ in $(seq 1 300); do
    check_deadline
    ok=1
    for slot in "$@"; do
      if [ "$(psql_q -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$slot'")" != t ]; then
        ok=0
        break
      fi
      if [[ ${RX_SLOT[$slot]} == pgm:* ]]; then
        pid=$(pgm_receiver_pid "${RX_CLI[$slot]}")
        if [ "$pid" = 0 ]; then
          ok=0
          break
        fi
        RX_PID[$slot]=$pid
      elif ! kill -0 "${RX_PID[$slot]}" 2>/dev/null; then
        die "pg_receivewal on $slot exited; see $B/$slot/receiver.out"
      fi
    done
    [ $ok = 1 ] && return 0
    sleep 0.2
  done
  die "receivers did not start streaming within 60 s: $*"
}

# Waits until every receiver has the completed (compressed/encrypted) file of segment $1.
wait_segment() {
  local seg=$1 slot _ ok
  shift
  for _ in $(seq 1 3000); do
    check_deadline
    ok=1
    for slot in "$@"; do
      kill -0 "${RX_PID[$slot]}" 2>/dev/null || die "receiver of $slot (pid ${RX_PID[$slot]}) is gone"
      if [ ! -e "${RX_DIR[$slot]}/$seg$(rx_suffix "${RX_SLOT[$slot]}")" ]; then
        ok=0
        break
      fi
    done
    [ $ok = 1 ] && return 0
    sleep 0.1
  done
  die "receivers did not store segment $seg within 300 s"
}

cpu_ticks() { # utime + stime of a process (all its threads), in clock ticks
  local stat rest
  stat=$(cat "/proc/$1/stat") || die "process $1 is gone"
  rest=${stat##*) }
  # fields after "pid (comm) ": state=1 ... utime=12 stime=13
  awk '{print $12 + $13}' <<<"$rest"
}
minflt() { # minor page faults of a process (all its threads)
  local stat
  stat=$(cat "/proc/$1/stat") || die "process $1 is gone"
  awk '{print $8}' <<<"${stat##*) }"
}
write_bytes() { # bytes the process caused to be written to storage (needs root; 0 otherwise)
  awk '/^write_bytes:/ {print $2; f=1} END {if (!f) print 0}' "/proc/$1/io" 2>/dev/null || echo 0
}
peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
stored_bytes() { # completed files only (no .partial, no temp files)
  find "$1" -maxdepth 1 -type f ! -name '*.partial' ! -name '*.tmp*' ! -name '*.history' -printf '%s\n' |
    awk '{s += $1} END {printf "%d\n", s}'
}
walsender_pid() { psql_q -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$1'"; }

# ---- part 1: receiver cost ----
generate_wal() { # generate_wal <profile>
  case "$1" in
    realistic)
      # Orders-like rows: random md5 text (incompressible hex), derived text, small ints.
      # 20,000 rows (~5 MB of WAL) per transaction until REAL_MB of WAL are written.
      psql_q -c "CREATE TABLE IF NOT EXISTS orders (id bigint PRIMARY KEY, customer int,
                 token text, ref text, note text, amount numeric(12,2), created timestamptz)"
      psql_q -c "DO \$\$
        DECLARE
          start pg_lsn := pg_current_wal_insert_lsn();
          n bigint := coalesce((SELECT max(id) FROM orders), 0);
        BEGIN
          LOOP
            INSERT INTO orders
              SELECT g, (g * 7919) % 100000, md5(random()::text), md5(g::text) || md5((g % 977)::text),
                     'order ' || g || ' status ' || (ARRAY['new','paid','shipped','returned'])[1 + g % 4],
                     (random() * 1000)::numeric(12,2), now()
              FROM generate_series(n + 1, n + 20000) g;
            n := n + 20000;
            COMMIT;
            EXIT WHEN pg_wal_lsn_diff(pg_current_wal_insert_lsn(), start) >= $REAL_MB * 1000000::numeric;
          END LOOP;
        END \$\$"
      ;;
    pgbench)
      as_user "$PG_BIN/pgbench" -h "$PGSOCK" -p "$PORT" -U postgres -i -s "$PGBENCH_SCALE" -q postgres \
        >"$B/pgbench-init.log" 2>&1 || die "pgbench -i failed; see $B/pgbench-init.log"
      as_user "$PG_BIN/pgbench" -h "$PGSOCK" -p "$PORT" -U postgres -n -c 4 -j 2 -t "$PGBENCH_TX" postgres \
        >"$B/pgbench-run.log" 2>&1 || die "pgbench failed; see $B/pgbench-run.log"
      ;;
    *) die "unknown profile $1" ;;
  esac
}

stream_profile() {
  local profile=$1 spec slot slots=() boundary seg end_boundary end_seg t0 t1
  declare -A c0 w0 s0 f0 io0 wpid
  for spec in $RECEIVERS; do
    slot=$(rx_slot "$spec" "_$profile")
    start_receiver "$spec" "$slot" 0
    slots+=("$slot")
  done
  wait_streaming "${slots[@]}"
  # Start of the window: a segment boundary every receiver has completely stored.
  read -r boundary seg < <(switch_wal)
  wait_segment "$seg" "${slots[@]}"
  for slot in "${slots[@]}"; do
    c0[$slot]=$(cpu_ticks "${RX_PID[$slot]}")
    wpid[$slot]=$(walsender_pid "$slot")
    w0[$slot]=$(cpu_ticks "${wpid[$slot]}")
    s0[$slot]=$(stored_bytes "${RX_DIR[$slot]}")
    f0[$slot]=$(minflt "${RX_PID[$slot]}")
    io0[$slot]=$(write_bytes "${RX_PID[$slot]}")
  done
  log "$profile: ${#slots[@]} receivers streaming from segment boundary $boundary; generating WAL"
  t0=$(date +%s.%N)
  generate_wal "$profile"
  read -r end_boundary end_seg < <(switch_wal)
  t1=$(date +%s.%N)
  log "$profile: generated $(((end_boundary - boundary) / 1000000)) MB of WAL in $(printf '%.1f' "$(bc <<<"$t1 - $t0")") s; waiting for every receiver to store $end_seg"
  wait_segment "$end_seg" "${slots[@]}"
  local t2
  t2=$(date +%s.%N)
  for slot in "${slots[@]}"; do
    [ "$(walsender_pid "$slot")" = "${wpid[$slot]}" ] || die "walsender of $slot restarted during the measurement"
    printf 'stream\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$profile" "$(rx_label "${RX_SLOT[$slot]}")" \
      "$((end_boundary - boundary))" "$(($(stored_bytes "${RX_DIR[$slot]}") - s0[$slot]))" \
      "$(($(cpu_ticks "${RX_PID[$slot]}") - c0[$slot]))" "$(($(cpu_ticks "${wpid[$slot]}") - w0[$slot]))" \
      "$(peak_rss_kb "${RX_PID[$slot]}")" "$CLK_TCK" "${RX_SLOT[$slot]}" \
      "$(($(minflt "${RX_PID[$slot]}") - f0[$slot]))" "$(($(write_bytes "${RX_PID[$slot]}") - io0[$slot]))" >>"$RAW"
  done
  # Library floor: the zstd/lz4 command-line tools (same libraries) on the same segments, taken
  # from the plain pg_receivewal copy, after streaming ended (no contention). Output discarded.
  local plain_slot
  plain_slot=$(rx_slot pgr:none "_$profile")
  if [ -n "${RX_DIR[$plain_slot]:-}" ] && [ -d "${RX_DIR[$plain_slot]}" ]; then
    local files=() f tool_cmd
    echo "$seg $end_seg" >"$B/window-$profile" # for debugging with KEEP=1
    while IFS= read -r f; do files+=("${RX_DIR[$plain_slot]}/$f"); done < <(
      find "${RX_DIR[$plain_slot]}" -maxdepth 1 -type f -printf '%f\n' | grep -E '^[0-9A-F]{24}$' | sort | awk -v a="$seg" -v b="$end_seg" '($0 "") > (a "") && ($0 "") <= (b "")')
    # Correctness: every other receiver's copy of every segment in the window must decode to the
    # same bytes as pg_receivewal's plain copy (aes files are not decrypted here).
    local other name dec ok_n bad_n
    for other in "${slots[@]}"; do
      [ "$other" = "$plain_slot" ] && continue
      ok_n=0 bad_n=0
      for f in "${files[@]}"; do
        name="${RX_DIR[$other]}/$(basename "$f")$(rx_suffix "${RX_SLOT[$other]}")"
        case "$name" in
          *.aes) continue ;;
          *.zstd) dec=(zstd -q -d -c) ;;
          # Our .lz4 is pgmoneta's block stream, which lz4(1) does not read (docs/backup.md);
          # tests/integration/wal_test.cc checks those segments.
          *.lz4)
            if [ "${RX_SLOT[$other]%%:*}" = pgm ]; then continue; fi
            dec=(lz4 -q -d -c)
            ;;
          *.gz) dec=(gzip -d -c) ;;
          *) dec=(cat) ;;
        esac
        command -v "${dec[0]}" >/dev/null || continue
        if "${dec[@]}" "$name" 2>/dev/null | cmp -s - "$f"; then ok_n=$((ok_n + 1)); else bad_n=$((bad_n + 1)); fi
      done
      [ $((ok_n + bad_n)) -gt 0 ] || continue # nothing decodable here (encrypted)
      printf 'verify\t%s\t%s\t%s\t%s\t%s\n' "$profile" "$(rx_label "${RX_SLOT[$other]}")" "$ok_n" "$bad_n" "${#files[@]}" >>"$RAW"
      [ "$bad_n" = 0 ] || log "$profile: WARNING: $bad_n segments of $other differ from pg_receivewal's plain copy"
    done
    for tool_cmd in "zstd -3" "lz4 -1"; do
      command -v "${tool_cmd%% *}" >/dev/null || continue
      local t
      t=$( { TIMEFORMAT='%U %S'; time (for f in "${files[@]}"; do $tool_cmd -q -c "$f" >/dev/null; done); } 2>&1 | tail -n1)
      printf 'floor\t%s\t%s\t%s\t%s\n' "$profile" "$tool_cmd" "$((${#files[@]} * SEG_SIZE))" "$t" >>"$RAW"
    done
  fi
  printf 'window\t%s\t%s\t%s\n' "$profile" "$(bc <<<"$t1 - $t0")" "$(bc <<<"$t2 - $t0")" >>"$RAW"
  log "$profile: all receivers caught up $(printf '%.1f' "$(bc <<<"$t2 - $t1")") s after the last WAL was written"
  # Verify the stored WAL of every receiver decodes to the same bytes as pg_receivewal's plain copy
  # would be too costly here; check counts instead: one stored file per segment in the window.
  local nseg=$(((end_boundary - boundary) / SEG_SIZE))
  for slot in "${slots[@]}"; do
    local have
    have=$(find "${RX_DIR[$slot]}" -maxdepth 1 -type f ! -name '*.partial' ! -name '*.tmp*' ! -name '*.history' | wc -l)
    [ "$have" -ge "$nseg" ] || die "$slot stored $have segment files, expected at least $nseg"
  done
  stop_all_receivers
  for slot in "${slots[@]}"; do
    psql_q -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
    [ "$KEEP" = 1 ] || rm -rf "${B:?}/$slot"
  done
  psql_q -c "CHECKPOINT"
}

if [ "$SKIP_STREAM" != 1 ]; then
  for profile in $PROFILES; do
    stream_profile "$profile"
  done
fi

# ---- part 2: synchronous mode ----
tps_run() { # tps_run <mode> <run> [receiver pid]
  psql_q -c "CHECKPOINT"
  local out cpu0=0 cpu1=0
  [ -n "${3:-}" ] && cpu0=$(cpu_ticks "$3")
  out=$(as_user "$PG_BIN/pgbench" -h "$PGSOCK" -p "$PORT" -U postgres -n -c "$SYNC_CLIENTS" -j 2 \
    -T "$SYNC_SECONDS" sync 2>&1) || {
    echo "$out" >&2
    die "pgbench ($1) failed"
  }
  [ -n "${3:-}" ] && cpu1=$(cpu_ticks "$3")
  local tps tx
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*without initial connection time.*/\1/p' <<<"$out")
  [ -n "$tps" ] || tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | tail -n1)
  tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
  printf 'sync\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$tps" "$SYNC_CLIENTS" "$SYNC_SECONDS" \
    "${tx:-0}" "$((cpu1 - cpu0))" "$CLK_TCK" >>"$RAW"
  log "sync: $1 run $2: $tps TPS"
}
set_sync_standby() { # set_sync_standby <application_name or empty>
  psql_q -c "ALTER SYSTEM SET synchronous_standby_names = '${1:+\"$1\"}'"
  psql_q -c "SELECT pg_reload_conf()" >/dev/null
  sleep 0.5
  if [ -n "$1" ]; then
    local _
    for _ in $(seq 1 100); do
      [ "$(psql_q -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$1'")" = sync ] && return 0
      sleep 0.2
    done
    die "$1 did not become the synchronous standby"
  fi
}

if [ "$SKIP_SYNC" != 1 ]; then
  as_user "$PG_BIN/createdb" -h "$PGSOCK" -p "$PORT" -U postgres sync
  as_user "$PG_BIN/pgbench" -h "$PGSOCK" -p "$PORT" -U postgres -i -s 10 -q sync >"$B/pgbench-sync-init.log" 2>&1 ||
    die "pgbench -i failed; see $B/pgbench-sync-init.log"
  log "sync: pgbench -c $SYNC_CLIENTS -j 2 -T $SYNC_SECONDS, $SYNC_RUNS runs per mode, interleaved"
  for run in $(seq 1 "$SYNC_RUNS"); do
    check_deadline
    set_sync_standby ""
    tps_run "none" "$run"
    for spec in pgm:none:0:none pgr:none; do
      slot=$(rx_slot "$spec" _sync)
      if [ -d "$B/$slot" ]; then # a fresh slot and directory for every run
        psql_q -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
        rm -rf "${B:?}/$slot"
      fi
      start_receiver "$spec" "$slot" 1
      wait_streaming "$slot"
      set_sync_standby "$slot"
      if [[ $spec == pgm:* ]]; then mode="pgmoneta wal_sync=on"; else mode="pg_receivewal --synchronous"; fi
      tps_run "$mode" "$run" "${RX_PID[$slot]}"
      set_sync_standby ""
      stop_all_receivers
    done
  done
fi

# ---- report ----
stop_all_receivers
report_meta
OUT="$OUT.json"
python3 "$HERE/report.py" "$RAW" "$OUT" "${META[@]}" \
  "pgmoneta_commit=$(pgmoneta_commit)" "pgmoneta_build_type=$(build_type)" \
  "pg_receivewal=$("$PG_BIN/pg_receivewal" --version)" "wal_segment_size=$SEG_SIZE" \
  "realistic_target_mb=$REAL_MB" "pgbench_scale=$PGBENCH_SCALE" "pgbench_tx_per_client=$PGBENCH_TX" \
  "sync_clients=$SYNC_CLIENTS" "sync_seconds=$SYNC_SECONDS" "sync_runs=$SYNC_RUNS" \
  "elapsed_s=$(elapsed)"
chown -R --reference="$HERE" "$RESULTS_DIR" 2>/dev/null || true
log "results written to $OUT"
