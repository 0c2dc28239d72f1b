#include "pgm/wal/protocol.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pgm::wal {
namespace {

TEST(ProtocolTest, EncodesStandbyStatusUpdateGolden) {
  StandbyStatusUpdate u;
  u.write = Lsn(1, 0x3000000);
  u.flush = Lsn(1, 0x2000000);
  u.client_time = PgTime(0x0102030405060708);
  u.reply_requested = true;
  const std::vector<uint8_t> want = {
      'r',  0, 0, 0, 1, 3, 0, 0, 0,  // write
      0,    0, 0, 1, 2, 0, 0, 0,     // flush
      0,    0, 0, 0, 0, 0, 0, 0,     // apply
      1,    2, 3, 4, 5, 6, 7, 8,     // client time
      0x01,                          // reply requested
  };
  EXPECT_EQ(encode_standby_status_update(u), want);
  u.reply_requested = false;
  EXPECT_EQ(encode_standby_status_update(u).back(), 0);
}

TEST(ProtocolTest, DecodesXLogDataGolden) {
  const std::vector<uint8_t> msg = {'w', 0,   0,  0, 0, 3, 0,    0,    0,  // start 0/3000000
                                    0,   0,   0,  0, 3, 0, 0,    0x10,     // server end 0/3000010
                                    0,   0,   0,  0, 0, 0, 0x01, 0x00,     // send time 256 us
                                    'a', 'b', 'c'};
  auto m = decode_copy_data(msg);
  ASSERT_TRUE(m) << m.error().message();
  const auto* d = std::get_if<XLogData>(&*m);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->start, Lsn(0x3000000));
  EXPECT_EQ(d->server_end, Lsn(0x3000010));
  EXPECT_EQ(d->send_time, PgTime(256));
  EXPECT_EQ(std::string(d->data.begin(), d->data.end()), "abc");
  EXPECT_EQ(encode_xlog_data(d->start, d->server_end, d->send_time, d->data), msg);
}

TEST(ProtocolTest, DecodesKeepaliveGolden) {
  const std::vector<uint8_t> msg = {'k', 0, 0, 0, 2, 0, 0, 0, 0x28,  // end 2/28
                                    0,   0, 0, 0, 0, 0, 0, 7,        // send time
                                    1};
  auto m = decode_copy_data(msg);
  ASSERT_TRUE(m) << m.error().message();
  const auto* k = std::get_if<PrimaryKeepalive>(&*m);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->server_end, Lsn(2, 0x28));
  EXPECT_EQ(k->send_time, PgTime(7));
  EXPECT_TRUE(k->reply_requested);
  EXPECT_EQ(encode_keepalive(*k), msg);
}

TEST(ProtocolTest, RejectsTruncatedMessages) {
  std::vector<uint8_t> data(10, 0x55);
  std::vector<uint8_t> w = encode_xlog_data(Lsn(1), Lsn(2), PgTime(3), data);
  std::vector<uint8_t> k = encode_keepalive(PrimaryKeepalive{Lsn(1), PgTime(2), false});
  for (const std::vector<uint8_t>* msg : {&w, &k}) {
    size_t header = (*msg)[0] == 'w' ? 25 : 18;
    for (size_t len = 0; len < header; ++len) {
      SCOPED_TRACE(std::to_string((*msg)[0]) + " len " + std::to_string(len));
      auto m = decode_copy_data(std::span<const uint8_t>(msg->data(), len));
      ASSERT_FALSE(m);
      EXPECT_EQ(m.error().code(), ErrorCode::kProtocol);
      EXPECT_NE(m.error().message().find(len == 0 ? "empty" : "truncated"), std::string::npos);
    }
  }
  auto empty_data = decode_copy_data(std::span<const uint8_t>(w.data(), 25));
  ASSERT_TRUE(empty_data);
  EXPECT_TRUE(std::get<XLogData>(*empty_data).data.empty());
}

TEST(ProtocolTest, RejectsUnknownMessageType) {
  const std::vector<uint8_t> msg = {'x', 0, 0};
  auto m = decode_copy_data(msg);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(m.error().message(), "unknown copydata message type 'x' (0x78)");
}

TEST(ProtocolTest, ConvertsTimesAroundPostgresEpoch) {
  using std::chrono::seconds;
  using std::chrono::system_clock;
  system_clock::time_point pg_epoch{seconds(kPgEpochUnixSeconds)};
  EXPECT_EQ(to_pg_time(pg_epoch), PgTime(0));
  EXPECT_EQ(to_pg_time(pg_epoch + seconds(86400)), PgTime(86400000000));
  EXPECT_EQ(to_pg_time(system_clock::time_point()), -PgTime(kPgEpochUnixSeconds * 1000000));
  EXPECT_EQ(from_pg_time(PgTime(1500000)), pg_epoch + std::chrono::microseconds(1500000));
}

}  // namespace
}  // namespace pgm::wal
