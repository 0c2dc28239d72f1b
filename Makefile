# Two entry points on a fresh Debian 12 machine (as root):
#   make demo   install dependencies, build, run a throwaway PostgreSQL 15 + the daemon
#   make check  install dependencies, build, run every test
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all deps build demo-build check unit fuzz integration demo package install format clean

all: build

deps:
	bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DPGM_WERROR=ON

build: deps $(BUILD_DIR)/build.ninja
	ninja -C $(BUILD_DIR) -j $(JOBS)

# Integration tests run in parallel too (JOBS, the core count): they mostly wait on PostgreSQL, fsync and the network,
# and each one uses its own ports and directories. The libFuzzer targets (tests/fuzz, label fuzz) run for
# PGM_FUZZ_SECONDS (10) each, JOBS at a time.
check: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L fuzz
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L integration

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit

fuzz: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L fuzz

integration: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L integration

# The demo builds only the three programs it runs (not the tests, the fuzz targets or the man
# pages): a fresh machine shows a backup sooner. `make check` builds everything.
demo-build: deps $(BUILD_DIR)/build.ninja
	ninja -C $(BUILD_DIR) -j $(JOBS) pgmoneta pgmoneta-cli pgmoneta-admin

demo: demo-build
	BIN_DIR=$(CURDIR)/$(BUILD_DIR)/bin bash scripts/demo.sh

# The Debian package of the programs: $(BUILD_DIR)/package/pgmoneta_<version>-1_<arch>.deb
# (docs/install.md); it builds only the programs and the man pages. `make install` installs into
# PREFIX (default /usr/local).
PREFIX ?= /usr/local
package: deps $(BUILD_DIR)/build.ninja
	ninja -C $(BUILD_DIR) -j $(JOBS) pgmoneta pgmoneta-cli pgmoneta-admin pgmoneta-config \
	  pgmoneta-walinfo pgmoneta-walfilter man
	bash scripts/package-deb.sh $(BUILD_DIR) $(BUILD_DIR)/package

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX) --strip

# WAL receiver benchmark against pg_receivewal (not part of check): make bench-wal [QUICK=1]
.PHONY: bench-wal
bench-wal: build
	BIN_DIR=$(CURDIR)/$(BUILD_DIR)/bin bash bench/wal/run.sh

# WAL decode benchmark: pgmoneta-walinfo against pg_waldump (not part of check): make bench-walinfo [QUICK=1]
.PHONY: bench-walinfo
bench-walinfo: build
	BIN_DIR=$(CURDIR)/$(BUILD_DIR)/bin bash bench/walinfo/run.sh

# Backup benchmark against pg_basebackup, pgBackRest and tar | zstd (not part of check):
# make bench-backup [QUICK=1] [SCALE=100] [RUNS=3] [PROFILE=plain|realistic]
.PHONY: bench-backup
bench-backup: build
	BIN_DIR=$(CURDIR)/$(BUILD_DIR)/bin bash bench/backup/run.sh

# Incremental backup benchmark against pgBackRest incr and pg_basebackup, chain restore (not part of check):
# make bench-incremental [QUICK=1] [SCALE=100] [RUNS=1] [PROFILE=plain|realistic]
.PHONY: bench-incremental
bench-incremental: build
	BIN_DIR=$(CURDIR)/$(BUILD_DIR)/bin bash bench/incremental/run.sh

# Restore benchmark against pgBackRest restore and cp -a (not part of check):
# make bench-restore [QUICK=1] [SCALE=100] [RUNS=3] [PROFILE=plain|realistic]
.PHONY: bench-restore
bench-restore: build
	BIN_DIR=$(CURDIR)/$(BUILD_DIR)/bin bash bench/restore/run.sh

format:
	find src tests -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
