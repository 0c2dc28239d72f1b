// The BASE_BACKUP replication command over libpq: builds the command for the server's
// version and drives its results, handing archive and manifest bytes to a consumer as they
// arrive (nothing is buffered beyond one CopyData message).
//
// PostgreSQL 15+: one COPY stream whose CopyData messages start with a type byte: 'n' new
// archive (archive name, tablespace location), 'd' data of the current archive or of the
// manifest, 'm' manifest follows, 'p' progress (int64 bytes sent). PostgreSQL 13/14: one
// COPY stream per tablespace in the order of the tablespace header, then one for the manifest.
// Blocking; one thread; the connection is a replication connection (replication=true).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pgm/compress/codec.h"
#include "pgm/core/result.h"

namespace pgm::pg {
class Connection;
}

namespace pgm::backup {

struct BaseBackupOptions {
  std::string label;            // LABEL
  uint64_t max_rate_kb = 0;     // MAX_RATE in kB/s; 0: unlimited (PostgreSQL accepts 32..1048576)
  bool fast_checkpoint = true;  // CHECKPOINT 'fast'
  bool progress = false;        // PROGRESS: the server estimates sizes first (one extra scan)
  // Server-side compression of the archives (PostgreSQL 15+ only); kNone: off.
  compress::Algorithm server_compression = compress::Algorithm::kNone;
  int server_level = 0;          // 0: the server's default level
  int server_workers = 0;        // zstd only; 0: none
  bool crc32c_manifest = false;  // MANIFEST_CHECKSUMS 'CRC32C' instead of 'SHA512'
  // INCREMENTAL (PostgreSQL 17+, after upload_manifest() on the same connection): the server
  // sends changed relation files as INCREMENTAL.<name> files.
  bool incremental = false;
};

// The BASE_BACKUP command text for a server version (PQserverVersion form: 150004). Versions
// before 15 get the legacy syntax (and no server compression: kInvalidArgument).
Result<std::string> base_backup_command(int server_version, const BaseBackupOptions& options);

// UPLOAD_MANIFEST (PostgreSQL 17+): sends the parent backup's backup_manifest, byte for byte
// (the server checks its checksum), as CopyData after the server's CopyInResponse; the server
// answers with CommandComplete, no result set. A server error is kServer with its message.
Result<void> upload_manifest(pg::Connection& connection, std::string_view manifest);

// One row of the tablespace header. The main data directory comes with oid 0 and an empty
// location.
struct TablespaceRow {
  uint32_t oid = 0;
  std::string location;
  std::optional<uint64_t> size_kb;  // with PROGRESS
};

struct BaseBackupStart {
  uint64_t start_lsn = 0;
  uint32_t timeline = 0;
  std::vector<TablespaceRow> tablespaces;
};

struct BaseBackupEnd {
  uint64_t end_lsn = 0;
  uint32_t timeline = 0;
};

// Receives the stream. An error returned by any call aborts the backup and is returned by
// run_base_backup unchanged.
class BaseBackupConsumer {
 public:
  virtual ~BaseBackupConsumer() = default;
  virtual Result<void> start(const BaseBackupStart& start) = 0;
  // A new archive: its name ("base.tar", "16384.tar", with a compression suffix when the
  // server compresses) and the tablespace location ("" for the main directory).
  virtual Result<void> begin_archive(const std::string& name, const std::string& location) = 0;
  virtual Result<void> archive_data(std::span<const uint8_t> bytes) = 0;
  virtual Result<void> end_archive() = 0;
  virtual Result<void> manifest_data(std::span<const uint8_t> bytes) = 0;
  virtual void progress(uint64_t /*bytes_sent*/) {}
};

// Sends the command and drives it to its end. Server errors come back as kServer with the
// server's message; a lost connection as kIo; unexpected messages as kProtocol.
Result<BaseBackupEnd> run_base_backup(pg::Connection& connection, const std::string& command,
                                      BaseBackupConsumer& consumer);

}  // namespace pgm::backup
