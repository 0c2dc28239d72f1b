#!/usr/bin/env bash
# WAL decode benchmark (issue 17): pgmoneta-walinfo against pg_waldump on the same segments, in
# the same run.
#
#   make bench-walinfo                 (as root: runs everything as the user pgmoneta)
#   QUICK=1 bash bench/walinfo/run.sh  (fewer segments)
#
# A PostgreSQL 15 cluster runs pgbench (-i -s SCALE, then -c 4 -t TX per client); the completed
# WAL segments are copied into one directory, and a zstd-compressed copy of each (-3) into
# another, as the daemon stores them. Then, RUNS times each, output to /dev/null:
#   pg_waldump -q / walinfo -q on the plain dir           decoding only (CRCs checked), no output
#   pg_waldump    -p <plain dir> <first> <last>           every record, one line each
#   walinfo       <plain dir>                             the same lines (raw format)
#   walinfo -F json <plain dir>                           pgmoneta's JSON
#   walinfo       <zstd dir>                              decompressing on the fly
#   pg_waldump --stats / walinfo -S on the plain dir      per-rmgr statistics only
# Reported per case: median wall time, MB of WAL per second (segments x 16 MB / time), records
# (lines of pg_waldump's output), and the ratio to pg_waldump's time (> 1: walinfo is faster).
# The table is printed and written as JSON to bench/walinfo/results/<UTC date-time>.json.
#
# Environment: QUICK=1, SCALE (default 20, QUICK 5), TX (default 20000, QUICK 4000), RUNS (3),
# BIN_DIR, PG_BIN, BENCH_USER, BENCH_TMP, KEEP, MAX_SECONDS (default 900): see bench/lib.sh.
set -euo pipefail

BENCH=walinfo
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"
RESULTS_DIR="${RESULTS_DIR:-$HERE/results}"
if [ "$QUICK" = 1 ]; then
  SCALE="${SCALE:-5}"
  TX="${TX:-4000}"
else
  SCALE="${SCALE:-20}"
  TX="${TX:-20000}"
fi
RUNS="${RUNS:-3}"
MAX_SECONDS="${MAX_SECONDS:-900}"
STEP_TIMEOUT="${STEP_TIMEOUT:-600}"

failure_logs() { tail -n 20 "$B/postgresql.log" 2>/dev/null || true; }
stop_processes() { :; }

[ -x "$BIN_DIR/pgmoneta-walinfo" ] || die "$BIN_DIR/pgmoneta-walinfo not found (make build)"
need_pg_bins initdb pg_ctl postgres pg_waldump pgbench psql
need_cmds zstd python3
workdir 0 wal wal-zstd
cp "$BIN_DIR/pgmoneta-walinfo" "$B/bin/"
chown "$BENCH_USER:" "$B/bin/pgmoneta-walinfo"
PORT=$(free_port 56432) || die "no free port"
cluster
psql_q -c "ALTER SYSTEM SET wal_keep_size = '8GB'" -c "SELECT pg_reload_conf()" >/dev/null
pgbench_init
log "pgbench -c 4 -t $TX"
as_user timeout "$(step_limit)" "$PG_BIN/pgbench" -h "$PGSOCK" -p "$PORT" -U postgres -c 4 -j 2 \
  -t "$TX" postgres >"$B/pgbench.log" 2>&1 || die "pgbench failed; see $B/pgbench.log"
psql_q -c "CHECKPOINT" >/dev/null
psql_q -c "SELECT pg_switch_wal()" >/dev/null
psql_q -c "SELECT pg_switch_wal()" >/dev/null
current=$(psql_q -c "SELECT pg_walfile_name(pg_current_wal_lsn())")
# Every complete segment before the current one, in name order.
segments=()
for f in "$PGDATA"/pg_wal/0*; do
  name=$(basename "$f")
  [[ "$name" =~ ^[0-9A-F]{24}$ ]] || continue
  [[ "$name" < "$current" ]] || continue
  segments+=("$name")
