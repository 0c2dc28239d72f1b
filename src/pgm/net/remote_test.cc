#include "pgm/net/remote.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.h"
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "pgm/net/pg_wire.h"
#include "pgm/net/remote_test_support.h"
#include "pgm/net/scram.h"
#include "pgm/net/stream.h"
#include "pgm/net/tls.h"

namespace pgm::net {
namespace {

using namespace std::chrono_literals;
using namespace remote_testing;
using wire::Bytes;

// ---------------------------------------------------------------------------------------------
// A client driven by hand, to see exactly what the server sends.

struct Transcript {
  Bytes sasl;                // the AuthenticationSASL message body
  std::string server_first;  // AuthenticationSASLContinue data
  Bytes after_final;         // every byte after our SASLResponse, until EOF
  Error server_error{ErrorCode::kInternal, "none"};
  bool server_ok = false;
};

Transcript raw_exchange(AdminLookup lookup, const std::string& user, const std::string& password,
                        const std::function<std::string(std::string)>& edit_final = {}) {
  auto [server_fd, client_fd] = socket_pair();
  // On success the server closes at once, so read_all() below ends.
  ServerThread server(std::move(server_fd), nullptr, std::move(lookup),
                      [](AcceptedAdmin& admin) { admin.stream.reset(); });
  auto client = Stream::plain(std::move(client_fd));
  Transcript t;
  EXPECT_TRUE(client->write_all(startup(user), soon()));
  auto sasl = wire::read_message(*client, 1000, soon());
  EXPECT_TRUE(sasl && sasl->type == 'R');
  t.sasl = sasl ? sasl->body : Bytes{};
  ScramClient scram("", password);
  EXPECT_TRUE(client->write_all(
      wire::encode_sasl_initial_response(kScramMechanism, scram.client_first()), soon()));
  auto cont = wire::read_message(*client, 1000, soon());
  EXPECT_TRUE(cont && cont->type == 'R');
  if (cont) {
    auto auth = wire::decode_auth(cont->body);
    EXPECT_TRUE(auth && auth->code == wire::kAuthSaslContinue);
    t.server_first = auth ? auth->data : "";
  }
  auto client_final = scram.handle_server_first(t.server_first);
  EXPECT_TRUE(client_final);
  std::string final_message = client_final ? *client_final : "";
  if (edit_final) {
    final_message = edit_final(final_message);
  }
  EXPECT_TRUE(client->write_all(wire::encode_sasl_response(final_message), soon()));
  t.after_final = read_all(*client);
  auto& result = server.join();
  t.server_ok = result.has_value();
  if (!result) {
    t.server_error = result.error();
  }
  return t;
}

std::string flip_last_proof_char(std::string final_message) {
  // A character well inside the proof (the last ones carry padding bits).
  char& c = final_message[final_message.size() - 10];
  c = c == 'A' ? 'B' : 'A';
  return final_message;
}

TEST(RemoteTest, FailuresLookIdenticalOnTheWire) {
  Transcript wrong = raw_exchange(lookup_admin, "admin", "wrong");
  Transcript unknown = raw_exchange(lookup_nobody, "admin", "secret");
  Transcript tampered = raw_exchange(lookup_admin, "admin", "secret", flip_last_proof_char);

  Bytes expected = wire::encode_error_response(
      {"FATAL", "28P01", "password authentication failed for user \"admin\"", {}});
  EXPECT_EQ(wrong.after_final, expected);
  EXPECT_EQ(unknown.after_final, expected);
  EXPECT_EQ(tampered.after_final, expected);
  EXPECT_EQ(wrong.sasl, unknown.sasl);
  const std::regex shape("r=[A-Za-z0-9+/]{24}[A-Za-z0-9+/]{24},s=[A-Za-z0-9+/]{22}==,i=4096");
  for (const Transcript* t : {&wrong, &unknown, &tampered}) {
    EXPECT_TRUE(std::regex_match(t->server_first, shape)) << t->server_first;
    EXPECT_FALSE(t->server_ok);
    EXPECT_EQ(t->server_error.code(), ErrorCode::kPermission);
    EXPECT_NE(t->server_error.message().find(
                  "remote management: authentication failed for user \"admin\" from local"),
              std::string::npos)
        << t->server_error.message();
  }
  // Only the log line tells an unknown user apart.
  EXPECT_NE(unknown.server_error.message().find("(unknown user)"), std::string::npos);
  EXPECT_EQ(wrong.server_error.message().find("unknown"), std::string::npos);
}

TEST(RemoteTest, MockSaltIsStablePerUserWithinTheProcess) {
  auto salt_of = [](const Transcript& t) {
    return t.server_first.substr(t.server_first.find(",s="));
  };
  Transcript a = raw_exchange(lookup_nobody, "bob", "x");
  Transcript b = raw_exchange(lookup_nobody, "bob", "y");
  Transcript c = raw_exchange(lookup_nobody, "carol", "x");
  EXPECT_EQ(salt_of(a), salt_of(b));
  EXPECT_NE(salt_of(a), salt_of(c));
  // A real user gets a fresh salt each time.
  Transcript d = raw_exchange(lookup_admin, "admin", "secret");
  Transcript e = raw_exchange(lookup_admin, "admin", "secret");
  EXPECT_NE(salt_of(d), salt_of(e));
  EXPECT_TRUE(d.server_ok);
}

TEST(RemoteTest, MalformedClientFinalIsAProtocolViolation) {
  struct Case {
    std::function<std::string(std::string)> edit;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {[](const std::string& m) { return m.substr(0, m.find(",p=")); }, "missing attribute 'p'"},
      {[](std::string m) {
         m[m.find("r=") + 2] = '#';
         return m;
       },
       "nonce"},
      {[](const std::string& m) { return m + "!"; }, "invalid base64"},
      {[](const std::string& m) { return "c=eSws" + m.substr(6); }, "gs2 header"},
      {[](const std::string& /*m*/) { return std::string("garbage"); }, "expected attribute 'c'"},
  };
  for (const Case& c : cases) {
    Transcript t = raw_exchange(lookup_admin, "admin", "secret", c.edit);
    auto err = last_error(t.after_final);
    ASSERT_TRUE(err) << c.expected;
    EXPECT_EQ(err->sqlstate, "08P01");
    EXPECT_EQ(err->severity, "FATAL");
    EXPECT_NE(err->message.find(c.expected), std::string::npos) << err->message;
    EXPECT_EQ(t.server_error.code(), ErrorCode::kProtocol);
  }
}

// ---------------------------------------------------------------------------------------------
// Bytes sent in one go; the server's answer collected until it closes.

struct Collected {
  Bytes answer;
  std::optional<Result<AcceptedAdmin>> server;
};

Collected send_raw(const Bytes& bytes, Deadline deadline = soon()) {
  auto [server_fd, client_fd] = socket_pair();
  ServerThread server(std::move(server_fd), nullptr, lookup_admin, {}, deadline);
  auto client = Stream::plain(std::move(client_fd));
  client->write_all(bytes, soon()).ignore_error();  // the server may close early
  ::shutdown(client->fd(), SHUT_WR);                // then EOF: the server stops waiting
  Collected c;
  c.answer = read_all(*client);
  c.server.emplace(std::move(server.join()));
  return c;
}

TEST(RemoteTest, RefusesMalformedStartupAndSasl) {
  std::string_view http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  Bytes v2 = {0, 0, 0, 17, 0, 2, 0, 0, 'u', 's', 'e', 'r', 0, 'a', 0, 0, 0};
  Bytes bad_mechanism = wire::encode_sasl_initial_response("SCRAM-SHA-1", "n,,n=,r=abc");
  Bytes cbind =
      wire::encode_sasl_initial_response(kScramMechanism, "p=tls-server-end-point,,n=,r=a");
  Bytes no_nonce = wire::encode_sasl_initial_response(kScramMechanism, "n,,n=");
  Bytes huge_sasl = {'p', 0x7f, 0xff, 0xff, 0xff};
  Bytes query = {'Q', 0, 0, 0, 5, 0};
  Bytes garbage_sasl = {'p', 0, 0, 0, 6, 0xff, 0xfe};
  struct Case {
    std::string name;
    Bytes bytes;
    std::string sqlstate;  // empty: no ErrorResponse expected
    std::string wire_text;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {"http", Bytes(http.begin(), http.end()), "08P01", "invalid startup packet length",
       ErrorCode::kProtocol},
      {"huge startup",
       {0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0},
       "08P01",
       "invalid startup packet length",
       ErrorCode::kProtocol},
      {"short startup",
       {0, 0, 0, 4},
       "08P01",
       "invalid startup packet length",
       ErrorCode::kProtocol},
      {"protocol 2", v2, "0A000", "unsupported frontend protocol 2.0: server supports 3.0",
       ErrorCode::kProtocol},
      {"cancel",
       {0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2},
       "",
       "",
       ErrorCode::kProtocol},
      {"wrong database", startup("admin", "postgres"), "3D000",
       "database \"postgres\" does not exist", ErrorCode::kNotFound},
      {"no user", wire::encode_startup({{"database", "admin"}}), "28000", "no PostgreSQL user name",
       ErrorCode::kProtocol},
      {"bad params",
       {0, 0, 0, 12, 0, 3, 0, 0, 'u', 's', 'e', 'r'},
       "08P01",
       "unterminated",
       ErrorCode::kProtocol},
      {"mechanism", concat({startup(), bad_mechanism}), "08P01",
       "invalid SASL authentication mechanism", ErrorCode::kProtocol},
      {"channel binding", concat({startup(), cbind}), "08P01", "channel binding",
       ErrorCode::kProtocol},
      {"no nonce", concat({startup(), no_nonce}), "08P01", "missing attribute 'r'",
       ErrorCode::kProtocol},
      {"huge sasl", concat({startup(), huge_sasl}), "08P01", "invalid length",
       ErrorCode::kProtocol},
      {"query", concat({startup(), query}), "08P01",
       "expected SASLInitialResponse, got message type 'Q'", ErrorCode::kProtocol},
      {"garbage sasl", concat({startup(), garbage_sasl}), "08P01", "unterminated",
       ErrorCode::kProtocol},
      {"eof", concat({startup()}), "", "", ErrorCode::kIo},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Collected got = send_raw(c.bytes);
    ASSERT_TRUE(got.server.has_value());
    ASSERT_FALSE(*got.server);
    const Error& e = got.server->error();
    EXPECT_EQ(e.code(), c.code) << e.message();
    EXPECT_EQ(e.message().rfind("remote management: local: ", 0), 0u) << e.message();
    if (c.sqlstate.empty()) {
      EXPECT_FALSE(last_error(got.answer));
      continue;
    }
    auto err = last_error(got.answer);
    ASSERT_TRUE(err);
    EXPECT_EQ(err->severity, "FATAL");
    EXPECT_EQ(err->sqlstate, c.sqlstate);
    EXPECT_NE(err->message.find(c.wire_text), std::string::npos) << err->message;
  }
}

TEST(RemoteTest, DatabaseDefaultsToTheUserName) {
  auto [server_fd, client_fd] = socket_pair();
  ServerThread server(std::move(server_fd), nullptr, lookup_admin);
  auto client = Stream::plain(std::move(client_fd));
  ASSERT_TRUE(client->write_all(wire::encode_startup({{"user", "admin"}}), soon()));
  auto m = wire::read_message(*client, 1000, soon());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, 'R');
  client.reset();
  EXPECT_FALSE(server.join());
}

TEST(RemoteTest, AnswersGssEncRequestWithNThenContinues) {
  Bytes gss = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30};
  Collected got = send_raw(concat({gss, startup("admin", "postgres")}));
  ASSERT_FALSE(got.answer.empty());
  EXPECT_EQ(got.answer[0], 'N');
  auto err = last_error(got.answer, 1);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->sqlstate, "3D000");
}

