#!/usr/bin/env bash
# Incremental backup benchmark: pgmoneta's incremental backups (pgmoneta-cli backup primary
# <parent>) against pgBackRest --type=incr and pg_basebackup (full every time), and the restore
# of a 7-link chain against the restore of a full backup, on one PostgreSQL 15 cluster, in one run.
#
#   make bench-incremental             (as root: PostgreSQL, pgmoneta and pgBackRest run as the user pgmoneta)
#   make bench-incremental QUICK=1     (scale 10, one run: a few minutes)
#   SCALE=50 RUNS=1 PROFILE=realistic bash bench/incremental/run.sh
#
# One throwaway cluster (loopback TCP port PORT plus a unix socket in the temp directory,
# wal_level = replica, archive_mode = on, data checksums), filled with pgbench -i -s SCALE, the
# same cluster and profiles as bench/backup/run.sh ("plain", then "realistic" derived in place).
# Per profile and run, in this order (see bench/incremental/README.md):
#   1. full backup with every tool;
#   2. change ~1 % of pgbench_accounts' pages (one row in every 100th page), CHECKPOINT,
#      incremental with every tool (pg_basebackup: a full again);
#   3. change ~10 % of the pages (one row in every 10th page), CHECKPOINT, incremental on top;
#   4. four more "1 %" changes, each followed by an incremental (pgmoneta, pgBackRest), so that
#      the chain is full -> 6 incrementals (7 links);
#   5. timed restores: pgmoneta of the newest incremental (chain of 7) and of the chain's full
#      root; pgBackRest of its newest incr and of its full; pg_basebackup's newest tar
#      (unpacked); each restored copy is then started (untimed, as the bench user, another port)
#      and SELECT sum(abalance), count(*) FROM pgbench_accounts is compared with the source's
#      value at the time of that backup.
# Per backup or restore: wall s, CPU of the tool (pgmoneta: the daemon's process tree + the CLI;
# others: /usr/bin/time of the client and its children, plus pgBackRest's archive-push), CPU of
# the PostgreSQL server (postmaster and its descendants, from /proc), stored bytes (what the
# backup added on disk). Prints a Markdown table (report.py) and writes JSON and CSV to RESULTS_DIR.
#
# Environment:
#   QUICK=1          SCALE 10, RUNS 1, shorter time limits
#   SCALE            pgbench scale (default 100; QUICK 10)
#   RUNS             how many times the whole sequence runs per profile (default 1); medians are reported
#   PROFILE          plain | realistic | "plain realistic" (default both)
#   TOOLS            default "pgm pgbr pgb" (pgmoneta, pgBackRest, pg_basebackup); a subset skips the others
#   CHAIN_EXTRA      incrementals after the 1 % and 10 % ones (default 4, so the chain has 7 links)
#   DROP_CACHES      1 (default when root): drop the page cache before every timed restore; 0: never
#   PORT             loopback TCP port of the cluster (default 5497, or the next free one)
#   BIN_DIR          pgmoneta binaries (default <repo>/build/bin)
#   PG_BIN           PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
#   BENCH_USER       unprivileged user when run as root (default pgmoneta)
#   BENCH_TMP        parent of the temporary directory (default /tmp)
#   RESULTS_DIR      where the JSON and CSV go (default /tmp/pgmoneta-bench-incremental-results)
#   KEEP=1           keep the temporary directory (PostgreSQL and the daemon are still stopped)
#   KEEP_ON_FAILURE=1  keep it only when the run fails
#   STEP_TIMEOUT     limit of one backup, restore, check or data step, seconds (default 1800; QUICK 300)
#   MAX_SECONDS      limit of the whole run (default 7200; QUICK 1500)
#
# The cluster, PostgreSQL, measurement and pgmoneta daemon helpers are in bench/lib.sh (shared
# with the other benchmarks).
set -euo pipefail

BENCH=incremental
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"
RESULTS_DIR="${RESULTS_DIR:-/tmp/pgmoneta-bench-incremental-results}"
TOOLS="${TOOLS:-pgm pgbr pgb}"
CHAIN_EXTRA="${CHAIN_EXTRA:-4}"
PORT="${PORT:-5497}"
drop_caches_default
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
sizes 1 7200
for t in $TOOLS; do
  case "$t" in pgm | pgbr | pgb) ;; *) die "unknown tool '$t' in TOOLS (pgm, pgbr, pgb)" ;; esac
