#include "pgm/wal/protocol.h"

#include <fmt/format.h>

namespace pgm::wal {
namespace {

constexpr size_t kXLogDataHeader = 1 + 8 + 8 + 8;
constexpr size_t kKeepaliveLength = 1 + 8 + 8 + 1;
constexpr size_t kStatusUpdateLength = 1 + 8 + 8 + 8 + 8 + 1;

uint64_t read_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | p[i];
  }
  return v;
}

void append_be64(std::vector<uint8_t>& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

tl::unexpected<Error> truncated(char type, size_t got, size_t need) {
  return make_error(
      ErrorCode::kProtocol,
      fmt::format("truncated copydata message '{}': {} bytes, need at least {}", type, got, need));
}

}  // namespace

PgTime to_pg_time(std::chrono::system_clock::time_point t) {
  auto since_unix = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch());
  return since_unix - std::chrono::seconds(kPgEpochUnixSeconds);
}

std::chrono::system_clock::time_point from_pg_time(PgTime t) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          t + std::chrono::seconds(kPgEpochUnixSeconds)));
}

Result<CopyDataMessage> decode_copy_data(std::span<const uint8_t> message) {
  if (message.empty()) {
    return make_error(ErrorCode::kProtocol, "empty copydata message");
  }
  const uint8_t* p = message.data();
  switch (p[0]) {
    case 'w': {
      if (message.size() < kXLogDataHeader) {
        return truncated('w', message.size(), kXLogDataHeader);
      }
      XLogData d;
      d.start = Lsn(read_be64(p + 1));
      d.server_end = Lsn(read_be64(p + 9));
      d.send_time = PgTime(static_cast<int64_t>(read_be64(p + 17)));
      d.data = message.subspan(kXLogDataHeader);
      return CopyDataMessage(d);
    }
    case 'k': {
      if (message.size() < kKeepaliveLength) {
        return truncated('k', message.size(), kKeepaliveLength);
      }
      PrimaryKeepalive k;
      k.server_end = Lsn(read_be64(p + 1));
      k.send_time = PgTime(static_cast<int64_t>(read_be64(p + 9)));
      k.reply_requested = p[17] != 0;
      return CopyDataMessage(k);
    }
    default: {
      char printable = (p[0] >= 0x20 && p[0] < 0x7f) ? static_cast<char>(p[0]) : '?';
      return make_error(
          ErrorCode::kProtocol,
          fmt::format("unknown copydata message type '{}' (0x{:02x})", printable, p[0]));
    }
  }
}

std::vector<uint8_t> encode_standby_status_update(const StandbyStatusUpdate& update) {
  std::vector<uint8_t> out;
  out.reserve(kStatusUpdateLength);
  out.push_back('r');
  append_be64(out, update.write.value());
  append_be64(out, update.flush.value());
  append_be64(out, update.apply.value());
  append_be64(out, static_cast<uint64_t>(update.client_time.count()));
  out.push_back(update.reply_requested ? 1 : 0);
  return out;
}

std::vector<uint8_t> encode_xlog_data(Lsn start, Lsn server_end, PgTime send_time,
                                      std::span<const uint8_t> data) {
  std::vector<uint8_t> out;
  out.reserve(kXLogDataHeader + data.size());
  out.push_back('w');
  append_be64(out, start.value());
  append_be64(out, server_end.value());
  append_be64(out, static_cast<uint64_t>(send_time.count()));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> encode_keepalive(const PrimaryKeepalive& keepalive) {
  std::vector<uint8_t> out;
  out.reserve(kKeepaliveLength);
  out.push_back('k');
  append_be64(out, keepalive.server_end.value());
  append_be64(out, static_cast<uint64_t>(keepalive.send_time.count()));
  out.push_back(keepalive.reply_requested ? 1 : 0);
  return out;
}

}  // namespace pgm::wal
