// Helpers for the backup integration tests: reading a backup directory the daemon wrote
// (<base_dir>/<server>/backup/<label>) and checking it independently of the daemon's own
// catalog code: every stored file decrypted and decompressed as a stream, its SHA-512 compared
// with backup.manifest and with PostgreSQL's backup_manifest, `sha512sum -c backup.sha512` run
// for real, backup.info's sizes recomputed. Also: fabricating older backups from a real one,
// finding the daemon's backup child, running the CLI in the background. Not thread-safe (same
// rules as the harness).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "integration/daemon_instance.h"
#include "integration/process.h"

#include "pgm/crypto/aes.h"

namespace pgm::testing {

// <base_dir>/<server>/backup of a daemon whose base_dir the harness chose.
std::string daemon_backup_root(const DaemonInstance& d, const std::string& server = "primary");

// backup.info as KEY=VALUE pairs (empty when unreadable).
std::map<std::string, std::string> read_info_file(const std::string& backup_dir);

struct VerifyResult {
  size_t files = 0;              // files listed in backup.manifest and decoded
  size_t postgres_compared = 0;  // of those, compared with PostgreSQL's backup_manifest
  uint64_t plain_bytes = 0;      // sum of the decoded sizes
  uint64_t stored_bytes = 0;     // sum of the stored sizes
  std::vector<std::string> problems;
  std::string summary() const;  // problems, one a line (empty when none)
};

// Test 1's full check of one backup directory. `key` may be null when nothing is encrypted.
// `expect_suffix`: the suffix every stored file except backup_label and backup_manifest must
// carry (".zstd.aes", "" ...).
VerifyResult verify_backup(const std::string& backup_dir, const std::string& expect_suffix,
                           const crypto::MasterKey* key);

// Runs argv (as the test user) in `cwd` and captures its output.
CommandOutput run_in(const std::string& cwd, const std::vector<std::string>& argv,
                     std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Copies the backup `source` to <root>/<label> (cp -a as the test user, hard links kept inside
// the copy), then rewrites backup.info's LABEL (and WAL when `wal` is not empty) and
// backup.sha512's backup.info line. Returns "" or what failed.
std::string fabricate_backup(const std::string& source, const std::string& root,
                             const std::string& label, const std::string& wal);

// PIDs of the daemon's children whose process title starts with "pgmoneta: backup".
std::vector<int> backup_children(int daemon_pid);

// pgmoneta-cli -F raw <args> in the background; stdout and stderr go to `out_path`.
Process start_cli(const DaemonInstance& d, const std::vector<std::string>& args,
                  const std::string& out_path);

// `du -sb` of several paths in ONE invocation (hard links counted once): sizes in order.
std::vector<uint64_t> du_bytes(const std::vector<std::string>& paths, std::string* error);

// Regular files under `dir` with a single link (not shared with another backup), biggest first:
// (size, path relative to dir).
std::vector<std::pair<uint64_t, std::string>> unshared_files(const std::string& dir);

}  // namespace pgm::testing
