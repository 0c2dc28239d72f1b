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
#   PROFILE          plain | realistic | manyfiles | "plain realistic" (default both; manyfiles
#                    adds TABLES, default 100000, one-row tables: see bench/backup/README.md)
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
#
# The cluster, PostgreSQL, measurement and pgmoneta daemon helpers are in bench/lib.sh (shared
# with the other benchmarks).
set -euo pipefail

BENCH=backup
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"
RESULTS_DIR="${RESULTS_DIR:-/tmp/pgmoneta-bench-backup-results}"
sizes 3 14400
CONFIGS="${CONFIGS:-ceil pgb:plain pgb:client-zstd pgb:client-lz4 pgb:server-zstd
  pgbr:none:1 pgbr:lz4:1 pgbr:zst:1 pgbr:none:2 pgbr:lz4:2 pgbr:zst:2
  pgm:none:0:none:1 pgm:lz4:1:none:1 pgm:zstd:3:none:1 pgm:zstd:3:aes:1
  pgm:none:0:none:2 pgm:lz4:1:none:2 pgm:zstd:3:none:2 pgm:zstd:3:aes:2}"
SECOND="${SECOND:-1}"
PORT="${PORT:-5499}"

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
need_pg_bins initdb pg_ctl postgres psql pgbench pg_basebackup
need_time
need_cmds python3 zstd tar timeout
PGBR_BIN=pgbackrest
[ "$NEED_PGBR" = 0 ] || need_pgbackrest
[ "$NEED_PGM" = 0 ] || need_pgmoneta

# ---- cleanup (lib.sh on_exit) ----
failure_logs() { error_lines 'ERROR|FATAL|PANIC' "$B"/pgm/pgmoneta.log "$B/postgresql.log" "$B"/pgbr/log/*.log; }
stop_processes() { if [ -n "$DAEMON_PID" ]; then stop_pid "$DAEMON_PID"; fi; }

workdir "$NEED_PGM" out

# ---- PostgreSQL ----
first_port=$PORT
PORT=$(free_port "$PORT" 51) || {
  first_port=$((first_port + 50))
  die "no free loopback port from ${first_port%??}.. found"
}

log "temporary directory $B (user $BENCH_USER); profiles: $PROFILES; scale $SCALE; $RUNS run(s)"
cluster

# archive_command: '/bin/true' except around pgBackRest runs, which need their own archive-push
# (each tool is measured with its own WAL machinery only).
PGBR_ARCHIVE_CMD="$PGBR_BIN --config=$B/pgbr/pgbackrest.conf --stanza=bench archive-push %p"

# ---- measurement ----
server_roots() { # the postmaster and, when running, the pgmoneta daemon
  head -n1 "$PGDATA/postmaster.pid" 2>/dev/null || true
  echo "${DAEMON_PID:-}"
}
settle() { # before every run: CHECKPOINT, then write back dirty pages (untimed)
  psql_q -c "CHECKPOINT"
  sync
  sleep 1
}

# timed <name> cmd... (lib.sh) also sets SCPU: ticks of the PostgreSQL and daemon process trees.
timed_before() {
  TIMED_ROOTS=$(server_roots)
  # shellcheck disable=SC2086
  TIMED_S0=$(tree_ticks $TIMED_ROOTS)
}
timed_after() {
  local s1
  # shellcheck disable=SC2086
  s1=$(tree_ticks $TIMED_ROOTS)
  SCPU=$((s1 - TIMED_S0))
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
  pgbr_write_conf "$B/pgbr"
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
PGM="$B/pgm"
pgm_start_spec() { # pgm_start_spec <spec>: a fresh $PGM; 0 when the daemon answers and streams WAL (at most 60 s)
  local t comp level enc workers sums
  IFS=: read -r t comp level enc workers sums <<<"$1"
  rm -rf "$PGM"
  pgm_conf "$comp" "$level" "$enc" "$workers" "${sums:-sha512}"
  pgm_start || return 1
  [ "$(pgm_cli conf get workers 2>/dev/null | tr -d '[:space:]')" = "$workers" ] ||
    log "  warning: pgmoneta-cli conf get workers does not say $workers"
}
pgm_done() { # stop the daemon, keep its errors, remove $PGM (unless KEEP=1)
  pgm_stop errors
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
    local msg
    if msg=$(not_available "$B/run/pgm-backup.out"); then
      OURS_MISSING="pgmoneta-cli backup: $msg"
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
  if ! pgm_start_spec "$spec"; then
    OURS_MISSING="the daemon did not start or did not stream WAL within 60 s ($(tail -n1 "$PGM/daemon.out" 2>/dev/null))"
    log "  pgmoneta: $OURS_MISSING"
    pgm_done
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
  pgm_done
}

# ---- data ----
INITIALISED=0
PROFILE_DONE=""
run_profile() {
  local profile=$1 run spec
  prepare_profile "$profile"
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

for_each_profile run_profile
note_missing

# ---- report ----
pg_stop
report_meta
python3 "$HERE/report.py" "$RAW" "$OUT" "${META[@]}" "scale=$SCALE" "runs=$RUNS" \
  "pgbackrest=$([ "$NEED_PGBR" = 1 ] && "$PGBR_BIN" version || echo -)" \
  "pgmoneta_commit=$(pgmoneta_commit)" "pgmoneta_build_type=$(build_type)" "elapsed_s=$(elapsed)"
log "results written to $OUT.json and $OUT.csv"
