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
#   PROFILE          plain | realistic | manyfiles | "plain realistic" (default both; manyfiles
#                    adds TABLES, default 100000, one-row tables: see bench/backup/README.md)
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
# The cluster, PostgreSQL, measurement and pgmoneta daemon helpers are in bench/lib.sh (shared
# with the other benchmarks).
set -euo pipefail

BENCH=restore
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"
RESULTS_DIR="${RESULTS_DIR:-/tmp/pgmoneta-bench-restore-results}"
sizes 3 14400
CONFIGS="${CONFIGS:-cp pgbr:zst:2 pgbr:lz4:2 pgbr:none:2 pgbr:zst:1
  pgm:zstd:3:none:2 pgm:zstd:3:none:1 pgm:lz4:1:none:2 pgm:none:0:none:2 pgm:zstd:3:aes:2}"
CHECK_TOLERANCE="${CHECK_TOLERANCE:-0.05}"
PORT="${PORT:-5499}"
drop_caches_default

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
need_pg_bins initdb pg_ctl postgres psql pgbench pg_basebackup
need_time
need_cmds python3 timeout bc
PGBR_BIN=pgbackrest
[ "$NEED_PGBR" = 0 ] || need_pgbackrest
[ "$NEED_PGM" = 0 ] || need_pgmoneta

# ---- cleanup (lib.sh on_exit) ----
failure_logs() { error_lines 'ERROR|FATAL|PANIC' "$B"/pgm/*/pgmoneta.log "$B/postgresql.log" "$B"/pgbr/*/log/*.log; }
stop_processes() { if [ -n "$DAEMON_PID" ]; then stop_pid "$DAEMON_PID"; fi; }

workdir "$NEED_PGM" out pgm pgbr
cache_note "page cache dropped before every timed run (root)"

# ---- PostgreSQL ----
first_port=$PORT
PORT=$(free_port "$PORT" 51) || {
  first_port=$((first_port + 50))
  die "no free loopback port from ${first_port%??}.. found"
}

log "temporary directory $B (user $BENCH_USER); profiles: $PROFILES; scale $SCALE; $RUNS run(s); $CACHE_NOTE"
cluster
# archive_command: '/bin/true' except while a pgBackRest backup is taken, which needs the
# archive-push of its own repository.

# ---- measurement ----
du_nowal() { # bytes of a data directory without pg_wal (whatever pg_wal is: directory or symlink)
  local all wal
  all=$(du_bytes "$1")
  wal=$(du_bytes "$1/pg_wal/")
  echo $((${all:-0} - ${wal:-0}))
}
# timed <name> cmd... (lib.sh) also sets SCPU: ticks of the pgmoneta daemon's process tree.
timed_before() { TIMED_S0=$(tree_ticks "${DAEMON_PID:-}"); }
timed_after() {
  local s1
  s1=$(tree_ticks "${DAEMON_PID:-}")
  SCPU=$((s1 - TIMED_S0))
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
  settle_restore
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
  pgbr_write_conf "$d"
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
  settle_restore
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
pgm_dir() { echo "$B/pgm/$(tag_of "$1")"; }
# pgm_start_spec <spec> [answers]: 0 when the daemon answers and streams WAL; with "answers", as
# soon as it answers. A restore needs no WAL stream, and a restarted daemon resumes streaming from
# its newest local segment, which PostgreSQL may have removed meanwhile (the harness dropped the
# slot and other configurations' backups made PostgreSQL recycle WAL): it then retries every 30 s.
pgm_start_spec() {
  local t comp level enc workers
  IFS=: read -r t comp level enc workers <<<"$1"
  PGM=$(pgm_dir "$1")
  [ -f "$PGM/pgmoneta.conf" ] || pgm_conf "$comp" "$level" "$enc" "$workers"
  pgm_start "${2:-wal}" append
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
  if ! pgm_start_spec "$spec"; then
    OURS_MISSING="the daemon did not start or did not stream WAL within 60 s (daemon log: $(daemon_log_tail))"
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
    local msg
    if msg=$(not_available "$B/run/pgm-backup.out"); then
      OURS_MISSING="pgmoneta-cli backup: $msg"
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
  if ! pgm_start_spec "$spec" answers; then
    OURS_MISSING="the daemon did not start or did not answer within 60 s (daemon log: $(daemon_log_tail))"
    log "  pgmoneta: $OURS_MISSING"
    pgm_stop
    return 0
  fi
  rm -rf "$dest"
  as_user mkdir -m 0700 "$dest"
  settle_restore
  timed pgm-restore bash -c '"$0" -c "$1" restore primary "$2" "$3" && sync' \
    "$B/bin/pgmoneta-cli" "$PGM/cli.conf" "$label" "$dest"
  local status=ok problem=""
  if [ "$RC" != 0 ]; then
    status=failed
    local msg
    if msg=$(not_available "$B/run/pgm-restore.out"); then
      OURS_MISSING="pgmoneta-cli restore: $msg"
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
INITIALISED=0
SOURCE_BYTES=0
run_profile() {
  local profile=$1 run spec
  prepare_profile "$profile"
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

for_each_profile run_profile
note_missing
cat "$B"/pgm/*/pgmoneta.log 2>/dev/null | grep -E ' (ERROR|FATAL) ' >"$B/pgmoneta-errors.log" || true
show_daemon_errors logs

# ---- report ----
pg_stop
report_meta
python3 "$HERE/report.py" "$RAW" "$OUT" "${META[@]}" "scale=$SCALE" "runs=$RUNS" \
  "drop_caches=$DROP_CACHES" "cache_note=$CACHE_NOTE" \
  "pgbackrest=$([ "$NEED_PGBR" = 1 ] && "$PGBR_BIN" version || echo -)" \
  "pgmoneta_commit=$(pgmoneta_commit)" "pgmoneta_build_type=$(build_type)" "elapsed_s=$(elapsed)"
log "results written to $OUT.json and $OUT.csv"