TEST(RemoteTest, AnswersSslRequestWithNWithoutTls) {
  Collected got = send_raw(concat({wire::encode_ssl_request(), startup("admin", "x")}));
  ASSERT_FALSE(got.answer.empty());
  EXPECT_EQ(got.answer[0], 'N');
  EXPECT_TRUE(last_error(got.answer, 1));
  // A second SSLRequest is a protocol violation.
  got = send_raw(concat({wire::encode_ssl_request(), wire::encode_ssl_request()}));
  auto err = last_error(got.answer, 1);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->sqlstate, "08P01");
}

// ---------------------------------------------------------------------------------------------
// Full handshakes with our client.

TEST(RemoteTest, PlainHandshakeThenOneFrameEachWay) {
  auto [server_fd, client_fd] = socket_pair();
  ServerThread server(std::move(server_fd), nullptr, lookup_admin, echo_frame);
  auto stream =
      authenticate_admin(std::move(client_fd), "localhost", "admin", "secret", nullptr, soon());
  ASSERT_TRUE(stream) << stream.error().message();
  EXPECT_FALSE((*stream)->tls());
  client_round_trip(**stream);
  auto& result = server.join();
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->user, "admin");
}

TEST(RemoteTest, FailedLoginIsReportedThenWaitsTheDelayBeforeTheRefusal) {
  auto [server_fd, client_fd] = socket_pair();
  std::vector<bool> reports;
  auto reported_at = std::chrono::steady_clock::time_point::max();
  LoginPolicy policy{300ms, [&](bool ok) {
                       reports.push_back(ok);
                       reported_at = std::chrono::steady_clock::now();
                     }};
  ServerThread server(std::move(server_fd), nullptr, lookup_admin, {}, soon(), policy);
  auto stream =
      authenticate_admin(std::move(client_fd), "localhost", "admin", "wrong", nullptr, soon());
  auto refused_at = std::chrono::steady_clock::now();
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().sqlstate(), "28P01");
  EXPECT_FALSE(server.join());
  EXPECT_EQ(reports, std::vector<bool>{false});
  // The refusal comes after the delay (a lower bound: a sleep cannot end early).
  EXPECT_GE(refused_at - reported_at, 300ms);
}

