#!/usr/bin/env bash
# lz4 against the real pgmoneta 0.22 (issue 18): not part of `make check`, as pgmoneta itself
# is not installed in CI. Build pgmoneta 0.22 outside this repository first, then:
#
#   UPSTREAM_BIN=/tmp/upstream/build/src BIN_DIR=build-dev/bin bash scripts/pgmoneta-lz4-interop.sh
#
# Steps: scripts/demo.sh starts PostgreSQL 15 and our daemon (KEEP=1); the daemon switches to
# compression = lz4 and takes a backup with lz4 WAL after it; pgmoneta-cli of both sides talks
# to both daemons with -C lz4; our daemon stops and pgmoneta 0.22's daemon, on the same
# repository, restores the backup (`current`, so with our lz4 WAL) and decompresses files of it
# with its `decompress` command; PostgreSQL is started on the restored directory.
# Every result is printed; the exit status is 0 when each step ran and the two -C lz4
# directions worked (pgmoneta's restore is reported, see docs/backup.md for its lz4 defect).
set -uo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="$(cd "${BIN_DIR:-$REPO_DIR/build/bin}" && pwd)"
UPSTREAM_BIN="${UPSTREAM_BIN:?set UPSTREAM_BIN to the directory of pgmoneta 0.22 binaries}"
DEMO_DIR="${DEMO_DIR:-/tmp/pgmoneta-lz4-interop}"
DEMO_USER="${DEMO_USER:-pgmoneta}"
PG_BIN="${PGM_PG_BINDIR:-/usr/lib/postgresql/15/bin}"
failures=0

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() {
  printf '\033[31mFAILED: %s\033[0m\n' "$*"
  failures=$((failures + 1))
}
die() {
  printf '\033[31m%s\033[0m\n' "$*" >&2
  exit 1
}
as_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$DEMO_USER" -- env HOME="$DEMO_DIR/home" PATH=/usr/bin:/bin "$@"
  else
    env HOME="$DEMO_DIR/home" "$@"
  fi
}

for b in pgmoneta pgmoneta-cli; do
  [ -x "$UPSTREAM_BIN/$b" ] || die "$UPSTREAM_BIN/$b not found"
done

say "our daemon and PostgreSQL 15 (scripts/demo.sh, KEEP=1)"
KEEP=1 DEMO_DIR="$DEMO_DIR" DEMO_USER="$DEMO_USER" BIN_DIR="$BIN_DIR" \
  bash "$REPO_DIR/scripts/demo.sh" >"$DEMO_DIR.demo.log" 2>&1 ||
  die "scripts/demo.sh failed: see $DEMO_DIR.demo.log"
[ "$(id -u)" -eq 0 ] || DEMO_USER="$(id -un)"
CONF="$DEMO_DIR/pgmoneta.conf"
CLI_CONF="$DEMO_DIR/pgmoneta_cli.conf"
PORT="$(sed -n 's/^port = //p' "$DEMO_DIR/pgdata/postgresql.conf" | tail -n1)"
PGSOCK="$DEMO_DIR/pgsock"
ours_cli() { as_user "$DEMO_DIR/bin/pgmoneta-cli" -c "$CLI_CONF" "$@"; }
their_cli() { as_user "$UPSTREAM_BIN/pgmoneta-cli" -c "$CLI_CONF" "$@"; }
psql_run() {
  as_user "$PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$1" -U postgres -d postgres \
    -c "$2"
}
# A few commands with -C lz4 through the CLI function $2 ($1 says which way round), then one
# answer as JSON.
lz4_commands() {
  local cmd
  for cmd in ping "list-backup primary" "info primary $LABEL"; do
    # shellcheck disable=SC2086
    if "$2" -C lz4 $cmd >"$DEMO_DIR/cli.out" 2>&1; then
      echo "ok: $1: pgmoneta-cli -C lz4 $cmd"
    else
      fail "$1: pgmoneta-cli -C lz4 $cmd"
      cat "$DEMO_DIR/cli.out"
    fi
  done
  "$2" -C lz4 -F json list-backup primary | head -c 400
  echo
}
wait_gone() {
  for _ in $(seq 1 150); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
  return 1
}

