// Repository metadata formats of one backup directory: backup.info (key=value), the label
// (local time YYYYMMDDHHMMSS), backup.sha512 (sha512sum lines), backup.manifest (pgmoneta's CSV)
// and its comparison with PostgreSQL's backup_manifest JSON. Pure functions over text; value
// types are thread-compatible. SHA-512 itself is crypto::Sha512 (pgm/crypto/digest.h).
//
// Byte formats follow pgmoneta (reference §6.1); see the comments at each function.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgm/backup/postgres_manifest.h"
#include "pgm/core/result.h"

namespace pgm::backup {

// ---------------------------------------------------------------------------------------------
// backup.info

enum class BackupType : uint8_t { kFull = 0, kIncremental = 1 };

// One tablespace, written as TABLESPACEi / TABLESPACE_OIDi / TABLESPACE_PATHi (i from 1).
struct TablespaceInfo {
  std::string name;  // directory name inside the backup, "tblspc_<spcname>"
  std::string oid;   // as PostgreSQL printed it
  std::string path;  // location on the server
  friend bool operator==(const TablespaceInfo&, const TablespaceInfo&) = default;
};

// Timings are seconds, written with 4 decimals ("%.4f").
using Seconds = std::chrono::duration<double>;

struct BackupInfo {
  std::string pgmoneta_version;    // PGMONETA_VERSION
  bool valid = false;              // STATUS: 1 valid, 0 not
  std::string label;               // LABEL
  std::string wal;                 // WAL: first WAL segment name of the backup
  uint64_t backup_size = 0;        // BACKUP: bytes on disk
  uint64_t restore_size = 0;       // RESTORE: bytes after restore
  uint64_t biggest_file_size = 0;  // BIGGEST_FILE
  Seconds elapsed{0};              // ELAPSED
  Seconds basebackup_elapsed{0};   // BASEBACKUP_ELAPSED
  Seconds hash_elapsed{0};         // HASH_ELAPSED
  Seconds compression_zstd_elapsed{0};
  Seconds compression_gzip_elapsed{0};
  Seconds compression_bzip2_elapsed{0};
  Seconds compression_lz4_elapsed{0};
  Seconds encryption_elapsed{0};
  Seconds linking_elapsed{0};
  Seconds manifest_elapsed{0};
  Seconds remote_ssh_elapsed{0};
  Seconds remote_s3_elapsed{0};
  Seconds remote_azure_elapsed{0};
  int major_version = 0;    // MAJOR_VERSION (PostgreSQL)
  int minor_version = 0;    // MINOR_VERSION
  bool keep = false;        // KEEP: retained
  uint8_t compression = 0;  // COMPRESSION: pgmoneta's type byte (e.g. 18 = client zstd)
  uint8_t encryption = 0;   // ENCRYPTION: 0 none, 1..3 AES variants
  std::vector<TablespaceInfo> tablespaces;  // TABLESPACES is their count
  uint64_t start_lsn = 0;                   // START_WALPOS, "X/X"
  uint64_t end_lsn = 0;                     // END_WALPOS
  uint64_t checkpoint_lsn = 0;              // CHKPT_WALPOS
  uint32_t start_timeline = 0;              // START_TIMELINE
  uint32_t end_timeline = 0;                // END_TIMELINE
  BackupType type = BackupType::kFull;      // TYPE
  std::string parent;                       // PARENT: parent label, empty for a full backup
  std::string comments;  // COMMENTS: raw "key|value,key|value" (see the comment helpers)
  std::string extra;     // EXTRA
  // Keys this version does not know, in file order; written back after EXTRA.
  std::vector<std::pair<std::string, std::string>> extra_keys;

