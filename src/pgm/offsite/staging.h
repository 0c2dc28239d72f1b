// The staging half of an off-site restore (`s3|azure|ssh restore`): choose a complete remote
// backup as restore would, download it under a staging directory proving every file against
// its stored SHA-512, verify it as `verify` does, and stage the remote WAL a position needs.
// The restore itself and the protocol answer belong to the caller. Blocks on the network;
// single-threaded apart from the download's own workers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "pgm/activity/repository_state.h"
#include "pgm/config/model.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/restore/position.h"
#include "pgm/storage/configured.h"
#include "pgm/storage/storage.h"

namespace pgm::offsite {

// Staging directories are <base_dir>/<server>/staging-<pid>.
inline constexpr std::string_view kStagingPrefix = "staging-";

// The engine for `server`, or why not: not built into this binary (kUnavailable), or
// open_engine's error (a missing key, SFTP refusing the host key or the credentials).
Result<std::unique_ptr<storage::Storage>> open_storage(storage::Engine engine,
                                                       const config::Config& config,
                                                       const config::ServerConfig& server);

// Removes <server_dir>/staging-<pid> directories of processes that are gone (a killed restore)
// and our own pid's (a leftover from before a reboot that reused it).
void remove_stale_staging(const std::string& server_dir);

struct StageRequest {
  storage::Engine engine = storage::Engine::kS3;
  const config::Config* config = nullptr;
  const config::ServerConfig* server = nullptr;
  const crypto::MasterKey* key = nullptr;  // for encrypted backups; may be null
  // The download is published as the "starting" phase of a restore here.
  activity::RepositoryState* state = nullptr;
  std::string id;  // a label, oldest, newest or latest
  restore::Position position;
  std::string directory;  // the restore goes to <directory>/<server>-<label>: must be empty
  std::string staging;    // an existing staging directory, owned by the caller
};

struct Staged {
  std::string label;
  std::string backup_root;  // <staging>/backup: holds <label>/
  std::string wal_dir;      // staged WAL, "" when the position needs none
  uint64_t downloaded = 0;  // bytes
};

// Which step failed; the caller maps it to its error family.
enum class StageStep {
  kEngine,    // the engine could not be opened
  kChoose,    // no such remote backup, or a storage error while choosing
  kSetup,     // the target is not empty, a staging directory could not be made
  kDownload,  // the backup's download failed
  kVerify,    // the staged copy fails verification (kConfig: it could not be checked)
  kInfo,      // the staged backup.info is unreadable
  kWal,       // the WAL download failed
};

struct StageFailure {
  StageStep step = StageStep::kDownload;
  Error error{ErrorCode::kIo, ""};  // the cause as the storage or verify layer gave it
  std::string message;              // one line for the client and the log
};

tl::expected<Staged, StageFailure> stage_remote_backup(const StageRequest& request);

}  // namespace pgm::offsite
