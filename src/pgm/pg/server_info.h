// ServerInfo: what pgmoneta needs to know about a PostgreSQL server before backing it up, read
// with SHOW on a normal (non-replication) connection. Pure functions apart from probe().
// Thread-safe value types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"

namespace pgm::pg {

class Connection;

// Oldest PostgreSQL release pgmoneta supports.
inline constexpr int kMinVersionNum = 130000;

struct ServerInfo {
  int version_num = 0;  // 150004
  int major = 0;        // 15
  int minor = 0;        // 4
  std::string wal_level;
  bool data_checksums = false;
  bool track_commit_timestamp = false;
  uint32_t block_size = 0;        // bytes
  uint32_t wal_segment_size = 0;  // bytes
  uint64_t segment_size = 0;      // bytes (relation segment file size)
  bool in_recovery = false;
  std::optional<bool> summarize_wal;  // PostgreSQL 17 and later
};

// Parses a memory-unit setting as SHOW prints it: "8192", "8kB", "16MB", "1GB", "1TB"
// (1024-based, PostgreSQL's units). kInvalidArgument on anything else or on overflow.
Result<uint64_t> parse_size(std::string_view text);

// Parses a boolean setting: on/off, true/false, yes/no, 1/0 (case-insensitive).
Result<bool> parse_bool(std::string_view text);

// Builds a ServerInfo from SHOW results keyed by setting name (wal_level, data_checksums,
// track_commit_timestamp, block_size, wal_segment_size, segment_size, and summarize_wal when
// present). kProtocol when a setting is missing or malformed.
Result<ServerInfo> make_server_info(int version_num,
                                    const std::map<std::string, std::string>& settings,
                                    bool in_recovery);

// Runs the probe queries on `conn` (a normal connection: pg_is_in_recovery() is not allowed on
// a replication one). Blocks; errors carry the failing statement.
Result<ServerInfo> probe(Connection& conn);

// kConfig when pgmoneta cannot back this server up: release older than 13, wal_level minimal,
// or sizes out of PostgreSQL's ranges.
Result<void> check_usable(const ServerInfo& info);

// Problems that do not stop a backup (track_commit_timestamp off, summarize_wal off on 17+),
// one lowercase line each; empty when none.
std::vector<std::string> warnings(const ServerInfo& info);

}  // namespace pgm::pg
