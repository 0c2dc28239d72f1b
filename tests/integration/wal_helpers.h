// Helpers for the WAL receiver integration tests: reading what the daemon stored under
// <base_dir>/<server>/wal (decrypt, decompress, compare with PostgreSQL's pg_wal), checking a
// directory holds one contiguous, duplicate-free run of segments, polling `status details`,
// and small SQL helpers. Not thread-safe (same rules as the harness).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "integration/daemon_instance.h"
#include "integration/postgres_instance.h"
#include <nlohmann/json.hpp>

#include "pgm/compress/codec.h"
#include "pgm/crypto/aes.h"
#include "pgm/wal/segment.h"

namespace pgm::testing {

// The master key the daemon uses: <home>/.pgmoneta/master.key (base64 password, base64 salt),
// derived like crypto::load_master_key (which insists the file belongs to the current user, so
// it cannot read the test user's file when the test runs as root). nullopt with `error` set.
std::optional<crypto::MasterKey> load_master_key_at(const std::string& path, std::string* error);

// "<dir>/<name>".
std::string path_join(const std::string& dir, const std::string& name);

// <base_dir>/<server>/wal of a daemon whose base_dir the harness chose.
std::string daemon_wal_dir(const DaemonInstance& d, const std::string& server = "primary");

// The suffix every complete segment must carry: ".zstd", ".gz.aes", "" ...
std::string expected_suffix(compress::Algorithm algorithm, crypto::AesMode encryption);

// Names in `dir` (no "." / ".."), sorted; empty when unreadable.
std::vector<std::string> list_dir(const std::string& dir);

// Reads a stored file and undoes encryption (when `info.encrypted`) and compression. Returns
// the plain bytes, or nullopt with `error` set.
std::optional<std::string> decode_stored_file(const std::string& path, const wal::WalFileInfo& info,
                                              crypto::AesMode mode, const crypto::MasterKey* key,
                                              std::string* error);

struct WalDirCheck {
  size_t segments = 0;             // complete segments found
  size_t compared = 0;             // of those, compared byte-for-byte with the reference
  std::vector<std::string> names;  // base names of complete segments, sorted
  // Per timeline: the lowest and highest segment number of its complete segments.
  std::map<uint32_t, std::pair<wal::SegmentNo, wal::SegmentNo>> ranges;
  std::vector<std::string> problems;  // human-readable, empty when everything is right
  std::string summary() const;        // problems joined, plus the listing of names
};

struct WalDirCheckOptions {
  std::string wal_dir;
  std::string reference_dir;  // PostgreSQL's pg_wal; "" = no byte comparison
  std::string suffix;         // expected_suffix() of the daemon's configuration
  crypto::AesMode mode = crypto::AesMode::kNone;
  const crypto::MasterKey* key = nullptr;
  uint64_t seg_size = wal::kDefaultSegmentSize;
  // A complete segment whose reference file is missing is a problem (true) or skipped (false).
  bool require_reference = true;
};

// Every complete segment: right suffix, decodes, one segment size long, equal to the reference
// file; per timeline the segment numbers are contiguous with no duplicate (two stored forms of
// one segment, or a .partial of a segment already complete or older than a complete one); at
// most one .partial per timeline; no unclassified files (temp files left behind).
// `also_allowed`: suffixes of earlier configurations (segments stored before a reload).
WalDirCheck check_wal_dir(const WalDirCheckOptions& options,
                          const std::vector<std::string>& also_allowed = {});

// Waits until `dir` holds `segment` + `suffix` and no complete segment in another stored form
// (e.g. plain while compression is on; `also_allowed` lists accepted other suffixes) nor an
// unclassified file (compression in progress). Returns "" or a description of the last state.
std::string wait_for_settled_segment(const std::string& dir, const std::string& segment,
                                     const std::string& suffix, std::chrono::milliseconds timeout,
                                     const std::vector<std::string>& also_allowed = {});

// The .partial of the segment holding `flushed` on `tli` must be one segment long and its first
// segment_offset(flushed) bytes must equal those of the reference file (bytes PostgreSQL has
// flushed never change). Returns "" when they do (nothing to compare at offset 0), else what is
// wrong; `compared` gets the number of bytes compared.
std::string check_partial_prefix(const std::string& wal_dir, const std::string& reference_dir,
                                 wal::TimelineId tli, wal::Lsn flushed, size_t* compared,
                                 uint64_t seg_size = wal::kDefaultSegmentSize);

// Complete segments stored plain although `suffix` is not "" (compression in progress), plus
// unclassified files (temp files).
std::vector<std::string> unfinished_files(const std::string& dir, const std::string& suffix);

// The slot's restart_lsn ("" when the slot is missing or has none).
std::string slot_restart_lsn(const PostgresInstance& pg, const std::string& slot);

// `pgmoneta-cli -F json status details`, the object of `server` (null when the command failed
// or the server is absent; `error` then says why).
nlohmann::json server_details(const DaemonInstance& d, const std::string& server,
                              std::string* error = nullptr);
// Polls server_details every 200 ms until `pred` holds; returns the object for which it held,
// or nullopt (with `last` holding the last object or error seen).
std::optional<nlohmann::json> wait_for_details(
    const DaemonInstance& d, const std::string& server,
    const std::function<bool(const nlohmann::json&)>& pred, std::chrono::milliseconds timeout,
    std::string* last);
// Members of a status object with a type check (defaults when absent or of another type).
bool json_bool(const nlohmann::json& j, const std::string& key, bool fallback = false);
int64_t json_int(const nlohmann::json& j, const std::string& key, int64_t fallback = -1);
std::string json_string(const nlohmann::json& j, const std::string& key);

// Runs `sql` and returns its trimmed output; ADD_FAILURE-free: `ok` false (output holds the
// failure description) when psql failed.
std::string sql_value(const PostgresInstance& pg, const std::string& sql, bool* ok = nullptr);

// Writes a little WAL (so a switch is never a no-op), then pg_switch_wal(); returns the name of
// the segment the switch completed, "" with `error` set on failure.
std::string switch_wal(const PostgresInstance& pg, std::string* error);

// PIDs of walsenders with this application_name (pg_stat_replication).
std::vector<std::string> walsender_pids(const PostgresInstance& pg, const std::string& app_name);

// Drops a replication slot, waiting (up to `timeout`) for its walsender to go away first.
// Returns "" or the last error; a missing slot is not an error.
std::string drop_slot(const PostgresInstance& pg, const std::string& slot,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20));

// /proc/<pid>/cmdline with NULs turned into spaces ("" when unreadable).
std::string process_cmdline(int64_t pid);

}  // namespace pgm::testing
