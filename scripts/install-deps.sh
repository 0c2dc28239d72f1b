#!/usr/bin/env bash
# Installs every Debian package that building, testing and the demo need.
# Idempotent: packages already present are left alone and apt-get update runs
# at most once per invocation, only when something is missing.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang-format clang-tidy
  # libraries
  libpq-dev libev-dev libssl-dev zlib1g-dev liblz4-dev libzstd-dev libbz2-dev
  nlohmann-json3-dev libcli11-dev libexpected-dev libfmt-dev libinih-dev
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

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  ensure_user
  ensure_npm_tools
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