done
[[ $CHAIN_EXTRA =~ ^[0-9]+$ ]] || die "CHAIN_EXTRA must be a non-negative integer"
has_tool() { [[ " $TOOLS " == *" $1 "* ]]; }

# ---- prerequisites ----
need_pg_bins initdb pg_ctl postgres psql pgbench pg_basebackup
need_time
need_cmds python3 zstd tar timeout bc
PGBR_BIN=pgbackrest
if has_tool pgbr; then need_pgbackrest; fi
if has_tool pgm; then need_pgmoneta; fi

# ---- cleanup (lib.sh on_exit) ----
CHECK_PGDATA=""
check_pg_stop() { # the PostgreSQL started on a restored copy, if any
  if [ -n "$CHECK_PGDATA" ]; then pg_ctl_stop "$CHECK_PGDATA"; fi
  CHECK_PGDATA=""
}
failure_logs() { error_lines 'ERROR|FATAL|PANIC' "$B"/pgm/pgmoneta.log "$B/postgresql.log" "$B"/pgbr/log/*.log; }
stop_processes() {
  check_pg_stop
  if [ -n "$DAEMON_PID" ]; then stop_pid "$DAEMON_PID"; fi
}

if has_tool pgm; then workdir 1 chksock out pgm pgbr; else workdir 0 chksock out pgm pgbr; fi
chmod 0700 "$B/chksock"
cache_note "page cache dropped before every timed restore (root); backups read a warm cache"

# ---- PostgreSQL ----
PORT=$(free_port "$PORT") || die "no free loopback port from $PORT on found"
CHECK_PORT=$(free_port $((PORT + 1))) || die "no free loopback port after $PORT found"

log "temporary directory $B (user $BENCH_USER); profiles: $PROFILES; scale $SCALE; $RUNS run(s); tools: $TOOLS"
cluster

# archive_command: '/bin/true' except around pgBackRest's backups, which need its archive-push
# (each tool is measured with its own WAL machinery only). archive-push runs under /usr/bin/time,
# appending to $PGBR_ARCH_TIME, so that its CPU is counted as pgBackRest's, not the server's.
PGBR_ARCH_TIME="$B/pgbr/archive-push.time"
PGBR_ARCHIVE_CMD="/usr/bin/time -a -o $PGBR_ARCH_TIME -f %U+%S $PGBR_BIN --config=$B/pgbr/pgbackrest.conf --stanza=bench archive-push %p"

# ---- measurement ----
postmaster_pid() { head -n1 "$PGDATA/postmaster.pid" 2>/dev/null || true; }
arch_cpu() { # CPU seconds of every archive-push so far (pgBackRest's, under /usr/bin/time)
  if [ -f "$PGBR_ARCH_TIME" ]; then
    grep -E '^[0-9.]+\+[0-9.]+$' "$PGBR_ARCH_TIME" | paste -sd+ | sed 's/^$/0/' | bc
  else
    echo 0
  fi
}
du_many() { # du_many <path>...: bytes of all of them, a hardlinked file counted once; 0 for none
  [ $# -gt 0 ] || {
    echo 0
    return 0
  }
  local v
  v=$(du -sbc "$@" 2>/dev/null | tail -n1 | cut -f1)
  echo "${v:-0}"
}
# the daemon keeps streaming WAL while the others run: before a timed step, wait (at most 60 s)
# until its slot has caught up with the server, so that no catch-up runs inside a measurement
wait_daemon_caught_up() {
  [ -n "$DAEMON_PID" ] || return 0
  local _ lsn
  for _ in $(seq 1 120); do
    lsn=$(pgm_cli -F json status details 2>/dev/null | grep -o '"WalReceivedLsn": *"[0-9A-Fa-f]*/[0-9A-Fa-f]*"' |
      head -n1 | grep -o '[0-9A-Fa-f]*/[0-9A-Fa-f]*' || true)
    if [ -n "$lsn" ] && [ "$(psql_q -c "SELECT '$lsn'::pg_lsn >= pg_current_wal_flush_lsn()")" = t ]; then
      return 0
    fi
    sleep 0.5
  done
  log "  warning: the daemon's WAL stream is still behind after 60 s (WalReceivedLsn ${lsn:-unknown})"
}
settle_backup() { # before every timed backup (untimed): CHECKPOINT, daemon caught up, sync
  psql_q -c "CHECKPOINT"
  wait_daemon_caught_up
  sync
  sleep 1
}