say "compression = lz4 (conf reload), an lz4 backup, lz4 WAL after it"
sed -i 's/^compression = .*/compression = lz4/' "$CONF"
ours_cli conf reload || fail "conf reload"
psql_run "$PORT" "SELECT pg_switch_wal()" >/dev/null
ours_cli backup primary || die "our lz4 backup failed"
LABEL="$(ls "$DEMO_DIR/backup/primary/backup" | grep -E '^[0-9]{14}$' | tail -n1)"
BACKUP="$DEMO_DIR/backup/primary/backup/$LABEL"
grep -E '^(COMPRESSION|WAL|STATUS)=' "$BACKUP/backup.info"
psql_run "$PORT" "CREATE TABLE after_lz4 AS SELECT i, md5(i::text) AS f FROM generate_series(1, 20000) i"
EXPECTED="$(psql_run "$PORT" "SELECT (SELECT count(*) FROM demo) || '/' || (SELECT count(*) FROM after_lz4)")"
psql_run "$PORT" "SELECT pg_switch_wal()" >/dev/null
sleep 3
psql_run "$PORT" "SELECT pg_switch_wal()" >/dev/null
sleep 3
echo "expected after restore: demo/after_lz4 = $EXPECTED"
find "$DEMO_DIR/backup/primary/wal" -name '*.lz4' | sort | tail -n 4
echo "first bytes of an lz4 file we wrote (length, then a raw LZ4 block):"
f="$(find "$BACKUP/data/base" -name '*.lz4' -size +8k | head -n1)"
od -A d -t x1 -N 8 "$f"

say "-C lz4: pgmoneta 0.22's CLI against our daemon"
lz4_commands "pgmoneta 0.22's CLI against our daemon" their_cli

say "stopping our daemon, starting pgmoneta 0.22's on the same repository"
OUR_PID="$(head -n1 "$DEMO_DIR"/sock/pgmoneta.*.pid 2>/dev/null)"
ours_cli shutdown || true
wait_gone "$OUR_PID" || die "our daemon did not stop"
UP_CONF="$DEMO_DIR/upstream.conf"
mkdir -p "$DEMO_DIR/workspace"
chown "$DEMO_USER:" "$DEMO_DIR/workspace"
cat >"$UP_CONF" <<EOF
[pgmoneta]
host = 127.0.0.1
unix_socket_dir = $DEMO_DIR/sock
base_dir = $DEMO_DIR/backup
workspace = $DEMO_DIR/workspace
compression = lz4
log_type = file
log_path = $DEMO_DIR/upstream.log
log_level = info
retention = 7

[primary]
host = 127.0.0.1
port = $PORT
user = repl
wal_slot = repl
EOF
chown "$DEMO_USER:" "$UP_CONF"
as_user "$UPSTREAM_BIN/pgmoneta" -c "$UP_CONF" -u "$DEMO_DIR/pgmoneta_users.conf" \
  >"$DEMO_DIR/upstream.out" 2>&1 </dev/null &
UP_PID=$!
for _ in $(seq 1 100); do their_cli ping >/dev/null 2>&1 && break; sleep 0.2; done
their_cli ping >/dev/null 2>&1 || die "pgmoneta 0.22 did not start: $(cat "$DEMO_DIR/upstream.out")"

say "-C lz4: our CLI against pgmoneta 0.22's daemon"
lz4_commands "our CLI against pgmoneta 0.22's daemon" ours_cli

