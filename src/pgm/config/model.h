// The typed configuration model of pgmoneta.conf. Plain values; a loaded Config is shared
// as std::shared_ptr<const Config> and never mutated, so it is safe to read from any thread.
//
// Field names are the configuration keys. The key table (key, section, type, default,
// live/restart) is kKeyTable in keys.cc; the parse/format helpers below give each enumerated
// key its accepted spellings.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/log/level.h"

namespace pgm::config {

using std::chrono::seconds;

enum class LogType { kConsole, kFile, kSyslog };
enum class LogMode { kAppend, kCreate };
enum class Hugepage { kOff, kTry, kOn };
enum class DirectIo { kOff, kAuto, kOn };
enum class Libev { kAuto, kSelect, kPoll, kEpoll, kIouring, kDevpoll, kPort };
enum class ProcessTitle { kNever, kStrict, kMinimal, kVerbose };
// `manifest_checksums` (ours): the checksum PostgreSQL puts in a backup's backup_manifest.
enum class ManifestChecksums { kSha512, kCrc32c };

// `compression`: an algorithm plus where it runs. "gzip" means client-gzip.
struct Compression {
  compress::Algorithm algorithm = compress::Algorithm::kZstd;
  bool server_side = false;  // server-* : PostgreSQL compresses the BASE_BACKUP stream
  // pgmoneta's type byte: 0 for none, else 0x10 client / 0x20 server | algorithm (1..4).
  uint8_t type_byte() const;
  bool operator==(const Compression&) const = default;
};

// `storage_engine`: any of local, ssh, s3, azure.
struct StorageEngines {
  bool local = true;
  bool ssh = false;
  bool s3 = false;
  bool azure = false;
  bool operator==(const StorageEngines&) const = default;
};

// `retention = D,W,M,Y`; '-' (or an omitted trailing field) leaves a field unset.
struct Retention {
  std::optional<int> days;
  std::optional<int> weeks;
  std::optional<int> months;
  std::optional<int> years;
  bool operator==(const Retention&) const = default;
};

// One `from->to` pair of hot_standby_tablespaces (names or OIDs).
struct TablespaceMapping {
  std::string from;
  std::string to;
  bool operator==(const TablespaceMapping&) const = default;
};

// Where values came from, for "<file>:<line>: <key>: ..." diagnostics.
struct Origin {
  std::string file;
  int line = 0;                     // the section header (0 when unknown)
  std::map<std::string, int> keys;  // key -> line of its last assignment
  int line_of(const std::string& key) const;
};

struct ServerConfig {
  std::string name;                      // the section name
  std::string host;                      // required; a leading '/' means a Unix socket directory
  int port = 0;                          // required
  std::string user;                      // required
  std::string wal_slot;                  // required
  std::optional<bool> create_slot;       // unset: the global create_slot
  std::string follow;                    // another server's name, or ""
  Retention retention;                   // unset fields fall back to the global retention
  std::string wal_shipping;              // path or ""
  std::string workspace;                 // path or "" (the global workspace)
  std::vector<std::string> hot_standby;  // up to 8 directories
  std::vector<std::string> hot_standby_overrides;  // one directory per standby ('|' list)
  std::vector<std::vector<TablespaceMapping>> hot_standby_tablespaces;  // per standby
  int workers = -1;                                                     // -1: the global workers
  int64_t max_rate = -1;         // bytes/s; -1: the global max_rate
  std::optional<bool> progress;  // unset (-1 in the file): the global progress
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  std::optional<std::string> s3_endpoint;
  std::optional<int> s3_port;
  std::optional<bool> s3_use_tls;
  std::optional<std::string> s3_region;
  std::optional<std::string> s3_access_key_id;
  std::optional<std::string> s3_secret_access_key;
  std::optional<std::string> s3_bucket;
  std::optional<std::string> s3_base_dir;
  std::optional<std::string> s3_storage_class;
  std::vector<std::string> extra;  // server-side paths fetched via pgmoneta_ext
  bool wal_sync = false;           // ours: report flush only after fsync (synchronous standby)
  std::optional<bool> verification_start;  // ours; unset: the global verification_start
  Origin origin;
};

struct Config {
  std::string host;  // bind address, "*" = all
  std::string unix_socket_dir;
  std::string base_dir;
  std::string pidfile;  // default <unix_socket_dir>/pgmoneta.<host|all>.pid
  int metrics = 0;
  int management = 0;
  int console = 0;
  int nagios = 0;
  seconds metrics_cache_max_age{0};
  uint64_t metrics_cache_max_size = 256 * 1024;
  std::string metrics_cert_file;
  std::string metrics_key_file;
  std::string metrics_ca_file;
  Compression compression;
  int compression_level = 3;
  crypto::AesMode encryption = crypto::AesMode::kNone;
  StorageEngines storage_engine;
  int workers = 0;
  std::string workspace;  // default <$TMPDIR or /tmp>/pgmoneta-workspace-<uid>/
  uint64_t max_rate = 0;  // bytes/s, 0 = unlimited
  bool progress = false;
  ManifestChecksums manifest_checksums = ManifestChecksums::kSha512;  // ours
  seconds verification{0};
  // ours: the periodic verification also proves the newest backup of each server by starting
  // a throwaway PostgreSQL on a restored copy (restore/proven.h)
  bool verification_start = false;
  bool create_slot = false;
  DirectIo direct_io = DirectIo::kOff;
  Hugepage hugepage = Hugepage::kTry;
  Retention retention{7, std::nullopt, std::nullopt, std::nullopt};
  seconds retention_interval{300};
  seconds probe_interval{60};  // ours: server probe and WAL continuity check
  LogType log_type = LogType::kConsole;
  log::Level log_level = log::Level::kInfo;
  std::string log_path = "pgmoneta.log";
  LogMode log_mode = LogMode::kAppend;
  seconds log_rotation_age{0};
  uint64_t log_rotation_size = 0;
  std::string log_line_prefix = "%Y-%m-%d %H:%M:%S";
  bool tls = false;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  seconds blocking_timeout{30};
  seconds authentication_timeout{5};
  bool keep_alive = true;
  bool nodelay = true;
  bool non_blocking = true;
  int backlog = 16;
  Libev libev = Libev::kAuto;
  ProcessTitle update_process_title = ProcessTitle::kVerbose;
  std::string ssh_hostname;
  std::string ssh_username;
  std::string ssh_base_dir;
  int ssh_port = 22;
  std::string ssh_public_key_file;   // default $HOME/.ssh/id_rsa.pub
  std::string ssh_private_key_file;  // default $HOME/.ssh/id_rsa
  std::vector<std::string> ssh_ciphers{"aes-256-ctr", "aes-192-ctr", "aes-128-ctr"};
  std::string ssh_known_hosts_file;  // ours; default $HOME/.ssh/known_hosts
  std::string s3_endpoint;
  int s3_port = 443;
  bool s3_use_tls = false;
  std::string s3_region;
  std::string s3_access_key_id;
  std::string s3_secret_access_key;
  std::string s3_bucket;
  std::string s3_base_dir;
  std::string s3_storage_class = "REDUCED_REDUNDANCY";
  std::string azure_storage_account;
  std::string azure_container;
  std::string azure_shared_key;
  std::string azure_base_dir;
  std::string azure_endpoint;
  int azure_port = 443;
  bool azure_use_tls = true;
  bool link = true;  // pgmoneta debug builds only; accepted everywhere

  std::vector<ServerConfig> servers;  // at most kMaxServers, in file order
  Origin origin;                      // origin.file is the configuration path
};

inline constexpr size_t kMaxServers = 64;
inline constexpr size_t kMaxHotStandbys = 8;

// The global retention with unset server fields filled in.
Retention effective_retention(const Config& config, const ServerConfig& server);

// <base_dir>/<server>/wal: where the server's WAL is received.
std::string wal_directory(const Config& config, const ServerConfig& server);
// <wal_shipping>/<server>/wal, or "" when wal_shipping is unset.
std::string wal_shipping_directory(const ServerConfig& server);

// Workers of one server's pipelines (server `workers`, else the global one), at least 1:
// pgmoneta's 0 means "no pool", which is the same amount of parallelism as one worker.
int workers_for(const Config& config, const ServerConfig& server);

// Whether the server's operations publish progress figures (`progress`).
bool progress_enabled(const Config& config, const ServerConfig& server);

}  // namespace pgm::config