# timed <name> cmd... (lib.sh) also sets MCPU_S (s of the whole machine), SRV_S (s of the
# PostgreSQL tree), DMN_S (s of the pgmoneta daemon's tree), ARCH_S (s of pgBackRest's
# archive-push), CLI_S (s of the client and its children).
timed_before() {
  TIMED_PM=$(postmaster_pid)
  TIMED_S0=$(tree_ticks "$TIMED_PM")
  TIMED_D0=$(tree_ticks "${DAEMON_PID:-}")
  TIMED_A0=$(arch_cpu)
}
timed_after() {
  local s1 d1 a1
  s1=$(tree_ticks "$TIMED_PM")
  d1=$(tree_ticks "${DAEMON_PID:-}")
  a1=$(arch_cpu)
  MCPU_S=$(echo "scale=3; $MCPU / $CLK_TCK" | bc)
  SRV_S=$(echo "scale=3; ($s1 - $TIMED_S0) / $CLK_TCK" | bc)
  DMN_S=$(echo "scale=3; ($d1 - $TIMED_D0) / $CLK_TCK" | bc)
  ARCH_S=$(echo "$a1 - $TIMED_A0" | bc)
  CLI_S=$(echo "${CUSER:-0} + ${CSYS:-0}" | bc)
}
# record <profile> <run> <tool> <kind> <status> <tool cpu s> <server cpu s> <stored bytes> <note>
#   kind: full | incr1 | incr10 | chain<N> (the N-th link, 1 % change) | restore-chain | restore-full
record() {
  printf 'm\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$WALL" "$6" "$7" \
    "$MCPU_S" "$8" "${9:--}" >>"$RAW"
  log "  $1 run $2 $3 $4: $5, $(printf '%.2f' "$WALL") s, tool CPU $(printf '%.2f' "$6") s, server CPU $(printf '%.2f' "$7") s, $(($8 / 1000)) kB${9:+ ($9)}"
}
failure() { # failure <profile> <tool> <kind> <file with the tool's output>
  printf 'failure\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" \
    "$(grep -v '^[[:space:]]*$' "$4" 2>/dev/null | tail -n1 | tr '\t' ' ' | cut -c1-400)" >>"$RAW"
}

# ---- the changes ----
# expected <tag>: the source's "sum(abalance) count(*)" now, stored as EXPECTED[<tag>] so that a
# restore of a backup taken at this point can be compared with it.
declare -A EXPECTED
source_sums() { psql_q -F ' ' -c "SELECT sum(abalance), count(*) FROM pgbench_accounts"; }
# change <profile> <run> <step name> <modulus> <remainder>: one row (the lowest ctid) in every
# page p of pgbench_accounts with p % modulus = remainder gets abalance + 1; then CHECKPOINT.
# Modulus 100 touches ~1 % of the heap's pages, 10 ~10 % (the new row versions go wherever there
# is room: pgbench fills its pages, so mostly to the end of the table; the index gets new entries).
change() {
  local profile=$1 run=$2 step=$3 mod=$4 rem=$5 relpages rows
  relpages=$(psql_q -c "SELECT pg_relation_size('pgbench_accounts') / 8192")
  rows=$(as_user timeout "$(step_limit)" "$PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PORT" -U postgres -d postgres \
    -c "WITH u AS (UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE ctid = ANY (ARRAY(
          SELECT min(ctid) FROM pgbench_accounts WHERE (ctid::text::point)[0]::bigint % $mod = $rem
          GROUP BY (ctid::text::point)[0]::bigint)) RETURNING 1) SELECT count(*) FROM u") ||
    die "the change $step failed"
  psql_q -c "CHECKPOINT"
  printf 'change\t%s\t%s\t%s\t%s\t%s\t%s\n' "$profile" "$run" "$step" "$mod" "$rows" "$relpages" >>"$RAW"
  log "$profile run $run: change $step: $rows rows in $rows of $relpages heap pages ($(echo "scale=2; 100 * $rows / $relpages" | bc) %) updated, CHECKPOINT"
}