TEST(RemoteTest, SuccessfulLoginIsReportedWithoutDelay) {
  auto [server_fd, client_fd] = socket_pair();
  std::vector<bool> reports;
  LoginPolicy policy{10s, [&](bool ok) { reports.push_back(ok); }};
  ServerThread server(std::move(server_fd), nullptr, lookup_admin, echo_frame, soon(), policy);
  auto start = std::chrono::steady_clock::now();
  auto stream =
      authenticate_admin(std::move(client_fd), "localhost", "admin", "secret", nullptr, soon());
  ASSERT_TRUE(stream) << stream.error().message();
  client_round_trip(**stream);
  EXPECT_TRUE(server.join());
  EXPECT_EQ(reports, std::vector<bool>{true});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(RemoteTest, ClientReportsTheServersMessage) {
  auto [server_fd, client_fd] = socket_pair();
  ServerThread server(std::move(server_fd), nullptr, lookup_admin);
  auto stream =
      authenticate_admin(std::move(client_fd), "localhost", "admin", "nope", nullptr, soon());
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().code(), ErrorCode::kServer);
  EXPECT_EQ(stream.error().sqlstate(), "28P01");
  EXPECT_EQ(stream.error().message(), "password authentication failed for user \"admin\"");
  EXPECT_FALSE(server.join());
}

