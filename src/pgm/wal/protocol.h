// Streaming-replication CopyData payloads (PostgreSQL protocol docs, "Streaming Replication
// Protocol"): decode XLogData 'w' and primary keepalive 'k', encode Standby Status Update
// 'r'. Pure functions over bytes, thread-safe. All integers are big-endian; times are
// microseconds since 2000-01-01 00:00:00 UTC (PostgreSQL's epoch).
//
//   'w' start:Int64 end:Int64 send_time:Int64 data:Byte[n]      (25 + n bytes)
//   'k' end:Int64 send_time:Int64 reply_requested:Byte           (18 bytes)
//   'r' write:Int64 flush:Int64 apply:Int64 client_time:Int64 reply_requested:Byte  (34 bytes)
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/wal/lsn.h"

namespace pgm::wal {

// Microseconds since 2000-01-01 00:00:00 UTC.
using PgTime = std::chrono::microseconds;

// Seconds from the Unix epoch to PostgreSQL's epoch.
inline constexpr int64_t kPgEpochUnixSeconds = 946684800;

PgTime to_pg_time(std::chrono::system_clock::time_point t);
std::chrono::system_clock::time_point from_pg_time(PgTime t);

struct XLogData {
  Lsn start;                      // LSN of data[0]
  Lsn server_end;                 // current end of WAL on the server
  PgTime send_time{0};            // server clock at send
  std::span<const uint8_t> data;  // borrows from the decoded message
};

struct PrimaryKeepalive {
  Lsn server_end;
  PgTime send_time{0};
  bool reply_requested = false;
};

struct StandbyStatusUpdate {
  Lsn write;  // last byte received and written + 1
  Lsn flush;  // last byte durably flushed + 1
  Lsn apply;  // last byte applied + 1 (0/0 when not applicable)
  PgTime client_time{0};
  bool reply_requested = false;
};

using CopyDataMessage = std::variant<XLogData, PrimaryKeepalive>;

// Decodes one CopyData payload from the server. Empty, truncated or unknown-type messages ->
// kProtocol. A returned XLogData borrows `message`, which must outlive it.
Result<CopyDataMessage> decode_copy_data(std::span<const uint8_t> message);

// The 34-byte 'r' message, ready to send as CopyData.
std::vector<uint8_t> encode_standby_status_update(const StandbyStatusUpdate& update);

// Server-side encoders, for tests and fake servers.
std::vector<uint8_t> encode_xlog_data(Lsn start, Lsn server_end, PgTime send_time,
                                      std::span<const uint8_t> data);
std::vector<uint8_t> encode_keepalive(const PrimaryKeepalive& keepalive);

}  // namespace pgm::wal