  friend bool operator==(const BackupInfo&, const BackupInfo&) = default;
};

// "key=value\n" lines in pgmoneta's order. No string value may contain '\n' (a bug otherwise:
// set_comment validates user text).
std::string format_backup_info(const BackupInfo& info);

// Parses backup.info. Unknown keys go to extra_keys; missing known keys keep their defaults
// but LABEL is required. Errors (kCorruption) name the line number and key: a line without '=',
// a malformed number/LSN/flag, a duplicate key, tablespace keys inconsistent with TABLESPACES.
Result<BackupInfo> parse_backup_info(std::string_view text);

// The backup's first WAL segment: WAL when it is a segment name, else (pgmoneta sometimes writes
// "WAL=(null)") the segment holding START_WALPOS on START_TIMELINE. "" when neither is usable
// or seg_size is not a valid WAL segment size.
std::string first_wal_segment(const BackupInfo& info, uint64_t seg_size);

// The WAL segment size (1 MB to 1 GB) for which START_WALPOS on START_TIMELINE lies in the
// segment WAL names; 0 when none or more than one does (WAL=(null), an LSN in the first 1 MB).
// For when the server was never reached and the repository is all there is.
uint64_t segment_size_from_info(const BackupInfo& info);

// "%X/%X" as PostgreSQL prints an LSN, and its parser (1-8 hex digits each side).
std::string format_lsn(uint64_t lsn);
std::optional<uint64_t> parse_lsn(std::string_view text);

// COMMENTS helpers. Entries are "key|value" joined by ','. A key is non-empty and holds no
// ',', '|' or '\n'; a value holds no ',' or '\n' (kInvalidArgument otherwise). A malformed
// stored COMMENTS (an entry without '|') -> kCorruption.
Result<std::vector<std::pair<std::string, std::string>>> parse_comments(std::string_view text);
Result<std::optional<std::string>> get_comment(const BackupInfo& info, std::string_view key);
// Replaces the value in place when the key exists, else appends.
Result<void> set_comment(BackupInfo& info, std::string_view key, std::string_view value);
// kNotFound when the key is absent.
Result<void> remove_comment(BackupInfo& info, std::string_view key);

// Keys of ours in extra_keys (pgmoneta ignores unknown keys): the value of `key`, nullptr when
// absent; set replaces the value in place or appends the key.
const std::string* extra_key(const BackupInfo& info, std::string_view key);
void set_extra_key(BackupInfo& info, std::string_view key, std::string_view value);

// The remote engines holding a complete copy, from STORAGE_<ENGINE>=<time> (written by the
// daemon's off-site copies; an empty value is no copy), lower-cased as storage_engine spells
// them: {"ssh", "s3"}.
std::vector<std::string> remote_copies(const BackupInfo& info);

// Forgets every remote copy (the STORAGE_<ENGINE> keys and the REMOTE_*_ELAPSED times): for a
// backup whose stored files changed, so the off-site pass uploads it anew.
void forget_remote_copies(BackupInfo& info);

// ---------------------------------------------------------------------------------------------
// Labels: local time at backup start, YYYYMMDDHHMMSS.

std::string make_label(std::chrono::system_clock::time_point time);
// 14 digits forming a valid calendar date and time of day.
bool is_label(std::string_view text);
// The local time the label names; kInvalidArgument when !is_label(text).
Result<std::chrono::system_clock::time_point> label_time(std::string_view text);

// ---------------------------------------------------------------------------------------------
// backup.sha512: "<128 hex> *./<path>\n" per stored file, path relative to the backup directory.

struct Sha512Entry {
  std::string path;  // without the leading "./"
  std::string hex;   // lower case
  friend bool operator==(const Sha512Entry&, const Sha512Entry&) = default;
};

std::string format_sha512_line(const Sha512Entry& entry);
// Accepts "<hex> *<path>" and sha512sum's text mode "<hex>  <path>", with or without "./".
// kCorruption naming the line for bad hex, a missing separator, an empty path or a
// backslash-escaped name (sha512sum's escaping is not produced by pgmoneta).
Result<std::vector<Sha512Entry>> parse_sha512_file(std::string_view text);

// ---------------------------------------------------------------------------------------------
// backup.manifest: "<path relative to data/>,<sha512 hex>\n" per file, no header.

struct ManifestEntry {
  ManifestEntry() = default;
  ManifestEntry(std::string p, std::string sha, std::string crc = {})
      : path(std::move(p)), sha512(std::move(sha)), crc32c(std::move(crc)) {}
  std::string path;
  std::string sha512;  // lower case hex
  // CRC-32C as backup_manifest writes it (crc32c_manifest_hex); only for comparing with a
  // manifest taken with MANIFEST_CHECKSUMS 'CRC32C', never written to backup.manifest.
  std::string crc32c;
  friend bool operator==(const ManifestEntry&, const ManifestEntry&) = default;
};

// kInvalidArgument for a path containing '\n' or a checksum that is not SHA-512 hex.
Result<std::string> format_manifest(std::span<const ManifestEntry> entries);
// Splits each line at its last ','; kCorruption naming the line when malformed.
Result<std::vector<ManifestEntry>> parse_manifest(std::string_view text);

// PostgreSQL's manifest against `ours` (postgres_manifest.h, which says what is compared and
// how errors are reported), for callers holding ManifestEntry values.
Result<std::vector<ManifestMismatch>> compare_with_postgres_manifest(
    std::span<const ManifestEntry> ours, std::string_view postgres_manifest_json);

}  // namespace pgm::backup
