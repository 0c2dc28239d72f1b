#!/usr/bin/env bash
# The manual pages (cmake/ManPages.cmake, target man): groff has no complaint about any of them,
# each has NAME, SYNOPSIS and DESCRIPTION, and none has drifted from the programs: every command
# and option of pgmoneta-cli and every configuration key (from pgmoneta-cli --completion-grammar,
# which lists the daemon's key table), and every option of pgmoneta and pgmoneta-admin (from
# --help) appears in its page.
#
# Usage: man_pages_test.sh <build>/man <build>/bin <source dir>
# Exit 77 (skip) when man(1) is missing, or when the pages were not built because pandoc is.
set -u

man_dir=$1
bin_dir=$2
source_dir=$3

if ! command -v man >/dev/null 2>&1; then
  echo "SKIP: man is not installed"
  exit 77
fi
if [ ! -d "$man_dir" ] && ! command -v pandoc >/dev/null 2>&1; then
  echo "SKIP: pandoc is not installed, so the manual pages were not built"
  exit 77
fi

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

expected=(man1/pgmoneta.1 man1/pgmoneta-cli.1 man1/pgmoneta-admin.1 man1/pgmoneta-config.1
  man1/pgmoneta-walinfo.1 man1/pgmoneta-walfilter.1
  man5/pgmoneta.conf.5
  man5/pgmoneta_cli.conf.5)
for page in "${expected[@]}"; do
  [ -f "$man_dir/$page" ] || fail "$man_dir/$page is missing (build the target man)"
done

# The page as plain text on one long line per paragraph, blanks squeezed, so that a name is
# never split across lines.
render() {
  MANWIDTH=1000 man -l "$1" 2>/dev/null | col -bx | tr -s ' '
}

shopt -s nullglob
pages=("$man_dir"/man[1-9]/*.[1-9])
[ ${#pages[@]} -gt 0 ] || fail "no manual pages under $man_dir"
for page in "${pages[@]}"; do
  for width in 80 120; do
    warnings=$(MANWIDTH=$width man --warnings -l "$page" 2>&1 >/dev/null)
    if [ -n "$warnings" ]; then
      fail "$page: man --warnings (MANWIDTH=$width) printed:"
      echo "$warnings" | head -20
    fi
  done
  text=$(render "$page")
  for section in NAME SYNOPSIS DESCRIPTION; do
    grep -qx "$section" <<<"$text" || fail "$page: no $section section"
  done
done

# $1 page, $2 what, $3 word, $4 page text: the word must appear as a whole word (an option, a
# command, a key), not as part of a longer one.
expect_word() {
  local escaped
  escaped=$(printf '%s' "$3" | sed 's/[][\.*^$?+(){}|/]/\\&/g')
  if ! grep -Eq -- "(^|[^[:alnum:]_-])${escaped}([^[:alnum:]_-]|\$)" <<<"$4"; then
    fail "$1: $2 '$3' is not documented"
  fi
}

# Options of a CLI11 --help: lines starting with blanks then -x,--long.
help_options() {
  sed -n 's/^ *\(-[^ ]*\).*/\1/p' | tr ',' '\n' | grep -E '^-'
}

# pgmoneta-cli: every option and every command of its grammar.
cli_page="$man_dir/man1/pgmoneta-cli.1"
if [ -f "$cli_page" ]; then
  text=$(render "$cli_page")
  grammar=$("$bin_dir/pgmoneta-cli" --completion-grammar) || fail "pgmoneta-cli --completion-grammar failed"
  n=0
  while IFS=$'\t' read -r kind name _; do
    # key lines are checked against pgmoneta.conf(5) below
    case $kind in
      option)
        for o in ${name//,/ }; do
          expect_word "$cli_page" option "$o" "$text"
          n=$((n + 1))
        done
        ;;
      verb | command)
        expect_word "$cli_page" command "$name" "$text"
        n=$((n + 1))
        ;;
    esac
  done <<<"$grammar"
  [ "$n" -ge 40 ] || fail "pgmoneta-cli --completion-grammar gave only $n options and commands"
fi

# pgmoneta, pgmoneta-admin, pgmoneta-config and pgmoneta-walinfo: every option of --help.
for program in pgmoneta pgmoneta-admin pgmoneta-config pgmoneta-walinfo; do
  page="$man_dir/man1/$program.1"
  [ -f "$page" ] || continue
  text=$(render "$page")
  options=$("$bin_dir/$program" --help | help_options)
  [ "$(wc -l <<<"$options")" -ge 5 ] || fail "$program --help gave too few options: $options"
  for o in $options; do
    expect_word "$page" option "$o" "$text"
  done
done

# pgmoneta-walfilter: its options (only -h and -V) and every key of its YAML file.
page="$man_dir/man1/pgmoneta-walfilter.1"
if [ -f "$page" ]; then
  text=$(render "$page")
  for o in $("$bin_dir/pgmoneta-walfilter" --help | help_options) source_dir target_dir \
    configuration_file rules xids operations DELETE; do
    expect_word "$page" "option or key" "$o" "$text"
  done
fi

# pgmoneta.conf: every key the daemon knows, [pgmoneta] and server sections alike (the key table,
# as pgmoneta-cli --completion-grammar lists it for conf get/set), and the two aliases that
# find_key() in src/pgm/config/keys.cc accepts.
conf_page="$man_dir/man5/pgmoneta.conf.5"
if [ -f "$conf_page" ]; then
  text=$(render "$conf_page")
  keys=$("$bin_dir/pgmoneta-cli" --completion-grammar | awk -F'\t' '$1 == "key" { print $3 }' | sort -u)
  count=$(wc -w <<<"$keys")
  [ "$count" -ge 40 ] || fail "pgmoneta-cli --completion-grammar listed only $count configuration keys"
  keys_cc="$source_dir/src/pgm/config/keys.cc"
  aliases=$(sed -n '/^const KeyDef\* find_key/,/^}/s/.*if (name == "\([a-z0-9_]*\)").*/\1/p' "$keys_cc")
  [ -n "$aliases" ] || fail "found no key aliases in find_key() of $keys_cc"
  for k in $keys $aliases; do
    expect_word "$conf_page" key "$k" "$text"
  done
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "OK: ${#pages[@]} manual pages"