// A fake server that does not know the password: it either sends a signature it cannot have
// computed, or skips AuthenticationSASLFinal and claims success.
TEST(RemoteTest, ClientRefusesAServerThatDoesNotKnowThePassword) {
  for (bool skip_final : {false, true}) {
    SCOPED_TRACE(skip_final);
    auto [server_fd, client_fd] = socket_pair();
    std::thread fake([fd = std::move(server_fd), skip_final]() mutable {
      auto s = Stream::plain(std::move(fd));
      ASSERT_TRUE(wire::read_startup_packet(*s, soon()));
      std::string_view mechs[] = {kScramMechanism};
      ASSERT_TRUE(s->write_all(wire::encode_auth_sasl(mechs), soon()));
      auto initial = wire::read_message(*s, 4096, soon());
      ASSERT_TRUE(initial);
      auto parsed = wire::decode_sasl_initial_response(initial->body);
      ASSERT_TRUE(parsed);
      ScramServer scram("not the password");
      auto first = scram.handle_client_first(parsed->data);
      ASSERT_TRUE(first);
      ASSERT_TRUE(s->write_all(wire::encode_auth(wire::kAuthSaslContinue, *first), soon()));
      ASSERT_TRUE(wire::read_message(*s, 4096, soon()));
      Bytes ok = wire::encode_auth(wire::kAuthOk);
      static_cast<void>(s->write_all(
          skip_final ? ok
                     : concat({wire::encode_auth(wire::kAuthSaslFinal,
                                                 "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
                               ok}),
          soon()));
      read_all(*s);
    });
    auto stream = authenticate_admin(std::move(client_fd), "", "admin", "secret", nullptr, soon());
    ASSERT_FALSE(stream);
    EXPECT_EQ(stream.error().code(), ErrorCode::kPermission) << stream.error().message();
    fake.join();
  }
}

TEST(RemoteTest, ServerDeadlineWhenThePeerIsSilent) {
  auto [server_fd, client_fd] = socket_pair();
  auto start = std::chrono::steady_clock::now();
  auto result = accept_admin(std::move(server_fd), nullptr, lookup_admin, deadline_after(200ms));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kTimeout) << result.error().message();
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 2s);
}

