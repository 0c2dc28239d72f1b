#!/bin/bash
# contrib/bash-completion/pgmoneta-cli, sourced in bash: COMPREPLY for typed command lines.
# pgmoneta-cli and pgmoneta-config are the real programs (--completion-grammar, ls), behind a wrapper that answers
# list-backup with two labels as a running daemon would, so no daemon is needed.
# Usage: bash_completion_test.sh <completion file> <directory of pgmoneta-cli and pgmoneta-config>
set -u
completion=$1
real_cli=$2/pgmoneta-cli
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/restore-here"
cat >"$tmp/bin/pgmoneta-cli" <<WRAPPER
#!/bin/bash
for a; do
  if [[ \$a == list-backup ]]; then
    printf '%s\n' "\$*" >>"$tmp/list-backup.args"
    [[ -f "$tmp/no-daemon" ]] && exit 3
    printf '{"Outcome": {"Status": true}, "Response": {"Backups": [{"Backup": "20250101010101"}, {"Backup":"20250202020202"}]}}\n'
    exit 0
  fi
done
exec "$real_cli" "\$@"
WRAPPER
chmod +x "$tmp/bin/pgmoneta-cli"
ln -s "$2/pgmoneta-config" "$tmp/bin/pgmoneta-config"
printf '[pgmoneta]\nhost = localhost\n\n[primary]\nhost = db1\n\n[ replica ]\nhost = db2\n' \
  >"$tmp/etc/pgmoneta.conf"
printf '[pgmoneta]\nunix_socket_dir = /tmp\n' >"$tmp/etc/pgmoneta_cli.conf"
export PATH="$tmp/bin:$PATH"
unset PGMONETA_CONFIG_DIR
# shellcheck source=/dev/null
source "$completion"

failures=0
# complete <expected, sorted and space-separated> <command line; a trailing space starts a word>
complete_line() {
  local expected=$1 line=$2
  read -ra COMP_WORDS <<<"$line"
  [[ $line == *' ' ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE=$line
  COMP_POINT=${#line}
  COMPREPLY=()
  case ${COMP_WORDS[0]} in
    pgmoneta-cli) _pgmoneta_cli ;;
    pgmoneta-admin) _pgmoneta_admin ;;
    pgmoneta-config) _pgmoneta_config ;;
  esac
  local got
  got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ *$//')
  if [[ $got != "$expected" ]]; then
    echo "FAIL: '$line'"
    echo "  expected: $expected"
    echo "  got:      $got"
    failures=$((failures + 1))
  else
    echo "ok: '$line' -> $got"
  fi
}

c="$tmp/etc/pgmoneta_cli.conf"
complete_line "backup" "pgmoneta-cli ba"
complete_line "s3 shutdown ssh status" "pgmoneta-cli s"
complete_line "json raw text" "pgmoneta-cli -F "
complete_line "--cascade" "pgmoneta-cli --cas"
complete_line "primary replica" "pgmoneta-cli -c $c backup "
complete_line "primary" "pgmoneta-cli -c $c -F json list-backup pr"
complete_line "20250101010101 20250202020202 latest newest oldest" "pgmoneta-cli -c $c restore primary "
complete_line "20250202020202" "pgmoneta-cli -c $c info primary 202502"
complete_line "$tmp/restore-here" "pgmoneta-cli -c $c restore primary newest $tmp/restore-h"
complete_line "get ls reload set" "pgmoneta-cli conf "
complete_line "compression compression_level" "pgmoneta-cli -c $c conf get compr"
complete_line "primary." "pgmoneta-cli -c $c conf set prim"
complete_line "primary.wal_shipping primary.wal_slot primary.wal_sync" "pgmoneta-cli -c $c conf set primary.wal_s"
complete_line "" "pgmoneta-cli -c $c conf set primary.metrics"
complete_line "" "pgmoneta-cli -c $c conf set compression "
complete_line "details" "pgmoneta-cli status "
complete_line "prometheus" "pgmoneta-cli clear "
complete_line "offline online" "pgmoneta-cli -c $c mode primary "
complete_line "ls restore" "pgmoneta-cli s3 "
complete_line "primary replica" "pgmoneta-cli -c $c azure restore "
complete_line "--start all failed" "pgmoneta-cli -c $c verify primary newest /tmp/v "
complete_line "add remove update" "pgmoneta-cli -c $c annotate primary newest "
complete_line "" "pgmoneta-cli ping "

# The labels came from list-backup with the -c the user typed.
if ! grep -qx -- "-c $c -F json list-backup primary" "$tmp/list-backup.args"; then
  echo "FAIL: list-backup was called as: $(cat "$tmp/list-backup.args")"
  failures=$((failures + 1))
fi
# No daemon: the labels are quietly left out.
touch "$tmp/no-daemon"
complete_line "latest newest oldest" "pgmoneta-cli -c $c delete primary "
# Servers from $PGMONETA_CONFIG_DIR when no -c is given.
PGMONETA_CONFIG_DIR="$tmp/etc" complete_line "primary replica" "pgmoneta-cli backup "

complete_line "master-key user" "pgmoneta-admin "
complete_line "add del edit ls" "pgmoneta-admin -f $tmp/etc/users.conf user "
complete_line "json text" "pgmoneta-admin -F "

# pgmoneta-config: the real program lists the sections and keys of the file.
complete_line "del get init ls set" "pgmoneta-config "
complete_line "pgmoneta primary replica" "pgmoneta-config set $tmp/etc/pgmoneta.conf "
complete_line "host" "pgmoneta-config get $tmp/etc/pgmoneta.conf primary "
complete_line "--force" "pgmoneta-config --fo"

if ((failures > 0)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "all passed"
