// Copies of whole backups between base_dir and a Storage engine.
//
// Remote layout (the same on every engine, keys relative to the engine's base):
//   <server>/backup/<label>/<path>          every regular file of the backup directory
//   <server>/backup/<label>/.directories    one relative directory per line (object stores keep
//                                           no empty directories; PostgreSQL needs them)
//   <server>/backup/<label>/backup.info     uploaded LAST: a remote backup without it is
//                                           incomplete and is neither listed nor restored
//
// Every object carries its SHA-512 (from backup.sha512 where the backup has the line, computed
// otherwise) and every download is checked against it (download_verified). Not thread-safe;
// blocking.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/storage/storage.h"

namespace pgm::storage {

inline constexpr const char* kDirectoriesObject = ".directories";

struct TransferStats {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

// Called after each file with the bytes done so far and the total (never concurrently).
using TransferProgress = std::function<void(uint64_t done, uint64_t total)>;

// Parallel transfers: engines are not thread-safe, so each extra worker gets an engine of its
// own from `open` (the caller's engine serves the first). Object stores answer each request
// after a round trip; a few requests in flight hide that latency for backups of many small
// files. An extra engine that cannot be opened just means one worker fewer.
struct Parallel {
  int workers = 1;
  std::function<Result<std::unique_ptr<Storage>>()> open;
};

// "<server>/backup/<label>/".
std::string backup_prefix(const std::string& server, const std::string& label);

// Uploads the backup directory `backup_dir` (<base_dir>/<server>/backup/<label>). Symbolic links
// to files (shared unchanged files of linked backups) are uploaded as the files they point to.
Result<TransferStats> upload_backup(Storage& storage, const std::string& backup_dir,
                                    const std::string& server, const std::string& label,
                                    const TransferProgress& progress = {},
                                    const Parallel& parallel = {});

// Labels of the complete remote backups of `server` (those with backup.info), sorted. Names
// that are not labels (14 digits of a valid local time) are ignored.
Result<std::vector<std::string>> remote_backups(Storage& storage, const std::string& server);

// Downloads a complete remote backup into `dest_dir`, which must not exist: files go to
// "<dest_dir>.partial" first, each proven against its SHA-512, and the directory is renamed
// only when every file arrived intact. On failure nothing is left behind.
Result<TransferStats> download_backup(Storage& storage, const std::string& server,
                                      const std::string& label, const std::string& dest_dir,
                                      const TransferProgress& progress = {},
                                      const Parallel& parallel = {});

// Removes every object of the remote backup, backup.info first (so a crash midway leaves an
// incomplete backup, never a listed one with files missing).
Result<void> remove_remote_backup(Storage& storage, const std::string& server,
                                  const std::string& label);

}  // namespace pgm::storage
