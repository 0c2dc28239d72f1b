#!/bin/bash
# contrib/logrotate/pgmoneta: logrotate accepts it as installed (--debug changes nothing), and
# a copy pointing at a scratch directory really rotates: the file moves aside, no new file is
# created (the daemon reopens log_path itself), and the rotated file is not compressed yet
# (delaycompress). Exit 77 (skip) without logrotate.
# Usage: logrotate_test.sh <logrotate file>
set -eu
snippet=$1
logrotate=$(command -v logrotate || echo /usr/sbin/logrotate)
[[ -x $logrotate ]] || { echo "no logrotate: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# As installed: parsed without error (the su user must exist: it is pgmoneta's account).
if id pgmoneta >/dev/null 2>&1; then
  output=$("$logrotate" --debug --state "$tmp/state.debug" "$snippet" 2>&1)
  grep -q 'rotating pattern: /var/log/pgmoneta/pgmoneta.log' <<<"$output" || { echo "$output"; exit 1; }
  if grep -qi 'error' <<<"$output"; then
    echo "$output"
    exit 1
  fi
fi

# A copy on a scratch file, rotated for real as the current user.
mkdir "$tmp/log"
chmod 0755 "$tmp/log"
sed -e "s|/var/log/pgmoneta/pgmoneta.log|$tmp/log/pgmoneta.log|" \
  -e "s|su pgmoneta pgmoneta|su $(id -un) $(id -gn)|" "$snippet" >"$tmp/pgmoneta.logrotate"
echo "2026-01-01 00:00:00 INFO pgmoneta: started" >"$tmp/log/pgmoneta.log"
"$logrotate" --force --state "$tmp/state" "$tmp/pgmoneta.logrotate"
[[ -f $tmp/log/pgmoneta.log.1 ]] || { ls -l "$tmp/log"; echo "not rotated"; exit 1; }
[[ ! -e $tmp/log/pgmoneta.log ]] || { echo "a new file was created (nocreate expected)"; exit 1; }
grep -q 'pgmoneta: started' "$tmp/log/pgmoneta.log.1"
echo "logrotate: parsed as installed, rotated a scratch copy"