say "pgmoneta 0.22's decompress command on files of our lz4 backup"
mkdir -p "$DEMO_DIR/decompressed"
chown "$DEMO_USER:" "$DEMO_DIR/decompressed"
checked=0
wrong=0
while IFS=, read -r path sum; do
  src="$BACKUP/data/$path.lz4"
  # An empty file is one empty block, which that command refuses (docs/backup.md).
  if [ ! -f "$src" ] || [ "$(stat -c %s "$src")" -le 5 ]; then continue; fi
  copy="$DEMO_DIR/decompressed/$(echo "$path" | tr / _).lz4"
  cp "$src" "$copy"
  chown "$DEMO_USER:" "$copy"
  chmod 0600 "$copy"
  their_cli decompress "$copy" >/dev/null 2>&1 || {
    wrong=$((wrong + 1))
    continue
  }
  [ "$(sha512sum <"${copy%.lz4}" | cut -d' ' -f1)" = "$sum" ] || wrong=$((wrong + 1))
  checked=$((checked + 1))
  [ "$checked" -ge 40 ] && break
done <"$BACKUP/backup.manifest"
echo "pgmoneta decompress: $checked files read back, $wrong differing from backup.manifest"
if [ "$checked" -eq 0 ] || [ "$wrong" -ne 0 ]; then fail "pgmoneta 0.22 decompress of our lz4 files"; fi

say "pgmoneta 0.22 restores our lz4 backup (current, with our lz4 WAL)"
RESTORE="$DEMO_DIR/restore-upstream"
rm -rf "$RESTORE"
mkdir -p "$RESTORE"
chown "$DEMO_USER:" "$RESTORE"
their_cli restore primary "$LABEL" current "$RESTORE" || fail "pgmoneta 0.22 restore"
TARGET="$(find "$RESTORE" -maxdepth 1 -mindepth 1 -type d | head -n1)"
echo "restored into $TARGET"
same=0
differ=0
while IFS=, read -r path sum; do
  [ -f "$TARGET/$path" ] || continue
  if [ "$(sha512sum <"$TARGET/$path" | cut -d' ' -f1)" = "$sum" ]; then
    same=$((same + 1))
  else
    differ=$((differ + 1))
  fi
done <"$BACKUP/backup.manifest"
echo "restored files matching backup.manifest: $same, differing: $differ"

say "stopping pgmoneta 0.22, starting PostgreSQL on the restored directory"
their_cli shutdown >/dev/null 2>&1 || kill -TERM "$UP_PID"
wait_gone "$UP_PID" || kill -KILL "$UP_PID"
(cd "$DEMO_DIR" && as_user "$PG_BIN/pg_ctl" -D "$DEMO_DIR/pgdata" -m fast -w stop >/dev/null)
if [ -n "$TARGET" ] && [ -f "$TARGET/PG_VERSION" ]; then
  chmod 0700 "$TARGET"
  RPORT=$((PORT + 1))
  cat >>"$TARGET/postgresql.auto.conf" <<EOF
port = $RPORT
listen_addresses = ''
unix_socket_directories = '$PGSOCK'
archive_mode = off
EOF
  if (cd "$DEMO_DIR" && as_user "$PG_BIN/pg_ctl" -D "$TARGET" -l "$DEMO_DIR/restored.log" -w -t 120 start >/dev/null); then
    GOT="$(psql_run "$RPORT" "SELECT (SELECT count(*) FROM demo) || '/' || (SELECT count(*) FROM after_lz4)" 2>&1)"
    echo "PostgreSQL started on pgmoneta's restore: demo/after_lz4 = $GOT (expected $EXPECTED)"
    (cd "$DEMO_DIR" && as_user "$PG_BIN/pg_ctl" -D "$TARGET" -m fast -w stop >/dev/null)
  else
    echo "PostgreSQL did not start on pgmoneta's restore; last lines of its log:"
    tail -n 15 "$DEMO_DIR/restored.log"
  fi
fi

say "summary"
echo "$failures failed step(s)"
[ "$failures" -eq 0 ]
