#!/bin/bash
# The Debian package (`make package`, scripts/package-deb.sh): built from this build tree, it
# lists the programs, the man pages of sections 1 and 5, the unit, the examples, the logrotate
# conffile and the completion; its control data has shlibs Depends and the maintainer scripts;
# lintian reports no error; unpacked into a scratch root, every program answers --version and
# --help from there. Usage: package_test.sh <source dir> <build dir>
set -euo pipefail
src=$1
build=$2
for tool in dpkg-deb dpkg-shlibdeps lintian; do
  command -v "$tool" >/dev/null || { echo "no $tool: skipped (make deps installs it)"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

deb=$(bash "$src/scripts/package-deb.sh" "$build" "$tmp/out" | tail -n 1)
[ -f "$deb" ] || fail "package-deb.sh printed no package: $deb"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ "$(basename "$deb")" = "pgmoneta_${version}-1_$(dpkg --print-architecture).deb" ] ||
  fail "unexpected package name $(basename "$deb")"

# The files.
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/files"
for f in /usr/bin/pgmoneta /usr/bin/pgmoneta-cli /usr/bin/pgmoneta-admin /usr/bin/pgmoneta-config \
  /usr/share/man/man1/pgmoneta.1.gz /usr/share/man/man1/pgmoneta-cli.1.gz \
  /usr/share/man/man1/pgmoneta-admin.1.gz /usr/share/man/man1/pgmoneta-config.1.gz \
  /usr/share/man/man5/pgmoneta.conf.5.gz \
  /usr/share/man/man5/pgmoneta_cli.conf.5.gz /usr/lib/systemd/system/pgmoneta.service \
  /usr/share/doc/pgmoneta/examples/pgmoneta.conf /usr/share/doc/pgmoneta/examples/pgmoneta_cli.conf \
  /usr/share/doc/pgmoneta/grafana/pgmoneta.json /usr/share/doc/pgmoneta/copyright \
  /usr/share/doc/pgmoneta/changelog.Debian.gz /etc/logrotate.d/pgmoneta \
  /usr/share/bash-completion/completions/pgmoneta-cli \
  /usr/share/bash-completion/completions/pgmoneta-admin \
  /usr/share/bash-completion/completions/pgmoneta-config; do
  grep -qx -- "$f" "$tmp/files" || fail "the package lacks $f"
done
if grep -E '^/usr/(local|etc)/|/(include|lib/cmake)/|_test$|/fuzz' "$tmp/files"; then
  fail "the package holds files it should not (above)"
fi
# Owned by root, whoever built it.
if dpkg-deb -c "$deb" | awk '$2 != "root/root"' | grep .; then
  fail "files not owned by root/root (above)"
fi

# The control data.
mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
grep -q '^Depends:.*libpq5.*adduser' "$tmp/control/control" || fail "Depends: $(grep Depends "$tmp/control/control")"
grep -q '^Depends:.*libev4' "$tmp/control/control" || fail "Depends lacks libev4"
grep -qx /etc/logrotate.d/pgmoneta "$tmp/control/conffiles" || fail "logrotate snippet not a conffile"
for script in postinst prerm postrm; do
  [ -x "$tmp/control/$script" ] || fail "no executable $script"
  sh -n "$tmp/control/$script" || fail "$script: syntax"
done
grep -q 'install -d -m 0750 -o root -g pgmoneta /etc/pgmoneta' "$tmp/control/postinst" ||
  fail "postinst does not create /etc/pgmoneta 0750"
grep -q 'install -d -m 0700 -o pgmoneta -g pgmoneta /var/lib/pgmoneta' "$tmp/control/postinst" ||
  fail "postinst does not create /var/lib/pgmoneta 0700"
if grep -E 'rm -r|deluser|delgroup' "$tmp/control/postrm"; then
  fail "postrm removes data or the user (above)"
fi
(cd "$tmp/control" && dpkg-deb -x "$deb" "$tmp/check" && cd "$tmp/check" && md5sum --quiet -c "$tmp/control/md5sums") ||
  fail "md5sums do not match the files"

# lintian: no error (warnings are printed for the reader).
status=0
lintian --fail-on error "$deb" >"$tmp/lintian" 2>&1 || status=$?
grep -v 'running with root privileges' "$tmp/lintian" || true
[ "$status" -eq 0 ] || fail "lintian reports errors (exit $status)"

# Unpacked into a scratch root, every program runs from there.
dpkg-deb -x "$deb" "$tmp/root"
for program in pgmoneta pgmoneta-cli pgmoneta-admin pgmoneta-config; do
  exe="$tmp/root/usr/bin/$program"
  out=$("$exe" --version) || fail "$program --version exited $?"
  [ "$out" = "$program $version" ] || fail "$program --version printed: $out"
  out=$("$exe" --help) || fail "$program --help exited $?"
  grep -q "Usage" <<<"$out" || fail "$program --help printed no usage: $out"
done
# The binaries are stripped.
if readelf -S "$tmp/root/usr/bin/pgmoneta" | grep -qE '\.(symtab|debug_info)'; then
  fail "usr/bin/pgmoneta is not stripped"
fi
echo "package ok: $(basename "$deb"), $(wc -l <"$tmp/files") entries, $(stat -c %s "$deb") bytes"