TEST(RemoteTest, ClientDeadlineWhenThePeerIsSilent) {
  auto [server_fd, client_fd] = socket_pair();
  auto start = std::chrono::steady_clock::now();
  auto result = authenticate_admin(std::move(client_fd), "", "admin", "secret", nullptr,
                                   deadline_after(200ms));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kTimeout) << result.error().message();
  EXPECT_LT(elapsed, 2s);
  // And a frame that never comes.
  auto [a, b] = socket_pair();
  auto stream = Stream::plain(std::move(a));
  auto f = read_frame(*stream, 1024, deadline_after(200ms));
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), ErrorCode::kTimeout);
}

TEST(RemoteTest, ReadFrameChecksHeaderAndEof) {
  auto [a, b] = socket_pair();
  auto writer = Stream::plain(std::move(a));
  auto reader = Stream::plain(std::move(b));
  ASSERT_TRUE(writer->write_all(Bytes{9, 0, 0, 0, 0, 1, 'x'}, soon()));
  auto f = read_frame(*reader, 1024, soon());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), ErrorCode::kProtocol);
  EXPECT_NE(f.error().message().find("compression"), std::string::npos);

  auto [c, d] = socket_pair();
  auto w2 = Stream::plain(std::move(c));
  auto r2 = Stream::plain(std::move(d));
  ASSERT_TRUE(w2->write_all(Bytes{0, 0, 0, 0, 8, 0}, soon()));
  EXPECT_FALSE(read_frame(*r2, 1024, soon()));  // 2048 > 1024

  auto [e, g] = socket_pair();
  auto w3 = Stream::plain(std::move(e));
  auto r3 = Stream::plain(std::move(g));
  ASSERT_TRUE(w3->write_all(Bytes{0, 0, 0, 0, 0, 5, '{'}, soon()));
  w3.reset();
  auto eof = read_frame(*r3, 1024, soon());
  ASSERT_FALSE(eof);
  EXPECT_NE(eof.error().message().find("closed"), std::string::npos);

  EXPECT_FALSE(write_frame(*r3, Bytes{0, 0, 0, 0, 0, 5, '{'}, soon()));
}

}  // namespace
}  // namespace pgm::net