done
[ "${#segments[@]}" -ge 2 ] || die "fewer than 2 complete segments"
# pg_waldump needs a contiguous range: keep the run ending just before the current segment.
first="${segments[0]}"
last="${segments[-1]}"
for name in "${segments[@]}"; do
  cp "$PGDATA/pg_wal/$name" "$B/wal/"
  zstd -q -3 "$PGDATA/pg_wal/$name" -o "$B/wal-zstd/$name.zstd"
done
chown -R "$BENCH_USER:" "$B/wal" "$B/wal-zstd"
count=${#segments[@]}
mb=$((count * 16))
log "$count segments ($first .. $last), $mb MB"
records=$(as_user "$PG_BIN/pg_waldump" -p "$B/wal" "$first" "$last" 2>/dev/null | wc -l)
ours=$(as_user "$B/bin/pgmoneta-walinfo" --color off "$B/wal" 2>/dev/null | grep -c '^rmgr' || true)
log "records: pg_waldump $records, walinfo $ours"

: >"$RAW"
run_case() { # run_case <name> <command>...: RUNS timings of the command, output to /dev/null
  local name=$1 i t0
  shift
  for i in $(seq 1 "$RUNS"); do
    check_deadline
    t0=$EPOCHREALTIME
    as_user "$@" >/dev/null 2>&1 || true
    printf '%s\t%s\t%s\n' "$name" "$t0" "$EPOCHREALTIME" >>"$RAW"
  done
}
run_case "pg_waldump -q" "$PG_BIN/pg_waldump" -q -p "$B/wal" "$first" "$last"
run_case "walinfo -q" "$B/bin/pgmoneta-walinfo" -q "$B/wal"
run_case "pg_waldump" "$PG_BIN/pg_waldump" -p "$B/wal" "$first" "$last"
run_case "walinfo" "$B/bin/pgmoneta-walinfo" --color off "$B/wal"
run_case "walinfo -F json" "$B/bin/pgmoneta-walinfo" -F json "$B/wal"
run_case "walinfo (zstd)" "$B/bin/pgmoneta-walinfo" --color off "$B/wal-zstd"
run_case "pg_waldump --stats" "$PG_BIN/pg_waldump" --stats -p "$B/wal" "$first" "$last"
run_case "walinfo -S" "$B/bin/pgmoneta-walinfo" -S "$B/wal"

mkdir -p "$RESULTS_DIR"
out="$RESULTS_DIR/$(date -u +%Y%m%dT%H%M%SZ).json"
python3 - "$RAW" "$mb" "$records" "$ours" "$out" "$PG_VERSION_STR" <<'PY'
import json, statistics, sys
raw, mb, records, ours, out, version = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
times = {}
for line in open(raw):
    name, t0, t1 = line.rstrip("\n").split("\t")
    times.setdefault(name, []).append(float(t1) - float(t0))
base = {"pg_waldump": statistics.median(times["pg_waldump"]),
        "quiet": statistics.median(times["pg_waldump -q"]),
        "stats": statistics.median(times["pg_waldump --stats"])}
rows = []
print(f"{'case':<22} {'median s':>9} {'MB/s':>8} {'vs pg_waldump':>14}")
for name, ts in times.items():
    m = statistics.median(ts)
    if "stat" in name or name.endswith("-S"):
        ref = base["stats"]
    elif name.endswith("-q"):
        ref = base["quiet"]
    else:
        ref = base["pg_waldump"]
    rows.append({"case": name, "seconds": ts, "median": m, "mb_per_s": mb / m, "ratio": ref / m})
    print(f"{name:<22} {m:9.2f} {mb / m:8.0f} {ref / m:13.2f}x")
print(f"{int(mb)} MB of WAL; records: pg_waldump {records}, walinfo {ours}")
json.dump({"postgresql": version, "wal_mb": mb, "records_pg_waldump": records,
           "records_walinfo": ours, "cases": rows}, open(out, "w"), indent=2)
print(f"written to {out}")
PY
