#!/bin/bash
# contrib/systemd/pgmoneta.service passes `systemd-analyze verify` (with ExecStart pointing at
# the build's pgmoneta, as the installed path does not exist here). Exit 77 (skip) without
# systemd-analyze. Usage: systemd_unit_test.sh <unit file> <directory of pgmoneta>
set -eu
unit=$1
bin_dir=$2
command -v systemd-analyze >/dev/null || { echo "no systemd-analyze: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -q '^ExecStart=/usr/bin/pgmoneta ' "$unit"
grep -q '^Type=notify$' "$unit"
sed "s|^ExecStart=/usr/bin/pgmoneta |ExecStart=$bin_dir/pgmoneta |" "$unit" >"$tmp/pgmoneta.service"
# verify prints its complaints and exits non-zero on errors; warnings must not appear either.
output=$(systemd-analyze verify "$tmp/pgmoneta.service" 2>&1) || { echo "$output"; exit 1; }
if grep -i 'pgmoneta.service' <<<"$output"; then
  exit 1
fi
echo "systemd-analyze verify: no complaint"
