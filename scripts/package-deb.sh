#!/usr/bin/env bash
# Builds the Debian package of the programs from a build tree: what `make package` runs.
#
#   bash scripts/package-deb.sh BUILD_DIR OUT_DIR      -> OUT_DIR/pgmoneta_<version>-1_<arch>.deb
#
# The tree is installed with `cmake --install --prefix /usr --strip` into a staging root; the
# control file, maintainer scripts (contrib/debian), conffiles and md5sums are added, and
# dpkg-deb builds the package with root as the owner of every file. Depends come from
# dpkg-shlibdeps (the shared libraries the programs link) plus adduser for the postinst.
# Prints the path of the package on the last line. Needs dpkg-dev (dpkg-shlibdeps).
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:?usage: package-deb.sh BUILD_DIR OUT_DIR}"
OUT_DIR="${2:?usage: package-deb.sh BUILD_DIR OUT_DIR}"
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"

die() {
  echo "package-deb: $*" >&2
  exit 1
}
for tool in dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install dpkg-dev)"
done
[ -f "$BUILD_DIR/CMakeCache.txt" ] || die "$BUILD_DIR is no CMake build tree"

VERSION="$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD_DIR/CMakeCache.txt")"
[ -n "$VERSION" ] || die "no CMAKE_PROJECT_VERSION in $BUILD_DIR/CMakeCache.txt"
DEB_VERSION="$VERSION-1"
ARCH="$(dpkg --print-architecture)"
PACKAGE="pgmoneta"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pgmoneta-deb.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/root"
umask 022

DESTDIR="$ROOT" cmake --install "$BUILD_DIR" --prefix /usr --strip >"$WORK/install.log" ||
  die "cmake --install failed: $(tail -5 "$WORK/install.log")"
# With prefix /usr the configuration belongs in /etc, not /usr/etc.
if [ -d "$ROOT/usr/etc" ]; then
  mkdir -p "$ROOT/etc"
  cp -a "$ROOT/usr/etc/." "$ROOT/etc/"
  rm -rf "$ROOT/usr/etc"
fi
for program in pgmoneta pgmoneta-cli pgmoneta-admin pgmoneta-config pgmoneta-walinfo \
  pgmoneta-walfilter; do
  [ -x "$ROOT/usr/bin/$program" ] || die "the install did not bring usr/bin/$program"
done

# Debian policy: man pages gzip'd with no time stamp, the changelog and copyright in the doc dir.
DOC="$ROOT/usr/share/doc/$PACKAGE"
if [ -d "$ROOT/usr/share/man" ]; then
  find "$ROOT/usr/share/man" -type f ! -name '*.gz' -exec gzip -9n {} +
fi
install -m 0644 "$REPO_DIR/contrib/debian/copyright" "$DOC/copyright"
install -D -m 0644 "$REPO_DIR/contrib/debian/lintian-overrides" \
  "$ROOT/usr/share/lintian/overrides/$PACKAGE"
DATE="$(date -R -d "@$(git -C "$REPO_DIR" log -1 --format=%ct 2>/dev/null || date +%s)")"
cat >"$WORK/changelog" <<CHANGES
$PACKAGE ($DEB_VERSION) unstable; urgency=medium

  * Package of pgmoneta for C++ $VERSION, built from its source tree.

 -- pgmoneta for C++ developers <pgmoneta-cpp@users.noreply.github.com>  $DATE
CHANGES
gzip -9n <"$WORK/changelog" >"$DOC/changelog.Debian.gz"
chmod 0644 "$DOC/changelog.Debian.gz"

# Depends: the shared libraries of the programs, as dpkg-shlibdeps maps them to packages.
mkdir -p "$WORK/src/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$PACKAGE" "$PACKAGE" \
  >"$WORK/src/debian/control"
SHLIBS="$(cd "$WORK/src" && dpkg-shlibdeps -O -e"$ROOT/usr/bin/pgmoneta" \
  -e"$ROOT/usr/bin/pgmoneta-cli" -e"$ROOT/usr/bin/pgmoneta-admin" \
  -e"$ROOT/usr/bin/pgmoneta-config" -e"$ROOT/usr/bin/pgmoneta-walinfo" \
  -e"$ROOT/usr/bin/pgmoneta-walfilter" \
  2>"$WORK/shlibdeps.err")" ||
  die "dpkg-shlibdeps failed: $(cat "$WORK/shlibdeps.err")"
SHLIBS="${SHLIBS#shlibs:Depends=}"
[ -n "$SHLIBS" ] || die "dpkg-shlibdeps found no libraries"

mkdir -p "$ROOT/DEBIAN"
INSTALLED_KB="$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)"
cat >"$ROOT/DEBIAN/control" <<CONTROL
Package: $PACKAGE
Version: $DEB_VERSION
Architecture: $ARCH
Maintainer: pgmoneta for C++ developers <pgmoneta-cpp@users.noreply.github.com>
Installed-Size: $INSTALLED_KB
Depends: $SHLIBS, adduser
Recommends: postgresql-client
Suggests: logrotate
Section: database
Priority: optional
Homepage: https://pgmoneta.github.io/
Description: backup and restore daemon for PostgreSQL
 pgmoneta streams the WAL of PostgreSQL servers, takes full and incremental
 backups, verifies and restores them (to a point in time too), and copies them
 off-site to SSH, S3 or Azure storage. It is managed with pgmoneta-cli over a
 unix socket or, with SCRAM-SHA-256 and TLS, over the network, and exposes
 Prometheus metrics. This is the C++ implementation of the pgmoneta
 architecture: it reads pgmoneta's configuration files and answers its CLI.
CONTROL
for script in postinst prerm postrm; do
  install -m 0755 "$REPO_DIR/contrib/debian/$script" "$ROOT/DEBIAN/$script"
done
(cd "$ROOT" && find etc -type f 2>/dev/null | sort | sed 's|^|/|') >"$ROOT/DEBIAN/conffiles"
[ -s "$ROOT/DEBIAN/conffiles" ] || rm -f "$ROOT/DEBIAN/conffiles"
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
  xargs -d '\n' md5sum) >"$ROOT/DEBIAN/md5sums"
chmod 0644 "$ROOT/DEBIAN/control" "$ROOT/DEBIAN/md5sums"
[ -f "$ROOT/DEBIAN/conffiles" ] && chmod 0644 "$ROOT/DEBIAN/conffiles"

DEB="$OUT_DIR/${PACKAGE}_${DEB_VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