# ---- pgmoneta ----
# One daemon per profile and run (zstd level 3, workers 2, as bench/backup's "pgmoneta zstd:3
# w2"), fresh base_dir, running for the whole sequence (as it would in production): its WAL
# receiver also streams the WAL written during the other tools' backups.
PGM="$B/pgm"
PGM_LABEL="pgmoneta zstd:3 w2"
pgm_start_fresh() { # a fresh $PGM (zstd:3, workers 2); 0 when the daemon answers and streams WAL
  rm -rf "$PGM"
  pgm_conf zstd 3 none 2 sha512
  pgm_start
}
pgm_backups() { find "$PGM/base/primary/backup" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | grep -E '^[0-9]{14}$' | sort || true; }
# list-backup -F raw (-F json prints sizes as "9.45MB"): "<label> <BackupSize> <Incremental> <IncrementalParent> <Valid>" per backup
pgm_list() {
  pgm_cli -F raw list-backup primary 2>/dev/null | python3 -c '
import json, sys
def walk(o):
    if isinstance(o, dict):
        if "Backup" in o and "BackupSize" in o:
            yield o
        for v in o.values():
            yield from walk(v)
    elif isinstance(o, list):
        for v in o:
            yield from walk(v)
try:
    doc = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
for b in walk(doc):
    print(b["Backup"], b.get("BackupSize", 0), str(b.get("Incremental", "")).lower(),
          b.get("IncrementalParent") or "-", str(b.get("Valid", "")).lower())
'
}
PGM_CHAIN=() # labels of the current chain, root first
declare -A PGM_AT # label -> change tag it was taken at
pgm_backup() { # pgm_backup <profile> <run> <kind> <tag>: a full (no chain yet) or an incremental on the newest
  local profile=$1 run=$2 kind=$3 tag=$4 before after label parent="" stored size prior=()
  [ -z "$OURS_MISSING" ] || return 0
  local -a args=(backup primary)
  if [ ${#PGM_CHAIN[@]} -gt 0 ]; then
    parent=${PGM_CHAIN[-1]}
    args+=("$parent")
  fi
  before=$(pgm_backups)
  settle_backup
  timed "pgm-$kind" "$B/bin/pgmoneta-cli" -c "$PGM/cli.conf" --no-progress "${args[@]}"
  if [ "$RC" != 0 ]; then
    local msg
    if msg=$(not_available "$B/run/pgm-$kind.out"); then
      OURS_MISSING="pgmoneta-cli backup: $msg"
      log "  pgmoneta: $OURS_MISSING"
      return 0
    fi
    log "  pgmoneta backup ($kind) failed (exit $RC):"
    tail -n 5 "$B/run/pgm-$kind.out" >&2 || true
    failure "$profile" "$PGM_LABEL" "$kind" "$B/run/pgm-$kind.out"
    record "$profile" "$run" "$PGM_LABEL" "$kind" failed "$(echo "$DMN_S + $CLI_S" | bc)" "$SRV_S" 0 "exit $RC"
    OURS_MISSING="backup $kind failed: $(grep -v '^[[:space:]]*$' "$B/run/pgm-$kind.out" | tail -n1 | cut -c1-200)"
    return 0
  fi
  after=$(pgm_backups)
  label=$(comm -13 <(echo "$before") <(echo "$after") | tail -n1)
  [ -n "$label" ] || die "pgmoneta-cli backup answered 0 but no new backup directory appeared"
  # what this backup added on disk: du of every backup with it minus du of the others (a file
  # hardlinked to an older backup counts once, in the older one)
  local l
  for l in $before; do prior+=("$PGM/base/primary/backup/$l"); done
  stored=$(($(du_many "${prior[@]}" "$PGM/base/primary/backup/$label") - $(du_many "${prior[@]}")))
  size=$(pgm_list | awk -v l="$label" '$1 == l {print $2 " incremental=" $3 " parent=" $4 " valid=" $5}')
  [ -n "$parent" ] && [[ $size != *"parent=$parent "* ]] &&
    log "  warning: list-backup does not show $label with parent $parent: '$size'"
  # the daemon's own breakdown (backup.info): ELAPSED, BASEBACKUP_ELAPSED (the stream),
  # LINKING_ELAPSED (hardlinking files identical to the previous backup's), MANIFEST_ELAPSED
  local phases
  phases=$(grep -E '^(ELAPSED|BASEBACKUP_ELAPSED|LINKING_ELAPSED|MANIFEST_ELAPSED)=' \
    "$PGM/base/primary/backup/$label/backup.info" 2>/dev/null | tr '\n' ' ')
  # its metadata (not in BackupSize, in stored): the block map, the manifests, backup.sha512
  local f
  for f in backup.blockmap backup.manifest backup.sha512 data/backup_manifest; do
    phases+="${f##*/}=$(du_bytes "$PGM/base/primary/backup/$label/$f") "
  done
  record "$profile" "$run" "$PGM_LABEL" "$kind" ok "$(echo "$DMN_S + $CLI_S" | bc)" "$SRV_S" "$stored" \
    "label=$label BackupSize=$size du=$(du_bytes "$PGM/base/primary/backup/$label") ${phases% }"
  PGM_CHAIN+=("$label")
  PGM_AT[$label]=$tag
}
pgm_restore() { # pgm_restore <profile> <run> <kind> <label>
  local profile=$1 run=$2 kind=$3 label=$4 dest="$B/out/pgmdest"
  [ -z "$OURS_MISSING" ] || return 0
  rm -rf "$dest"
  as_user mkdir -m 0700 "$dest"
  settle_restore
  timed "pgm-$kind" bash -c '"$0" -c "$1" --no-progress restore primary "$2" "$3" && sync' \
    "$B/bin/pgmoneta-cli" "$PGM/cli.conf" "$label" "$dest"
  local status=ok
  if [ "$RC" != 0 ]; then
    status=failed
    log "  pgmoneta restore ($kind) failed (exit $RC):"
    tail -n 5 "$B/run/pgm-$kind.out" >&2 || true
    failure "$profile" "$PGM_LABEL" "$kind" "$B/run/pgm-$kind.out"
  fi
  local restored="$dest/primary-$label"
  [ -d "$restored" ] || restored="$dest"
  record "$profile" "$run" "$PGM_LABEL" "$kind" "$status" "$(echo "$DMN_S + $CLI_S" | bc)" "$SRV_S" \
    0 "label=$label links=$(chain_links "$label") restored=$(du_bytes "$restored")"
  [ "$status" = ok ] && check_restore "$profile" "$run" "$PGM_LABEL" "$kind" "$restored" "${PGM_AT[$label]}"
  rm -rf "$dest"
}
chain_links() { # how many backups the restore of <label> reads (its chain, root included)
  local i n=0
  for i in "${!PGM_CHAIN[@]}"; do
    n=$((i + 1))
    [ "${PGM_CHAIN[$i]}" = "$1" ] && break
  done
  echo "$n"
}

# ---- pgBackRest ----
# One repository per profile and run (zst level 3, process-max 2); full, then incr on the newest.
PGBR_LABEL="pgBackRest zst:3 p2"
PGBR_SETS=() # backup set labels, full first
declare -A PGBR_AT
pgbr_setup() {
  rm -rf "$B/pgbr/repo" "$B/pgbr/log" "$B/pgbr/lock" "$B/pgbr/spool"
  as_user mkdir -p "$B/pgbr/repo" "$B/pgbr/log" "$B/pgbr/lock" "$B/pgbr/spool"
  pgbr_write_conf "$B/pgbr" "process-max=2
compress-type=zst
compress-level=3" "compress-level=1
process-max=1"
  as_user "$PGBR_BIN" --config="$B/pgbr/pgbackrest.conf" --stanza=bench stanza-create >"$B/run/pgbr-stanza.out" 2>&1 || {
    cat "$B/run/pgbr-stanza.out" >&2
    die "pgbackrest stanza-create failed"
  }
  PGBR_SETS=()
}
pgbr_sets() { find "$B/pgbr/repo/backup/bench" -mindepth 1 -maxdepth 1 -type d -name '2*' -printf '%f\n' 2>/dev/null | sort || true; }
pgbr_backup() { # pgbr_backup <profile> <run> <kind> <tag>
  local profile=$1 run=$2 kind=$3 tag=$4 type=incr before after set r0 r1
  [ ${#PGBR_SETS[@]} -gt 0 ] || type=full
  set_archive_command "$PGBR_ARCHIVE_CMD"
  before=$(pgbr_sets)
  r0=$(du_bytes "$B/pgbr/repo")
  settle_backup
  timed "pgbr-$kind" "$PGBR_BIN" --config="$B/pgbr/pgbackrest.conf" --stanza=bench --type="$type" backup
  r1=$(du_bytes "$B/pgbr/repo")
  wait_archived
  set_archive_command /bin/true
  if [ "$RC" != 0 ]; then
    log "  pgBackRest backup ($kind) failed (exit $RC):"
    tail -n 5 "$B/run/pgbr-$kind.out" >&2 || true
    failure "$profile" "$PGBR_LABEL" "$kind" "$B/run/pgbr-$kind.out"
    record "$profile" "$run" "$PGBR_LABEL" "$kind" failed "$(echo "$CLI_S + $ARCH_S" | bc)" "$(echo "$SRV_S - $ARCH_S" | bc)" 0 "exit $RC"
    return 0
  fi
  after=$(pgbr_sets)
  set=$(comm -13 <(echo "$before") <(echo "$after") | tail -n1)
  # stored: what the repository grew by: the new backup set plus the WAL archived for it
  record "$profile" "$run" "$PGBR_LABEL" "$kind" ok "$(echo "$CLI_S + $ARCH_S" | bc)" "$(echo "$SRV_S - $ARCH_S" | bc)" \
    $((r1 - r0)) "set=$set type=$type set_bytes=$(du_bytes "$B/pgbr/repo/backup/bench/$set") archive_push_cpu_s=$ARCH_S"
  PGBR_SETS+=("$set")
  PGBR_AT[$set]=$tag
}
pgbr_restore() { # pgbr_restore <profile> <run> <kind> <set>
  local profile=$1 run=$2 kind=$3 set=$4 dest="$B/out/pgbrdest"
  rm -rf "$dest"
  as_user mkdir -m 0700 "$dest"
  settle_restore
  timed "pgbr-$kind" bash -c '"$0" --config="$1" --stanza=bench --pg1-path="$2" --set="$3" restore && sync' \
    "$PGBR_BIN" "$B/pgbr/pgbackrest.conf" "$dest" "$set"
  local status=ok
  if [ "$RC" != 0 ]; then
    status=failed
    log "  pgBackRest restore ($kind) failed (exit $RC):"
    tail -n 5 "$B/run/pgbr-$kind.out" >&2 || true
    failure "$profile" "$PGBR_LABEL" "$kind" "$B/run/pgbr-$kind.out"
  fi
  record "$profile" "$run" "$PGBR_LABEL" "$kind" "$status" "$CLI_S" "$SRV_S" 0 \
    "set=$set restored=$(du_bytes "$dest")"
  [ "$status" = ok ] && check_restore "$profile" "$run" "$PGBR_LABEL" "$kind" "$dest" "${PGBR_AT[$set]}"
  rm -rf "$dest"
}

# ---- pg_basebackup ----
# Full every time (PostgreSQL 15 has no incremental backup): tar format, server-side zstd
# level 3 with 2 zstd threads; pg_wal.tar (WAL streamed during the backup) is not compressed.
PGB_LABEL="pg_basebackup server-zstd:3 w2"
PGB_LAST=""
PGB_LAST_TAG=""
pgb_backup() { # pgb_backup <profile> <run> <kind> <tag>
  local profile=$1 run=$2 kind=$3 tag=$4 out="$B/out/pgb-$3"
  rm -rf "$out"
  settle_backup
  timed "pgb-$kind" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$out" \
    --checkpoint=fast -Ft --compress=server-zstd:level=3,workers=2
  if [ "$RC" != 0 ]; then
    log "  pg_basebackup ($kind) failed (exit $RC):"
    tail -n 5 "$B/run/pgb-$kind.out" >&2 || true
    failure "$profile" "$PGB_LABEL" "$kind" "$B/run/pgb-$kind.out"
    record "$profile" "$run" "$PGB_LABEL" "$kind" failed "$CLI_S" "$SRV_S" 0 "exit $RC"
    rm -rf "$out"
    return 0
  fi
  record "$profile" "$run" "$PGB_LABEL" "$kind" ok "$CLI_S" "$SRV_S" "$(du_bytes "$out")" \
    "base=$(du_bytes "$out/base.tar.zst") pg_wal=$(du_bytes "$out/pg_wal.tar")"
  # keep only the newest one (for its restore)
  [ -n "$PGB_LAST" ] && [ "$PGB_LAST" != "$out" ] && rm -rf "$PGB_LAST"
  PGB_LAST=$out
  PGB_LAST_TAG=$tag
}
pgb_restore() { # unpack the newest pg_basebackup: zstd -d | tar -x, then pg_wal.tar into pg_wal; sync
  local profile=$1 run=$2 kind=$3 dest="$B/out/pgbdest"
  [ -n "$PGB_LAST" ] || return 0
  rm -rf "$dest"
  as_user mkdir -m 0700 "$dest"
  settle_restore
  timed "pgb-$kind" bash -c 'set -o pipefail; zstd -q -d -c "$0/base.tar.zst" | tar -xf - -C "$1" &&
    tar -xf "$0/pg_wal.tar" -C "$1/pg_wal" && sync' "$PGB_LAST" "$dest"
  local status=ok
  if [ "$RC" != 0 ]; then
    status=failed
    tail -n 5 "$B/run/pgb-$kind.out" >&2 || true
    failure "$profile" "$PGB_LABEL" "$kind" "$B/run/pgb-$kind.out"
  fi
  record "$profile" "$run" "$PGB_LABEL" "$kind" "$status" "$CLI_S" "$SRV_S" 0 "restored=$(du_bytes "$dest")"
  [ "$status" = ok ] && check_restore "$profile" "$run" "$PGB_LABEL" "$kind" "$dest" "$PGB_LAST_TAG"
  rm -rf "$dest"
}

# ---- check of a restored copy (untimed) ----
# check_restore <profile> <run> <tool> <kind> <dir> <tag>: start PostgreSQL on <dir> (as the bench
# user, port CHECK_PORT, no TCP, its own socket, archive_mode off), wait until it accepts
# connections and has left recovery, compare sum(abalance), count(*) with EXPECTED[<tag>].
check_restore() {
  local profile=$1 run=$2 tool=$3 kind=$4 dir=$5 tag=$6 got want=${EXPECTED[$6]:-} status=ok problem=""
  rm -f "$dir/postmaster.pid"
  cat >>"$dir/postgresql.conf" <<EOF

# bench/incremental/run.sh: check of a restored copy
listen_addresses = ''
port = $CHECK_PORT
unix_socket_directories = '$B/chksock'
archive_mode = off
shared_buffers = 128MB
EOF
  chown "$BENCH_USER:" "$dir/postgresql.conf"
  chmod 0700 "$dir"
  CHECK_PGDATA=$dir
  if ! as_user timeout "$(step_limit)" "$PG_BIN/pg_ctl" -D "$dir" -l "$B/run/check-$tool-$kind.log" -w -t 300 start \
    >/dev/null 2>&1; then
    problem="PostgreSQL did not start on the restored copy: $(grep -E 'FATAL|PANIC' "$B/run/check-${tool}-$kind.log" | tail -n1 | cut -c1-300)"
  else
    local _
    for _ in $(seq 1 120); do
      [ "$(as_user "$PG_BIN/psql" -XAtq -h "$B/chksock" -p "$CHECK_PORT" -U postgres -d postgres \
        -c "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
      sleep 0.5
    done
    got=$(as_user "$PG_BIN/psql" -XAtq -F ' ' -h "$B/chksock" -p "$CHECK_PORT" -U postgres -d postgres \
      -c "SELECT sum(abalance), count(*) FROM pgbench_accounts" 2>&1 | tail -n1) || true
    [ "$got" = "$want" ] || problem="sum(abalance) count(*) = '$got', expected '$want'"
  fi
  check_pg_stop
  [ -z "$problem" ] || status=failed
  printf 'check\t%s\t%s\t%s\t%s\t%s\t%s\n' "$profile" "$run" "$tool" "$kind" "$status" "${problem:-$got}" >>"$RAW"
  log "  check $tool $kind: $status (${problem:-sum, count = $got})"
}

# one backup step of every tool, in an order rotated by the run number (so that over several
# runs no tool always goes first after a change)
backup_step() { # backup_step <profile> <run> <kind> <tag> [chain-only]
  local profile=$1 run=$2 kind=$3 tag=$4 chain_only=${5:-} order=() i t n
  for t in $TOOLS; do order+=("$t"); done
  n=${#order[@]}
  for ((i = 0; i < n; i++)); do
    check_deadline
    t=${order[$(((i + run - 1) % n))]}
    case "$t" in
      pgm) pgm_backup "$profile" "$run" "$kind" "$tag" ;;
      pgbr) pgbr_backup "$profile" "$run" "$kind" "$tag" ;;
      pgb) [ -n "$chain_only" ] || pgb_backup "$profile" "$run" "$kind" "$tag" ;;
    esac
  done
}

# ---- data ----
INITIALISED=0
run_profile() {
  local profile=$1 run
  prepare_profile "$profile"
  local pgdata_bytes db_bytes
  pgdata_bytes=$(du_bytes "$PGDATA")
  db_bytes=$(psql_q -c "SELECT sum(pg_database_size(oid)) FROM pg_database")
  printf 'profile\t%s\t%s\t%s\t%s\t%s\n' "$profile" "$pgdata_bytes" "$db_bytes" "$(du_bytes "$PGDATA/pg_wal/")" \
    "$(psql_q -c "SELECT pg_relation_size('pgbench_accounts') / 8192")" >>"$RAW"
  log "$profile: databases $((db_bytes / 1000000)) MB, data directory $((pgdata_bytes / 1000000)) MB"
  for run in $(seq 1 "$RUNS"); do
    check_deadline
    PGM_CHAIN=()
    PGBR_SETS=()
    PGB_LAST=""
    rm -rf "$B"/out/pgb-*
    if has_tool pgm && [ -z "$OURS_MISSING" ]; then
      pgm_stop errors
      if ! pgm_start_fresh; then
        OURS_MISSING="the daemon did not start or did not stream WAL within 60 s (daemon log: $(daemon_log_tail))"
        log "  pgmoneta: $OURS_MISSING"
        pgm_stop errors
      fi
    fi
    has_tool pgbr && pgbr_setup

    EXPECTED[$run-0]=$(source_sums)
    log "$profile run $run: full backups"
    backup_step "$profile" "$run" full "$run-0"

    change "$profile" "$run" incr1 100 $((run % 100))
    EXPECTED[$run-1]=$(source_sums)
    log "$profile run $run: incrementals after ~1 % of the pages changed"
    backup_step "$profile" "$run" incr1 "$run-1"

    change "$profile" "$run" incr10 10 $(((run + 5) % 10))
    EXPECTED[$run-2]=$(source_sums)
    log "$profile run $run: incrementals after ~10 % of the pages changed"
    backup_step "$profile" "$run" incr10 "$run-2"

    local k
    for k in $(seq 1 "$CHAIN_EXTRA"); do
      change "$profile" "$run" "chain$((k + 3))" 100 $(((run + 10 * k + 3) % 100))
      EXPECTED[$run-$((k + 2))]=$(source_sums)
      log "$profile run $run: chain link $((k + 3)) after ~1 % of the pages changed"
      backup_step "$profile" "$run" "chain$((k + 3))" "$run-$((k + 2))" chain-only
    done

    log "$profile run $run: restores"
    if has_tool pgm && [ -z "$OURS_MISSING" ] && [ ${#PGM_CHAIN[@]} -gt 0 ]; then
      pgm_restore "$profile" "$run" restore-chain "${PGM_CHAIN[-1]}"
      check_deadline
      pgm_restore "$profile" "$run" restore-full "${PGM_CHAIN[0]}"
    fi
    check_deadline
    if has_tool pgbr && [ ${#PGBR_SETS[@]} -gt 0 ]; then
      pgbr_restore "$profile" "$run" restore-chain "${PGBR_SETS[-1]}"
      check_deadline
      pgbr_restore "$profile" "$run" restore-full "${PGBR_SETS[0]}"
    fi
    check_deadline
    has_tool pgb && pgb_restore "$profile" "$run" restore-full
    if [ -n "$DAEMON_PID" ]; then
      pgm_cli -F json list-backup primary >"$B/run/list-backup-$profile-$run.json" 2>&1 || true
      pgm_stop errors
    fi
  done
}

for_each_profile run_profile
note_missing
show_daemon_errors log

# ---- report ----
pg_stop
report_meta
python3 "$HERE/report.py" "$RAW" "$OUT" "${META[@]}" "scale=$SCALE" "runs=$RUNS" \
  "chain_links=$((3 + CHAIN_EXTRA))" "cache_note=$CACHE_NOTE" "load_before=$LOAD_BEFORE" \
  "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" \
  "pgbackrest=$(has_tool pgbr && "$PGBR_BIN" version || echo -)" \
  "pgmoneta_commit=$(pgmoneta_commit)" "pgmoneta_bin_dir=$BIN_DIR" "elapsed_s=$(elapsed)"
log "results written to $OUT.json and $OUT.csv"
