#include "pgm/net/pg_wire.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pgm::net::wire {
namespace {

Bytes body_of(const Bytes& packet, size_t header) {
  return {packet.begin() + static_cast<std::ptrdiff_t>(header), packet.end()};
}

Bytes bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(PgWireTest, SslRequestIsEightBytes) {
  EXPECT_EQ(encode_ssl_request(), (Bytes{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}));
}

TEST(PgWireTest, StartupRoundTrip) {
  Bytes packet = encode_startup({{"user", "admin"}, {"database", "admin"}});
  ASSERT_EQ(packet.size(), 4u + 4 + 5 + 6 + 9 + 6 + 1);
  EXPECT_EQ(packet[3], packet.size());
  auto p = decode_startup_packet(body_of(packet, 4));
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->kind, StartupPacket::Kind::kStartup);
  EXPECT_EQ(p->version, kProtocolVersion3);
  EXPECT_EQ(p->param("user"), "admin");
  EXPECT_EQ(p->param("database"), "admin");
  EXPECT_FALSE(p->param("options"));
}

TEST(PgWireTest, StartupRejectsMalformedParameterLists) {
  const std::vector<Bytes> cases = {
      {0, 3, 0, 0},                             // no terminator
      {0, 3, 0, 0, 'u', 's', 'e', 'r', 0},      // key without value
      {0, 3, 0, 0, 'u', 0, 'x', 0},             // no final NUL
      {0, 3, 0, 0, 'u', 0, 'x', 0, 0, 'y', 0},  // data after the terminator
      {0, 3},                                   // truncated code
  };
  for (const Bytes& c : cases) {
    auto p = decode_startup_packet(c);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code(), ErrorCode::kProtocol);
  }
}

TEST(PgWireTest, StartupRecognisesRequestCodes) {
  EXPECT_EQ(decode_startup_packet(Bytes{0x04, 0xd2, 0x16, 0x2f})->kind,
            StartupPacket::Kind::kSslRequest);
  EXPECT_EQ(decode_startup_packet(Bytes{0x04, 0xd2, 0x16, 0x30})->kind,
            StartupPacket::Kind::kGssEncRequest);
  EXPECT_EQ(decode_startup_packet(Bytes{0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2})->kind,
            StartupPacket::Kind::kCancelRequest);
  auto v2 = decode_startup_packet(Bytes{0, 2, 0, 0, 'u', 0, 'x', 0, 0});
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->version, 2 << 16);
  EXPECT_FALSE(decode_startup_packet(Bytes{0x04, 0xd2, 0x16, 0x2f, 0}));
}

TEST(PgWireTest, SaslInitialResponseRoundTrip) {
  Bytes m = encode_sasl_initial_response("SCRAM-SHA-256", "n,,n=,r=abc");
  EXPECT_EQ(m[0], 'p');
  auto r = decode_sasl_initial_response(body_of(m, 5));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(r->data, "n,,n=,r=abc");
  EXPECT_FALSE(
      decode_sasl_initial_response(bytes(std::string("SCRAM\0\0\0\0\x09"
                                                     "abc",
                                                     13))));
  EXPECT_FALSE(decode_sasl_initial_response(bytes("SCRAM")));
  EXPECT_FALSE(decode_sasl_initial_response(bytes(std::string("SCRAM\0\xff\xff\xff\xfe", 10))));
}

TEST(PgWireTest, AuthMessages) {
  std::string_view mechs[] = {"SCRAM-SHA-256"};
  Bytes sasl = encode_auth_sasl(mechs);
  EXPECT_EQ(sasl, bytes(std::string("R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0", 24)));
  auto a = decode_auth(body_of(sasl, 5));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, kAuthSasl);
  EXPECT_EQ(a->mechanisms, std::vector<std::string>{"SCRAM-SHA-256"});
  Bytes cont = encode_auth(kAuthSaslContinue, "r=x,s=y,i=1");
  a = decode_auth(body_of(cont, 5));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, kAuthSaslContinue);
  EXPECT_EQ(a->data, "r=x,s=y,i=1");
  EXPECT_EQ(encode_auth(kAuthOk), (Bytes{'R', 0, 0, 0, 8, 0, 0, 0, 0}));
}

TEST(PgWireTest, ErrorResponseRoundTrip) {
  Bytes e = encode_error_response(
      {"FATAL", "28P01", "password authentication failed for user \"x\"", {}});
  EXPECT_EQ(e[0], 'E');
  auto f = decode_error_response(body_of(e, 5));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->severity, "FATAL");
  EXPECT_EQ(f->sqlstate, "28P01");
  EXPECT_EQ(f->message, "password authentication failed for user \"x\"");
  // A localized S without V (old servers) still gives a severity; unknown fields are skipped.
  auto g = decode_error_response(bytes(std::string("SFATAL\0Hhint\0Mboom\0\0", 20)));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->severity, "FATAL");
  EXPECT_EQ(g->message, "boom");
  EXPECT_FALSE(decode_error_response(bytes("Mboom")));
  EXPECT_FALSE(decode_error_response(bytes(std::string("Mboom\0", 6))));
}

}  // namespace
}  // namespace pgm::net::wire
